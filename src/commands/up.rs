//! `kip up`: a pipeline of phases, each reported as it completes inside the
//! node: node started → Docker running → cluster created → API ready →
//! kubeconfig written.

use super::{credentials, owner};
use crate::api::{ApiClient, ApiEndpoint};
use crate::backend::{Backend, EngineFacts, NameTaken, NodeInfo, NodeState, StartedNode};
use crate::cli::UpArgs;
use crate::error::Failure;
use crate::kubeconfig::{self, ClusterCredentials, KubeconfigTarget};
use crate::names;
use crate::node::image::default_image;
use crate::node::progress::{self, Marker};
use crate::node::{NodeOptions, NodePlan};
use crate::output::Printer;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

const LOG_TAIL_LINES: usize = 30;
const READY_POLL: Duration = Duration::from_millis(50);

/// `kip up --dry-run`: prints the node plan and touches nothing. It works
/// without a reachable engine too (the plan then assumes defaults).
pub async fn dry_run(
    args: &UpArgs,
    backend: Result<&impl Backend, &anyhow::Error>,
    printer: &Printer,
) -> Result<()> {
    let facts = match backend {
        Ok(backend) => backend.engine_facts().await,
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    let facts = facts.unwrap_or_else(|e| {
        printer.warn(&format!(
            "{e:#}\n(the plan below assumes a local cgroup v1 engine with no networks)"
        ));
        EngineFacts {
            local: true,
            ..EngineFacts::default()
        }
    });
    let plan = plan(args, &facts)?;
    match backend.ok().and_then(|b| b.dry_run_manifests(&plan)) {
        Some(manifests) => crate::output::out(manifests)?,
        None => crate::output::out(plan.to_yaml())?,
    }
    Ok(())
}

fn plan(args: &UpArgs, facts: &EngineFacts) -> Result<NodePlan> {
    let settings = crate::settings::Settings::load()?;
    let user_kind_config = match &args.cluster.kind_config {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!(
                "--kind-config {}: cannot read it: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    NodePlan::new(&NodeOptions {
        cluster: args.name.clone(),
        image: args
            .cluster
            .image
            .clone()
            .or(settings.image)
            .unwrap_or_else(default_image),
        security: args.cluster.security,
        api_port: args.cluster.api_port,
        network: args.cluster.network.clone(),
        mtu: args.cluster.mtu,
        iptables: args.cluster.iptables,
        cert_sans: args.cluster.cert_sans.clone(),
        dockerd_args: args.cluster.dockerd_args.clone(),
        created_at: super::now_rfc3339(),
        owner: owner(),
        // A remote node mounts the cluster node's /lib/modules (a node
        // without it is a FailedMount, reported as such).
        has_lib_modules: facts.remote_namespace.is_some()
            || (facts.local && super::doctor::Host::from_env().has_lib_modules()),
        taken_subnets: facts.subnets.clone(),
        user_kind_config,
        extra_labels: extra_labels(&args.cluster, settings.ttl),
        remote_namespace: facts.remote_namespace.clone(),
    })
    .map_err(|e| {
        let path = args
            .cluster
            .kind_config
            .as_deref()
            .unwrap_or(std::path::Path::new(""))
            .display();
        Failure::Usage(format!("--kind-config {path}: {e}")).into()
    })
}

/// TTL and CI metadata labels.
fn extra_labels(
    options: &crate::cli::ClusterOptions,
    default_ttl: Option<Duration>,
) -> BTreeMap<String, String> {
    use crate::node::labels;
    let mut extra: BTreeMap<String, String> = options.labels.iter().cloned().collect();
    extra.extend(labels::ci_labels(
        |k| std::env::var(k).ok(),
        std::path::Path::new("/tekton").is_dir(),
    ));
    if let Some(ttl) = options.ttl.or(default_ttl) {
        let expires = std::time::SystemTime::now() + ttl;
        extra.insert(
            labels::TTL.into(),
            humantime::format_duration(ttl).to_string(),
        );
        extra.insert(
            labels::EXPIRES_AT.into(),
            humantime::format_rfc3339_seconds(expires).to_string(),
        );
    }
    extra
}

pub async fn run(args: &UpArgs, backend: &impl Backend, printer: &Printer) -> Result<UpOutcome> {
    let started = Instant::now();
    // Listen before anything is created: from here on, Ctrl-C or SIGTERM
    // means "undo what this run made", never a half-made cluster.
    let mut signals = Signals::listen()?;
    let target = KubeconfigTarget::resolve(args.kubeconfig.kubeconfig.as_deref())?;
    // Refuse a kubeconfig kip cannot read or write before creating anything.
    kubeconfig::check_writable(&target.path)?;
    let facts = backend.engine_facts().await?;
    super::doctor::report_local(&facts, printer);
    let plan = plan(args, &facts)?;

    if let Some(existing) = backend.find(&args.name).await? {
        if !args.recreate {
            return reuse(args, backend, printer, &existing, &target, started).await;
        }
        let step = printer.step(
            "cluster-deleted",
            &format!("Deleting the existing cluster {} (--recreate)", args.name),
        );
        backend.delete(&args.name).await?;
        let context = names::context_name(&args.name);
        kubeconfig::update(&target.path, |doc| {
            kubeconfig::remove_entries(doc, &context)
        })?;
        step.done(&format!("Deleted the existing cluster {}", args.name));
    }
    backend
        .ensure_image(
            &plan.node.image,
            plan.node.image == default_image(),
            printer,
        )
        .await?;

    let deadline = tokio::time::Instant::now() + args.cluster.wait;
    let outcome = async {
        // Creating the node is never cut short: a request dropped half-way
        // could still create a container after the clean-up has looked.
        signals.check()?;
        let node = start_node(backend, printer, &plan, &facts).await?;
        signals.check()?;
        // From here on kip only reads and waits, so a signal ends it at once.
        tokio::select! {
            ready = wait_until_ready(args, backend, printer, &node, deadline) => ready,
            () = signals.received() => Err(Failure::Interrupted.into()),
        }
    }
    .await;
    let (creds, endpoint) = match outcome {
        Ok(ready) => ready,
        // A concurrent `kip up` of this name made the node: nothing here is
        // this run's to remove; wait for that cluster as a second `up` would.
        Err(err) if err.downcast_ref::<NameTaken>().is_some() => {
            return tokio::select! {
                ready = wait_for_other_up(args, backend, printer, &target, started, deadline) => ready,
                () = signals.received() => Err(Failure::Interrupted.into()),
            };
        }
        Err(err) => {
            if matches!(err.downcast_ref::<Failure>(), Some(Failure::Interrupted)) {
                printer
                    .step("interrupted", "Interrupted")
                    .failed("Interrupted");
            }
            if let Some(dir) = &args.cluster.logs_dir {
                match super::logs::export(backend, &args.name, dir).await {
                    Ok(()) => printer.info(&format!("Logs bundle written to {}", dir.display())),
                    Err(e) => printer.warn(&format!("could not write the logs bundle: {e:#}")),
                }
            }
            clean_up_after_failure(args, backend, printer, &plan).await;
            return Err(err);
        }
    };
    let written = write_kubeconfig(args, printer, &target, &creds);
    printer.info(&format!(
        "Cluster {} is ready in {:.1}s: API server {}\n  kubectl --context {} get --raw /readyz",
        args.name,
        started.elapsed().as_secs_f64(),
        endpoint.server_url(),
        names::context_name(&args.name)
    ));
    Ok(UpOutcome::new(
        args, &endpoint, &target, false, written, started,
    ))
}

/// What `kip up -o json` prints (schema kip/v1, kind UpResult).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpOutcome {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub context: String,
    pub endpoint: String,
    pub kubeconfig: std::path::PathBuf,
    /// False when the cluster is ready but kip could not write `kubeconfig`
    /// (stderr says why; `kip kubeconfig NAME` prints it).
    pub kubeconfig_written: bool,
    /// True when the cluster already ran and was only re-exported.
    pub reused: bool,
    pub elapsed_seconds: f64,
}

impl UpOutcome {
    fn new(
        args: &UpArgs,
        endpoint: &ApiEndpoint,
        target: &KubeconfigTarget,
        reused: bool,
        kubeconfig_written: bool,
        started: Instant,
    ) -> Self {
        UpOutcome {
            api_version: "kip/v1",
            kind: "UpResult",
            name: args.name.clone(),
            context: names::context_name(&args.name),
            endpoint: endpoint.server_url(),
            kubeconfig: target.path.clone(),
            kubeconfig_written,
            reused,
            elapsed_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

async fn start_node(
    backend: &impl Backend,
    printer: &Printer,
    plan: &NodePlan,
    facts: &EngineFacts,
) -> Result<StartedNode> {
    let step = printer.step("node-started", &format!("Starting node {}", plan.node.name));
    let node = match backend.create_node(plan, facts, printer).await {
        Err(e) if e.downcast_ref::<NameTaken>().is_some() => {
            step.done(&format!(
                "Node {} is being started by another `kip up {}`",
                plan.node.name, plan.cluster
            ));
            return Err(e);
        }
        other => other?,
    };
    step.done(&format!(
        "Node {} started ({}, API on {})",
        plan.node.name,
        node.security,
        node.endpoint
            .as_ref()
            .map_or_else(|| "its pod IP once it runs".into(), ApiEndpoint::server_url)
    ));
    Ok(node)
}

async fn wait_until_ready(
    args: &UpArgs,
    backend: &impl Backend,
    printer: &Printer,
    node: &StartedNode,
    deadline: tokio::time::Instant,
) -> Result<(ClusterCredentials, ApiEndpoint)> {
    follow_bootstrap(args, backend, printer, deadline).await?;

    let step = printer.step("api-ready", "Waiting for the API server");
    let endpoint = match &node.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => backend
            .find(&args.name)
            .await?
            .and_then(|n| n.endpoint)
            .ok_or_else(|| Failure::Node("the node runs but has no API endpoint".into()))?,
    };
    let creds = credentials(backend, &args.name, &endpoint).await?;
    let client = ApiClient::new(endpoint.clone(), &creds.ca_pem()?)?;
    loop {
        let last = match client.ready(Duration::from_secs(2)).await {
            Ok(true) => break,
            Ok(false) => "/readyz did not answer ok".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            let tail = backend.bootstrap_log(&args.name).await.unwrap_or_default();
            return Err(Failure::Timeout(format!(
                "the API server at {} was not ready within {} ({last})\n{}",
                endpoint.server_url(),
                humantime::format_duration(args.cluster.wait),
                tail_of(&tail)
            ))
            .into());
        }
        tokio::time::sleep(READY_POLL).await;
    }
    step.done(&format!("API server ready at {}", endpoint.server_url()));
    Ok((creds, endpoint))
}

/// Follows the node's markers until the cluster exists, failing fast on a
/// `kip-fail` marker or a node that stops.
async fn follow_bootstrap(
    args: &UpArgs,
    backend: &impl Backend,
    printer: &Printer,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let mut log = backend.follow_bootstrap(&args.name).await?;
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut facts: BTreeMap<String, String> = BTreeMap::new();
    let mut phase = "dockerd";
    let mut step = Some(printer.step("dockerd-ready", "Starting Docker inside the node"));
    loop {
        let line = match tokio::time::timeout_at(deadline, log.next()).await {
            Err(_) => {
                return Err(Failure::Timeout(format!(
                    "the cluster was not ready within {} (still in phase {phase})\n{}",
                    humantime::format_duration(args.cluster.wait),
                    format_tail(&tail)
                ))
                .into())
            }
            Ok(None) => {
                let exit = backend
                    .find(&args.name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|n| n.exit_code)
                    .map_or_else(String::new, |c| format!(" with exit code {c}"));
                return Err(Failure::Node(format!(
                    "the node stopped{exit} during phase {phase}\n{}",
                    format_tail(&tail)
                ))
                .into());
            }
            Ok(Some(line)) => line?,
        };
        match progress::parse(&line) {
            Marker::Phase(p) if p == progress::PHASE_DOCKERD_READY => {
                let fact = |k: &str| facts.get(k).map_or("?", String::as_str).to_string();
                if let Some(step) = step.take() {
                    step.done(&format!(
                        "Docker running inside the node (MTU {}, iptables {}, cgroup {})",
                        fact("mtu"),
                        fact("iptables"),
                        fact("cgroup")
                    ));
                }
                phase = "cluster";
                step = Some(printer.step("cluster-created", "Creating the cluster with kind"));
            }
            Marker::Phase(p) if p == progress::PHASE_CLUSTER_CREATED => {
                if let Some(step) = step.take() {
                    step.done("Cluster created");
                }
                return Ok(());
            }
            Marker::Phase(_) => {}
            Marker::Info { key, value } => {
                facts.insert(key, value);
            }
            Marker::Fail { phase, reason } => {
                // The script prints the relevant log tail, then exits.
                let mut detail = Vec::new();
                let grace = tokio::time::Instant::now() + Duration::from_secs(2);
                while let Ok(Some(Ok(line))) = tokio::time::timeout_at(grace, log.next()).await {
                    detail.push(line);
                }
                let what = match phase.as_str() {
                    "dockerd" => "dockerd failed inside the node",
                    "cluster" => "kind could not create the cluster",
                    _ => "the node bootstrap failed",
                };
                return Err(Failure::Node(format!(
                    "{what} ({reason}; phase {phase})\n{}",
                    detail.join("\n")
                ))
                .into());
            }
            Marker::Line(line) => {
                if tail.len() == LOG_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    }
}

/// `kip up` on an existing cluster: re-export a healthy one, explain a broken one.
async fn reuse(
    args: &UpArgs,
    backend: &impl Backend,
    printer: &Printer,
    existing: &NodeInfo,
    target: &KubeconfigTarget,
    started: Instant,
) -> Result<UpOutcome> {
    let endpoint = match existing.state {
        NodeState::Running => backend.reconnect(&args.name).await?,
        _ => existing.endpoint.clone(),
    };
    let problem = match (&existing.state, &endpoint) {
        (NodeState::Running, Some(endpoint)) => {
            match ready_credentials(backend, &args.name, endpoint).await {
                Ok(creds) => {
                    let written = write_kubeconfig(args, printer, target, &creds);
                    printer.info(&if written {
                        format!(
                            "Cluster {} is already running; its kubeconfig was re-exported (context {})",
                            args.name,
                            names::context_name(&args.name)
                        )
                    } else {
                        format!("Cluster {} is already running", args.name)
                    });
                    return Ok(UpOutcome::new(
                        args, endpoint, target, true, written, started,
                    ));
                }
                Err(problem) => problem,
            }
        }
        (NodeState::Running, None) => "running without a published API port".into(),
        _ => format!("not running ({})", existing.status),
    };
    Err(Failure::Node(format!(
        "cluster {} exists but is {problem}.\nRecreate it with `kip up {} --recreate`, or delete it with `kip down {}` \
         (its logs: `kip logs {}`)",
        args.name, args.name, args.name, args.name
    ))
    .into())
}

/// A running cluster's credentials once its API server is ready; else
/// what is wrong, in words that follow "running, but".
async fn ready_credentials(
    backend: &impl Backend,
    cluster: &str,
    endpoint: &ApiEndpoint,
) -> Result<ClusterCredentials, String> {
    let creds = credentials(backend, cluster, endpoint)
        .await
        .map_err(|e| format!("running, but {e:#}"))?;
    match super::api_ready(&creds, endpoint).await {
        Ok(true) => Ok(creds),
        Ok(false) => Err("running, but its API server is not ready".into()),
        Err(e) => Err(format!(
            "running, but its API server does not answer ({e:#})"
        )),
    }
}

/// Another `kip up` of this name is creating the cluster: wait until it is
/// ready and export its kubeconfig, as a second `kip up` would afterwards.
/// If that run fails and removes the node, say so.
async fn wait_for_other_up(
    args: &UpArgs,
    backend: &impl Backend,
    printer: &Printer,
    target: &KubeconfigTarget,
    started: Instant,
    deadline: tokio::time::Instant,
) -> Result<UpOutcome> {
    let step = printer.step(
        "api-ready",
        "Waiting for the cluster the other `kip up` creates",
    );
    // Seen, then gone for a while: that run failed and cleaned up (gone for
    // a moment is the other run retrying with another security profile).
    let mut seen = false;
    let mut gone_since: Option<Instant> = None;
    let waiting = Instant::now();
    loop {
        match backend.find(&args.name).await? {
            Some(node) => {
                seen = true;
                gone_since = None;
                // The other run's endpoint, as it published it (never a
                // second forwarder of this run's own).
                if let (NodeState::Running, Some(endpoint)) = (&node.state, &node.endpoint) {
                    if let Ok(creds) = ready_credentials(backend, &args.name, endpoint).await {
                        step.done(&format!("API server ready at {}", endpoint.server_url()));
                        let written = write_kubeconfig(args, printer, target, &creds);
                        printer.info(&format!(
                            "Cluster {} is ready (made by another `kip up` at the same time) in {:.1}s: API server {}",
                            args.name,
                            started.elapsed().as_secs_f64(),
                            endpoint.server_url()
                        ));
                        return Ok(UpOutcome::new(
                            args, endpoint, target, true, written, started,
                        ));
                    }
                }
            }
            None if seen && gone_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(3) => {
                return Err(Failure::Node(format!(
                    "the other `kip up {}` that was creating this cluster failed and removed it; run `kip up {}` again (or see that run's output)",
                    args.name, args.name
                ))
                .into())
            }
            None if !seen && waiting.elapsed() > Duration::from_secs(20) => {
                return Err(Failure::Node(format!(
                    "another `kip up {}` claimed this cluster's name, but no node appeared within 20 s; \
                     if no other run is going on, `kip down {}` clears what is left",
                    args.name, args.name
                ))
                .into())
            }
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::Timeout(format!(
                "cluster {} (being created by another `kip up`) was not ready within {}; see `kip status {}`",
                args.name,
                humantime::format_duration(args.cluster.wait),
                args.name
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A ready cluster never turns into a failed `up` because of the kubeconfig:
/// say what went wrong and how to get the kubeconfig instead. Whether it
/// was written.
fn write_kubeconfig(
    args: &UpArgs,
    printer: &Printer,
    target: &KubeconfigTarget,
    creds: &ClusterCredentials,
) -> bool {
    let context = names::context_name(&args.name);
    let step = printer.step("kubeconfig-written", "Writing the kubeconfig");
    let result = kubeconfig::update(&target.path, |doc| {
        kubeconfig::upsert_entries(doc, &context, creds, !args.no_switch_context)
    });
    match result {
        Ok(()) => {
            step.done(&format!(
                "Kubeconfig written: context {context} in {}",
                target.path.display()
            ));
            true
        }
        Err(e) => {
            printer.warn(&format!(
                "the cluster is ready, but kip could not update {}: {e:#}\nGet its kubeconfig with: kip kubeconfig {} > FILE",
                target.path.display(),
                args.name
            ));
            false
        }
    }
}

async fn clean_up_after_failure(
    args: &UpArgs,
    backend: &impl Backend,
    printer: &Printer,
    plan: &NodePlan,
) {
    if args.cluster.keep_on_failure {
        printer.info(&format!(
            "Kept node {} for debugging (--keep-on-failure): `kip logs {}`, `kip exec {} -- sh`, then `kip down {}`",
            plan.node.name, args.name, args.name, args.name
        ));
        return;
    }
    match backend.delete(&args.name).await {
        Ok(deleted) => {
            let mut removed = Vec::new();
            if deleted.node {
                removed.push(format!("node {}", plan.node.name));
            }
            if deleted.volume {
                removed.push(format!("volume {}", plan.node.volume.name));
            }
            for other in &deleted.other {
                removed.push(format!("{other} {}", plan.node.name));
            }
            if !removed.is_empty() {
                printer.info(&format!(
                    "Removed what this run created: {}",
                    removed.join(" and ")
                ));
            }
        }
        Err(e) => printer.warn(&format!(
            "could not remove what this run created ({e:#}); remove it with `kip down {}`",
            args.name
        )),
    }
}

/// Ctrl-C and SIGTERM, caught from the moment of `listen`.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// An error if a signal has arrived since the last look.
    fn check(&mut self) -> Result<()> {
        use futures_util::FutureExt;
        match self.received().now_or_never() {
            Some(()) => Err(Failure::Interrupted.into()),
            None => Ok(()),
        }
    }

    async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

fn format_tail(tail: &VecDeque<String>) -> String {
    if tail.is_empty() {
        return "(the node printed nothing else; see `kip logs`)".into();
    }
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    format!("--- last lines of the node's log ---\n{}", lines.join("\n"))
}

fn tail_of(log: &str) -> String {
    let lines: VecDeque<String> = log
        .lines()
        .rev()
        .take(LOG_TAIL_LINES)
        .map(String::from)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format_tail(&lines)
}

//! `kip up`: a pipeline of phases, each reported as it completes inside the
//! node: node started → Docker running → cluster created → API ready →
//! kubeconfig written.

mod bootstrap_watch;
mod node_image;
mod plan;
mod reuse;

use super::signals::Signals;
use crate::api::ApiEndpoint;
use crate::error::Error;
use crate::kubeconfig::{self, ClusterCredentials, KubeconfigTarget};
use crate::names;
use crate::node::image::default_image;
use crate::node::NodePlan;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::{EngineFacts, Node, Provider};
use crate::settings::Environment;
use anyhow::Result;
use bootstrap_watch::wait_until_ready;
use plan::plan;
pub use plan::{default_plan, dry_run, ClusterSettings, UpSettings};
use reuse::{making, reuse, wait_for_other_up, Making};
use std::time::Instant;

/// `host`: the local Docker engine the kind node image comes from (the
/// backend itself in local mode; in remote mode, one if it answers).
pub async fn run(
    settings: &UpSettings,
    env: &Environment,
    backend: &impl Provider,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<UpOutcome> {
    let started = Instant::now();
    // Listen before anything is created: from here on, Ctrl-C or SIGTERM
    // means "undo what this run made", never a half-made cluster.
    let mut signals = Signals::listen()?;
    let target = KubeconfigTarget::resolve(&settings.kubeconfig)?;
    // Refuse a kubeconfig kip cannot read or write before creating anything.
    kubeconfig::check_writable(&target.path)?;
    // The engine's first answer can take up to its limit: a signal ends
    // the wait at once (nothing is made yet).
    let facts = tokio::select! {
        facts = backend.facts() => facts?,
        () = signals.received() => return Err(Error::Interrupted.into()),
    };
    super::doctor::report_local(&facts, env, printer);
    // Checked here, before anything is made: a missing image fails in seconds.
    let plan = plan(settings, env, &facts, host.is_some())?;

    if let Some(existing) = backend.lookup(&settings.name).await? {
        if settings.only_new {
            return Err(appeared(&settings.name));
        }
        // Another `kip up` of this name still making the cluster (its node
        // not started, or its bootstrap not done): wait for that cluster as
        // a run that lost the name would, instead of calling it broken.
        let making = if settings.recreate {
            Making::Over
        } else {
            making(&existing, settings.cluster.wait).await
        };
        if let Making::UnderWay(how_far) = making {
            printer.info(&format!(
                "Cluster {} is being created by another `kip up` ({how_far}); waiting for it (up to {})",
                settings.name,
                humantime::format_duration(settings.cluster.wait)
            ));
            let deadline = tokio::time::Instant::now() + settings.cluster.wait;
            return tokio::select! {
                ready = wait_for_other_up(settings, backend, printer, &target, started, deadline) => ready,
                () = signals.received() => Err(Error::Interrupted.into()),
            };
        }
        if !settings.recreate {
            return reuse(settings, printer, &existing, &target, started).await;
        }
        let step = printer.step(
            "cluster-deleted",
            &format!(
                "Deleting the existing cluster {} (--recreate)",
                settings.name
            ),
        );
        backend.delete(&settings.name).await?;
        let context = names::context_name(&settings.name);
        kubeconfig::update(&target.path, |doc| {
            kubeconfig::remove_entries(doc, &context)
        })?;
        step.done(&format!("Deleted the existing cluster {}", settings.name));
    }
    backend.refuse_foreign(&settings.name).await?;
    backend
        .ensure_image(
            &plan.node.image,
            plan.node.image == default_image(),
            printer,
        )
        .await?;
    let kind_image =
        node_image::prepare(host, &plan::kind_image(settings), facts.local, printer).await?;
    // Planned to stream, but there is no image to bring: the node must not
    // wait for one.
    let mut plan = if kind_image.is_none() && host.is_some() {
        self::plan(settings, env, &facts, false)?
    } else {
        plan
    };
    if let Some(image) = &kind_image {
        image
            .plan_seed(&mut plan, facts.local, settings.cluster.seed)
            .await?;
    }

    let deadline = tokio::time::Instant::now() + settings.cluster.wait;
    let outcome = async {
        // Creating the node is never cut short: a request dropped half-way
        // could still create a container after the clean-up has looked.
        signals.check()?;
        let node = start_node(backend, printer, &plan, &facts).await?;
        signals.check()?;
        // From here on kip only reads and waits, so a signal ends it at once.
        tokio::select! {
            ready = wait_until_ready(settings, backend, printer, &node, kind_image.as_ref(), deadline) => ready,
            () = signals.received() => Err(Error::Interrupted.into()),
        }
    }
    .await;
    let (creds, endpoint) = match outcome {
        Ok(ready) => ready,
        // A concurrent `kip up` of this name made the node: nothing here is
        // this run's to remove; wait for that cluster as a second `up` would.
        Err(err) if Error::is(&err, |e| matches!(e, Error::NameTaken { .. })) => {
            if settings.only_new {
                return Err(appeared(&settings.name));
            }
            return tokio::select! {
                ready = wait_for_other_up(settings, backend, printer, &target, started, deadline) => ready,
                () = signals.received() => Err(Error::Interrupted.into()),
            };
        }
        Err(err) => {
            if Error::is(&err, |e| *e == Error::Interrupted) {
                printer
                    .step("interrupted", "Interrupted")
                    .failed("Interrupted");
            }
            if let Some(dir) = &settings.cluster.logs_dir {
                write_logs_bundle(backend, &settings.name, dir, printer).await;
            }
            clean_up_after_failure(settings, backend, printer, &plan).await;
            return Err(err);
        }
    };
    let written = write_kubeconfig(settings, printer, &target, &creds);
    printer.info(&format!(
        "Cluster {} is ready in {:.1}s: API server {}{}",
        settings.name,
        started.elapsed().as_secs_f64(),
        endpoint.server_url(),
        if written {
            kubectl_hint(settings, &target)
        } else {
            String::new()
        }
    ));
    Ok(UpOutcome::new(
        settings, &endpoint, &target, false, written, started,
    ))
}

/// Another kip made the cluster a run that must make its own was about to
/// make: it is not this run's, so nothing of it is touched.
fn appeared(name: &str) -> anyhow::Error {
    Error::NameAppeared {
        name: name.to_string(),
    }
    .into()
}

/// The kubectl command that reaches the new cluster: `--kubeconfig` too
/// when the file written is not the one kubectl reads by default (`kip run`'s
/// private kubeconfig, `--kubeconfig FILE`), or the context is found nowhere.
fn kubectl_hint(settings: &UpSettings, target: &KubeconfigTarget) -> String {
    let context = names::context_name(&settings.name);
    let default = KubeconfigTarget::resolve(&settings.kubeconfig.without_flag()).ok();
    let file = if default.is_some_and(|d| d.path == target.path) {
        String::new()
    } else {
        format!(" --kubeconfig {}", target.path.display())
    };
    format!("\n  kubectl{file} --context {context} get --raw /readyz")
}

/// What `kip up -o json` prints.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpOutcome {
    pub name: String,
    pub context: String,
    pub endpoint: String,
    pub kubeconfig: std::path::PathBuf,
    /// False when the cluster is ready but kip could not write `kubeconfig`
    /// (stderr says why; `kip kubeconfig NAME` prints it).
    pub kubeconfig_written: bool,
    /// True when the cluster already ran and was only re-exported.
    pub reused: bool,
    /// With `reused`: the flags given that only shape a new cluster, which
    /// therefore did nothing (`--ttl 1h`, `--mtu 1400`).
    pub ignored_flags: Vec<String>,
    pub elapsed_seconds: f64,
}

impl crate::output::Document for UpOutcome {
    const KIND: &'static str = "UpResult";
    const SCHEMA: &'static str = "up-result.schema.json";
}

impl UpOutcome {
    pub(super) fn new(
        settings: &UpSettings,
        endpoint: &ApiEndpoint,
        target: &KubeconfigTarget,
        reused: bool,
        kubeconfig_written: bool,
        started: Instant,
    ) -> Self {
        UpOutcome {
            name: settings.name.clone(),
            context: names::context_name(&settings.name),
            endpoint: endpoint.server_url(),
            kubeconfig: target.path.clone(),
            kubeconfig_written,
            reused,
            ignored_flags: if reused {
                settings.cluster.given.clone()
            } else {
                Vec::new()
            },
            elapsed_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

/// A failed run's logs bundle, in `dir`: written, or said why not.
pub(super) async fn write_logs_bundle(
    provider: &impl Provider,
    name: &str,
    dir: &std::path::Path,
    printer: &Printer,
) {
    let written = match provider.find(name).await {
        Ok(node) => super::logs::export(provider, &node, dir).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => printer.info(&format!("Logs bundle written to {}", dir.display())),
        Err(e) => printer.warn(&format!("could not write the logs bundle: {e:#}")),
    }
}

async fn start_node<P: Provider>(
    backend: &P,
    printer: &Printer,
    plan: &NodePlan,
    facts: &EngineFacts,
) -> Result<P::Node> {
    let step = printer.step("node-started", &format!("Starting node {}", plan.node.name));
    let node = match backend.provision(plan, facts, printer).await {
        Err(e) if Error::is(&e, |e| matches!(e, Error::NameTaken { .. })) => {
            step.done(&format!(
                "Node {} is being started by another `kip up {}`",
                plan.node.name, plan.cluster
            ));
            return Err(e);
        }
        other => other?,
    };
    let info = node.info();
    step.done(&format!(
        "Node {} started ({}, API on {})",
        plan.node.name,
        info.security.as_deref().unwrap_or_default(),
        info.endpoint
            .as_ref()
            .map_or_else(|| "its pod IP once it runs".into(), ApiEndpoint::server_url)
    ));
    Ok(node)
}

/// A ready cluster never turns into a failed `up` because of the kubeconfig:
/// say what went wrong and how to get the kubeconfig instead. Whether it
/// was written.
pub(super) fn write_kubeconfig(
    settings: &UpSettings,
    printer: &Printer,
    target: &KubeconfigTarget,
    creds: &ClusterCredentials,
) -> bool {
    let context = names::context_name(&settings.name);
    let step = printer.step("kubeconfig-written", "Writing the kubeconfig");
    let result = kubeconfig::update(&target.path, |doc| {
        kubeconfig::upsert_entries(doc, &context, creds, settings.switch_context)
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
                settings.name
            ));
            false
        }
    }
}

async fn clean_up_after_failure(
    settings: &UpSettings,
    backend: &impl Provider,
    printer: &Printer,
    plan: &NodePlan,
) {
    if settings.cluster.keep_on_failure {
        printer.info(&format!(
            "Kept node {} for debugging (--keep-on-failure): `kip logs {}`, `kip exec {} -- sh`, then `kip down {}`",
            plan.node.name, settings.name, settings.name, settings.name
        ));
        return;
    }
    match backend.delete(&settings.name).await {
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
            settings.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::UpOutcome;

    #[test]
    fn the_result_matches_its_schema() {
        crate::output::assert_matches_schema(&UpOutcome {
            name: "a".into(),
            context: "kip-a".into(),
            endpoint: "https://127.0.0.1:1".into(),
            kubeconfig: "/kc".into(),
            kubeconfig_written: true,
            reused: false,
            ignored_flags: Vec::new(),
            elapsed_seconds: 1.0,
        });
    }
}

//! The Kubernetes backend (remote mode): the node is a privileged Pod on a
//! shared cluster, next to a ConfigMap with its bootstrap script and kind
//! config, found again by labels. The API server is reached through kip's
//! supervised port-forward, the Pod's IP, or a ClusterIP Service.

use super::remote_state::{self, RemoteRecord};
use super::{Backend, Deleted, EngineFacts, ExecOutput, NodeInfo, NodeState, StartedNode};
use crate::api::ApiEndpoint;
use crate::error::Failure;
use crate::names;
use crate::node::kind_config::NODE_API_PORT;
use crate::node::pod_options::{EndpointMode, PodOptions};
use crate::node::{labels, remote, NodePlan};
use crate::output::Printer;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::BoxStream;
use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, Service};
use kube::api::{
    AttachParams, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A node ConfigMap without its Pod for this long is a leftover of a node
/// deleted behind kip's back; younger, it is another `kip up` at work.
const LEFTOVER_AFTER: Duration = Duration::from_secs(60);

/// The Pod Security levels that refuse privileged pods.
const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// The cluster remote nodes run on, as the user named it (`--context`,
/// `--namespace`, `--kubeconfig`); what is not named comes from kip's
/// record of the cluster, then from the kubeconfig.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

/// What the backend is asked to make or show, given when it is built.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// The node Pod `up` creates.
    pub pod: PodOptions,
    /// How long `up` waits for the node to run (default 5 minutes).
    pub wait: Option<Duration>,
    /// `list` across every namespace.
    pub all_namespaces: bool,
}

/// A target resolved to a client: where remote nodes of one cluster are.
pub struct ResolvedTarget {
    pub client: Client,
    pub namespace: String,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// The target is the cluster kip runs in, through its service account.
    pub service_account: bool,
    pub server: String,
}

pub struct KubeBackend {
    client: Client,
    namespace: String,
    context: Option<String>,
    kubeconfig: Option<PathBuf>,
    service_account: bool,
    all_namespaces: bool,
    server: String,
    pod: PodOptions,
    endpoint: EndpointMode,
    wait: Duration,
}

/// Where kip itself runs in a Pod (a CI job on the cluster).
pub fn in_cluster() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

/// A kubeconfig with nothing to use: no current context and no contexts
/// (what `kip down` leaves of a file `up` created in a CI Pod).
fn is_empty(file: &Kubeconfig) -> bool {
    file.current_context.as_deref().unwrap_or("").is_empty() && file.contexts.is_empty()
}

impl KubeBackend {
    /// The backend for `target` (see [`resolve`]), making and showing what
    /// `options` ask for. Contacts nothing.
    pub async fn connect(
        target: &KubeTarget,
        cluster: Option<&str>,
        options: KubeOptions,
    ) -> Result<KubeBackend> {
        let resolved = resolve(target, cluster).await?;
        Ok(KubeBackend {
            client: resolved.client,
            namespace: resolved.namespace,
            context: resolved.context,
            kubeconfig: resolved.kubeconfig,
            service_account: resolved.service_account,
            all_namespaces: options.all_namespaces,
            server: resolved.server,
            endpoint: options.pod.endpoint.unwrap_or(if in_cluster() {
                EndpointMode::PodIp
            } else {
                EndpointMode::Forwarded
            }),
            pod: options.pod,
            wait: options.wait.unwrap_or(Duration::from_secs(300)),
        })
    }
}

/// Resolves the target cluster like kubectl (`--kubeconfig`, then
/// $KUBECONFIG, then ~/.kube/config, then the in-cluster service account)
/// and the context and namespace: flags, then what this machine recorded
/// for `cluster`, then the kubeconfig's. Contacts nothing.
pub async fn resolve(target: &KubeTarget, cluster: Option<&str>) -> Result<ResolvedTarget> {
    let mut record = cluster.and_then(remote_state::load);
    let mut context = target
        .context
        .clone()
        .or_else(|| record.as_ref().and_then(|r| r.context.clone()));
    let kubeconfig_path = target
        .kubeconfig
        .clone()
        .or_else(|| record.as_ref().and_then(|r| r.kubeconfig.clone()));
    // A cluster made through the service account (a CI job in a Pod)
    // stays there, even once `up` has written a kubeconfig whose
    // current context is the cluster itself.
    let named = target.context.is_some() || target.kubeconfig.is_some();
    let mut service_account = !named && record.as_ref().is_some_and(|r| r.in_cluster);
    let file_config = match &kubeconfig_path {
        _ if service_account => None,
        Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
            Failure::Environment(format!(
                "cannot read the kubeconfig {}: {e}",
                path.display()
            ))
        })?),
        // Like client-go: a missing or empty default kubeconfig means
        // the in-cluster service account, where there is one.
        None => Kubeconfig::read()
            .ok()
            .filter(|file| !(in_cluster() && is_empty(file))),
    };
    let file_config = match file_config {
        Some(file) if context.is_none() => {
            context = file.current_context.clone().filter(|c| !c.is_empty());
            // `up` made a kip cluster's context the current one: the
            // cluster that runs it is the one kip recorded for it.
            if let Some(kip) = context.as_deref().and_then(names::cluster_of_context) {
                match remote_state::load(kip) {
                    Some(r) if r.context.is_some() => {
                        context = r.context.clone();
                        record = record.or(Some(r));
                    }
                    Some(r) if r.in_cluster => {
                        context = None;
                        service_account = true;
                        record = record.or(Some(r));
                    }
                    _ => {
                        return Err(Failure::Usage(format!(
                            "the current context kip-{kip} is a kip cluster, not the cluster that runs remote nodes: pass --context CONTEXT"
                        ))
                        .into())
                    }
                }
            }
            if service_account {
                None
            } else if context.is_none() {
                return Err(Failure::Usage(
                    "the kubeconfig names no current context: pass --context CONTEXT (see `kubectl config get-contexts`)".into(),
                )
                .into());
            } else {
                Some(file)
            }
        }
        other => other,
    };
    let (config, context) = match file_config {
        Some(file) => {
            let options = KubeConfigOptions {
                context: context.clone(),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| {
                    Failure::Environment(format!(
                        "cannot use context {}: {e}",
                        context.as_deref().unwrap_or("(current)")
                    ))
                })?;
            (config, context)
        }
        None => {
            service_account = true;
            (
                Config::incluster().map_err(|e| {
                    Failure::Environment(format!(
                        "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not inside a cluster ({e}): pass --kubeconfig FILE"
                    ))
                })?,
                None,
            )
        }
    };
    let namespace = target
        .namespace
        .clone()
        .or_else(|| record.as_ref().map(|r| r.namespace.clone()))
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| Failure::Environment(format!("cannot make a Kubernetes client: {e}")))?;
    Ok(ResolvedTarget {
        client,
        namespace,
        context,
        kubeconfig: kubeconfig_path,
        service_account,
        server,
    })
}

impl KubeBackend {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn where_(&self) -> String {
        let cluster = match &self.context {
            Some(c) => format!("context {c}"),
            None if self.service_account => "the cluster kip runs in (service account)".to_string(),
            None => self.server.clone(),
        };
        format!("namespace {} of {cluster}", self.namespace)
    }

    fn record(&self) -> RemoteRecord {
        RemoteRecord {
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            kubeconfig: self.kubeconfig.clone(),
            in_cluster: self.service_account,
            forwarder: None,
        }
    }

    /// The manifests `up` creates, in order.
    pub fn manifests(&self, plan: &NodePlan) -> Vec<serde_json::Value> {
        let mut objects = vec![
            remote::config_map(plan, &self.namespace),
            remote::pod(plan, &self.namespace, &self.pod, self.endpoint),
        ];
        if self.endpoint == EndpointMode::Service {
            objects.push(remote::service(plan, &self.namespace));
        }
        objects
    }

    /// Everything kip needs, asked before anything is created; each refusal
    /// named with what an admin must grant.
    async fn preflight(&self, plan: &NodePlan) -> Result<()> {
        let mut needed: Vec<(&str, &str, &str)> = vec![
            ("create", "pods", ""),
            ("get", "pods", ""),
            ("list", "pods", ""),
            ("watch", "pods", ""),
            ("delete", "pods", ""),
            ("create", "pods", "exec"),
            ("get", "pods", "log"),
            ("create", "configmaps", ""),
            ("get", "configmaps", ""),
            ("patch", "configmaps", ""),
            ("delete", "configmaps", ""),
        ];
        if self.endpoint == EndpointMode::Forwarded {
            needed.push(("create", "pods", "portforward"));
        }
        if self.endpoint == EndpointMode::Service {
            needed.push(("create", "services", ""));
            needed.push(("delete", "services", ""));
        }
        let reviews: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let mut missing = Vec::new();
        for (verb, resource, sub) in needed {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(self.namespace.clone()),
                        verb: Some(verb.into()),
                        resource: Some(resource.into()),
                        subresource: (!sub.is_empty()).then(|| sub.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = reviews
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| self.unreachable(e))?;
            if !answer.status.is_some_and(|s| s.allowed) {
                let what = if sub.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}/{sub}")
                };
                missing.push((verb, what));
            }
        }
        if !missing.is_empty() {
            let lines: Vec<String> = missing
                .iter()
                .map(|(verb, what)| format!("  - {verb} {what}"))
                .collect();
            let mut by_resource: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (verb, what) in &missing {
                by_resource.entry(what.as_str()).or_default().push(verb);
            }
            let rules: Vec<String> = by_resource
                .iter()
                .map(|(what, verbs)| {
                    format!(
                        "  - apiGroups: [\"\"]\n    resources: [\"{what}\"]\n    verbs: [{}]",
                        verbs
                            .iter()
                            .map(|v| format!("\"{v}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            return Err(Failure::Environment(format!(
                "kip may not do what a remote node needs in {}:\n{}\nAn admin must grant them, e.g. in a Role bound to you:\n{}",
                self.where_(),
                lines.join("\n"),
                rules.join("\n")
            ))
            .into());
        }
        // Pod Security admission: read the namespace's label when allowed
        // (the dry-run below catches the rest).
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        if let Ok(ns) = namespaces.get(&self.namespace).await {
            let level = ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PSA_ENFORCE))
                .cloned();
            if let Some(level @ ("baseline" | "restricted")) = level.as_deref() {
                return Err(Failure::Environment(format!(
                    "namespace {} enforces the Pod Security level \"{level}\", which refuses privileged pods, and kip's node must run privileged.\n\
                     Use a namespace that allows it, or have an admin label one: kubectl label namespace NAMESPACE {PSA_ENFORCE}=privileged",
                    self.namespace
                ))
                .into());
            }
        }
        // A server-side dry run of the objects: admission webhooks, quotas
        // and policies answer now, not after half of them exist.
        let dry = PostParams {
            dry_run: true,
            field_manager: Some("kip".into()),
        };
        for object in self.manifests(plan) {
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            let result = self.create(&dry, object).await?;
            match result {
                Ok(_) => {}
                // Left over from a node deleted behind kip's back (replaced
                // below), or another run's claim (found below).
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(kube::Error::Api(s)) => {
                    return Err(Failure::Environment(format!(
                        "the cluster refuses kip's {kind} in {} (a server-side dry run): {}",
                        self.where_(),
                        s.message
                    ))
                    .into())
                }
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        Ok(())
    }

    /// The outer cluster's pod and service ranges, as far as kip may read
    /// them (nodes' podCIDRs; the `kubernetes` Service's /16), so that the
    /// inner cluster's subnets stay clear of them. Best effort: RBAC often
    /// hides nodes, and then kip's defaults apply.
    async fn outer_subnets(&self) -> Vec<String> {
        let mut subnets = Vec::new();
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        if let Ok(list) = nodes.list(&ListParams::default()).await {
            for node in list.items {
                let spec = node.spec.unwrap_or_default();
                subnets.extend(spec.pod_cidrs.unwrap_or_default());
                subnets.extend(spec.pod_cidr);
            }
        }
        let services: Api<Service> = Api::namespaced(self.client.clone(), "default");
        if let Ok(svc) = services.get("kubernetes").await {
            if let Some(ip) = svc.spec.and_then(|s| s.cluster_ip) {
                let octets: Vec<&str> = ip.split('.').collect();
                if octets.len() == 4 {
                    subnets.push(format!("{}.{}.0.0/16", octets[0], octets[1]));
                }
            }
        }
        subnets.sort();
        subnets.dedup();
        subnets
    }

    /// Creates one of the objects `manifests` makes; the outer error is
    /// kip's (a manifest that does not decode), the inner the server's.
    /// Creates one of the node's objects; the created object's uid.
    async fn create(
        &self,
        params: &PostParams,
        object: serde_json::Value,
    ) -> Result<std::result::Result<Option<String>, kube::Error>> {
        let (client, ns) = (self.client.clone(), self.namespace.as_str());
        Ok(match object["kind"].as_str() {
            Some("Pod") => Api::<Pod>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
            Some("ConfigMap") => Api::<ConfigMap>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
            _ => Api::<Service>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
        })
    }

    /// Creates the node's ConfigMap, the claim on the cluster's name. One
    /// that exists already is a leftover (its Pod is gone and it is older
    /// than a `kip up` takes to create the Pod after it), replaced; or
    /// another run's claim: [`NameTaken`].
    async fn claim(
        &self,
        cluster: &str,
        params: &PostParams,
        config_map: serde_json::Value,
    ) -> Result<()> {
        let name = names::node_name(cluster);
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace);
        for _ in 0..2 {
            match self.create(params, config_map.clone()).await? {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(anyhow!("cannot create the ConfigMap {name}: {e}")),
            }
            let existing = api.get_opt(&name).await.map_err(|e| self.unreachable(e))?;
            let Some(existing) = existing else { continue };
            let pod_uid = self.pod(cluster).await?.and_then(|p| p.metadata.uid);
            // Owned by its node Pod once that exists: owned by a Pod that is
            // gone, it is a leftover the cluster's garbage collector has not
            // reached yet.
            let owner = existing
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.kind == "Pod")
                .map(|o| o.uid.clone());
            let age = existing
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t.0))
                .and_then(|d| std::time::Duration::try_from(d).ok())
                .unwrap_or_default();
            let leftover = match owner {
                Some(owner) => pod_uid.as_deref() != Some(owner.as_str()),
                None => pod_uid.is_none() && age >= LEFTOVER_AFTER,
            };
            if !leftover {
                return Err(super::NameTaken(cluster.to_string()).into());
            }
            let uid = existing.metadata.uid.clone();
            let delete = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &delete).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        Err(super::NameTaken(cluster.to_string()).into())
    }

    fn unreachable(&self, e: kube::Error) -> anyhow::Error {
        Failure::Environment(format!("the Kubernetes API at {} failed: {e}", self.server)).into()
    }

    async fn pod(&self, cluster: &str) -> Result<Option<Pod>> {
        self.pods()
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn running_pod(&self, cluster: &str) -> Result<Pod> {
        let pod = self.pod(cluster).await?.ok_or_else(|| {
            anyhow::Error::from(Failure::NotFound(format!(
                "no remote cluster {cluster} in {} (see `kip list --remote`)",
                self.where_()
            )))
        })?;
        Ok(pod)
    }

    /// Waits for the node Pod to run, failing fast with the cluster's own
    /// reason when it cannot: image pulls, scheduling, mounts, crashes.
    async fn wait_running(&self, name: &str, deadline: tokio::time::Instant) -> Result<Pod> {
        let pods = watcher(
            self.pods(),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        )
        .boxed();
        let events_api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let events = watcher(
            events_api,
            watcher::Config::default().fields(&format!("involvedObject.name={name}")),
        )
        .boxed();
        let mut pods = pods.fuse();
        let mut events = events.fuse();
        let mut last = "Pending".to_string();
        let mut transient: Option<String> = None;
        // A Warning event settles it, but the Pod's own status usually says
        // the same in the kubelet's words a moment later (ErrImagePull after
        // "Failed to pull image"): give that a short while to arrive.
        let mut event_failure: Option<(tokio::time::Instant, String)> = None;
        let far = deadline + Duration::from_secs(3600);
        loop {
            let settle = event_failure.as_ref().map_or(far, |(at, _)| *at);
            tokio::select! {
                () = tokio::time::sleep_until(settle) => {
                    let (_, why) = event_failure.take().expect("set with the deadline");
                    return Err(Failure::Node(format!("the node Pod {name} cannot run: {why}")).into());
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Failure::Timeout(format!(
                        "the node Pod {name} did not start running in time (last: {last}{})",
                        transient.map(|t| format!("; {t}")).unwrap_or_default()
                    )).into());
                }
                item = pods.next() => match item {
                    Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => {
                        match pod_problem(&pod) {
                            PodState::Running => return Ok(pod),
                            PodState::Failed(why) => return Err(Failure::Node(format!(
                                "the node Pod {name} cannot run: {why}"
                            )).into()),
                            PodState::Waiting(what) => last = what,
                        }
                    }
                    Some(Ok(watcher::Event::Delete(_))) => {
                        return Err(Failure::Node(format!("the node Pod {name} was deleted while starting")).into());
                    }
                    Some(Ok(_)) => {}
                    // The watch resumes by itself (with backoff): an API
                    // server restart is not a failed `up`.
                    Some(Err(e)) => transient = Some(format!("watch interrupted: {e}")),
                    None => bail!("the watch on the node Pod ended"),
                },
                item = events.next() => {
                    if let Some(Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event))) = item {
                        let reason = event.reason.clone().unwrap_or_default();
                        let message = event.message.clone().unwrap_or_default();
                        let warning = event.type_.as_deref() == Some("Warning");
                        if warning
                            && event_failure.is_none()
                            && ["Failed", "FailedMount", "FailedScheduling", "FailedCreatePodSandBox"].contains(&reason.as_str())
                        {
                            event_failure = Some((
                                tokio::time::Instant::now() + Duration::from_secs(2),
                                format!("{reason}: {message}"),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Runs `command` in the node with stdin from `input`; its exit code,
    /// stdout and stderr.
    async fn exec_collect(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let mut process = self
            .exec_attached(cluster, command, input.is_some())
            .await?;
        let feeder = match (input, process.stdin()) {
            (Some(mut input), Some(mut stdin)) => Some(tokio::spawn(async move {
                while let Some(chunk) = input.next().await {
                    stdin.write_all(&chunk?).await?;
                }
                stdin.shutdown().await?;
                anyhow::Ok(())
            })),
            _ => None,
        };
        // Both streams at once, or the WebSocket stalls on a full one.
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a?;
        b?;
        if let Some(feeder) = feeder {
            feeder.await??;
        }
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        Ok((exit_code_of(status), out, err))
    }

    /// Starts `command` in the node's container.
    async fn exec_attached(
        &self,
        cluster: &str,
        command: &[String],
        stdin: bool,
    ) -> Result<kube::api::AttachedProcess> {
        self.running_pod(cluster).await?;
        self.pods()
            .exec(
                &names::node_name(cluster),
                command.to_vec(),
                &AttachParams::default()
                    .container(remote::CONTAINER)
                    .stdin(stdin)
                    .stdout(true)
                    .stderr(true),
            )
            .await
            .map_err(|e| {
                Failure::Environment(format!(
                    "cannot exec in the node Pod {}: {e}",
                    names::node_name(cluster)
                ))
                .into()
            })
    }

    fn endpoint_of(&self, cluster: &str, pod: &Pod) -> Option<ApiEndpoint> {
        let mode = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(remote::ENDPOINT_ANNOTATION))
            .and_then(|m| serde_json::from_value(serde_json::json!(m)).ok())
            .unwrap_or(EndpointMode::Forwarded);
        match mode {
            EndpointMode::Forwarded => {
                let record = remote_state::load(cluster)?;
                let fwd = record.forwarder?;
                crate::forwarder::alive(fwd.pid).then(|| ApiEndpoint {
                    host: "127.0.0.1".into(),
                    port: fwd.port,
                })
            }
            EndpointMode::PodIp => {
                let ip = pod.status.as_ref()?.pod_ip.clone()?;
                Some(ApiEndpoint {
                    host: ip,
                    port: NODE_API_PORT,
                })
            }
            EndpointMode::Service => Some(ApiEndpoint {
                host: format!("{}.{}.svc", names::node_name(cluster), self.namespace),
                port: NODE_API_PORT,
            }),
        }
    }

    /// Starts the forwarder for `cluster` (on `port`, 0: any free one) and
    /// records it; returns its port.
    pub async fn start_forwarder(&self, cluster: &str, port: u16) -> Result<u16> {
        if let Some(old) = remote_state::load(cluster).and_then(|r| r.forwarder) {
            crate::forwarder::stop(old.pid);
        }
        let fwd = crate::forwarder::spawn(cluster, port, &self.record()).await?;
        remote_state::save(
            cluster,
            &RemoteRecord {
                forwarder: Some(fwd),
                ..self.record()
            },
        )?;
        Ok(fwd.port)
    }
}

enum PodState {
    Running,
    Waiting(String),
    Failed(String),
}

/// Reads a node Pod's status the way a person would in `kubectl describe`.
fn pod_problem(pod: &Pod) -> PodState {
    let Some(status) = &pod.status else {
        return PodState::Waiting("Pending".into());
    };
    for c in status.conditions.iter().flatten() {
        if c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
        {
            return PodState::Failed(format!(
                "Unschedulable: {}",
                c.message.clone().unwrap_or_default()
            ));
        }
    }
    for cs in status.container_statuses.iter().flatten() {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if [
                "ErrImagePull",
                "ImagePullBackOff",
                "InvalidImageName",
                "CreateContainerConfigError",
                "CreateContainerError",
                "CrashLoopBackOff",
                "RunContainerError",
            ]
            .contains(&reason.as_str())
            {
                return PodState::Failed(format!(
                    "{reason}: {}",
                    w.message.clone().unwrap_or_default()
                ));
            }
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return PodState::Failed(format!(
                "the node container exited with code {} ({}){}",
                t.exit_code,
                t.reason.clone().unwrap_or_default(),
                t.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }
    match status.phase.as_deref() {
        Some("Running") => PodState::Running,
        Some(phase @ ("Failed" | "Succeeded")) => PodState::Failed(format!(
            "the Pod is {phase}{}",
            status
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        other => PodState::Waiting(other.unwrap_or("Pending").to_string()),
    }
}

fn exit_code_of(status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i64 {
    let Some(status) = status else {
        return -1;
    };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .and_then(|d| d.causes)
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message)
        .and_then(|m| m.parse().ok())
        .unwrap_or(1)
}

impl Backend for KubeBackend {
    async fn engine_facts(&self) -> Result<EngineFacts> {
        let version = match self.client.apiserver_version().await {
            Ok(v) => v.git_version,
            Err(e) => format!("version unknown: {e}"),
        };
        Ok(EngineFacts {
            description: format!("Kubernetes {version} at {}, {}", self.server, self.where_()),
            root_dir: None,
            cgroup_v2: false,
            subnets: self.outer_subnets().await,
            local: false,
            remote_namespace: Some(self.namespace.clone()),
        })
    }

    async fn ensure_image(&self, _image: &str, is_default: bool, _printer: &Printer) -> Result<()> {
        if is_default {
            return Err(Failure::Usage(
                "remote nodes need a node image the cluster can pull: pass --image REGISTRY/IMAGE \
                 (or set `image:` in kip's config); kip's default node image is built on the local engine only"
                    .into(),
            )
            .into());
        }
        Ok(())
    }

    async fn create_node(
        &self,
        plan: &NodePlan,
        _facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<StartedNode> {
        self.preflight(plan).await?;
        let cluster = &plan.cluster;
        let name = &plan.node.name;
        let params = PostParams {
            dry_run: false,
            field_manager: Some("kip".into()),
        };
        let mut objects = self.manifests(plan).into_iter();
        // The ConfigMap comes first and is the claim on the name: a
        // concurrent `kip up` of this name that made it first owns the
        // cluster, and this run must not touch any of it.
        let config_map = objects.next().expect("the ConfigMap is the first object");
        self.claim(cluster, &params, config_map).await?;
        // Leftovers of a node deleted behind kip's back, now that the name
        // is this run's: a Service, a forwarder that serves nothing.
        let _ = Api::<Service>::namespaced(self.client.clone(), &self.namespace)
            .delete(name, &DeleteParams::default())
            .await;
        if let Some(old) = remote_state::load(cluster).and_then(|r| r.forwarder) {
            crate::forwarder::stop(old.pid);
        }
        remote_state::save(cluster, &self.record())?;
        // The Pod owns the ConfigMap and the Service: if it is deleted
        // behind kip's back, the cluster's garbage collector removes them.
        let mut owner = None;
        for mut object in objects {
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            if let Some(owner) = &owner {
                object["metadata"]["ownerReferences"] = serde_json::json!([owner]);
            }
            let result = self.create(&params, object).await?;
            let uid = result.map_err(|e| anyhow!("cannot create the {kind} {name}: {e}"))?;
            if kind == "Pod" {
                let reference = serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid.unwrap_or_default(),
                });
                Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
                    .patch(
                        name,
                        &PatchParams::default(),
                        &Patch::Merge(
                            serde_json::json!({"metadata": {"ownerReferences": [reference]}}),
                        ),
                    )
                    .await
                    .map_err(|e| anyhow!("cannot make the Pod {name} own its ConfigMap: {e}"))?;
                owner = Some(reference);
            }
        }
        // Listening before the Pod runs: connections made before then fail
        // and are retried by whoever made them. The pod IP is known only
        // once it runs (follow_bootstrap waits for that).
        let endpoint = match self.endpoint {
            EndpointMode::Forwarded => Some(ApiEndpoint {
                host: "127.0.0.1".into(),
                port: self.start_forwarder(cluster, 0).await?,
            }),
            EndpointMode::Service => Some(ApiEndpoint {
                host: format!("{name}.{}.svc", self.namespace),
                port: NODE_API_PORT,
            }),
            EndpointMode::PodIp => None,
        };
        let _ = printer;
        Ok(StartedNode {
            endpoint,
            security: format!("privileged pod in {}", self.where_()),
        })
    }

    async fn follow_bootstrap(&self, cluster: &str) -> Result<BoxStream<'static, Result<String>>> {
        // The log exists once the node runs; until then, fail fast on what
        // keeps it from running.
        let name = names::node_name(cluster);
        self.wait_running(&name, tokio::time::Instant::now() + self.wait)
            .await?;
        // A log stream ends when the API server restarts as well as when the
        // node stops: while the Pod still runs, open it again and skip the
        // lines already passed on (a container's log only grows).
        let pods = self.pods();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<String>>(256);
        tokio::spawn(async move {
            let params = LogParams {
                follow: true,
                container: Some(remote::CONTAINER.into()),
                ..Default::default()
            };
            let mut passed = 0usize;
            let mut failures = 0u32;
            loop {
                if let Ok(reader) = pods.log_stream(&name, &params).await {
                    failures = 0;
                    let mut lines = reader.lines();
                    let mut seen = 0usize;
                    while let Some(Ok(line)) = lines.next().await {
                        seen += 1;
                        if seen > passed {
                            passed = seen;
                            if tx.send(Ok(line)).await.is_err() {
                                return;
                            }
                        }
                    }
                } else {
                    failures += 1;
                }
                // Still running? Then the stream, not the node, ended.
                let running = match pods.get_opt(&name).await {
                    Ok(Some(pod)) => matches!(pod_problem(&pod), PodState::Running),
                    Ok(None) => false,
                    Err(_) => true,
                };
                if !running || failures > 600 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    }

    async fn bootstrap_log(&self, cluster: &str) -> Result<String> {
        self.pods()
            .logs(
                &names::node_name(cluster),
                &LogParams {
                    container: Some(remote::CONTAINER.into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn exec_capture(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        let (code, out, err) = self.exec_collect(cluster, command, input).await?;
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    async fn inspect_node(&self, cluster: &str) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self.running_pod(cluster).await?)?)
    }

    async fn node_events(&self, cluster: &str) -> Result<serde_json::Value> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = events
            .list(&ListParams::default().fields(&format!(
                "involvedObject.name={}",
                names::node_name(cluster)
            )))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(serde_json::to_value(list.items)?)
    }

    async fn download(&self, cluster: &str, path: &str, dest: &Path) -> Result<()> {
        let p = Path::new(path);
        let parent = p.parent().map_or("/".into(), |d| d.display().to_string());
        let base = p
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        let command = ["tar", "-C", &parent, "-cf", "-", &base].map(String::from);
        let (code, out, err) = self.exec_collect(cluster, &command, None).await?;
        if code != 0 {
            bail!(
                "cannot copy {path} out of the node: {}",
                String::from_utf8_lossy(&err).trim()
            );
        }
        std::fs::create_dir_all(dest)?;
        tar::Archive::new(out.as_slice())
            .unpack(dest)
            .with_context(|| format!("cannot unpack {path} into {}", dest.display()))
    }

    async fn exec(&self, cluster: &str, command: &[String], interactive: bool) -> Result<i64> {
        let mut process = self.exec_attached(cluster, command, interactive).await?;
        let feeder = match (interactive, process.stdin()) {
            (true, Some(mut stdin)) => Some(tokio::spawn(async move {
                let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut stdin).await;
                let _ = stdin.shutdown().await;
            })),
            _ => None,
        };
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let mut err = tokio::io::stderr();
        let (a, b) = tokio::join!(
            crate::output::copy_to_stdout(&mut stdout),
            tokio::io::copy(&mut stderr, &mut err)
        );
        a?;
        b?;
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        Ok(exit_code_of(status))
    }

    async fn find(&self, cluster: &str) -> Result<Option<NodeInfo>> {
        Ok(self.pod(cluster).await?.map(|pod| self.info(&pod)))
    }

    async fn list(&self) -> Result<Vec<NodeInfo>> {
        let api: Api<Pod> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            self.pods()
        };
        let pods = api
            .list(&ListParams::default().labels(&format!(
                "{}={}",
                labels::MANAGED_BY,
                labels::MANAGER
            )))
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut infos: Vec<NodeInfo> = pods.items.iter().map(|p| self.info(p)).collect();
        infos.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(infos)
    }

    async fn delete(&self, cluster: &str) -> Result<Deleted> {
        let name = names::node_name(cluster);
        if let Some(fwd) = remote_state::load(cluster).and_then(|r| r.forwarder) {
            crate::forwarder::stop(fwd.pid);
        }
        let mut deleted = Deleted::default();
        match self.pods().delete(&name, &DeleteParams::default()).await {
            Ok(_) => deleted.node = true,
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        for (what, result) in [
            (
                "configmap",
                Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
                    .delete(&name, &DeleteParams::default())
                    .await
                    .map(|_| ()),
            ),
            (
                "service",
                Api::<Service>::namespaced(self.client.clone(), &self.namespace)
                    .delete(&name, &DeleteParams::default())
                    .await
                    .map(|_| ()),
            ),
        ] {
            match result {
                Ok(()) => deleted.other.push(what),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        // Gone means gone: wait out the graceful stop (the bootstrap's TERM
        // trap removes the nested containers first).
        if deleted.node {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
            while self.pod(cluster).await?.is_some() {
                if tokio::time::Instant::now() >= deadline {
                    bail!("the node Pod {name} is still terminating after 45 s");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        remote_state::remove(cluster);
        Ok(deleted)
    }

    fn home_context(&self) -> Option<String> {
        self.context.clone()
    }

    fn vanished(&self, cluster: &str) -> Option<String> {
        remote_state::load(cluster).map(|r| {
            format!(
                "the node Pod {} is gone from namespace {} (deleted outside kip?): `kip up {cluster} --remote` makes the cluster again, `kip down {cluster}` forgets it",
                names::node_name(cluster),
                r.namespace
            )
        })
    }

    fn dry_run_manifests(&self, plan: &NodePlan) -> Option<String> {
        Some(remote::to_yaml(&self.manifests(plan)))
    }

    async fn reconnect(&self, cluster: &str) -> Result<Option<ApiEndpoint>> {
        let Some(pod) = self.pod(cluster).await? else {
            return Ok(None);
        };
        if let Some(endpoint) = self.endpoint_of(cluster, &pod) {
            return Ok(Some(endpoint));
        }
        let port = remote_state::load(cluster)
            .and_then(|r| r.forwarder)
            .map_or(0, |f| f.port);
        let port = self.start_forwarder(cluster, port).await?;
        Ok(Some(ApiEndpoint {
            host: "127.0.0.1".into(),
            port,
        }))
    }
}

impl KubeBackend {
    fn info(&self, pod: &Pod) -> NodeInfo {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let get = |k: &str| annotations.get(k).cloned();
        let cluster = get(labels::CLUSTER).unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
        let cs = status
            .container_statuses
            .as_ref()
            .and_then(|c| c.first().cloned());
        let terminated = cs
            .as_ref()
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.clone());
        let ready = cs.as_ref().is_some_and(|c| c.ready);
        let state = match phase.as_str() {
            "Running" => NodeState::Running,
            "Pending" => NodeState::Created,
            "Succeeded" | "Failed" => NodeState::Stopped,
            _ => NodeState::Other,
        };
        let mut words = phase.clone();
        if state == NodeState::Running {
            words.push_str(if ready { " (ready)" } else { " (not ready)" });
        }
        let mut info_labels: BTreeMap<String, String> = annotations
            .iter()
            .filter(|(k, _)| k.starts_with("dev.kip.") || !k.contains('/'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        info_labels.insert(
            "dev.kip.namespace".into(),
            pod.metadata.namespace.clone().unwrap_or_default(),
        );
        let endpoint = self.endpoint_of(&cluster, pod);
        let problem = (state == NodeState::Running && endpoint.is_none()).then(|| {
            format!(
                "the port-forward to the node is not running: `kip connect {cluster} --remote` restarts it"
            )
        });
        NodeInfo {
            endpoint,
            problem,
            cluster,
            node: pod.metadata.name.clone().unwrap_or_default(),
            state,
            status: words,
            exit_code: terminated.map(|t| i64::from(t.exit_code)),
            created_at: get(labels::CREATED_AT),
            image: pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            security: Some("privileged pod".into()),
            kip_version: get(labels::VERSION),
            expires_at: get(labels::EXPIRES_AT),
            ci: labels::ci_description(&annotations.clone().into_iter().collect()),
            labels: info_labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "kip-x"}, "status": status}))
            .unwrap()
    }

    fn verdict(status: serde_json::Value) -> String {
        match pod_problem(&pod(status)) {
            PodState::Running => "running".into(),
            PodState::Waiting(w) => format!("waiting {w}"),
            PodState::Failed(f) => format!("failed {f}"),
        }
    }

    #[test]
    fn pod_states_read_like_kubectl_describe() {
        assert_eq!(verdict(serde_json::json!({"phase": "Running"})), "running");
        assert_eq!(
            verdict(serde_json::json!({"phase": "Pending"})),
            "waiting Pending"
        );
        assert_eq!(
            verdict(
                serde_json::json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]})
            ),
            "failed Unschedulable: 0/3 nodes are available"
        );
        let waiting = |reason: &str| {
            verdict(
                serde_json::json!({"phase": "Pending", "containerStatuses": [{"name": "node",
                "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": "why"}}}]}),
            )
        };
        assert_eq!(waiting("ErrImagePull"), "failed ErrImagePull: why");
        assert_eq!(waiting("ImagePullBackOff"), "failed ImagePullBackOff: why");
        assert_eq!(waiting("CrashLoopBackOff"), "failed CrashLoopBackOff: why");
        // ContainerCreating is a wait, not a failure.
        assert_eq!(waiting("ContainerCreating"), "waiting Pending");
        assert_eq!(
            verdict(
                serde_json::json!({"phase": "Failed", "containerStatuses": [{"name": "node",
                "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})
            ),
            "failed the node container exited with code 137 (OOMKilled)"
        );
    }

    #[test]
    fn exec_exit_codes_come_from_the_status() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
        let status = |v: serde_json::Value| Some(serde_json::from_value::<Status>(v).unwrap());
        assert_eq!(
            exit_code_of(status(serde_json::json!({"status": "Success"}))),
            0
        );
        assert_eq!(
            exit_code_of(status(
                serde_json::json!({"status": "Failure", "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}})
            )),
            7
        );
        assert_eq!(
            exit_code_of(status(serde_json::json!({"status": "Failure"}))),
            1
        );
        assert_eq!(exit_code_of(None), -1);
    }
}

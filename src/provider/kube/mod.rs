//! The Kubernetes provider (remote mode): the node is a privileged Pod on a
//! shared cluster, next to a ConfigMap with its bootstrap script and kind
//! config, found again by labels. The API server is reached through kip's
//! supervised port-forward, the Pod's IP, or a ClusterIP Service. This file
//! is the lifecycle; target resolution, preflight, manifests, the name
//! claim, the Pod's state, the node handle and exec each have a file of
//! their own.

mod claim;
mod exec;
pub mod forwarder;
mod manifests;
mod node;
mod ownership;
mod pod;
mod pod_state;
mod pool;
mod pool_member;
pub mod preflight;
mod seed_store;
mod stream_out;
mod target;

use super::remote_state::{RemoteRecord, RemoteState};
use super::{Deleted, EngineFacts, NodeInfo, Provider, ProviderInfo};
use crate::api::ApiEndpoint;
use crate::error::{Absence, Error};
use crate::names;
use crate::node::kind_config::NODE_API_PORT;
use crate::node::pod_options::{EndpointMode, PodOptions};
use crate::node::{labels, remote, NodePlan};
use crate::output::Printer;
use crate::settings::Environment;
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::ListParams;
use kube::{Api, Client};
pub use node::KubeNode;
use std::path::PathBuf;
use std::time::Duration;
pub use stream_out::Streamed;
pub use target::{resolve, KubeTarget};

/// What the provider is asked to make or show, given when it is built.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// The node Pod `up` creates.
    pub pod: PodOptions,
    /// How long `up` waits for the node to run (default 5 minutes).
    pub wait: Option<Duration>,
    /// `list` across every namespace.
    pub all_namespaces: bool,
}

#[derive(Clone)]
pub struct KubeProvider {
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
    state: RemoteState,
}

impl KubeProvider {
    /// The provider for `target` (see [`resolve`]), making and showing what
    /// `options` ask for. Contacts nothing.
    pub async fn connect(
        target: &KubeTarget,
        cluster: Option<&str>,
        options: KubeOptions,
        env: &Environment,
    ) -> Result<KubeProvider> {
        let state = RemoteState::new(&env.state_dir);
        let resolved = resolve(target, cluster, &state, env.in_cluster).await?;
        Ok(KubeProvider {
            client: resolved.client,
            namespace: resolved.namespace,
            context: resolved.context,
            kubeconfig: resolved.kubeconfig,
            service_account: resolved.service_account,
            all_namespaces: options.all_namespaces,
            server: resolved.server,
            endpoint: options.pod.endpoint.unwrap_or(if env.in_cluster {
                EndpointMode::PodIp
            } else {
                EndpointMode::Forwarded
            }),
            pod: options.pod,
            wait: options.wait.unwrap_or(Duration::from_secs(300)),
            state,
        })
    }
}

impl KubeProvider {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The Pods of `api` that carry kip's managed-by label.
    async fn kips_pods(&self, api: Api<Pod>) -> Result<Vec<Pod>> {
        let mine = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
        let pods = api
            .list(&ListParams::default().labels(&mine))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(pods.items)
    }

    /// The API server's address, as the kubeconfig names it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The API server's version (its `gitVersion`), or why it does not answer.
    pub async fn api_version(&self) -> Result<String> {
        self.client
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .map_err(|e| self.unreachable(e))
    }

    /// The namespace remote nodes go to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How the node's API server is reached (`--endpoint`).
    pub fn endpoint(&self) -> EndpointMode {
        self.endpoint
    }

    /// `namespace NS of context CTX`: where remote nodes go.
    pub fn where_(&self) -> String {
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

    fn unreachable(&self, e: kube::Error) -> anyhow::Error {
        Error::KubeApi {
            server: self.server.clone(),
            error: e.to_string(),
        }
        .into()
    }

    /// Starts the forwarder for `cluster`, whose node is the Pod `pod` (on
    /// `port`, 0: any free one) and records it; returns its port.
    pub async fn start_forwarder(&self, cluster: &str, port: u16, pod: &str) -> Result<u16> {
        if let Some(old) = self.state.load(cluster).and_then(|r| r.forwarder) {
            forwarder::stop(old.pid);
        }
        let fwd = forwarder::spawn((cluster, pod), port, &self.record(), &self.state).await?;
        self.state.save(
            cluster,
            &RemoteRecord {
                forwarder: Some(fwd),
                ..self.record()
            },
        )?;
        Ok(fwd.port)
    }
}

impl KubeProvider {
    /// Where the API server of the node just made is reached from here.
    /// Listening before the Pod runs: connections made before then fail and
    /// are retried by whoever made them. The pod IP is known only once it
    /// runs (found again then).
    async fn new_endpoint(&self, plan: &NodePlan) -> Result<Option<ApiEndpoint>> {
        Ok(match self.endpoint {
            EndpointMode::Forwarded => Some(ApiEndpoint {
                host: "127.0.0.1".into(),
                port: self
                    .start_forwarder(&plan.cluster, 0, &plan.node.name)
                    .await?,
            }),
            EndpointMode::Service => Some(ApiEndpoint {
                host: format!("{}.{}.svc", plan.node.name, self.namespace),
                port: NODE_API_PORT,
            }),
            EndpointMode::PodIp => None,
        })
    }

    fn handle(&self, cluster: &str, info: NodeInfo) -> KubeNode {
        KubeNode {
            provider: self.clone(),
            cluster: cluster.to_string(),
            info,
        }
    }

    /// Waits until the node Pod `pod` is gone (its graceful stop: the
    /// bootstrap's TERM trap removes the nested containers first).
    async fn wait_gone(&self, pod: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        while self
            .pods()
            .get_opt(pod)
            .await
            .map_err(|e| self.unreachable(e))?
            .is_some()
        {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::PodStillTerminating {
                    pod: pod.to_string(),
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }
}

impl Provider for KubeProvider {
    type Node = KubeNode;

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            remote: Some(self.where_()),
            home_context: self.context.clone(),
        }
    }

    async fn facts(&self) -> Result<EngineFacts> {
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
            return Err(Error::RemoteDefaultDindImage.into());
        }
        Ok(())
    }

    async fn refuse_foreign(&self, cluster: &str) -> Result<()> {
        self.refuse_foreign_objects(cluster).await
    }

    async fn provision(
        &self,
        plan: &NodePlan,
        _facts: &EngineFacts,
        _printer: &Printer,
    ) -> Result<KubeNode> {
        self.preflight(plan).await?;
        self.create_objects(plan).await?;
        let endpoint = self.new_endpoint(plan).await?;
        // As made, not yet scheduled: the Pod kip sent.
        let pod: Pod =
            serde_json::from_value(remote::pod(plan, &self.namespace, &self.pod, self.endpoint))?;
        let mut info = self.info(&pod);
        info.endpoint = endpoint;
        info.security = Some(format!("privileged pod in {}", self.where_()));
        Ok(self.handle(&plan.cluster, info))
    }

    async fn lookup(&self, cluster: &str) -> Result<Option<KubeNode>> {
        Ok(self
            .pod(cluster)
            .await?
            .map(|pod| self.handle(cluster, self.info(&pod))))
    }

    async fn absence(&self, cluster: &str) -> Absence {
        match self.state.load(cluster) {
            Some(record) => Absence::Vanished {
                namespace: record.namespace,
            },
            None => Absence::Never {
                place: Some(self.where_()),
            },
        }
    }

    async fn list(&self) -> Result<Vec<NodeInfo>> {
        let api: Api<Pod> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            self.pods()
        };
        let pods = self.kips_pods(api).await?;
        let mut infos: Vec<NodeInfo> = pods
            .iter()
            .filter(|p| !pool_member::is_unclaimed_member(p))
            .map(|p| self.info(p))
            .collect();
        infos.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(infos)
    }

    async fn delete(&self, cluster: &str) -> Result<Deleted> {
        if let Some(fwd) = self.state.load(cluster).and_then(|r| r.forwarder) {
            forwarder::stop(fwd.pid);
        }
        let mut deleted = Deleted {
            stopped_an_up: self.claimed_by_an_up_at_work(cluster).await?,
            ..Deleted::default()
        };
        deleted.node = self
            .delete_owned(&self.pods(), cluster, "Pod", &mut deleted.left)
            .await?;
        let mut pod = names::node_name(cluster);
        // A cluster claimed from a pool: its member's Pod and ConfigMap.
        if let Some(member) = self.claimed_member_pod(cluster).await? {
            pod = pod::pod_name(&member);
            self.delete_member_objects(&pod, (cluster, &self.info(&member).inner))
                .await?;
            deleted.node = true;
        }
        let configmaps = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace);
        if self
            .delete_owned(&configmaps, cluster, "ConfigMap", &mut deleted.left)
            .await?
        {
            deleted.other.push("configmap");
        }
        let services = Api::<Service>::namespaced(self.client.clone(), &self.namespace);
        if self
            .delete_owned(&services, cluster, "Service", &mut deleted.left)
            .await?
        {
            deleted.other.push("service");
        }
        // Gone means gone: wait out the graceful stop.
        if deleted.node {
            self.wait_gone(&pod).await?;
        }
        self.state.remove(cluster);
        Ok(deleted)
    }

    fn manifest(&self, plan: &NodePlan) -> String {
        remote::to_yaml(&self.manifests(plan))
    }

    async fn seed_store_refused(&self, plan: &NodePlan) -> Result<Option<String>> {
        self.host_path_refusal(plan).await
    }
}

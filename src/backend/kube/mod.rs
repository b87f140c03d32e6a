//! The Kubernetes backend (remote mode): the node is a privileged Pod on a
//! shared cluster, next to a ConfigMap with its bootstrap script and kind
//! config, found again by labels. The API server is reached through kip's
//! supervised port-forward, the Pod's IP, or a ClusterIP Service. Target
//! resolution, preflight, manifests, the name claim, the Pod's state and
//! exec each have a file of their own.

mod claim;
mod exec;
pub mod forwarder;
mod manifests;
mod ownership;
mod pod;
pub mod preflight;
mod target;

use super::remote_state::{self, RemoteRecord};
use super::{Backend, Deleted, EngineFacts, ExecOutput, NodeInfo, StartedNode};
use crate::api::ApiEndpoint;
use crate::error::Failure;
use crate::names;
use crate::node::kind_config::NODE_API_PORT;
use crate::node::pod_options::{EndpointMode, PodOptions};
use crate::node::{labels, remote, NodePlan};
use crate::output::Printer;
use anyhow::{anyhow, bail, Result};
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Service};
use kube::api::{DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::path::{Path, PathBuf};
use std::time::Duration;
pub use target::{in_cluster, resolve, KubeTarget};

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

/// Why kip's default Docker-in-Docker image cannot serve a remote node, and
/// what to do (`up` refuses with both; `doctor --remote` reports them).
pub const NO_REMOTE_DIND_IMAGE: &str =
    "remote nodes need a Docker-in-Docker node image the cluster can pull; \
     kip's default one is built on the local engine only";
pub const REMOTE_DIND_IMAGE_FIX: &str =
    "pass --dind-image REGISTRY/IMAGE (or set KIP_DIND_IMAGE, or `dindImage:` in kip's config)";

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

impl KubeBackend {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
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
        Failure::Environment(format!("the Kubernetes API at {} failed: {e}", self.server)).into()
    }

    /// Starts the forwarder for `cluster` (on `port`, 0: any free one) and
    /// records it; returns its port.
    pub async fn start_forwarder(&self, cluster: &str, port: u16) -> Result<u16> {
        if let Some(old) = remote_state::load(cluster).and_then(|r| r.forwarder) {
            forwarder::stop(old.pid);
        }
        let fwd = forwarder::spawn(cluster, port, &self.record()).await?;
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
            return Err(
                Failure::Usage(format!("{NO_REMOTE_DIND_IMAGE}: {REMOTE_DIND_IMAGE_FIX}")).into(),
            );
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
            forwarder::stop(old.pid);
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
        self.follow_log(cluster).await
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
        self.copy_out(cluster, path, dest).await
    }

    async fn exec(&self, cluster: &str, command: &[String], interactive: bool) -> Result<i64> {
        self.exec_passthrough(cluster, command, interactive).await
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

    async fn refuse_foreign(&self, cluster: &str) -> Result<()> {
        self.refuse_foreign_objects(cluster).await
    }

    async fn delete(&self, cluster: &str) -> Result<Deleted> {
        let name = names::node_name(cluster);
        if let Some(fwd) = remote_state::load(cluster).and_then(|r| r.forwarder) {
            forwarder::stop(fwd.pid);
        }
        let mut deleted = Deleted::default();
        deleted.node = self
            .delete_owned(&self.pods(), cluster, "Pod", &mut deleted.left)
            .await?;
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

//! One interface for where nodes run. The Docker backend runs the node as a
//! container on the user's engine; the Kubernetes backend (remote mode) will
//! run it as a Pod. Commands speak only to this trait.

pub mod docker;
pub mod kube;
pub mod remote_state;

use crate::api::ApiEndpoint;
use crate::node::NodePlan;
use crate::output::Printer;
use anyhow::Result;
use futures_util::stream::BoxStream;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Created,
    Running,
    Stopped,
    Other,
    /// The node is gone (removed outside kip) but kip's volume of it is left.
    Orphaned,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub cluster: String,
    pub node: String,
    pub state: NodeState,
    /// The engine's own words for the state ("Up 3 minutes", "Exited (1) ...").
    pub status: String,
    pub exit_code: Option<i64>,
    pub created_at: Option<String>,
    pub image: String,
    pub endpoint: Option<ApiEndpoint>,
    pub security: Option<String>,
    pub kip_version: Option<String>,
    /// From `--ttl`: when `kip gc` may delete the cluster.
    pub expires_at: Option<String>,
    /// The CI job that made the cluster ("github:owner/repo run 42").
    pub ci: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Why the API cannot be reached from here although the node runs
    /// (a remote cluster's stopped port-forward), with the fix.
    #[serde(skip)]
    pub problem: Option<String>,
}

/// What a backend knows about the place nodes run, before creating anything.
#[derive(Debug, Clone, Default)]
pub struct EngineFacts {
    /// "Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock"
    pub description: String,
    /// Where the engine keeps its data, for the free-disk check.
    pub root_dir: Option<String>,
    pub cgroup_v2: bool,
    /// Subnets of the engine's networks, to keep the inner cluster's clear.
    pub subnets: Vec<String>,
    /// Whether host paths like /lib/modules can be checked from here.
    pub local: bool,
    /// Remote mode: the namespace node Pods run in.
    pub remote_namespace: Option<String>,
}

/// The outcome of `create_node`.
#[derive(Debug, Clone)]
pub struct StartedNode {
    /// None until the node runs (a remote node's pod IP).
    pub endpoint: Option<ApiEndpoint>,
    pub security: String,
}

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Another kip took the cluster's name first (a concurrent `kip up` of the
/// same name): this run created nothing of its own and must remove nothing.
#[derive(Debug, thiserror::Error)]
#[error("another `kip up {0}` is creating this cluster")]
pub struct NameTaken(pub String);

#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub node: bool,
    pub volume: bool,
    /// Other objects removed with the node ("configmap", "service").
    pub other: Vec<&'static str>,
    /// Objects of the cluster's names that kip did not make, left alone
    /// ("volume kip-NAME-docker").
    pub left: Vec<String>,
}

/// Where nodes run, shaped like kind's provider: a cluster's lifecycle
/// (facts, image, create, find, list, delete) and an interface to run
/// commands in its node, read its files and logs. What only an engine can
/// do (`doctor`'s privileged probe and network MTUs, `load`'s image IDs and
/// `docker save`) belongs to the engine type, `docker::DockerBackend`.
//
// The trait is crate-private and used through generics only, so the futures
// need no `Send` bound spelled out.
#[allow(async_fn_in_trait)]
pub trait Backend {
    async fn engine_facts(&self) -> Result<EngineFacts>;
    /// Makes sure the node image is present: builds kip's default image on
    /// first use, pulls another image if it is missing.
    async fn ensure_image(&self, image: &str, is_default: bool, printer: &Printer) -> Result<()>;
    async fn create_node(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<StartedNode>;
    /// The bootstrap log from its first line, following new lines until the
    /// node stops.
    async fn follow_bootstrap(&self, cluster: &str) -> Result<BoxStream<'static, Result<String>>>;
    /// The bootstrap log so far.
    async fn bootstrap_log(&self, cluster: &str) -> Result<String>;
    /// A text file in the node, by default read through `exec_capture`.
    async fn read_file(&self, cluster: &str, path: &str) -> Result<String> {
        let out = self
            .exec_capture(cluster, &["cat".to_string(), path.to_string()], None)
            .await?;
        if out.code != 0 {
            anyhow::bail!("cannot read {path} in the node: {}", out.stderr.trim());
        }
        Ok(out.stdout)
    }
    /// Runs a command in the node, feeding it `input` on stdin, and collects
    /// its output.
    async fn exec_capture(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput>;
    /// The engine's description of the node (`docker inspect`).
    async fn inspect_node(&self, cluster: &str) -> Result<serde_json::Value>;
    /// The engine's events for the node since it was created.
    async fn node_events(&self, cluster: &str) -> Result<serde_json::Value>;
    /// Copies `path` (a file or folder) out of the node into `dest`.
    async fn download(&self, cluster: &str, path: &str, dest: &std::path::Path) -> Result<()>;
    /// Runs a command in the node with the caller's stdout/stderr (and stdin
    /// when `interactive`); returns its exit code.
    async fn exec(&self, cluster: &str, command: &[String], interactive: bool) -> Result<i64>;
    async fn find(&self, cluster: &str) -> Result<Option<NodeInfo>>;
    async fn list(&self) -> Result<Vec<NodeInfo>>;
    /// Why there is no node of `cluster` to act on: what kip remembers of it
    /// ([`Backend::vanished`]), what a node removed outside kip left (its
    /// volume), or that kip has no such cluster.
    async fn not_found(&self, cluster: &str) -> anyhow::Error {
        if let Some(why) = self.vanished(cluster) {
            return crate::error::Failure::NotFound(why).into();
        }
        let orphaned = self.list().await.is_ok_and(|nodes| {
            nodes
                .iter()
                .any(|n| n.cluster == cluster && n.state == NodeState::Orphaned)
        });
        let why = if orphaned {
            format!(
                "cluster {cluster:?} has no node: its node container was removed outside kip and its volume is left; \
                 `kip down {cluster}` removes what is left, `kip up {cluster}` makes the cluster anew"
            )
        } else {
            format!("no kip cluster named {cluster:?} (see `kip list`)")
        };
        crate::error::Failure::NotFound(why).into()
    }
    /// Removes the node and its volume; absent parts are not an error, and
    /// parts without kip's labels are left (`Deleted::left`).
    async fn delete(&self, cluster: &str) -> Result<Deleted>;
    /// Refuses (exit 3), before anything is created, objects of the
    /// cluster's names that kip did not make: kip never adopts them.
    async fn refuse_foreign(&self, _cluster: &str) -> Result<()> {
        Ok(())
    }
    /// Makes a running node's API reachable again if kip's part of the path
    /// is gone (a remote cluster's forwarder); its endpoint, if it has one.
    async fn reconnect(&self, cluster: &str) -> Result<Option<ApiEndpoint>> {
        Ok(self.find(cluster).await?.and_then(|n| n.endpoint))
    }
    /// The kubeconfig context that runs the nodes (remote mode): `down`
    /// makes it current again when it removes the current kip context.
    fn home_context(&self) -> Option<String> {
        None
    }
    /// Why `cluster` is not found when kip remembers making it here.
    fn vanished(&self, _cluster: &str) -> Option<String> {
        None
    }
    /// Why `kip connect` does not apply to this backend's clusters, when it
    /// does not.
    fn connect_refused(&self, _cluster: &str) -> Option<String> {
        None
    }
    /// What `up --dry-run` prints, when it is not the node plan itself.
    fn dry_run_manifests(&self, _plan: &NodePlan) -> Option<String> {
        None
    }
}

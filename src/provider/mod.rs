//! Where nodes run, shaped like kind's providers: a [`Provider`] finds,
//! creates, lists and deletes nodes; what is done to one node (exec, logs,
//! files, its description, its API endpoint) is done through the [`Node`]
//! handle the provider's `find` returns. The Docker provider runs the node
//! as a container on the user's engine; the Kubernetes provider (remote
//! mode) as a Pod on a shared cluster. "Not found", "not kip's" and "not
//! running" are decided here, once, for both.

pub mod docker;
pub mod kube;
pub mod pool;
pub mod remote_state;

use crate::api::ApiEndpoint;
use crate::error::{Absence, Error};
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
    /// The kind cluster's name inside the node (`kind load --name`): the
    /// cluster's own, or for a cluster claimed from a pool, the member's
    /// key it was made under.
    #[serde(skip)]
    pub inner: String,
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
    pub problem: Option<Error>,
}

impl NodeInfo {
    /// The inner kind cluster's name: the cluster's own, for a cluster
    /// claimed from a pool the member's ([`Self::inner`]), for a cluster
    /// restored from a snapshot the one it was made under.
    pub fn kind_cluster(&self) -> &str {
        self.labels
            .get(crate::node::labels::KIND_CLUSTER)
            .map_or(&self.inner, String::as_str)
    }
}

/// What a provider knows about the place nodes run, before creating anything.
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

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub node: bool,
    pub volume: bool,
    /// Other objects removed with the node ("configmap", "service").
    pub other: Vec<&'static str>,
    /// Objects of the cluster's names that kip did not make, left alone
    /// ("volume kip-NAME-docker").
    pub left: Vec<String>,
    /// What a `kip up` at work had made of the cluster before its node (a
    /// remote node's claim): deleting it stopped that up.
    pub stopped_an_up: bool,
}

/// What [`Provider::delete_orphan`] did with what a removed node left.
#[derive(Debug, Clone)]
pub enum OrphanDeletion {
    /// Removed (`Deleted::volume`), gone already, or not kip's (`left`).
    Deleted(Deleted),
    /// A node of the cluster has appeared since it was judged an orphan,
    /// or one mounts its volume now (a `kip up` of the name at work, a
    /// restore filling it): that is a cluster being made, left alone.
    Taken,
}

/// What a provider is, known without asking it anything (kind's `Info`).
#[derive(Debug, Clone, Default)]
pub struct ProviderInfo {
    /// Remote mode: where its nodes are ("namespace ci of context prod"),
    /// for the messages that name it.
    pub remote: Option<String>,
    /// The kubeconfig context that runs the nodes (remote mode): `down`
    /// makes it current again when it removes the current kip context.
    pub home_context: Option<String>,
}

/// Where nodes run: a cluster's lifecycle, as kind's `Provider` has it.
/// What only an engine can do (`doctor`'s privileged probe and network
/// MTUs, `load`'s image IDs and `docker save`) belongs to the engine type,
/// `docker::DockerProvider`, not here.
//
// The trait is crate-private and used through generics only, so the futures
// need no `Send` bound spelled out.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// The handle to one node of this provider.
    type Node: Node;

    fn info(&self) -> ProviderInfo;
    async fn facts(&self) -> Result<EngineFacts>;
    /// Makes sure the node image is present: builds kip's default image on
    /// first use, pulls another image if it is missing.
    async fn ensure_image(&self, image: &str, is_default: bool, printer: &Printer) -> Result<()>;
    /// Refuses (exit 3), before anything is created, objects of the
    /// cluster's names that kip did not make: kip never adopts them.
    async fn refuse_foreign(&self, cluster: &str) -> Result<()>;
    /// Creates and starts the node the plan describes. Another kip that
    /// took the name first is `Error::NameTaken`: nothing here is this
    /// run's, and nothing may be removed.
    async fn provision(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<Self::Node>;
    /// The node of `cluster`, if kip made one (an object that merely has
    /// its name is not kip's, and not found).
    async fn lookup(&self, cluster: &str) -> Result<Option<Self::Node>>;
    /// Why there is no node of `cluster`: what kip remembers of it, what a
    /// node removed outside kip left, or that there never was one.
    async fn absence(&self, cluster: &str) -> Absence;
    async fn list(&self) -> Result<Vec<NodeInfo>>;
    /// Removes the node and its volume; absent parts are not an error, and
    /// parts without kip's labels are left (`Deleted::left`).
    async fn delete(&self, cluster: &str) -> Result<Deleted>;
    /// Removes what a node removed outside kip left, and only that: never
    /// a node, nor a volume a node (made since) mounts. The default is a
    /// provider whose nodes leave nothing behind when they go.
    async fn delete_orphan(&self, cluster: &str) -> Result<OrphanDeletion> {
        Ok(match self.lookup(cluster).await? {
            Some(_) => OrphanDeletion::Taken,
            None => OrphanDeletion::Deleted(Deleted::default()),
        })
    }
    /// What `provision` would make, as `up --dry-run` prints it.
    fn manifest(&self, plan: &NodePlan) -> String;
    /// The provider's words when it would refuse the node with its seed
    /// store but accept it without (a cluster whose policy forbids a
    /// `hostPath` volume); None when the store is no reason to refuse it.
    async fn seed_store_refused(&self, _plan: &NodePlan) -> Result<Option<String>> {
        Ok(None)
    }

    /// The node of `cluster`, or "not found" (exit 5) in the one wording
    /// every command uses.
    async fn find(&self, cluster: &str) -> Result<Self::Node> {
        match self.lookup(cluster).await? {
            Some(node) => Ok(node),
            None => Err(self.not_found(cluster).await),
        }
    }

    /// The node of `cluster`, running: "not found" (exit 5), or "not
    /// running" (exit 6) with how to start it.
    async fn find_running(&self, cluster: &str) -> Result<Self::Node> {
        let node = self.find(cluster).await?;
        let info = node.info();
        if info.state != NodeState::Running {
            return Err(Error::NodeNotRunning {
                cluster: cluster.to_string(),
                status: info.status.clone(),
                remote: self.info().remote.is_some(),
            }
            .into());
        }
        Ok(node)
    }

    async fn not_found(&self, cluster: &str) -> anyhow::Error {
        Error::NotFound {
            cluster: cluster.to_string(),
            why: self.absence(cluster).await,
        }
        .into()
    }
}

/// One node, as its provider's `find` or `provision` returned it: kind's
/// `nodes.Node`. Its [`NodeInfo`] is as it was then; the operations ask the
/// engine anew.
#[allow(async_fn_in_trait)]
pub trait Node {
    fn info(&self) -> &NodeInfo;
    /// What tells this node from another of the same name made later (a
    /// container's ID), where the provider knows it.
    fn id(&self) -> Option<&str> {
        None
    }
    /// The bootstrap log so far.
    async fn log(&self) -> Result<String>;
    /// The bootstrap log from its first line, following new lines until the
    /// node stops (a remote node's: once its Pod runs).
    async fn follow_log(&self) -> Result<BoxStream<'static, Result<String>>>;
    /// Runs a command in the node, feeding it `input` on stdin, and collects
    /// its output.
    async fn exec_capture(
        &self,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput>;
    /// Runs a command in the node with the caller's stdout/stderr (and stdin
    /// when `interactive`); returns its exit code.
    async fn exec(&self, command: &[String], interactive: bool) -> Result<i64>;
    /// Copies `path` (a file or folder) out of the node into `dest`.
    async fn download(&self, path: &str, dest: &std::path::Path) -> Result<()>;
    /// The engine's description of the node (`docker inspect`).
    async fn inspect(&self) -> Result<serde_json::Value>;
    /// The engine's events for the node since it was created.
    async fn events(&self) -> Result<serde_json::Value>;
    /// The node's API endpoint as it is now (a remote node's pod IP once it
    /// runs).
    async fn endpoint(&self) -> Result<Option<ApiEndpoint>>;
    /// The endpoint, making kip's part of the path again if it is gone (a
    /// remote cluster's port-forward).
    async fn reconnect(&self) -> Result<Option<ApiEndpoint>>;

    /// A text file in the node, by default read through `exec_capture`.
    async fn read_file(&self, path: &str) -> Result<String> {
        let out = self
            .exec_capture(&["cat".to_string(), path.to_string()], None)
            .await?;
        if out.code != 0 {
            return Err(Error::ReadInNode {
                path: path.to_string(),
                error: out.stderr.trim().to_string(),
            }
            .into());
        }
        Ok(out.stdout)
    }
}

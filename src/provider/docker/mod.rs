//! The Docker provider: the node is a container on the user's own engine,
//! its API server published on 127.0.0.1. This file is the lifecycle
//! (provision, find, list, delete); starting the container (`start.rs`:
//! the privileged-then-capabilities fallback, the API port kip chooses),
//! the node handle (`node.rs`, with `exec.rs`), the container spec, the
//! engine's facts, its errors and images each have a file of their own.

mod claimed;
mod errors;
mod exec;
mod host;
mod images;
mod node;
mod ownership;
mod pool;
mod pool_store;
mod ports;
pub mod registry;
mod registry_spec;
mod seeds;
mod snapshot_stream;
mod snapshots;
mod spec;
mod start;

use super::{Deleted, EngineFacts, NodeInfo, Provider, ProviderInfo};
use crate::error::{Absence, Error};
use crate::node::{labels, NodePlan};
use crate::output::Printer;
use crate::provider::NodeState;
use crate::settings::DockerEnvironment;
use anyhow::{Context, Result};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use errors::{is_not_found, is_not_modified, is_removal_in_progress};
use host::{docker_host, HostSource};
pub use node::DockerNode;
use ownership::VolumeRemoval;
pub use seeds::HelperOutput;
pub use snapshot_stream::StreamingHelper;
pub use snapshots::{HelperMount, SnapshotVolume};
use spec::{node_info, published_endpoint, started_info};
use std::collections::HashMap;
use std::collections::HashSet;
use std::time::Duration;

/// How long `down` lets the node remove its nested containers (so their
/// cgroups go with them) before the engine kills it.
const STOP_GRACE_SECONDS: i32 = 10;

/// How many times `delete` removes a node that a `kip up` at work makes
/// again under it before it gives up.
const DELETE_ROUNDS: usize = 5;

#[derive(Clone)]
pub struct DockerProvider {
    docker: Docker,
    host: String,
    /// Where `host` came from, for error messages.
    source: HostSource,
}

impl DockerProvider {
    pub fn connect(env: &DockerEnvironment) -> Result<Self> {
        let (host, source) = docker_host(env);
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| Error::DockerUnusable {
                host: host.clone(),
                error: e.to_string(),
                hint: source.hint(),
            })?
            .with_timeout(Duration::from_secs(24 * 3600));
        Ok(DockerProvider {
            docker,
            host,
            source,
        })
    }

    async fn container_labels_filter(
        &self,
        cluster: Option<&str>,
    ) -> Result<Vec<bollard::models::ContainerSummary>> {
        let mut label_filters = vec![format!("{}={}", labels::MANAGED_BY, labels::MANAGER)];
        if let Some(cluster) = cluster {
            label_filters.push(format!("{}={cluster}", labels::CLUSTER));
        }
        let filters = HashMap::from([("label".to_string(), label_filters)]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// The engine's volumes that carry every label filter in `label`
    /// (`KEY` or `KEY=VALUE`).
    pub(super) async fn labelled_volumes(
        &self,
        label: Vec<String>,
    ) -> Result<Vec<bollard::models::Volume>> {
        let filters = HashMap::from([("label".to_string(), label)]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        Ok(self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| self.unreachable(e))?
            .volumes
            .unwrap_or_default())
    }

    pub(super) async fn remove_container_by_name(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Another kip (a `down` or `gc` of another job) is removing it:
            // done when it is gone.
            Err(e) if is_removal_in_progress(&e) => self.wait_until_gone(name).await,
            Err(e) => Err(Error::CannotRemoveContainer {
                name: name.to_string(),
                error: e.to_string(),
            }
            .into()),
        }
    }

    async fn wait_until_gone(&self, name: &str) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.docker.inspect_container(name, None).await {
                Err(e) if is_not_found(&e) => return Ok(()),
                _ if std::time::Instant::now() >= deadline => {
                    return Err(Error::StillBeingRemoved {
                        name: name.to_string(),
                    }
                    .into())
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Stops a running node, giving it [`STOP_GRACE_SECONDS`] to remove its
    /// nested containers.
    async fn stop(&self, cluster: &str, id: &str) -> Result<()> {
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECONDS)
            .build();
        match self.docker.stop_container(id, Some(options)).await {
            Err(e) if !is_not_found(&e) && !is_not_modified(&e) && !is_removal_in_progress(&e) => {
                Err(Error::CannotStopNode {
                    cluster: cluster.to_string(),
                    error: e.to_string(),
                }
                .into())
            }
            _ => Ok(()),
        }
    }

    /// Stops and removes the cluster's node containers; whether there
    /// were any.
    async fn remove_nodes(&self, cluster: &str) -> Result<bool> {
        let mut removed = false;
        for container in self.container_labels_filter(Some(cluster)).await? {
            let Some(id) = container.id else { continue };
            if container.state.map(|s| s.to_string()) == Some("running".into()) {
                self.stop(cluster, &id).await?;
            }
            self.remove_container_by_name(&id).await?;
            removed = true;
        }
        // A restore filling the node's volume holds it until its node is
        // made: it goes with the node.
        self.remove_restore_helpers(cluster).await?;
        Ok(removed)
    }

    fn handle(&self, summary: bollard::models::ContainerSummary) -> Option<DockerNode> {
        let id = summary.id.clone()?;
        Some(DockerNode {
            engine: self.clone(),
            id,
            info: node_info(summary),
        })
    }
}

impl Provider for DockerProvider {
    type Node = DockerNode;

    fn info(&self) -> ProviderInfo {
        ProviderInfo::default()
    }

    async fn facts(&self) -> Result<EngineFacts> {
        self.engine_facts().await
    }

    async fn ensure_image(&self, image: &str, is_default: bool, printer: &Printer) -> Result<()> {
        self.ensure(image, is_default, printer).await
    }

    async fn refuse_foreign(&self, cluster: &str) -> Result<()> {
        self.refuse_foreign_objects(cluster).await
    }

    async fn provision(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<DockerNode> {
        let profile = self.start_node(plan, facts, printer).await?;
        let inspect = self
            .docker
            .inspect_container(&plan.node.name, None)
            .await
            .with_context(|| format!("cannot inspect {}", plan.node.name))?;
        // A node that stopped already (its bootstrap failed at once) has no
        // ports any more, but still its binding: the bootstrap's own
        // failure is then what the user reads, from its log.
        let endpoint = inspect
            .network_settings
            .and_then(|n| n.ports)
            .as_ref()
            .and_then(published_endpoint)
            .or_else(|| {
                inspect
                    .host_config
                    .and_then(|h| h.port_bindings)
                    .as_ref()
                    .and_then(published_endpoint)
            })
            .context("the node's API port was not published")?;
        Ok(DockerNode {
            engine: self.clone(),
            id: inspect.id.unwrap_or_else(|| plan.node.name.clone()),
            info: started_info(plan, profile, endpoint),
        })
    }

    async fn lookup(&self, cluster: &str) -> Result<Option<DockerNode>> {
        let found = self.container_labels_filter(Some(cluster)).await?;
        match found.into_iter().find_map(|c| self.handle(c)) {
            Some(node) => Ok(Some(node)),
            None => self.pool_born(cluster).await,
        }
    }

    async fn absence(&self, cluster: &str) -> Absence {
        let orphaned = self.list().await.is_ok_and(|nodes| {
            nodes
                .iter()
                .any(|n| n.cluster == cluster && n.state == NodeState::Orphaned)
        });
        if orphaned {
            Absence::Orphaned
        } else {
            Absence::Never { place: None }
        }
    }

    async fn list(&self) -> Result<Vec<NodeInfo>> {
        let containers = self.container_labels_filter(None).await?;
        // Every node container (pool members too) by the name it was made
        // under, which its volume carries.
        let made_under: HashSet<String> = containers
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(labels::CLUSTER).cloned())
            .collect();
        let claims = self.claims(None).await?;
        let mut nodes = claimed::clusters(containers, &claims);
        let orphans = self.orphaned_volumes(&made_under).await?;
        nodes.extend(orphans);
        nodes.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(nodes)
    }

    /// The node, then its volume; a volume in use is one a `kip up` at
    /// work has made its node with since the node was looked for: that
    /// node goes too, then the volume (never the volume alone, which the
    /// engine would make again, without kip's labels, for that node).
    async fn delete(&self, cluster: &str) -> Result<Deleted> {
        let mut deleted = self.delete_pool_born(cluster).await?;
        if deleted.node {
            return Ok(deleted);
        }
        for _ in 0..DELETE_ROUNDS {
            deleted.node |= self.remove_nodes(cluster).await?;
            match self.remove_kips_volume(cluster).await? {
                VolumeRemoval::Removed => deleted.volume = true,
                VolumeRemoval::Absent => {}
                VolumeRemoval::Foreign => deleted
                    .left
                    .push(format!("volume {}", crate::names::volume_name(cluster))),
                VolumeRemoval::InUse => continue,
            }
            return Ok(deleted);
        }
        Err(Error::CannotRemoveVolume {
            volume: crate::names::volume_name(cluster),
            error: "a node made since kip looked still mounts it (another `kip up` of it at work?)"
                .into(),
        }
        .into())
    }

    async fn delete_orphan(&self, cluster: &str) -> Result<super::OrphanDeletion> {
        self.remove_orphan(cluster).await
    }

    fn manifest(&self, plan: &NodePlan) -> String {
        plan.to_yaml()
    }
}

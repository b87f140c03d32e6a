//! The Docker provider: the node is a container on the user's own engine,
//! its API server published on 127.0.0.1. This file is the lifecycle
//! (create with the privileged-then-capabilities fallback and the API port
//! kip chooses, find, list, delete); the node handle (`node.rs`, with
//! `exec.rs`), the container spec, the engine's facts, its errors and
//! images each have a file of their own.

mod errors;
mod exec;
mod host;
mod images;
mod node;
mod ownership;
mod seeds;
mod spec;

use super::{Deleted, EngineFacts, NodeInfo, Provider, ProviderInfo};
use crate::error::{Absence, Error};
use crate::node::{labels, NodePlan, SecurityMode};
use crate::output::Printer;
use crate::provider::NodeState;
use crate::settings::DockerEnvironment;
use anyhow::{Context, Result};
use bollard::errors::Error as DockerError;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use errors::{
    is_name_conflict, is_not_found, is_not_modified, is_port_in_use, is_privilege_refusal,
    is_removal_in_progress, short_docker_error,
};
use host::{docker_host, HostSource};
pub use node::DockerNode;
use ownership::{foreign, is_kips, VolumeRemoval};
use spec::SecurityProfile;
use spec::{container_body, node_info, node_run_id, published_endpoint, started_info};
use std::collections::HashMap;
use std::time::Duration;

/// How long `down` lets the node remove its nested containers (so their
/// cgroups go with them) before the engine kills it.
const STOP_GRACE_SECONDS: i32 = 10;

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

    /// The node's volume, made with kip's labels; one that is there without
    /// them is not adopted.
    async fn create_volume(&self, plan: &NodePlan) -> Result<()> {
        let volume = VolumeCreateRequest {
            name: Some(plan.node.volume.name.clone()),
            labels: Some(plan.node.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let made = self
            .docker
            .create_volume(volume)
            .await
            .with_context(|| format!("cannot create volume {}", plan.node.volume.name))?;
        // The engine answers with the volume that is there if one is: one
        // that appeared since `refuse_foreign` looked is not adopted.
        if !is_kips(&made.labels, &plan.cluster) {
            return Err(foreign("volume", &plan.node.volume.name, &plan.cluster));
        }
        Ok(())
    }

    /// Starts the node with the first security profile the engine allows
    /// (`--security auto`: privileged, else capabilities); the one used.
    async fn start_node(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<SecurityProfile> {
        let attempts: &[SecurityProfile] = match plan.node.security {
            SecurityMode::Privileged => &[SecurityProfile::Privileged],
            SecurityMode::Caps => &[SecurityProfile::Capabilities],
            SecurityMode::Auto => &[SecurityProfile::Privileged, SecurityProfile::Capabilities],
        };
        for (i, profile) in attempts.iter().enumerate() {
            match self.create_and_start(plan, facts, *profile).await {
                Ok(()) => return Ok(*profile),
                Err(e) if *profile == SecurityProfile::Privileged && is_privilege_refusal(&e) => {
                    self.remove_container_by_name(&plan.node.name).await?;
                    let reason = short_docker_error(&e);
                    if i + 1 == attempts.len() {
                        return Err(Error::PrivilegedRefused { reason }.into());
                    }
                    printer.notice(&format!(
                        "this Docker engine refuses privileged containers ({reason}); using an explicit \
                         capability profile instead (--security caps)"
                    ));
                }
                Err(e) => return Err(self.start_failure(plan, &e).await),
            }
        }
        unreachable!("every security mode has at least one profile to try")
    }

    /// Why the node did not start, in the user's terms.
    async fn start_failure(&self, plan: &NodePlan, e: &DockerError) -> anyhow::Error {
        // The name is the claim: another kip made this node first (or
        // someone else made a container of that name).
        if is_name_conflict(e) {
            if self.foreign_container(&plan.cluster).await {
                return foreign("container", &plan.node.name, &plan.cluster);
            }
            return Error::NameTaken {
                cluster: plan.cluster.clone(),
            }
            .into();
        }
        if is_port_in_use(e) {
            return Error::PortInUse {
                port: plan.node.api.host_port,
            }
            .into();
        }
        let error = short_docker_error(e);
        if is_not_found(e) {
            let network = plan
                .node
                .network
                .clone()
                .filter(|_| error.contains("network"));
            return Error::NodeNotCreated { error, network }.into();
        }
        Error::NodeStartFailed {
            node: plan.node.name.clone(),
            error,
        }
        .into()
    }

    /// Without --api-port, kip publishes a port it found free rather than
    /// letting the engine pick one: an engine-picked port changes at every
    /// start, and a restarted node (`docker restart`, a reboot) would no
    /// longer be where the kubeconfig says. Another process can take the
    /// port between the look and the start: then another one is tried.
    async fn create_and_start(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        profile: SecurityProfile,
    ) -> Result<(), DockerError> {
        if plan.node.api.host_port.is_some() {
            return self.create_and_start_once(plan, facts, profile).await;
        }
        let mut attempt = 0;
        loop {
            let mut chosen = plan.clone();
            chosen.node.api.host_port = free_local_port();
            match self.create_and_start_once(&chosen, facts, profile).await {
                Err(e) if is_port_in_use(&e) && attempt < 5 => {
                    attempt += 1;
                    let _ = self.remove_container_by_name(&plan.node.name).await;
                }
                other => return other,
            }
        }
    }

    async fn create_and_start_once(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        profile: SecurityProfile,
    ) -> Result<(), DockerError> {
        let mut body = container_body(plan, facts, profile);
        // This node's own mark on its /var/lib/docker volume: the bootstrap
        // wipes a volume another node left (a node removed outside kip) and
        // keeps it across restarts of this one.
        if let Some(env) = body.env.as_mut() {
            env.push(format!("KIP_NODE_RUN={}", node_run_id()));
        }
        let options = CreateContainerOptionsBuilder::new()
            .name(&plan.node.name)
            .build();
        self.docker.create_container(Some(options), body).await?;
        self.docker.start_container(&plan.node.name, None).await
    }

    async fn remove_container_by_name(&self, name: &str) -> Result<()> {
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

    fn handle(&self, summary: bollard::models::ContainerSummary) -> Option<DockerNode> {
        let id = summary.id.clone()?;
        Some(DockerNode {
            engine: self.clone(),
            id,
            info: node_info(summary),
        })
    }
}

/// A port on 127.0.0.1 that nothing listens on now (None: the engine picks).
fn free_local_port() -> Option<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
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
        self.create_volume(plan).await?;
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
        Ok(found.into_iter().find_map(|c| self.handle(c)))
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
        let mut nodes: Vec<NodeInfo> = self
            .container_labels_filter(None)
            .await?
            .into_iter()
            .map(node_info)
            .collect();
        let orphans = self.orphaned_volumes(&nodes).await?;
        nodes.extend(orphans);
        nodes.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(nodes)
    }

    async fn delete(&self, cluster: &str) -> Result<Deleted> {
        let mut deleted = Deleted::default();
        for container in self.container_labels_filter(Some(cluster)).await? {
            let Some(id) = container.id else { continue };
            if container.state.map(|s| s.to_string()) == Some("running".into()) {
                self.stop(cluster, &id).await?;
            }
            self.remove_container_by_name(&id).await?;
            deleted.node = true;
        }
        match self.remove_kips_volume(cluster).await? {
            VolumeRemoval::Removed => deleted.volume = true,
            VolumeRemoval::Absent => {}
            VolumeRemoval::Foreign => deleted
                .left
                .push(format!("volume {}", crate::names::volume_name(cluster))),
        }
        Ok(deleted)
    }

    fn manifest(&self, plan: &NodePlan) -> String {
        plan.to_yaml()
    }
}

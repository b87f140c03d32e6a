//! The Docker backend: the node is a container on the user's own engine, its
//! API server published on 127.0.0.1. The container spec, the engine's
//! facts, its errors, exec and images each have a file of their own. This
//! file is the lifecycle (create with the privileged-then-capabilities
//! fallback and the API port kip chooses, find, list, delete), which reads
//! best in one place: hence a little over 400 lines.

mod errors;
mod exec;
mod host;
mod images;
mod ownership;
mod seeds;
mod spec;

use super::{Backend, Deleted, EngineFacts, ExecOutput, NodeInfo, StartedNode};
use crate::error::Failure;
use crate::node::{labels, NodePlan, SecurityMode};
use crate::output::Printer;
use anyhow::{anyhow, bail, Context, Result};
use bollard::errors::Error as DockerError;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use errors::{
    is_name_conflict, is_not_found, is_not_modified, is_port_in_use, is_privilege_refusal,
    is_removal_in_progress, short_docker_error,
};
use exec::lines;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use host::{docker_host, HostSource};
use ownership::{foreign, is_kips, VolumeRemoval};
use spec::{container_body, SecurityProfile};
use spec::{node_info, node_run_id, published_endpoint};
use std::collections::HashMap;
use std::time::Duration;

/// How long `down` lets the node remove its nested containers (so their
/// cgroups go with them) before the engine kills it.
const STOP_GRACE_SECONDS: i32 = 10;

pub struct DockerBackend {
    docker: Docker,
    host: String,
    /// Where `host` came from, for error messages.
    source: HostSource,
}

impl DockerBackend {
    pub fn connect() -> Result<Self> {
        let (host, source) = docker_host();
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| {
                Failure::Environment(format!(
                    "cannot use Docker at {host}: {e}\n({})",
                    source.hint()
                ))
            })?
            .with_timeout(Duration::from_secs(24 * 3600));
        Ok(DockerBackend {
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

    async fn node_id(&self, cluster: &str) -> Result<String> {
        let found = self.container_labels_filter(Some(cluster)).await?;
        match found.into_iter().find_map(|c| c.id) {
            Some(id) => Ok(id),
            None => Err(self.not_found(cluster).await),
        }
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
            Err(e) => Err(anyhow!("cannot remove container {name}: {e}")),
        }
    }

    async fn wait_until_gone(&self, name: &str) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.docker.inspect_container(name, None).await {
                Err(e) if is_not_found(&e) => return Ok(()),
                _ if std::time::Instant::now() >= deadline => {
                    bail!("container {name} was still being removed (by another kip?) after 60 s")
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on now (None: the engine picks).
fn free_local_port() -> Option<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}

impl Backend for DockerBackend {
    async fn engine_facts(&self) -> Result<EngineFacts> {
        self.facts().await
    }

    async fn ensure_image(&self, image: &str, is_default: bool, printer: &Printer) -> Result<()> {
        self.ensure(image, is_default, printer).await
    }

    async fn create_node(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<StartedNode> {
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

        let attempts: &[SecurityProfile] = match plan.node.security {
            SecurityMode::Privileged => &[SecurityProfile::Privileged],
            SecurityMode::Caps => &[SecurityProfile::Capabilities],
            SecurityMode::Auto => &[SecurityProfile::Privileged, SecurityProfile::Capabilities],
        };
        let mut used = None;
        for (i, profile) in attempts.iter().enumerate() {
            match self.create_and_start(plan, facts, *profile).await {
                Ok(()) => {
                    used = Some(*profile);
                    break;
                }
                Err(e) if *profile == SecurityProfile::Privileged && is_privilege_refusal(&e) => {
                    self.remove_container_by_name(&plan.node.name).await?;
                    if i + 1 == attempts.len() {
                        return Err(Failure::Environment(format!(
                            "this Docker engine refuses privileged containers ({}); \
                             use --security caps (or auto) for an explicit capability profile",
                            short_docker_error(&e)
                        ))
                        .into());
                    }
                    printer.notice(&format!(
                        "this Docker engine refuses privileged containers ({}); using an explicit \
                         capability profile instead (--security caps)",
                        short_docker_error(&e)
                    ));
                }
                // The name is the claim: another kip made this node first
                // (or someone else made a container of that name).
                Err(e) if is_name_conflict(&e) => {
                    if self.foreign_container(&plan.cluster).await {
                        return Err(foreign("container", &plan.node.name, &plan.cluster));
                    }
                    return Err(super::NameTaken(plan.cluster.clone()).into());
                }
                Err(e) if is_port_in_use(&e) => {
                    let port = plan
                        .node
                        .api
                        .host_port
                        .map_or_else(|| "the API port".into(), |p| p.to_string());
                    return Err(Failure::Environment(format!(
                        "port 127.0.0.1:{port} is already in use: pick another --api-port, or omit it to get a free one"
                    ))
                    .into());
                }
                Err(e) if is_not_found(&e) => {
                    let hint = match &plan.node.network {
                        Some(net) if short_docker_error(&e).contains("network") => {
                            format!(" (is --network {net} a network on this engine? `docker network ls`)")
                        }
                        _ => String::new(),
                    };
                    return Err(Failure::Environment(format!(
                        "cannot create the node: {}{hint}",
                        short_docker_error(&e)
                    ))
                    .into());
                }
                Err(e) => {
                    return Err(anyhow!(
                        "cannot start the node container {}: {}",
                        plan.node.name,
                        short_docker_error(&e)
                    ))
                }
            }
        }
        let profile = used.expect("the loop either started a node or returned");

        let inspect = self
            .docker
            .inspect_container(&plan.node.name, None)
            .await
            .with_context(|| format!("cannot inspect {}", plan.node.name))?;
        let endpoint = inspect
            .network_settings
            .and_then(|n| n.ports)
            .as_ref()
            .and_then(published_endpoint)
            .context("the node's API port was not published")?;
        Ok(StartedNode {
            endpoint: Some(endpoint),
            security: profile.label().into(),
        })
    }

    async fn follow_bootstrap(&self, cluster: &str) -> Result<BoxStream<'static, Result<String>>> {
        let id = self.node_id(cluster).await?;
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let chunks = self.docker.logs(&id, Some(options)).map(|chunk| {
            chunk
                .map(|c| c.into_bytes())
                .map_err(|e| anyhow!("the node's log stream broke: {e}"))
        });
        Ok(lines(chunks).boxed())
    }

    async fn bootstrap_log(&self, cluster: &str) -> Result<String> {
        let id = self.node_id(cluster).await?;
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let chunks: Vec<_> = self
            .docker
            .logs(&id, Some(options))
            .try_collect()
            .await
            .with_context(|| format!("cannot read the logs of {id}"))?;
        Ok(chunks
            .iter()
            .map(|c| String::from_utf8_lossy(c.as_ref()))
            .collect())
    }

    /// Through the engine's archive API, so it works on a stopped node too
    /// (a failed bootstrap's logs are read after the node has exited).
    async fn read_file(&self, cluster: &str, path: &str) -> Result<String> {
        self.read_text(cluster, path).await
    }

    async fn exec_capture(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        self.capture(cluster, command, input).await
    }

    async fn inspect_node(&self, cluster: &str) -> Result<serde_json::Value> {
        let id = self.node_id(cluster).await?;
        let inspect = self
            .docker
            .inspect_container(&id, None)
            .await
            .with_context(|| format!("cannot inspect {id}"))?;
        Ok(serde_json::to_value(inspect)?)
    }

    async fn node_events(&self, cluster: &str) -> Result<serde_json::Value> {
        use bollard::query_parameters::EventsOptionsBuilder;
        let id = self.node_id(cluster).await?;
        let since = self
            .docker
            .inspect_container(&id, None)
            .await?
            .created
            .and_then(|c| humantime::parse_rfc3339_weak(&c).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let until = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let filters = HashMap::from([("container".to_string(), vec![id.clone()])]);
        let options = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .until(&until.to_string())
            .filters(&filters)
            .build();
        let events: Vec<_> = self.docker.events(Some(options)).try_collect().await?;
        Ok(serde_json::to_value(events)?)
    }

    async fn download(&self, cluster: &str, path: &str, dest: &std::path::Path) -> Result<()> {
        self.unpack(cluster, path, dest).await
    }

    async fn exec(&self, cluster: &str, command: &[String], interactive: bool) -> Result<i64> {
        self.attached(cluster, command, interactive).await
    }

    async fn find(&self, cluster: &str) -> Result<Option<NodeInfo>> {
        let found = self.container_labels_filter(Some(cluster)).await?;
        Ok(found.into_iter().next().map(node_info))
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
                let options = StopContainerOptionsBuilder::new()
                    .t(STOP_GRACE_SECONDS)
                    .build();
                if let Err(e) = self.docker.stop_container(&id, Some(options)).await {
                    if !is_not_found(&e) && !is_not_modified(&e) && !is_removal_in_progress(&e) {
                        return Err(anyhow!("cannot stop the node of {cluster}: {e}"));
                    }
                }
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

    async fn refuse_foreign(&self, cluster: &str) -> Result<()> {
        self.refuse_foreign_objects(cluster).await
    }

    fn connect_refused(&self, cluster: &str) -> Option<String> {
        Some(format!(
            "kip connect restarts the port-forward of a remote cluster: `kip connect {cluster} --remote` (local clusters publish their port)"
        ))
    }
}

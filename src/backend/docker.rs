//! The Docker backend: the node is a container on the user's own engine, its
//! API server published on 127.0.0.1.

use super::{Backend, Deleted, EngineFacts, ExecOutput, NodeInfo, NodeState, StartedNode};
use crate::api::ApiEndpoint;
use crate::error::Failure;
use crate::node::{image, labels, NodePlan, SecurityMode, BOOTSTRAP_SCRIPT};
use crate::output::Printer;
use anyhow::{anyhow, bail, Context, Result};
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigCgroupnsModeEnum, Mount, MountType, PortBinding,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
const API_PORT_KEY: &str = "6443/tcp";
/// How long `down` lets the node remove its nested containers (so their
/// cgroups go with them) before the engine kills it.
const STOP_GRACE_SECONDS: i32 = 10;

pub struct DockerBackend {
    docker: Docker,
    host: String,
    /// Where `host` came from, for error messages.
    source: HostSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostSource {
    Env,
    Context,
    Default,
}

/// The privileges a node container runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProfile {
    Privileged,
    /// For engines that refuse privileged mode (e.g. "unable to apply caps:
    /// operation not permitted" when the VM withholds CAP_SYS_RESOURCE).
    Capabilities,
}

impl SecurityProfile {
    fn label(self) -> &'static str {
        match self {
            SecurityProfile::Privileged => "privileged",
            SecurityProfile::Capabilities => "caps",
        }
    }
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

    fn unreachable(&self, err: impl std::fmt::Display) -> anyhow::Error {
        Failure::Environment(format!(
            "cannot reach Docker at {}: {err}\nIs the daemon running? ({})",
            self.host,
            self.source.hint()
        ))
        .into()
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
        found.into_iter().find_map(|c| c.id).ok_or_else(|| {
            Failure::NotFound(format!("no kip cluster named {cluster:?} (see `kip list`)")).into()
        })
    }

    async fn build_default_image(&self, tag: &str, printer: &Printer) -> Result<()> {
        let context = image::build_context().context("cannot pack the node image build context")?;
        let options = BuildImageOptionsBuilder::new()
            .t(tag)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        let mut tail: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow!("building the node image {tag} failed: {e}"))?;
            if let Some(line) = info.stream {
                printer.info(line.trim_end());
                tail.push(line);
            }
            if let Some(detail) = info.error_detail {
                bail!(
                    "building the node image {tag} failed: {}\n(it needs internet access for docker:28-dind and kind; \
                     or pass --image with a node image you have)",
                    detail.message.unwrap_or_default()
                );
            }
        }
        Ok(())
    }

    async fn create_and_start(
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

    /// `path` in the node (file or folder) as a tar archive.
    async fn archive(&self, cluster: &str, path: &str) -> Result<Vec<u8>> {
        use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
        let id = self.node_id(cluster).await?;
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let chunks: Vec<bytes::Bytes> = self
            .docker
            .download_from_container(&id, Some(options))
            .try_collect()
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot copy {path} out of the node: {}",
                    short_docker_error(&e)
                )
            })?;
        Ok(chunks.concat())
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

/// What only the engine can do: `kip doctor`'s and `kip load`'s own
/// operations, outside the `Backend` trait.
impl DockerBackend {
    /// The ID of an image on the engine, if it has it.
    pub async fn host_image_id(&self, image: &str) -> Result<Option<String>> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// `docker save` of images on the engine, as a stream.
    pub fn save_images(&self, images: &[String]) -> BoxStream<'static, Result<bytes::Bytes>> {
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        self.docker
            .export_images(&names)
            .map_err(|e| anyhow!("cannot read the images from the host engine: {e}"))
            .boxed()
    }

    /// Whether the engine runs a privileged container from `image`: `None`
    /// when it does, the engine's reason when it refuses. Cleans up after.
    pub async fn probe_privileged(&self, image: &str) -> Result<Option<String>> {
        let name = format!("kip-doctor-probe-{}", std::process::id());
        let body = ContainerCreateBody {
            image: Some(image.into()),
            entrypoint: Some(vec!["true".into()]),
            labels: Some(HashMap::from([(
                "dev.kip.doctor".to_string(),
                "probe".to_string(),
            )])),
            host_config: Some(HostConfig {
                privileged: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => bail!("the node image {image} is not on this engine yet"),
            Err(e) => bail!(
                "cannot create a probe container from {image}: {}",
                short_docker_error(&e)
            ),
        }
        let started = self.docker.start_container(&name, None).await;
        self.remove_container_by_name(&name).await?;
        match started {
            Ok(()) => Ok(None),
            Err(e) if is_privilege_refusal(&e) => Ok(Some(short_docker_error(&e))),
            Err(e) => Err(anyhow!(
                "the probe container did not start: {}",
                short_docker_error(&e)
            )),
        }
    }

    /// The MTU option of the network named `name`, if that network exists
    /// (`Some(None)`: it exists with the default MTU).
    pub async fn network_mtu(&self, name: &str) -> Result<Option<Option<u32>>> {
        use bollard::query_parameters::InspectNetworkOptions;
        match self
            .docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(network) => Ok(Some(network.options.and_then(|o| {
                o.get("com.docker.network.driver.mtu")
                    .and_then(|m| m.parse().ok())
            }))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }
}

impl Backend for DockerBackend {
    async fn engine_facts(&self) -> Result<EngineFacts> {
        tokio::time::timeout(Duration::from_secs(10), self.docker.ping())
            .await
            .map_err(|_| self.unreachable("no answer within 10s"))?
            .map_err(|e| self.unreachable(e))?;
        let info = self.docker.info().await.map_err(|e| self.unreachable(e))?;
        let version = self
            .docker
            .version()
            .await
            .map_err(|e| self.unreachable(e))?;
        let networks = self
            .docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .map_err(|e| self.unreachable(e))?;
        let subnets = networks
            .into_iter()
            .filter_map(|n| n.ipam?.config)
            .flatten()
            .filter_map(|c| c.subnet)
            .collect();
        Ok(EngineFacts {
            description: format!(
                "Docker {} (API {}) at {}",
                version.version.unwrap_or_default(),
                version.api_version.unwrap_or_default(),
                self.host
            ),
            root_dir: info.docker_root_dir,
            cgroup_v2: info.cgroup_version.map(|v| v.to_string()) == Some("2".into()),
            subnets,
            local: self.host.starts_with("unix://"),
            remote_namespace: None,
        })
    }

    async fn ensure_image(&self, image: &str, is_default: bool, printer: &Printer) -> Result<()> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        if is_default {
            let step = printer.step(
                "image-built",
                &format!("Building the node image {image} (first use only)"),
            );
            self.build_default_image(image, printer)
                .await
                .map_err(|e| Failure::Environment(format!("{e:#}")))?;
            step.done(&format!("Built the node image {image}"));
            return Ok(());
        }
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let pulled: Result<Vec<_>, _> = self
            .docker
            .create_image(Some(options), None, None)
            .try_collect()
            .await;
        pulled.map_err(|e| {
            Failure::Environment(format!(
                "the node image {image} is not on this Docker engine and cannot be pulled: {e}\n\
                 Build or load it (docker load / docker import), or omit --image to use kip's default node image"
            ))
        })?;
        Ok(())
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
        self.docker
            .create_volume(volume)
            .await
            .with_context(|| format!("cannot create volume {}", plan.node.volume.name))?;

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
                // The name is the claim: another kip made this node first.
                Err(e) if is_name_conflict(&e) => {
                    return Err(super::NameTaken(plan.cluster.clone()).into())
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
        use std::io::Read;
        let tar_bytes = self.archive(cluster, path).await?;
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut entry = archive
            .entries()?
            .next()
            .with_context(|| format!("{path} in the node came back empty"))??;
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .with_context(|| format!("{path} in the node is not UTF-8 text"))?;
        Ok(text)
    }

    async fn exec_capture(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        use tokio::io::AsyncWriteExt;
        let id = self.node_id(cluster).await?;
        let exec = self
            .docker
            .create_exec(
                &id,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdin: Some(input.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot exec in node {id}"))?;
        let StartExecResults::Attached {
            mut output,
            input: mut stdin,
        } = self.docker.start_exec(&exec.id, None).await?
        else {
            bail!("exec in node {id} did not attach");
        };
        // Feed stdin and drain stdout/stderr at once, or a full pipe stalls both.
        let feed = async {
            if let Some(mut source) = input {
                while let Some(chunk) = source.next().await {
                    stdin
                        .write_all(&chunk?)
                        .await
                        .context("the command in the node stopped reading")?;
                }
                stdin.shutdown().await.ok();
            }
            anyhow::Ok(())
        };
        let drain = async {
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            while let Some(chunk) = output.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    other => stdout.extend_from_slice(other.as_ref()),
                }
            }
            anyhow::Ok((stdout, stderr))
        };
        let (fed, drained) = tokio::join!(feed, drain);
        let (stdout, stderr) = drained?;
        let code = exit_code(&self.docker, &exec.id).await?;
        // A feed error matters only if the command did not succeed anyway.
        if code != 0 {
            fed?;
        }
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
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
        let tar_bytes = self.archive(cluster, path).await?;
        std::fs::create_dir_all(dest)?;
        tar::Archive::new(tar_bytes.as_slice())
            .unpack(dest)
            .with_context(|| format!("cannot unpack {path} into {}", dest.display()))
    }

    async fn exec(&self, cluster: &str, command: &[String], interactive: bool) -> Result<i64> {
        use tokio::io::AsyncWriteExt;
        let id = self.node_id(cluster).await?;
        let exec = self
            .docker
            .create_exec(
                &id,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdin: Some(interactive),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot exec in node {id}"))?;
        let options = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = self.docker.start_exec(&exec.id, Some(options)).await?
        else {
            bail!("exec in node {id} did not attach");
        };
        let feeder = interactive.then(|| {
            tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
                let _ = input.shutdown().await;
            })
        });
        let mut stdout = tokio::io::stdout();
        let mut stderr = tokio::io::stderr();
        while let Some(chunk) = output.next().await {
            match chunk? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.write_all(&message).await?;
                }
                other => {
                    stdout
                        .write_all(other.as_ref())
                        .await
                        .map_err(crate::output::stdout_failed)?;
                }
            }
        }
        stdout.flush().await.ok();
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        let code = exit_code(&self.docker, &exec.id).await?;
        Ok(code)
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
        let volume = crate::names::volume_name(cluster);
        // Not `force`: the engine then answers 204 for a volume that is not there.
        match self
            .docker
            .remove_volume(&volume, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Ok(()) => deleted.volume = true,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(anyhow!("cannot remove volume {volume}: {e}")),
        }
        Ok(deleted)
    }

    fn connect_refused(&self, cluster: &str) -> Option<String> {
        Some(format!(
            "kip connect restarts the port-forward of a remote cluster: `kip connect {cluster} --remote` (local clusters publish their port)"
        ))
    }
}

/// An exec's exit code. The engine may still report it running for a moment
/// after its output has ended, so this waits (2 s at most) for it to finish.
async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64> {
    for _ in 0..100 {
        let inspect = docker.inspect_exec(exec_id).await?;
        if inspect.running != Some(true) {
            if let Some(code) = inspect.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the command in the node did not report an exit code")
}

/// The container the plan describes, with the privileges of `profile`.
pub fn container_body(
    plan: &NodePlan,
    facts: &EngineFacts,
    profile: SecurityProfile,
) -> ContainerCreateBody {
    let node = &plan.node;
    let mut node_labels: HashMap<String, String> = node.labels.clone().into_iter().collect();
    node_labels.insert(labels::SECURITY.into(), profile.label().into());

    let mut binds: Vec<String> = node
        .read_only_host_paths
        .iter()
        .map(|p| format!("{p}:{p}:ro"))
        .collect();
    let mut tmpfs = HashMap::from([("/run".to_string(), String::new())]);
    let mut host_config = HostConfig {
        init: Some(node.init),
        mounts: Some(vec![Mount {
            typ: Some(MountType::VOLUME),
            source: Some(node.volume.name.clone()),
            target: Some(node.volume.mount_path.into()),
            ..Default::default()
        }]),
        port_bindings: Some(HashMap::from([(
            API_PORT_KEY.to_string(),
            Some(vec![PortBinding {
                host_ip: Some(node.api.host_ip.into()),
                host_port: Some(
                    node.api
                        .host_port
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                ),
            }]),
        )])),
        ..Default::default()
    };
    host_config.network_mode = node.network.clone();
    if facts.cgroup_v2 {
        host_config.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::PRIVATE);
    }
    match profile {
        SecurityProfile::Privileged => host_config.privileged = Some(true),
        SecurityProfile::Capabilities => {
            host_config.cap_add = Some(vec!["ALL".into()]);
            host_config.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            host_config.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
            // The CLI's `--security-opt systempaths=unconfined`: nothing
            // under /proc or /sys masked or read-only.
            host_config.masked_paths = Some(Vec::new());
            host_config.readonly_paths = Some(Vec::new());
            host_config.device_cgroup_rules = Some(vec!["a *:* rmw".into()]);
            if !facts.cgroup_v2 {
                // cgroup v1: the host hierarchy, read-write, so the inner
                // dockerd can nest under the node's own cgroup.
                binds.push("/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
            }
            tmpfs.insert("/tmp".into(), String::new());
        }
    }
    host_config.binds = Some(binds);
    host_config.tmpfs = Some(tmpfs);

    let mut env: Vec<String> = node.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    ContainerCreateBody {
        image: Some(node.image.clone()),
        hostname: Some(node.name.clone()),
        entrypoint: Some(vec![
            "sh".into(),
            "-c".into(),
            BOOTSTRAP_SCRIPT.into(),
            "kip-bootstrap".into(),
        ]),
        env: Some(env),
        labels: Some(node_labels),
        exposed_ports: Some(vec![API_PORT_KEY.into()]),
        host_config: Some(host_config),
        ..Default::default()
    }
}

fn published_endpoint(ports: &bollard::models::PortMap) -> Option<ApiEndpoint> {
    let binding = ports.get(API_PORT_KEY)?.as_ref()?.first()?;
    let port = binding.host_port.as_deref()?.parse().ok()?;
    let host = match binding.host_ip.as_deref() {
        None | Some("") | Some("0.0.0.0") => "127.0.0.1".to_string(),
        Some(ip) => ip.to_string(),
    };
    Some(ApiEndpoint { host, port })
}

fn node_info(c: bollard::models::ContainerSummary) -> NodeInfo {
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
    let state_text = c.state.map(|s| s.to_string()).unwrap_or_default();
    let state = match state_text.as_str() {
        "running" => NodeState::Running,
        "created" => NodeState::Created,
        "exited" | "dead" => NodeState::Stopped,
        _ => NodeState::Other,
    };
    let status = c.status.unwrap_or_default();
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok());
    let endpoint = c.ports.unwrap_or_default().into_iter().find_map(|p| {
        (p.private_port == 6443).then_some(())?;
        Some(ApiEndpoint {
            host: match p.ip.as_deref() {
                None | Some("") | Some("0.0.0.0") => "127.0.0.1".into(),
                Some(ip) => ip.into(),
            },
            port: p.public_port?,
        })
    });
    NodeInfo {
        cluster: labels.get(labels::CLUSTER).cloned().unwrap_or_default(),
        node: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        state,
        status,
        exit_code,
        created_at: labels.get(labels::CREATED_AT).cloned(),
        image: c.image.unwrap_or_default(),
        endpoint,
        security: labels.get(labels::SECURITY).cloned(),
        kip_version: labels.get(labels::VERSION).cloned(),
        expires_at: labels.get(labels::EXPIRES_AT).cloned(),
        ci: labels::ci_description(&labels),
        labels,
        problem: None,
    }
}

/// Splits a byte stream into lines.
fn lines(
    chunks: impl futures_util::Stream<Item = Result<bytes::Bytes>> + Send + 'static,
) -> impl futures_util::Stream<Item = Result<String>> + Send + 'static {
    futures_util::stream::unfold(
        (Box::pin(chunks), Vec::<u8>::new(), false),
        |(mut chunks, mut buf, mut done)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1])
                        .trim_end_matches('\r')
                        .to_string();
                    return Some((Ok(text), (chunks, buf, done)));
                }
                if done {
                    if buf.is_empty() {
                        return None;
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    buf.clear();
                    return Some((Ok(text), (chunks, buf, done)));
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    Some(Err(e)) => return Some((Err(e), (chunks, buf, true))),
                    None => done = true,
                }
            }
        },
    )
}

impl HostSource {
    fn hint(self) -> &'static str {
        match self {
            HostSource::Env => "the address comes from DOCKER_HOST; unset it to use the default socket",
            HostSource::Context => "the address comes from the current Docker context; `docker context use default` switches back",
            HostSource::Default => "set DOCKER_HOST to use another engine",
        }
    }
}

/// DOCKER_HOST, else the current Docker CLI context's endpoint, else the
/// default socket.
fn docker_host() -> (String, HostSource) {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return (host, HostSource::Env);
    }
    match context_host() {
        Some(host) => (host, HostSource::Context),
        None => (DEFAULT_HOST.to_string(), HostSource::Default),
    }
}

fn context_host() -> Option<String> {
    let config_dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".docker")))?;
    let context = match std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        Some(c) => c,
        None => {
            let config: serde_json::Value =
                serde_json::from_slice(&std::fs::read(config_dir.join("config.json")).ok()?)
                    .ok()?;
            config.get("currentContext")?.as_str()?.to_string()
        }
    };
    if context == "default" {
        return None;
    }
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(context.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta_path = config_dir
        .join("contexts/meta")
        .join(digest)
        .join("meta.json");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(meta_path).ok()?).ok()?;
    meta.pointer("/Endpoints/docker/Host")?
        .as_str()
        .map(String::from)
}

fn status_of(e: &DockerError) -> Option<(u16, &str)> {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

fn is_not_found(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, _)| code == 404)
}

/// Sixteen hex digits that tell one node container from another.
fn node_run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = ((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_name_conflict(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| code == 409 && msg.contains("is already in use"))
}

fn is_removal_in_progress(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| code == 409 && msg.contains("already in progress"))
}

fn is_not_modified(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, _)| code == 304)
}

fn is_privilege_refusal(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(_, msg)| {
        msg.contains("unable to apply caps")
            || (msg.contains("privileged") && msg.contains("not permitted"))
    })
}

fn is_port_in_use(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(_, msg)| {
        msg.contains("port is already allocated") || msg.contains("address already in use")
    })
}

/// The useful part of a Docker error: runc's message, not the OCI preamble.
fn short_docker_error(e: &DockerError) -> String {
    let text = status_of(e).map_or_else(|| e.to_string(), |(_, m)| m.to_string());
    match text.rfind("runc create failed: ") {
        Some(i) => text[i + "runc create failed: ".len()..]
            .trim_end_matches(": unknown")
            .to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::tests::options;

    fn body_json(profile: SecurityProfile, cgroup_v2: bool) -> String {
        let plan = NodePlan::new(&options()).unwrap();
        let facts = EngineFacts {
            cgroup_v2,
            ..Default::default()
        };
        let mut body = serde_json::to_value(container_body(&plan, &facts, profile)).unwrap();
        // The script and kind config have snapshots of their own.
        body["Entrypoint"][2] = "<bootstrap.sh>".into();
        for env in body["Env"].as_array_mut().unwrap() {
            if env.as_str().unwrap().starts_with("KIP_KIND_CONFIG=") {
                *env = "KIP_KIND_CONFIG=<kind config>".into();
            }
        }
        body["Labels"]["dev.kip.version"] = "VERSION".into();
        sort_json(&mut body);
        serde_json::to_string_pretty(&body).unwrap() + "\n"
    }

    fn sort_json(v: &mut serde_json::Value) {
        if let serde_json::Value::Object(map) = v {
            let mut entries: Vec<_> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut val) in entries {
                sort_json(&mut val);
                map.insert(k, val);
            }
        }
    }

    #[test]
    fn node_spec_snapshots() {
        crate::testing::assert_snapshot(
            "docker_node_caps_v1.json",
            &body_json(SecurityProfile::Capabilities, false),
        );
        crate::testing::assert_snapshot(
            "docker_node_privileged_v2.json",
            &body_json(SecurityProfile::Privileged, true),
        );
    }

    #[test]
    fn recognizes_engine_refusals() {
        let refusal = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "failed to create task for container: failed to create shim task: OCI runtime create \
                      failed: runc create failed: unable to start container process: unable to apply caps: \
                      operation not permitted: unknown"
                .into(),
        };
        assert!(is_privilege_refusal(&refusal));
        assert_eq!(
            short_docker_error(&refusal),
            "unable to start container process: unable to apply caps: operation not permitted"
        );
        let port = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "driver failed programming external connectivity: Bind for 127.0.0.1:6443 failed: port is already allocated".into(),
        };
        assert!(is_port_in_use(&port) && !is_privilege_refusal(&port));
        assert!(is_not_found(&DockerError::DockerResponseServerError {
            status_code: 404,
            message: String::new()
        }));
    }

    #[tokio::test]
    async fn splits_chunks_into_lines() {
        let chunks = futures_util::stream::iter(
            ["kip-phase: a\nkip-in", "fo: x=1\n\nlast"].map(|s| Ok(bytes::Bytes::from(s))),
        );
        let got: Vec<String> = lines(chunks).try_collect().await.unwrap();
        assert_eq!(got, ["kip-phase: a", "kip-info: x=1", "", "last"]);
    }
}

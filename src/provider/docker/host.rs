//! The engine itself: where it is (DOCKER_HOST, the Docker CLI context, the
//! default socket), what it says of itself, and what `kip doctor` asks of
//! it (a privileged container, a network's MTU).

use super::errors::{is_not_found, is_privilege_refusal, short_docker_error};
use super::DockerProvider;
use crate::error::Error;
use crate::provider::EngineFacts;
use crate::settings::DockerEnvironment;
use anyhow::Result;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use std::collections::HashMap;
use std::time::Duration;

pub(super) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostSource {
    Env,
    Context,
    Default,
}

impl HostSource {
    pub(super) fn hint(self) -> &'static str {
        match self {
            HostSource::Env => "the address comes from DOCKER_HOST; unset it to use the default socket",
            HostSource::Context => "the address comes from the current Docker context; `docker context use default` switches back",
            HostSource::Default => "set DOCKER_HOST to use another engine",
        }
    }
}

/// DOCKER_HOST, else the current Docker CLI context's endpoint, else the
/// default socket.
pub(super) fn docker_host(env: &DockerEnvironment) -> (String, HostSource) {
    if let Some(host) = &env.host {
        return (host.clone(), HostSource::Env);
    }
    match context_host(env) {
        Some(host) => (host, HostSource::Context),
        None => (DEFAULT_HOST.to_string(), HostSource::Default),
    }
}

fn context_host(env: &DockerEnvironment) -> Option<String> {
    let config_dir = env.config_dir.as_ref()?;
    let context = match &env.context {
        Some(c) => c.clone(),
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

/// How long kip waits for the engine's first answer. An engine that accepts
/// connections and never answers is reported after this, never waited on.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

impl DockerProvider {
    /// That the engine answers at all: every command that talks to Docker
    /// asks this first (as the docker CLI pings first), so an engine that
    /// never answers is one error, exit 3, after ANSWER_LIMIT.
    pub async fn check_answers(&self) -> Result<()> {
        match tokio::time::timeout(ANSWER_LIMIT, self.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.unreachable(e)),
            Err(_) => {
                Err(self.unreachable(format!("no answer within {}s", ANSWER_LIMIT.as_secs())))
            }
        }
    }

    /// What the engine says of itself, its cgroups and its networks.
    pub(super) async fn engine_facts(&self) -> Result<EngineFacts> {
        self.check_answers().await?;
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
            Err(e) if is_not_found(&e) => {
                return Err(Error::ProbeImageMissing {
                    image: image.to_string(),
                }
                .into())
            }
            Err(e) => {
                return Err(Error::ProbeCreate {
                    image: image.to_string(),
                    error: short_docker_error(&e),
                }
                .into())
            }
        }
        let started = self.docker.start_container(&name, None).await;
        self.remove_container_by_name(&name).await?;
        match started {
            Ok(()) => Ok(None),
            Err(e) if is_privilege_refusal(&e) => Ok(Some(short_docker_error(&e))),
            Err(e) => Err(Error::ProbeStart {
                error: short_docker_error(&e),
            }
            .into()),
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

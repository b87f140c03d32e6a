//! kip's registries on the engine (see `crate::registry`): a container of
//! the registry image with its own volume, kip's labels on both, published
//! on 127.0.0.1 and on the default bridge's gateway. Found by their labels;
//! an object of a registry's names without them is someone else's and is
//! never touched (exit 3, naming it). This file is the lifecycle (find,
//! list, create, start, remove); the container's spec, and a container
//! read back as a registry, are in `registry_spec.rs`, as `spec.rs` is for
//! nodes.

use super::errors::{is_not_found, is_port_in_use, short_docker_error};
pub use super::registry_spec::RegistrySpec;
use super::registry_spec::{registry_body, registry_labels, registry_of};
use super::DockerProvider;
use crate::node::labels;
use crate::output::Printer;
use crate::registry::error::RegistryError;
use crate::registry::{self, labels as reg_labels, Registry};
use anyhow::{Context, Result};
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectNetworkOptions, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions,
};
use std::collections::HashMap;

/// The `dev.kip.managed-by` value of registry objects: kip's, and never
/// taken for a cluster's node (whose value is `kip`).
pub const MANAGER: &str = "kip-registry";

fn is_registry(object_labels: &HashMap<String, String>, name: &str) -> bool {
    object_labels.get(labels::MANAGED_BY).map(String::as_str) == Some(MANAGER)
        && object_labels.get(reg_labels::REGISTRY).map(String::as_str) == Some(name)
}

fn foreign(kind: &'static str, object: &str) -> anyhow::Error {
    RegistryError::Foreign {
        kind,
        name: object.to_string(),
    }
    .into()
}

impl DockerProvider {
    /// The registry of this name: None when there is none; exit 3 when an
    /// object of its names is someone else's.
    pub async fn find_registry(&self, name: &str) -> Result<Option<Registry>> {
        let container = registry::container_name(name);
        let found = match self.docker.inspect_container(&container, None).await {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => {
                self.check_registry_volume(name).await?;
                return Ok(None);
            }
            Err(e) => return Err(self.unreachable(e)),
        };
        let own = found
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .is_some_and(|l| is_registry(l, name));
        if !own {
            return Err(foreign("container", &container));
        }
        Ok(Some(registry_of(&found)))
    }

    async fn check_registry_volume(&self, name: &str) -> Result<()> {
        let volume = registry::volume_name(name);
        match self.docker.inspect_volume(&volume).await {
            Ok(v) if !is_registry(&v.labels, name) => Err(foreign("volume", &volume)),
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Every kip registry on the engine, by name.
    pub async fn list_registries(&self) -> Result<Vec<Registry>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={MANAGER}", labels::MANAGED_BY)],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut found = Vec::new();
        for c in containers {
            let Some(id) = c.id else { continue };
            match self.docker.inspect_container(&id, None).await {
                Ok(inspect) => found.push(registry_of(&inspect)),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Pulls the registry image if the engine lacks it.
    pub async fn ensure_registry_image(&self, image: &str, printer: &Printer) -> Result<()> {
        use bollard::query_parameters::CreateImageOptionsBuilder;
        use futures_util::TryStreamExt;
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        let step = printer.step("registry-image-pulled", &format!("Pulling {image}"));
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let pulled: Result<Vec<_>, _> = self
            .docker
            .create_image(Some(options), None, None)
            .try_collect()
            .await;
        pulled.map_err(|e| RegistryError::ImageUnavailable {
            image: image.to_string(),
            error: e.to_string(),
        })?;
        step.done(&format!("Pulled {image}"));
        Ok(())
    }

    /// The gateway address of a network (the engine's default bridge when
    /// None): where containers on it reach what the engine publishes there.
    pub async fn network_gateway(&self, network: Option<&str>) -> Result<String> {
        let name = network.unwrap_or("bridge");
        let inspect = self
            .docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    RegistryError::NoNetwork {
                        network: name.to_string(),
                    }
                    .into()
                } else {
                    self.unreachable(e)
                }
            })?;
        // Docker 20.10 leaves the default bridge's implicit gateway out: the
        // subnet's first address.
        inspect
            .ipam
            .and_then(|i| i.config)
            .into_iter()
            .flatten()
            .find_map(|c| match c.gateway {
                Some(g) if g.parse::<std::net::Ipv4Addr>().is_ok() => Some(g),
                _ => first_address(c.subnet.as_deref()?),
            })
            .ok_or_else(|| {
                RegistryError::NoGateway {
                    network: name.to_string(),
                }
                .into()
            })
    }

    /// Makes the registry's volume and container and starts it.
    pub async fn create_registry(&self, spec: &RegistrySpec, gateway: &str) -> Result<Registry> {
        let object_labels = registry_labels(spec);
        let volume = registry::volume_name(&spec.name);
        let made = self
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.clone()),
                labels: Some(object_labels.clone()),
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create volume {volume}"))?;
        // The engine answers with the volume that is there if one is.
        if !is_registry(&made.labels, &spec.name) {
            return Err(foreign("volume", &volume));
        }
        let container = registry::container_name(&spec.name);
        let options = CreateContainerOptionsBuilder::new()
            .name(&container)
            .build();
        let body = registry_body(spec, gateway, object_labels);
        if let Err(e) = self.docker.create_container(Some(options), body).await {
            return Err(RegistryError::CannotCreate {
                container,
                error: short_docker_error(&e),
            }
            .into());
        }
        self.start_new_registry(spec, gateway, &container).await?;
        self.find_registry(&spec.name)
            .await?
            .ok_or_else(|| RegistryError::Vanished { container }.into())
    }

    /// Starts the registry just made; one that cannot start is removed.
    async fn start_new_registry(
        &self,
        spec: &RegistrySpec,
        gateway: &str,
        container: &str,
    ) -> Result<()> {
        let Err(e) = self.docker.start_container(container, None).await else {
            return Ok(());
        };
        let _ = self.remove_registry(&spec.name).await;
        if is_port_in_use(&e) {
            return Err(RegistryError::PortInUse {
                port: spec.port,
                gateway: gateway.to_string(),
            }
            .into());
        }
        Err(RegistryError::CannotStart {
            container: container.to_string(),
            error: short_docker_error(&e),
        }
        .into())
    }

    /// Starts a registry that is stopped (after `docker stop`, say).
    pub async fn start_registry(&self, registry: &Registry) -> Result<()> {
        self.docker
            .start_container(&registry.container, None)
            .await
            .map_err(|e| {
                RegistryError::StartFailed {
                    name: registry.name.clone(),
                    state: registry.state.clone(),
                    error: short_docker_error(&e),
                }
                .into()
            })
    }

    /// The last lines the registry logged (a Go panic's stack is long: the
    /// last 200), for an error message.
    pub async fn registry_log_tail(&self, registry: &Registry) -> String {
        use bollard::query_parameters::LogsOptionsBuilder;
        use futures_util::TryStreamExt;
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("200")
            .build();
        let chunks: Vec<_> = self
            .docker
            .logs(&registry.container, Some(options))
            .try_collect()
            .await
            .unwrap_or_default();
        chunks
            .iter()
            .map(|c| String::from_utf8_lossy(c.as_ref()).to_string())
            .collect()
    }

    /// Removes the registry's container and volume, the parts that are
    /// kip's; absent parts are not an error. Whether anything was there.
    pub async fn remove_registry(&self, name: &str) -> Result<bool> {
        let container = registry::container_name(name);
        let mut removed = false;
        match self.docker.inspect_container(&container, None).await {
            Ok(c) => {
                let own = c
                    .config
                    .and_then(|c| c.labels)
                    .is_some_and(|l| is_registry(&l, name));
                if !own {
                    return Err(foreign("container", &container));
                }
                let options = RemoveContainerOptionsBuilder::new().force(true).build();
                match self
                    .docker
                    .remove_container(&container, Some(options))
                    .await
                {
                    Ok(()) => removed = true,
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        return Err(RegistryError::CannotRemove {
                            kind: "container",
                            name: container,
                            error: e.to_string(),
                        }
                        .into())
                    }
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        let volume = registry::volume_name(name);
        match self.docker.inspect_volume(&volume).await {
            Ok(v) if !is_registry(&v.labels, name) => return Err(foreign("volume", &volume)),
            Ok(_) => match self
                .docker
                .remove_volume(&volume, Some(RemoveVolumeOptions { force: false }))
                .await
            {
                Ok(()) => removed = true,
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(RegistryError::CannotRemove {
                        kind: "volume",
                        name: volume,
                        error: e.to_string(),
                    }
                    .into())
                }
            },
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        Ok(removed)
    }
}

/// The first host address of an IPv4 subnet (`172.17.0.0/16` →
/// `172.17.0.1`).
fn first_address(subnet: &str) -> Option<String> {
    let (network, _) = subnet.split_once('/')?;
    let network: std::net::Ipv4Addr = network.parse().ok()?;
    Some(std::net::Ipv4Addr::from(u32::from(network) + 1).to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_implicit_gateway_is_the_subnets_first_address() {
        assert_eq!(
            super::first_address("172.17.0.0/16").as_deref(),
            Some("172.17.0.1")
        );
        assert_eq!(super::first_address("fd00::/64"), None);
    }
}

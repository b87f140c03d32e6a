//! Registries for clusters to pull from, as kind users set them up on day
//! one: a local registry (KEP-1755; kind's `kind-with-registry.sh`) that
//! `docker push localhost:PORT/app` fills from the host, and a pull-through
//! cache (the Distribution registry's proxy mode) shared by every cluster of
//! the engine, so a second cluster's pull of an image never leaves the
//! machine.
//!
//! A registry is a container of the Distribution registry image on the
//! user's engine, with kip's labels and a volume of its own; it outlives
//! clusters. It is published on 127.0.0.1:PORT (for the user's `docker
//! push`) and on the engine's default bridge gateway, PORT too: kip's node
//! reaches it there, through the engine, whatever address the registry
//! container gets after a restart. The kind nodes inside kip's node pull
//! through containerd's `hosts.toml` (config_path), the node's own dockerd
//! through `--registry-mirror`.
//!
//! This file is the pure part (names, labels, what a cluster is given);
//! `backend::docker::registry` runs the containers, `probe` asks them.

pub mod attach;
pub mod credentials;
pub mod error;
pub mod probe;
pub mod wiring;

use serde::Serialize;

/// The Distribution project's registry image (Docker Official Image
/// `registry:3.1.1`), pinned by digest; `--image` replaces it.
pub const DEFAULT_IMAGE: &str =
    "registry:3.1.1@sha256:849b7d29920d060df8091770ede2279c07924ecd29e2a4c029ee0b5ea2ea542b";

/// The port the registry serves on inside its container.
pub const CONTAINER_PORT: u16 = 5000;

/// Without `--port`, the first free port from here (kind's guide uses 5001).
pub const FIRST_PORT: u16 = 5001;

/// Where the registry image keeps its data.
pub const DATA_PATH: &str = "/var/lib/registry";

/// The registry kip makes when none is named.
pub const DEFAULT_NAME: &str = "kip";

pub mod labels {
    /// The registry's name; a registry object has it, a cluster's never.
    pub const REGISTRY: &str = "dev.kip.registry";
    /// The host port it is published on.
    pub const PORT: &str = "dev.kip.registry.port";
    /// Proxy mode: the upstream it caches.
    pub const PROXY: &str = "dev.kip.registry.proxy";
    /// Proxy mode: the registry name clusters pull through it
    /// (`docker.io` for Docker Hub).
    pub const MIRROR_OF: &str = "dev.kip.registry.mirror-of";
    /// On a cluster's node: the local registry (`up --registry`) and the
    /// cache (`up --mirror`) it was connected to.
    pub const CLUSTER_REGISTRY: &str = "dev.kip.registry.local";
    pub const CLUSTER_MIRROR: &str = "dev.kip.registry.mirror";
    /// On a cluster's node: its host ports (`kip status`).
    pub const CLUSTER_PORTS: &str = "dev.kip.ports";
}

/// The registry's container and its volume.
pub fn container_name(name: &str) -> String {
    format!("kip-registry-{name}")
}

pub fn volume_name(name: &str) -> String {
    format!("kip-registry-{name}")
}

/// A registry name: a DNS-1123 label like a cluster's.
pub fn parse_name(name: &str) -> Result<String, String> {
    crate::names::parse_cluster_name(name)
        .map_err(|e| e.replace("the cluster name", "the registry name"))
}

/// What a registry is, as `kip registry list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registry {
    pub name: String,
    pub container: String,
    /// The engine's state ("running", "exited", …).
    pub state: String,
    /// What `docker push` and pods use: `localhost:5001`.
    pub host: String,
    pub port: u16,
    /// The engine's addresses it is published on (127.0.0.1, a gateway).
    pub addresses: Vec<String>,
    pub image: String,
    /// Proxy mode: the upstream URL it caches.
    pub proxy: Option<String>,
    /// Proxy mode: the registry clusters pull through it (`docker.io`).
    pub mirror_of: Option<String>,
    pub created_at: Option<String>,
}

impl Registry {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

/// The registry name an upstream URL serves, as containerd and Docker name
/// it: Docker Hub's `registry-1.docker.io` (and `index.docker.io`) is
/// `docker.io`; any other is its host and port.
pub fn mirror_of(upstream: &str) -> Result<String, String> {
    let rest = upstream
        .strip_prefix("https://")
        .or_else(|| upstream.strip_prefix("http://"))
        .ok_or_else(|| {
            format!(
                "--proxy {upstream}: give the upstream's URL, e.g. https://registry-1.docker.io"
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("--proxy {upstream}: the URL has no host"));
    }
    Ok(match host {
        "registry-1.docker.io" | "index.docker.io" | "docker.io" => "docker.io".into(),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_docker_io_and_others_are_their_host() {
        assert_eq!(
            mirror_of("https://registry-1.docker.io").unwrap(),
            "docker.io"
        );
        assert_eq!(
            mirror_of("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert_eq!(mirror_of("https://quay.io").unwrap(), "quay.io");
        assert_eq!(
            mirror_of("http://172.17.0.1:5003").unwrap(),
            "172.17.0.1:5003"
        );
        assert!(mirror_of("registry-1.docker.io")
            .unwrap_err()
            .contains("URL"));
        assert!(mirror_of("https://").unwrap_err().contains("no host"));
    }

    #[test]
    fn names_are_dns_labels_and_say_registry() {
        assert_eq!(parse_name("cache").unwrap(), "cache");
        let err = parse_name("").unwrap_err();
        assert!(err.contains("registry name"), "{err}");
        assert!(parse_name("Bad_Name").is_err());
        assert_eq!(container_name("cache"), "kip-registry-cache");
    }
}

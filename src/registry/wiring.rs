//! What a cluster is given to pull through registries: a `hosts.toml` per
//! registry name for the kind nodes' containerd, a mirror for the node's
//! own dockerd, and the KEP-1755 `local-registry-hosting` ConfigMap. Pure
//! data: `up` computes it from the registries it finds, the node plan
//! renders it into the bootstrap's environment, and the bootstrap writes
//! it into every kind node.

use super::error::RegistryError;
use super::{labels, Registry};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where containerd looks for `hosts.toml` files (one folder per registry
/// name): kind's local-registry guide sets the same.
pub const CONTAINERD_CERTS_DIR: &str = "/etc/containerd/certs.d";

/// The kind config patch that points containerd at `CONTAINERD_CERTS_DIR`
/// (kind's node images use containerd's version 2 config).
pub fn containerd_patch() -> String {
    format!(
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{CONTAINERD_CERTS_DIR}\"\n"
    )
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryWiring {
    /// One `hosts.toml` per registry name the kind nodes pull through.
    pub containerd_hosts: Vec<ContainerdHost>,
    /// A mirror of docker.io for the node's own dockerd (`--registry-mirror`).
    pub docker_mirror: Option<String>,
    /// KEP-1755: the local registry the cluster advertises in kube-public.
    pub local_registry: Option<LocalRegistryHosting>,
    /// What the node's labels say it is connected to.
    pub labels: BTreeMap<String, String>,
}

/// containerd's `hosts.toml` for one registry name: pulls of
/// `REGISTRY/app:tag` go to `url` first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerdHost {
    /// The registry name pods use: `localhost:5001`, `docker.io`.
    pub registry: String,
    /// Where the kind nodes reach it: `http://172.17.0.1:5001`.
    pub url: String,
    /// A cache is only pulled from; a local registry is pushed to as well.
    pub pull_only: bool,
}

impl ContainerdHost {
    /// The file. (containerd reads the `[host."URL"]` table form; a dotted
    /// key on one line, valid TOML as it is, is not honoured.)
    pub fn hosts_toml(&self) -> String {
        let capabilities = if self.pull_only {
            r#"["pull", "resolve"]"#
        } else {
            r#"["pull", "resolve", "push"]"#
        };
        format!("[host.\"{}\"]\n  capabilities = {capabilities}\n", self.url)
    }
}

/// KEP-1755's `LocalRegistryHostingV1`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalRegistryHosting {
    /// What developers push to and pods name: `localhost:5001`.
    pub host: String,
    /// What the container runtime (and the cluster network) reaches.
    pub host_from_container_runtime: String,
}

impl LocalRegistryHosting {
    /// The ConfigMap `kube-public/local-registry-hosting`.
    pub fn config_map(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct V1<'a> {
            host: &'a str,
            host_from_container_runtime: &'a str,
            host_from_cluster_network: &'a str,
            help: &'a str,
        }
        let v1 = serde_yaml::to_string(&V1 {
            host: &self.host,
            host_from_container_runtime: &self.host_from_container_runtime,
            host_from_cluster_network: &self.host_from_container_runtime,
            help: "https://kind.sigs.k8s.io/docs/user/local-registry/",
        })
        .expect("a mapping of strings serializes");
        let config_map = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
            "data": {"localRegistryHosting.v1": v1},
        });
        serde_yaml::to_string(&config_map).expect("JSON serializes as YAML")
    }
}

impl RegistryWiring {
    /// `up --registry NAME`: pods pull `localhost:PORT/app` from it.
    pub fn add_local(&mut self, registry: &Registry, gateway: &str) {
        let inside = format!("{gateway}:{}", registry.port);
        self.containerd_hosts.push(ContainerdHost {
            registry: registry.host.clone(),
            url: format!("http://{inside}"),
            pull_only: false,
        });
        self.local_registry = Some(LocalRegistryHosting {
            host: registry.host.clone(),
            host_from_container_runtime: inside,
        });
        self.labels
            .insert(labels::CLUSTER_REGISTRY.into(), registry.name.clone());
    }

    /// `up --mirror NAME`: pulls from the registry the cache mirrors go
    /// through it (the node's dockerd too, when that is docker.io).
    pub fn add_cache(&mut self, cache: &Registry, gateway: &str) {
        let mirror_of = cache
            .mirror_of
            .clone()
            .unwrap_or_else(|| "docker.io".into());
        self.add_mirror(&mirror_of, &format!("http://{gateway}:{}", cache.port));
        self.labels
            .insert(labels::CLUSTER_MIRROR.into(), cache.name.clone());
    }

    /// `up --remote --mirror URL` (and a URL given locally): a cache of
    /// docker.io that the node reaches at `url`.
    pub fn add_mirror_url(&mut self, url: &str) -> Result<(), RegistryError> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .filter(|r| !r.is_empty() && !r.contains(char::is_whitespace))
            .ok_or_else(|| RegistryError::MirrorUrl {
                url: url.to_string(),
            })?;
        self.add_mirror("docker.io", url.trim_end_matches('/'));
        self.labels
            .insert(labels::CLUSTER_MIRROR.into(), label_value(rest));
        Ok(())
    }

    fn add_mirror(&mut self, mirror_of: &str, url: &str) {
        self.containerd_hosts.push(ContainerdHost {
            registry: mirror_of.into(),
            url: url.into(),
            pull_only: true,
        });
        if mirror_of == "docker.io" {
            self.docker_mirror = Some(url.into());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.containerd_hosts.is_empty()
    }

    /// What the bootstrap writes into the kind nodes: `KIP_CONTAINERD_HOSTS`
    /// and `KIP_REGISTRY_CONFIGMAP`.
    pub fn bootstrap_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if let Some(hosts) = self.containerd_hosts_env() {
            env.insert("KIP_CONTAINERD_HOSTS".into(), hosts);
        }
        if let Some(local) = &self.local_registry {
            env.insert("KIP_REGISTRY_CONFIGMAP".into(), local.config_map());
        }
        env
    }

    /// The bootstrap's `KIP_CONTAINERD_HOSTS`: one `REGISTRY HOSTS_TOML`
    /// line per registry name, the file's line breaks written `\n` (the
    /// bootstrap prints it with `printf %b`).
    pub fn containerd_hosts_env(&self) -> Option<String> {
        (!self.containerd_hosts.is_empty()).then(|| {
            self.containerd_hosts
                .iter()
                .map(|h| format!("{} {}", h.registry, h.hosts_toml().replace('\n', "\\n")))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// The node's dockerd arguments for the mirror (a plain-HTTP one is an
    /// insecure registry to Docker).
    pub fn dockerd_args(&self) -> Vec<String> {
        let Some(url) = &self.docker_mirror else {
            return Vec::new();
        };
        let mut args = vec![format!("--registry-mirror={url}")];
        if let Some(host) = url.strip_prefix("http://") {
            args.push(format!("--insecure-registry={host}"));
        }
        args
    }
}

/// A URL's host and path as a label value a Pod takes too (at most 63
/// letters, digits, `-`, `_` and `.`, starting and ending with one of the
/// first two kinds).
fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(name: &str, port: u16, mirror_of: Option<&str>) -> Registry {
        Registry {
            name: name.into(),
            container: super::super::container_name(name),
            state: "running".into(),
            host: format!("localhost:{port}"),
            port,
            addresses: vec!["127.0.0.1".into(), "172.17.0.1".into()],
            image: super::super::DEFAULT_IMAGE.into(),
            proxy: mirror_of.map(|_| "https://registry-1.docker.io".into()),
            mirror_of: mirror_of.map(String::from),
            created_at: None,
        }
    }

    #[test]
    fn a_local_registry_and_a_cache() {
        let mut wiring = RegistryWiring::default();
        wiring.add_local(&registry("dev", 5001, None), "172.17.0.1");
        wiring.add_cache(&registry("hub", 5002, Some("docker.io")), "172.17.0.1");
        assert_eq!(
            wiring.containerd_hosts[0].hosts_toml(),
            "[host.\"http://172.17.0.1:5001\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n"
        );
        assert_eq!(
            wiring.containerd_hosts_env().unwrap(),
            "localhost:5001 [host.\"http://172.17.0.1:5001\"]\\n  capabilities = [\"pull\", \"resolve\", \"push\"]\\n\n\
             docker.io [host.\"http://172.17.0.1:5002\"]\\n  capabilities = [\"pull\", \"resolve\"]\\n"
        );
        assert_eq!(
            wiring.dockerd_args(),
            [
                "--registry-mirror=http://172.17.0.1:5002",
                "--insecure-registry=172.17.0.1:5002"
            ]
        );
        assert_eq!(wiring.labels[labels::CLUSTER_REGISTRY], "dev");
        assert_eq!(wiring.labels[labels::CLUSTER_MIRROR], "hub");
        crate::testing::assert_snapshot(
            "local_registry_hosting.yaml",
            &wiring.local_registry.unwrap().config_map(),
        );
    }

    #[test]
    fn a_cache_of_another_registry_leaves_dockerd_alone() {
        let mut wiring = RegistryWiring::default();
        wiring.add_cache(&registry("quay", 5003, Some("quay.io")), "172.17.0.1");
        assert!(wiring.dockerd_args().is_empty());
        assert!(wiring
            .containerd_hosts_env()
            .unwrap()
            .starts_with("quay.io [host.\"http://172.17.0.1:5003\"]"));
    }

    #[test]
    fn a_mirror_url_is_a_docker_hub_cache() {
        let mut wiring = RegistryWiring::default();
        wiring.add_mirror_url("http://10.96.0.20:5000/").unwrap();
        assert_eq!(
            wiring.dockerd_args()[0],
            "--registry-mirror=http://10.96.0.20:5000"
        );
        assert!(wiring
            .containerd_hosts_env()
            .unwrap()
            .starts_with("docker.io "));
        assert_eq!(wiring.labels[labels::CLUSTER_MIRROR], "10.96.0.20_5000");
        assert_eq!(label_value(&"a/".repeat(40)).len(), 63);
        assert_eq!(label_value("/x:1/"), "x_1");
        let mut tls = RegistryWiring::default();
        tls.add_mirror_url("https://cache.example.com").unwrap();
        assert_eq!(
            tls.dockerd_args(),
            ["--registry-mirror=https://cache.example.com"]
        );
        let err = RegistryWiring::default()
            .add_mirror_url("ftp://x")
            .unwrap_err();
        assert_eq!(
            err,
            RegistryError::MirrorUrl {
                url: "ftp://x".into()
            }
        );
    }

    #[test]
    fn the_containerd_patch_names_the_certs_dir() {
        assert!(containerd_patch().contains("config_path = \"/etc/containerd/certs.d\""));
    }
}

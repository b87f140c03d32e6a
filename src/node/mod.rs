//! The node plan: pure data computed from the user's options. Every provider
//! renders the same plan, and `kip up --dry-run` prints it.

mod compose;
pub mod contract;
pub mod host_mounts;
pub mod image;
pub mod kind_config;
mod modes;
pub mod pod_options;
pub mod ports;
pub mod progress;
pub mod reference;
pub mod remote;
pub mod settings;
mod subnets;

use crate::names;
use crate::registry::wiring::{self, RegistryWiring};
use kind_config::{KindConfig, NODE_API_PORT};
pub use modes::{IptablesMode, SecurityMode};
use ports::HostPort;
use serde::Serialize;
use std::collections::BTreeMap;

/// The bootstrap script run by the node's init; a real file, never templated.
pub const BOOTSTRAP_SCRIPT: &str = include_str!("bootstrap.sh");

pub use contract::DOCKER_ROOT;

/// kind's default node image at the kind version kip's node image carries
/// (v0.32.0, `pkg/apis/config/defaults/image.go`): what `kind create
/// cluster` would use, digest-pinned. `--image` replaces it.
pub const DEFAULT_KIND_IMAGE: &str =
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5";

pub mod labels {
    use std::collections::BTreeMap;

    pub const MANAGED_BY: &str = "dev.kip.managed-by";
    pub const CLUSTER: &str = "dev.kip.cluster";
    pub const CREATED_AT: &str = "dev.kip.created-at";
    pub const OWNER: &str = "dev.kip.owner";
    pub const VERSION: &str = "dev.kip.version";
    pub const SECURITY: &str = "dev.kip.security";
    pub const TTL: &str = "dev.kip.ttl";
    pub const EXPIRES_AT: &str = "dev.kip.expires-at";
    /// The seed a node's kind node image comes from (`seed::SeedKey`).
    pub const SEED: &str = "dev.kip.seed";
    /// A node restored from a snapshot: the inner kind cluster's name (the
    /// one it was made under), when it is not the cluster's own.
    pub const KIND_CLUSTER: &str = "dev.kip.kind-cluster";
    pub const MANAGER: &str = "kip";

    /// CI metadata, read from the environment CI systems set, so a leaked
    /// cluster can be traced to its job: (label, environment variable).
    const CI_ENV: [(&str, &str); 9] = [
        ("dev.kip.ci.github.repository", "GITHUB_REPOSITORY"),
        ("dev.kip.ci.github.run-id", "GITHUB_RUN_ID"),
        ("dev.kip.ci.github.job", "GITHUB_JOB"),
        ("dev.kip.ci.gitlab.project", "CI_PROJECT_PATH"),
        ("dev.kip.ci.gitlab.job-id", "CI_JOB_ID"),
        ("dev.kip.ci.jenkins.build-tag", "BUILD_TAG"),
        ("dev.kip.ci.jenkins.build-url", "BUILD_URL"),
        ("dev.kip.ci.buildkite.build-url", "BUILDKITE_BUILD_URL"),
        ("dev.kip.ci.tekton.pod", "KIP_TEKTON_POD"),
    ];

    /// The CI labels for this environment. Tekton sets no variable of its
    /// own, but mounts /tekton into every step: the pod is the hostname.
    pub fn ci_labels(
        env: impl Fn(&str) -> Option<String>,
        in_tekton: bool,
    ) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        for (label, var) in CI_ENV {
            let value = if var == "KIP_TEKTON_POD" {
                in_tekton.then(|| env("HOSTNAME")).flatten()
            } else {
                env(var)
            };
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                labels.insert(label.to_string(), value);
            }
        }
        labels
    }

    /// One line for `kip list`: "github:owner/repo run 42".
    pub fn ci_description(labels: &BTreeMap<String, String>) -> Option<String> {
        let get = |k: &str| labels.get(k).map(String::as_str);
        if let Some(repo) = get("dev.kip.ci.github.repository") {
            return Some(format!(
                "github:{repo} run {}",
                get("dev.kip.ci.github.run-id").unwrap_or("?")
            ));
        }
        if let Some(project) = get("dev.kip.ci.gitlab.project") {
            return Some(format!(
                "gitlab:{project} job {}",
                get("dev.kip.ci.gitlab.job-id").unwrap_or("?")
            ));
        }
        if let Some(tag) = get("dev.kip.ci.jenkins.build-tag") {
            return Some(format!("jenkins:{tag}"));
        }
        if let Some(url) = get("dev.kip.ci.buildkite.build-url") {
            return Some(format!("buildkite:{url}"));
        }
        get("dev.kip.ci.tekton.pod").map(|pod| format!("tekton:{pod}"))
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePlan {
    pub cluster: String,
    pub node: NodeSpec,
    pub kind_config: KindConfig,
    pub bootstrap_script: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    pub name: String,
    pub image: String,
    /// PID 1 is an init (docker-init, i.e. tini) that forwards signals and reaps.
    pub init: bool,
    pub security: SecurityMode,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub volume: VolumeSpec,
    pub read_only_host_paths: Vec<String>,
    /// Host paths mounted at the same path, for kind's `extraMounts`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_mounts: Vec<host_mounts::HostMount>,
    pub api: ApiPortSpec,
    /// Ports of the user's machine published to kind nodes (through this one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<HostPort>,
    /// The outer network to attach the node to; None: the engine's default.
    pub network: Option<String>,
    /// The seed store the node shares with the other nodes of its engine,
    /// when its kind node image comes from a seed (`crate::seed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_store: Option<SeedStoreSpec>,
}

/// The store holding the seeds, mounted read-write at `mount_path`: the
/// node's bootstrap takes its claims there and mounts a seed's layers
/// read-only, then makes its own view of the store read-only. Locally the
/// engine's `volume`; remotely a `hostPath` at the same path on the outer
/// node (DirectoryOrCreate), shared by the node Pods there.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedStoreSpec {
    pub volume: String,
    pub mount_path: &'static str,
    /// The volume's labels, should the engine create it with the node.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    pub name: String,
    pub mount_path: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiPortSpec {
    pub node_port: u16,
    pub host_ip: &'static str,
    /// None: the engine picks a free port (no race between concurrent `up`s).
    pub host_port: Option<u16>,
}

/// The user's options that shape a node, already validated.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub cluster: String,
    /// The Docker-in-Docker image the node runs (`--dind-image`).
    pub image: String,
    /// The kind node image (`--image`), by its name inside the node; None:
    /// kind's own default, pulled by kind (when kip has nothing to stream).
    pub kind_image: Option<String>,
    /// kip streams `kind_image` into the node after dockerd starts; the
    /// bootstrap waits for it instead of letting kind pull it.
    pub stream_kind_image: bool,
    /// Extra environment for the bootstrap (`--node-env`, for debugging:
    /// e.g. turning one of the node's fixes off).
    pub node_env: Vec<(String, String)>,
    pub security: SecurityMode,
    pub api_port: Option<u16>,
    pub network: Option<String>,
    pub mtu: Option<u32>,
    pub iptables: IptablesMode,
    pub cert_sans: Vec<String>,
    pub dockerd_args: Vec<String>,
    pub created_at: String,
    pub owner: String,
    pub has_lib_modules: bool,
    /// Subnets of the networks around the node, to keep the inner ones clear.
    pub taken_subnets: Vec<String>,
    /// The text of a user's own kind config to merge in (`--kind-config`).
    pub user_kind_config: Option<String>,
    /// Its `extraMounts`' host paths, checked (`host_mounts::of_config`).
    pub host_mounts: Vec<host_mounts::HostMount>,
    /// Labels beyond kip's own: TTL and CI metadata.
    pub extra_labels: BTreeMap<String, String>,
    /// Remote mode: the namespace the node Pod runs in.
    pub remote_namespace: Option<String>,
    /// Host ports from `-p` (the kind config's own are read from it).
    pub ports: Vec<HostPort>,
    /// The registries the cluster pulls through.
    pub registries: RegistryWiring,
    /// A `--paused` pool's member: its kubelet posts the node's status
    /// every second, so a claim that thaws it reads it Ready at once.
    pub fast_node_status: bool,
}

impl NodePlan {
    /// Fails (naming the field) when a user's kind config contradicts kip's.
    pub fn new(opts: &NodeOptions) -> Result<Self, String> {
        let node_name = names::node_name(&opts.cluster);
        let cert_sans = compose::cert_sans(opts, &node_name);
        let mut kind_config = match &opts.user_kind_config {
            Some(user) => KindConfig::with_user_config(&cert_sans, &opts.taken_subnets, user)?,
            None => KindConfig::new(&cert_sans, &opts.taken_subnets),
        };
        if opts.fast_node_status {
            kind_config.add_fast_node_status();
        }
        let host_ports = ports::publish(&mut kind_config, &opts.ports)?;
        if opts.remote_namespace.is_some() && !host_ports.is_empty() {
            return Err(ports::REMOTE_REFUSAL.into());
        }
        if !opts.registries.is_empty() {
            kind_config.add_containerd_patch(wiring::containerd_patch());
        }
        let env = compose::bootstrap_env(opts, &kind_config);
        let labels = compose::node_labels(opts, &host_ports);

        Ok(NodePlan {
            cluster: opts.cluster.clone(),
            node: NodeSpec {
                name: node_name,
                image: opts.image.clone(),
                init: true,
                security: opts.security,
                labels,
                env,
                volume: VolumeSpec {
                    name: names::volume_name(&opts.cluster),
                    mount_path: DOCKER_ROOT,
                },
                read_only_host_paths: if opts.has_lib_modules {
                    vec!["/lib/modules".into()]
                } else {
                    Vec::new()
                },
                host_mounts: opts.host_mounts.clone(),
                api: ApiPortSpec {
                    node_port: NODE_API_PORT,
                    host_ip: "127.0.0.1",
                    host_port: opts.api_port,
                },
                ports: host_ports,
                network: opts.network.clone(),
                seed_store: None,
            },
            kind_config,
            bootstrap_script: BOOTSTRAP_SCRIPT,
        })
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a NodePlan always serializes")
    }
}

#[cfg(test)]
pub(crate) mod tests;

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
pub(crate) mod tests {
    use super::*;

    pub fn options() -> NodeOptions {
        NodeOptions {
            cluster: "demo".into(),
            image: "kip-test-node:latest".into(),
            kind_image: Some("kindest/node:v1.36.1".into()),
            stream_kind_image: true,
            node_env: Vec::new(),
            security: SecurityMode::Auto,
            api_port: None,
            network: None,
            mtu: None,
            iptables: IptablesMode::Auto,
            cert_sans: vec!["demo.example.com".into(), "localhost".into()],
            dockerd_args: vec!["--debug".into()],
            created_at: "2026-01-02T03:04:05Z".into(),
            owner: "dev@laptop".into(),
            has_lib_modules: true,
            taken_subnets: vec!["172.17.0.0/16".into()],
            user_kind_config: None,
            host_mounts: Vec::new(),
            extra_labels: BTreeMap::from([("dev.kip.ttl".to_string(), "2h".to_string())]),
            remote_namespace: None,
            ports: Vec::new(),
            registries: RegistryWiring::default(),
        }
    }

    #[test]
    fn plan_snapshot() {
        let plan = NodePlan::new(&options()).unwrap().to_yaml();
        let plan = plan.replace(&env!("CARGO_PKG_VERSION").to_string(), "VERSION");
        crate::testing::assert_snapshot("node_plan.yaml", &plan);
    }

    #[test]
    fn host_ports_and_registries_reach_the_node_and_its_kind_config() {
        let mut wiring = RegistryWiring::default();
        wiring
            .add_mirror_url("http://172.17.0.1:5002")
            .expect("a URL");
        let opts = NodeOptions {
            user_kind_config: Some("nodes:\n- role: control-plane\n- role: worker\n".into()),
            ports: vec![ports::parse_port_flag("127.0.0.1:8080:30080").unwrap()],
            registries: wiring,
            ..options()
        };
        let plan = NodePlan::new(&opts).unwrap();
        assert_eq!(plan.node.ports.len(), 1);
        assert_eq!(
            plan.node.labels[crate::registry::labels::CLUSTER_PORTS],
            "127.0.0.1:8080->30080/tcp (control-plane)"
        );
        let env = &plan.node.env;
        assert_eq!(env["KIP_KIND_NODES"], "2");
        assert!(env["KIP_CONTAINERD_HOSTS"]
            .starts_with("docker.io [host.\"http://172.17.0.1:5002\"]\\n"));
        assert_eq!(
            env["KIP_DOCKERD_ARGS"],
            "--debug --registry-mirror=http://172.17.0.1:5002 --insecure-registry=172.17.0.1:5002"
        );
        let kind = &env["KIP_KIND_CONFIG"];
        assert!(
            kind.contains("config_path = \"/etc/containerd/certs.d\""),
            "{kind}"
        );
        assert!(
            kind.contains("hostPort: 8080") && kind.contains("listenAddress: 0.0.0.0"),
            "{kind}"
        );
        // One node and no registries: nothing of the above.
        let plain = NodePlan::new(&options()).unwrap();
        for key in [
            "KIP_KIND_NODES",
            "KIP_CONTAINERD_HOSTS",
            "KIP_REGISTRY_CONFIGMAP",
        ] {
            assert!(!plain.node.env.contains_key(key), "{key}");
        }
    }

    #[test]
    fn a_remote_node_gets_no_host_ports() {
        let opts = NodeOptions {
            user_kind_config: Some(
                "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 8080}\n".into(),
            ),
            remote_namespace: Some("ci".into()),
            ..options()
        };
        let err = NodePlan::new(&opts).unwrap_err();
        assert!(
            err.contains("host ports (-p, and a kind config's extraPortMappings) are local only"),
            "{err}"
        );
    }

    #[test]
    fn cert_sans_cover_every_kubeconfig_name_once() {
        let plan = NodePlan::new(&options()).unwrap();
        let patch = &plan.kind_config.kubeadm_config_patches[1];
        for san in ["127.0.0.1", "localhost", "kip-demo", "demo.example.com"] {
            assert_eq!(
                patch.matches(&format!("- {san}\n")).count(),
                1,
                "{san} in {patch}"
            );
        }
    }

    #[test]
    fn ci_metadata_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let github = labels::ci_labels(
            env(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_RUN_ID", "42")]),
            false,
        );
        assert_eq!(
            labels::ci_description(&github).as_deref(),
            Some("github:o/r run 42")
        );
        let gitlab = labels::ci_labels(
            env(&[("CI_PROJECT_PATH", "g/p"), ("CI_JOB_ID", "7")]),
            false,
        );
        assert_eq!(
            labels::ci_description(&gitlab).as_deref(),
            Some("gitlab:g/p job 7")
        );
        let tekton = labels::ci_labels(env(&[("HOSTNAME", "build-run-pod")]), true);
        assert_eq!(
            labels::ci_description(&tekton).as_deref(),
            Some("tekton:build-run-pod")
        );
        let laptop = labels::ci_labels(env(&[("HOSTNAME", "laptop")]), false);
        assert!(laptop.is_empty());
    }

    /// A syntax check only; `shellcheck -s sh` (tests/suite/bootstrap_script.rs)
    /// checks that the script stays within POSIX sh.
    #[test]
    fn bootstrap_script_parses_with_sh_n() {
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", BOOTSTRAP_SCRIPT])
            .status()
            .expect("sh runs");
        assert!(status.success());
    }
}

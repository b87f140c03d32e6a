//! The kind config kip generates: typed, serialized once. A user's own kind
//! config (`--kind-config FILE`) is merged in: its nodes, feature gates,
//! patches and other fields are kept, kip's required settings win, and a
//! setting that contradicts one of them is an error that names the field.

use serde::Serialize;
use serde_yaml::{Mapping, Value};
use std::net::Ipv4Addr;

/// The API server's port inside the node (kind's `apiServerPort`).
pub const NODE_API_PORT: u16 = 6443;

/// Inner pod/service subnet pairs, tried in order; the first pair that
/// overlaps no network the outer engine knows wins (the 2020 setup used
/// 10.245/16 and 10.246/16 to stay clear of the outer cluster).
const SUBNET_CANDIDATES: [(&str, &str); 4] = [
    ("10.245.0.0/16", "10.246.0.0/16"),
    ("10.247.0.0/16", "10.248.0.0/16"),
    ("172.30.0.0/16", "172.31.0.0/16"),
    ("192.168.240.0/21", "192.168.248.0/21"),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindConfig {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub networking: Networking,
    pub kubeadm_config_patches: Vec<String>,
    /// The user's other fields (nodes, featureGates, runtimeConfig, ...).
    #[serde(flatten)]
    pub extra: Mapping,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    pub api_server_address: String,
    pub api_server_port: u16,
    pub pod_subnet: String,
    pub service_subnet: String,
    /// The user's other networking fields (ipFamily, kubeProxyMode, ...).
    #[serde(flatten)]
    pub extra: Mapping,
}

impl KindConfig {
    /// `cert_sans` are every name the kubeconfig may use for the API server.
    /// `taken` are the subnets of the networks around the node.
    pub fn new(cert_sans: &[String], taken: &[String]) -> Self {
        let (pod_subnet, service_subnet) = choose_subnets(taken);
        KindConfig {
            kind: "Cluster",
            api_version: "kind.x-k8s.io/v1alpha4",
            networking: Networking {
                api_server_address: "0.0.0.0".into(),
                api_server_port: NODE_API_PORT,
                pod_subnet: pod_subnet.into(),
                service_subnet: service_subnet.into(),
                extra: Mapping::new(),
            },
            kubeadm_config_patches: vec![kubelet_patch(), cluster_patch(cert_sans)],
            extra: Mapping::new(),
        }
    }

    /// kip's config with a user's kind config merged in. Errors name the
    /// field and say what to change.
    pub fn with_user_config(
        cert_sans: &[String],
        taken: &[String],
        user: &str,
    ) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(user).map_err(|e| format!("it is not YAML: {e}"))?;
        let mut user = match doc {
            Value::Mapping(m) => m,
            Value::Null => Mapping::new(),
            _ => return Err("it is not a kind Cluster config (a YAML mapping)".into()),
        };
        for (field, wanted) in [
            ("kind", "Cluster"),
            ("apiVersion", "kind.x-k8s.io/v1alpha4"),
        ] {
            match user.remove(field) {
                None => {}
                Some(v) if v.as_str() == Some(wanted) => {}
                Some(v) => {
                    return Err(format!(
                        "{field} is {}; kip takes a kind config with {field}: {wanted}",
                        plain(&v)
                    ))
                }
            }
        }

        let mut cert_sans = cert_sans.to_vec();
        let mut patches = Vec::new();
        if let Some(list) = user.remove("kubeadmConfigPatches") {
            let list: Vec<String> = serde_yaml::from_value(list)
                .map_err(|e| format!("kubeadmConfigPatches must be a list of YAML strings: {e}"))?;
            for (i, patch) in list.into_iter().enumerate() {
                check_patch(
                    &patch,
                    &format!("kubeadmConfigPatches[{i}]"),
                    &mut cert_sans,
                )?;
                patches.push(patch);
            }
        }
        if let Some(nodes) = user.get("nodes").and_then(Value::as_sequence) {
            for (n, node) in nodes.iter().enumerate() {
                let node_patches = node
                    .get("kubeadmConfigPatches")
                    .and_then(Value::as_sequence);
                for (i, patch) in node_patches.into_iter().flatten().enumerate() {
                    let field = format!("nodes[{n}].kubeadmConfigPatches[{i}]");
                    let text = patch
                        .as_str()
                        .ok_or_else(|| format!("{field} must be a YAML string"))?;
                    check_patch(text, &field, &mut Vec::new())?;
                }
            }
        }

        let mut config = KindConfig::new(&cert_sans, taken);
        if let Some(networking) = user.remove("networking") {
            let Value::Mapping(mut networking) = networking else {
                return Err("networking must be a mapping".into());
            };
            if let Some(v) = networking.remove("apiServerAddress") {
                if v.as_str() != Some("0.0.0.0") {
                    return Err(format!(
                        "networking.apiServerAddress is {}: kip needs 0.0.0.0 inside the node (it publishes \
                         the API itself); remove the field",
                        plain(&v)
                    ));
                }
            }
            if let Some(v) = networking.remove("apiServerPort") {
                if v.as_u64() != Some(u64::from(NODE_API_PORT)) {
                    return Err(format!(
                        "networking.apiServerPort is {}: kip needs {NODE_API_PORT} inside the node; \
                         choose the host port with --api-port and remove the field",
                        plain(&v)
                    ));
                }
            }
            for (field, slot) in [
                ("podSubnet", &mut config.networking.pod_subnet),
                ("serviceSubnet", &mut config.networking.service_subnet),
            ] {
                if let Some(v) = networking.remove(field) {
                    *slot = v
                        .as_str()
                        .ok_or_else(|| format!("networking.{field} must be a CIDR string"))?
                        .into();
                }
            }
            config.networking.extra = networking;
        }
        patches.append(&mut config.kubeadm_config_patches);
        config.kubeadm_config_patches = patches;
        config.extra = user;
        Ok(config)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a KindConfig always serializes")
    }

    /// Appends a patch to the user's `containerdConfigPatches` (or starts
    /// the list).
    pub fn add_containerd_patch(&mut self, patch: String) {
        let patches = self
            .extra
            .entry("containerdConfigPatches".into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        // Not a list: kind refuses the config and says so; kip adds nothing.
        if let Value::Sequence(list) = patches {
            list.push(Value::String(patch));
        }
    }
}

/// A value from the user's file as it would be written there
/// (`127.0.0.1`, `7443`), for messages.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_else(|_| "a YAML value".into()),
    }
}

/// Unversioned on purpose: a patch that names `kubeadm.k8s.io/v1beta2` is
/// silently ignored by kubeadm v1beta3 and v1beta4. The nested kubelet must
/// not manage the outer kubelet's /kubepods cgroups (`kubeadm init` exit 137).
fn kubelet_patch() -> String {
    "kind: KubeletConfiguration\ncgroupRoot: /kubelet\n".into()
}

fn cluster_patch(cert_sans: &[String]) -> String {
    #[derive(Serialize)]
    struct ApiServer<'a> {
        #[serde(rename = "certSANs")]
        cert_sans: &'a [String],
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Patch<'a> {
        kind: &'static str,
        api_server: ApiServer<'a>,
    }
    serde_yaml::to_string(&Patch {
        kind: "ClusterConfiguration",
        api_server: ApiServer { cert_sans },
    })
    .expect("a patch always serializes")
}

/// A user's kubeadm patch may not move the kubelet's cgroup root; its
/// certificate SANs are added to kip's (kip's patch, applied last, would
/// otherwise replace them).
fn check_patch(text: &str, field: &str, cert_sans: &mut Vec<String>) -> Result<(), String> {
    let patch: Value =
        serde_yaml::from_str(text).map_err(|e| format!("{field} is not YAML: {e}"))?;
    match patch.get("kind").and_then(Value::as_str) {
        Some("KubeletConfiguration") => {
            if let Some(root) = patch.get("cgroupRoot") {
                if root.as_str() != Some("/kubelet") {
                    return Err(format!(
                        "{field} sets cgroupRoot to {}: kip needs /kubelet so the nested kubelet never \
                         manages the outer kubelet's cgroups; remove cgroupRoot",
                        plain(root)
                    ));
                }
            }
        }
        Some("ClusterConfiguration") => {
            let sans = patch
                .get("apiServer")
                .and_then(|a| a.get("certSANs"))
                .and_then(Value::as_sequence);
            for san in sans.into_iter().flatten() {
                let san = san
                    .as_str()
                    .ok_or_else(|| format!("{field}: apiServer.certSANs must be strings"))?;
                if !cert_sans.iter().any(|s| s == san) {
                    cert_sans.push(san.to_string());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn choose_subnets(taken: &[String]) -> (&'static str, &'static str) {
    let taken: Vec<(u32, u32)> = taken.iter().filter_map(|c| parse_cidr(c)).collect();
    let clear = |cidr: &str| {
        let ours = parse_cidr(cidr).expect("candidates are valid");
        !taken.iter().any(|t| overlaps(*t, ours))
    };
    SUBNET_CANDIDATES
        .into_iter()
        .find(|(pod, svc)| clear(pod) && clear(svc))
        .unwrap_or(SUBNET_CANDIDATES[0])
}

fn parse_cidr(text: &str) -> Option<(u32, u32)> {
    let (addr, len) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Some((u32::from(addr) & mask, mask))
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let mask = a.1 & b.1;
    a.0 & mask == b.0 & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let sans = vec![
            "127.0.0.1".to_string(),
            "localhost".into(),
            "kip-demo".into(),
        ];
        crate::testing::assert_snapshot("kind_config.yaml", &KindConfig::new(&sans, &[]).to_yaml());
    }

    #[test]
    fn patches_are_unversioned() {
        let config = KindConfig::new(&["127.0.0.1".into()], &[]);
        for patch in &config.kubeadm_config_patches {
            assert!(!patch.contains("apiVersion"), "{patch}");
        }
        assert!(config.kubeadm_config_patches[0].contains("cgroupRoot: /kubelet"));
        assert!(config.kubeadm_config_patches[1].contains("certSANs:\n  - 127.0.0.1"));
    }

    const USER: &str = include_str!("../../tests/fixtures/user-kind-config.yaml");

    #[test]
    fn merges_a_users_config_and_keeps_kips_settings() {
        let config = KindConfig::with_user_config(&["127.0.0.1".into()], &[], USER).unwrap();
        crate::testing::assert_snapshot("kind_config_merged.yaml", &config.to_yaml());
        assert_eq!(config.networking.pod_subnet, "10.99.0.0/16");
        assert_eq!(config.networking.api_server_address, "0.0.0.0");
        // kip's patches come last, so they win; the user's SAN is kept.
        let last = config.kubeadm_config_patches.last().unwrap();
        assert!(
            last.contains("- 127.0.0.1\n") && last.contains("- my.example.com\n"),
            "{last}"
        );
        assert!(config.extra.contains_key("nodes") && config.extra.contains_key("featureGates"));
    }

    #[test]
    fn a_conflict_names_the_field() {
        let conflicts = [
            ("networking:\n  apiServerAddress: 127.0.0.1\n", "networking.apiServerAddress is 127.0.0.1:"),
            ("networking:\n  apiServerPort: 7443\n", "networking.apiServerPort is 7443:"),
            ("kind: Config\n", "kind is Config;"),
            (
                "kubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  cgroupRoot: /kubepods\n",
                "kubeadmConfigPatches[0] sets cgroupRoot to /kubepods:",
            ),
            (
                "nodes:\n- role: control-plane\n  kubeadmConfigPatches:\n  - |\n    kind: KubeletConfiguration\n    cgroupRoot: /\n",
                "nodes[0].kubeadmConfigPatches[0]",
            ),
            ("- just a list\n", "not a kind Cluster config"),
        ];
        for (user, field) in conflicts {
            let err = KindConfig::with_user_config(&[], &[], user).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
        // Agreeing with kip is not a conflict.
        let same = "networking:\n  apiServerAddress: 0.0.0.0\n  apiServerPort: 6443\n";
        assert!(KindConfig::with_user_config(&[], &[], same).is_ok());
    }

    #[test]
    fn subnets_avoid_the_outer_networks() {
        let taken = ["172.17.0.0/16".to_string(), "10.244.0.0/14".into()];
        let config = KindConfig::new(&[], &taken);
        assert_eq!(config.networking.pod_subnet, "172.30.0.0/16");
        assert_eq!(config.networking.service_subnet, "172.31.0.0/16");
        let none_taken = KindConfig::new(&[], &["not a cidr".into()]);
        assert_eq!(none_taken.networking.pod_subnet, "10.245.0.0/16");
    }
}

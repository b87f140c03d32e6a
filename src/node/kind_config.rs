//! The kind config kip generates: typed, serialized once. A user's own kind
//! config (`--kind-config FILE`) is merged in: its nodes, feature gates,
//! patches and other fields are kept, kip's required settings win, and a
//! setting that contradicts one of them is an error that names the field.

use super::subnets::{self, Family};
use serde::Serialize;
use serde_yaml::{Mapping, Value};

/// The API server's port inside the node (kind's `apiServerPort`).
pub const NODE_API_PORT: u16 = 6443;

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
        Self::of_family(cert_sans, taken, Family::Ipv4)
    }

    /// kip's config for a cluster of IP family `family`.
    fn of_family(cert_sans: &[String], taken: &[String], family: Family) -> Self {
        let (pod_subnet, service_subnet) = subnets::choose(family, taken);
        KindConfig {
            kind: "Cluster",
            api_version: "kind.x-k8s.io/v1alpha4",
            networking: Networking {
                api_server_address: "0.0.0.0".into(),
                api_server_port: NODE_API_PORT,
                pod_subnet,
                service_subnet,
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
        let mut user = cluster_mapping(user)?;
        let mut cert_sans = cert_sans.to_vec();
        let mut patches = cluster_patches(&mut user, &mut cert_sans)?;
        check_node_patches(&user)?;
        let networking = match user.remove("networking") {
            None => Mapping::new(),
            Some(Value::Mapping(networking)) => networking,
            Some(_) => return Err("networking must be a mapping".into()),
        };
        let family = ip_family(&networking)?;
        let mut config = KindConfig::of_family(&cert_sans, taken, family);
        config.networking.merge(networking, family)?;
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
    /// The kubelet posts its node's status every second, not every 10 s
    /// (its `nodeStatusUpdateFrequency`). A member of a `--paused` pool
    /// comes back from the freezer with its node marked unknown by the
    /// controller manager; only the kubelet's next status post makes it
    /// Ready again: measured on real kind, a claim's wait for it is 10.8 s
    /// p50 at the default, 0.9 s with this (BENCHMARKS.md, "Warm pools").
    /// First among the patches: a user's kind config that sets the field
    /// wins.
    pub fn add_fast_node_status(&mut self) {
        let patch = "kind: KubeletConfiguration\nnodeStatusUpdateFrequency: 1s\n";
        self.kubeadm_config_patches.insert(0, patch.into());
    }

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

/// A user's kind config as a mapping, its `kind` and `apiVersion` (which
/// must be a kind Cluster's, if given) taken out.
fn cluster_mapping(user: &str) -> Result<Mapping, String> {
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
    Ok(user)
}

/// The user's cluster-wide `kubeadmConfigPatches`, taken out of `user` and
/// checked against kip's settings; the certificate names they add go to
/// `cert_sans`.
fn cluster_patches(user: &mut Mapping, cert_sans: &mut Vec<String>) -> Result<Vec<String>, String> {
    let Some(list) = user.remove("kubeadmConfigPatches") else {
        return Ok(Vec::new());
    };
    let list: Vec<String> = serde_yaml::from_value(list)
        .map_err(|e| format!("kubeadmConfigPatches must be a list of YAML strings: {e}"))?;
    for (i, patch) in list.iter().enumerate() {
        check_patch(patch, &format!("kubeadmConfigPatches[{i}]"), cert_sans)?;
    }
    Ok(list)
}

/// Each node's own `kubeadmConfigPatches`, checked against kip's settings
/// (and left where they are).
fn check_node_patches(user: &Mapping) -> Result<(), String> {
    let Some(nodes) = user.get("nodes").and_then(Value::as_sequence) else {
        return Ok(());
    };
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
    Ok(())
}

impl Networking {
    /// The user's `networking` merged into kip's: the API server's address
    /// and port must be kip's, the subnets (checked for `family`, as kind
    /// checks them) and every other field are the user's.
    fn merge(&mut self, mut user: Mapping, family: Family) -> Result<(), String> {
        if let Some(v) = user.remove("apiServerAddress") {
            if v.as_str() != Some("0.0.0.0") {
                return Err(format!(
                    "networking.apiServerAddress is {}: kip needs 0.0.0.0 inside the node (it publishes \
                     the API itself); remove the field",
                    plain(&v)
                ));
            }
        }
        if let Some(v) = user.remove("apiServerPort") {
            if v.as_u64() != Some(u64::from(NODE_API_PORT)) {
                return Err(format!(
                    "networking.apiServerPort is {}: kip needs {NODE_API_PORT} inside the node; \
                     choose the host port with --api-port and remove the field",
                    plain(&v)
                ));
            }
        }
        for (field, slot) in [
            ("podSubnet", &mut self.pod_subnet),
            ("serviceSubnet", &mut self.service_subnet),
        ] {
            if let Some(v) = user.remove(field) {
                let value = v
                    .as_str()
                    .ok_or_else(|| format!("networking.{field} must be a CIDR string"))?;
                subnets::check(field, value, family)?;
                *slot = value.into();
            }
        }
        self.extra = user;
        Ok(())
    }
}

/// kind's `networking.ipFamily` of a user's config (it stays there for
/// kind; kip's subnets follow it).
fn ip_family(networking: &Mapping) -> Result<Family, String> {
    match networking.get("ipFamily") {
        None => Ok(Family::Ipv4),
        Some(v) => Family::parse(Some(v.as_str().ok_or_else(|| {
            format!(
                "networking.ipFamily is {}: kind takes ipv4, ipv6 or dual",
                plain(v)
            )
        })?)),
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

#[cfg(test)]
mod tests;

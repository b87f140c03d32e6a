//! The kind config kip generates: typed, serialized once.

use serde::Serialize;
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    pub api_server_address: String,
    pub api_server_port: u16,
    pub pod_subnet: String,
    pub service_subnet: String,
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
            },
            kubeadm_config_patches: vec![kubelet_patch(), cluster_patch(cert_sans)],
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a KindConfig always serializes")
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

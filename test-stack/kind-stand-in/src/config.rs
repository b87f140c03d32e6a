//! kind's `kind.x-k8s.io/v1alpha4` Cluster config, decoded as strictly as
//! kind decodes it (an unknown field anywhere is an error), plus the checks
//! that kip promises about the config it generates.
//!
//! Fields that kip never sets still exist here, so that strict decoding
//! accepts every valid kind config a user may merge in.
#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub kind: String,
    pub api_version: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub networking: Networking,
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    #[serde(default)]
    pub runtime_config: BTreeMap<String, String>,
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(default, rename = "kubeadmConfigPatchesJSON6902")]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    #[serde(default)]
    pub containerd_config_patches: Vec<String>,
    #[serde(default, rename = "containerdConfigPatchesJSON6902")]
    pub containerd_config_patches_json6902: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub extra_mounts: Vec<Mount>,
    #[serde(default)]
    pub extra_port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub gpus: Option<String>,
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(default, rename = "kubeadmConfigPatchesJSON6902")]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    #[serde(default)]
    pub ip_family: Option<String>,
    #[serde(default)]
    pub api_server_port: i32,
    #[serde(default)]
    pub api_server_address: Option<String>,
    #[serde(default)]
    pub pod_subnet: Option<String>,
    #[serde(default)]
    pub service_subnet: Option<String>,
    #[serde(default, rename = "disableDefaultCNI")]
    pub disable_default_cni: bool,
    #[serde(default)]
    pub kube_proxy_mode: Option<String>,
    #[serde(default, rename = "dnsSearch")]
    pub dns_search: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchJson6902 {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub patch: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mount {
    #[serde(default)]
    pub container_path: Option<String>,
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub selinux_relabel: bool,
    #[serde(default)]
    pub propagation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortMapping {
    #[serde(default)]
    pub container_port: i32,
    #[serde(default)]
    pub host_port: i32,
    #[serde(default)]
    pub listen_address: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
}

/// What the stand-in needs from a config that passed every check.
#[derive(Debug)]
pub struct Checked {
    pub api_server_address: String,
    pub api_server_port: u16,
    pub cert_sans: Vec<String>,
    pub pod_subnet: String,
    pub service_subnet: String,
}

pub fn parse(text: &str) -> Result<Cluster> {
    let cluster: Cluster =
        serde_yaml::from_str(text).context("unable to decode config (strict decoding)")?;
    if cluster.kind != "Cluster" || cluster.api_version != "kind.x-k8s.io/v1alpha4" {
        bail!(
            "unknown apiVersion/kind {}/{}: expected kind.x-k8s.io/v1alpha4/Cluster",
            cluster.api_version,
            cluster.kind
        );
    }
    for node in &cluster.nodes {
        match node.role.as_deref() {
            None | Some("control-plane") | Some("worker") => {}
            Some(other) => bail!("invalid node role {other:?}"),
        }
    }
    Ok(cluster)
}

/// The checks kip promises (DESIGN.md §2). A config that lacks any of them is
/// refused, so that a regression in kip's generated config fails the tests.
pub fn check_kip_promises(cluster: &Cluster, node_addresses: &[Ipv4Addr]) -> Result<Checked> {
    let net = &cluster.networking;
    let address = net.api_server_address.clone().unwrap_or_default();
    if address != "0.0.0.0" {
        bail!("kip promise broken: networking.apiServerAddress must be 0.0.0.0, got {address:?}");
    }
    if !(1..=65535).contains(&net.api_server_port) {
        bail!(
            "kip promise broken: networking.apiServerPort must be a fixed port, got {}",
            net.api_server_port
        );
    }
    let pod_subnet = net
        .pod_subnet
        .clone()
        .context("kip promise broken: networking.podSubnet is not set")?;
    let service_subnet = net
        .service_subnet
        .clone()
        .context("kip promise broken: networking.serviceSubnet is not set")?;
    // As kind validates them: of the config's IP family (kind's default:
    // ipv4), one CIDR each, or one of each family for dual.
    let family = net.ip_family.as_deref().unwrap_or("ipv4");
    if !["ipv4", "ipv6", "dual"].contains(&family) {
        bail!("invalid ipFamily: {family}");
    }
    let pod = subnets(&pod_subnet, family).context("invalid pod subnet")?;
    let svc = subnets(&service_subnet, family).context("invalid service subnet")?;
    for p in &pod {
        for s in &svc {
            if overlaps(*p, *s) {
                bail!("podSubnet {pod_subnet} overlaps serviceSubnet {service_subnet}");
            }
        }
    }
    for addr in node_addresses {
        for (what, cidrs, text) in [
            ("podSubnet", &pod, &pod_subnet),
            ("serviceSubnet", &svc, &service_subnet),
        ] {
            if cidrs.iter().any(|cidr| contains(*cidr, *addr)) {
                bail!("{what} {text} overlaps the node's own address {addr}");
            }
        }
    }

    let mut cgroup_root = None;
    let mut cert_sans = None;
    let all_patches = cluster.kubeadm_config_patches.iter().chain(
        cluster
            .nodes
            .iter()
            .flat_map(|n| n.kubeadm_config_patches.iter()),
    );
    for patch in all_patches {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(patch).context("a kubeadmConfigPatches entry is not YAML")?;
        let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        if let Some(version) = doc.get("apiVersion") {
            bail!(
                "kubeadm patch for {kind} pins apiVersion {version:?}: kubeadm silently ignores \
                 a patch whose version differs from its own; write it unversioned"
            );
        }
        match kind {
            // kubeadm merges every patch of a kind: the last one that sets
            // cgroupRoot decides it.
            "KubeletConfiguration" => {
                if let Some(root) = doc.get("cgroupRoot") {
                    cgroup_root = root.as_str().map(String::from);
                }
            }
            "ClusterConfiguration" => {
                if let Some(sans) = doc.get("apiServer").and_then(|a| a.get("certSANs")) {
                    let sans: Vec<String> = serde_yaml::from_value(sans.clone())
                        .context("apiServer.certSANs must be a list of strings")?;
                    cert_sans = Some(sans);
                }
            }
            _ => {}
        }
    }
    if cgroup_root.as_deref() != Some("/kubelet") {
        bail!(
            "kip promise broken: no unversioned KubeletConfiguration patch with cgroupRoot: /kubelet \
             (found {cgroup_root:?})"
        );
    }
    let cert_sans = cert_sans.context(
        "kip promise broken: no unversioned ClusterConfiguration patch with apiServer.certSANs",
    )?;
    for required in ["127.0.0.1", "localhost"] {
        if !cert_sans.iter().any(|s| s == required) {
            bail!("kip promise broken: apiServer.certSANs lacks {required}");
        }
    }
    Ok(Checked {
        api_server_address: address,
        api_server_port: net.api_server_port as u16,
        cert_sans,
        pod_subnet,
        service_subnet,
    })
}

/// A CIDR of either family as (family is v6, address, mask), widened.
type Cidr = (bool, u128, u128);

/// kind's `validateSubnets`: comma-separated CIDRs; one for a single
/// family, and of that family; for dual, one, or one of each family.
fn subnets(text: &str, family: &str) -> Result<Vec<Cidr>> {
    let cidrs: Vec<Cidr> = text.split(',').map(parse_cidr).collect::<Result<_>>()?;
    let v6 = cidrs.iter().filter(|c| c.0).count();
    let v4 = cidrs.len() - v6;
    match family {
        "dual" if cidrs.len() > 2 || (cidrs.len() == 2 && (v4, v6) != (1, 1)) => bail!(
            "expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking"
        ),
        "ipv4" | "ipv6" if cidrs.len() > 1 => {
            bail!("only one CIDR allowed for single-stack networking")
        }
        "ipv4" if v6 > 0 => bail!("expected IPv4 CIDR for IPv4 family"),
        "ipv6" if v4 > 0 => bail!("expected IPv6 CIDR for IPv6 family"),
        _ => Ok(cidrs),
    }
}

fn parse_cidr(text: &str) -> Result<Cidr> {
    let (addr, len) = text
        .split_once('/')
        .with_context(|| format!("{text:?} is not a CIDR"))?;
    let addr: IpAddr = addr
        .parse()
        .with_context(|| format!("{text:?} is not a CIDR"))?;
    let len: u32 = len
        .parse()
        .with_context(|| format!("{text:?} has a bad prefix length"))?;
    let (v6, bits, value) = match addr {
        IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, 128, u128::from(a)),
    };
    if len > bits {
        bail!("{text:?} has a bad prefix length");
    }
    let mask = if len == 0 {
        0
    } else {
        (u128::MAX >> (128 - bits)) & !((1u128 << (bits - len)) - 1)
    };
    Ok((v6, value & mask, mask))
}

fn contains((v6, net, mask): Cidr, addr: Ipv4Addr) -> bool {
    !v6 && u128::from(u32::from(addr)) & mask == net
}

fn overlaps(a: Cidr, b: Cidr) -> bool {
    let mask = a.2 & b.2;
    a.0 == b.0 && a.1 & mask == b.1 & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: 0.0.0.0
  apiServerPort: 6443
  podSubnet: 10.245.0.0/16
  serviceSubnet: 10.246.0.0/16
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  cgroupRoot: /kubelet
- |
  kind: ClusterConfiguration
  apiServer:
    certSANs: [127.0.0.1, localhost]
"#;

    #[test]
    fn accepts_a_config_that_keeps_every_promise() {
        let checked = check_kip_promises(&parse(GOOD).unwrap(), &[]).unwrap();
        assert_eq!(checked.api_server_port, 6443);
        assert_eq!(checked.cert_sans, ["127.0.0.1", "localhost"]);
    }

    #[test]
    fn rejects_unknown_fields_like_kind() {
        let bad = GOOD.replace("apiServerPort", "apiserverPort");
        let err = parse(&bad).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }

    #[test]
    fn rejects_a_versioned_kubelet_patch() {
        let bad = GOOD.replace(
            "  kind: KubeletConfiguration\n",
            "  kind: KubeletConfiguration\n  apiVersion: kubeadm.k8s.io/v1beta2\n",
        );
        let err = check_kip_promises(&parse(&bad).unwrap(), &[]).unwrap_err();
        assert!(err.to_string().contains("unversioned"), "{err}");
    }

    #[test]
    fn rejects_missing_promises() {
        for (from, to) in [
            ("cgroupRoot: /kubelet", "cgroupRoot: /kubepods"),
            ("apiServerAddress: 0.0.0.0", "apiServerAddress: 127.0.0.1"),
            ("[127.0.0.1, localhost]", "[localhost]"),
            (
                "serviceSubnet: 10.246.0.0/16",
                "serviceSubnet: 10.245.1.0/24",
            ),
        ] {
            let bad = GOOD.replace(from, to);
            assert!(
                check_kip_promises(&parse(&bad).unwrap(), &[]).is_err(),
                "{to}"
            );
        }
        let node_addr = [Ipv4Addr::new(10, 245, 3, 4)];
        assert!(check_kip_promises(&parse(GOOD).unwrap(), &node_addr).is_err());
    }

    #[test]
    fn checks_subnets_against_the_ip_family_as_kind_does() {
        let with = |family: &str, pod: &str, svc: &str| {
            let text = GOOD
                .replace(
                    "  podSubnet: 10.245.0.0/16",
                    &format!("  ipFamily: {family}\n  podSubnet: {pod:?}"),
                )
                .replace(
                    "serviceSubnet: 10.246.0.0/16",
                    &format!("serviceSubnet: {svc:?}"),
                );
            check_kip_promises(&parse(&text).unwrap(), &[]).map(|_| ())
        };
        assert!(with("ipv6", "fd00:10:245::/56", "fd00:10:246::/112").is_ok());
        assert!(with(
            "dual",
            "10.245.0.0/16,fd00:10:245::/56",
            "10.246.0.0/16,fd00:10:246::/112"
        )
        .is_ok());
        assert!(with("ipv4", "10.245.0.0/16", "10.246.0.0/16").is_ok());
        for (family, pod, svc, why) in [
            (
                "ipv6",
                "10.245.0.0/16",
                "10.246.0.0/16",
                "expected IPv6 CIDR",
            ),
            (
                "ipv4",
                "fd00:10:245::/56",
                "10.246.0.0/16",
                "expected IPv4 CIDR",
            ),
            (
                "dual",
                "10.1.0.0/16,10.2.0.0/16",
                "10.246.0.0/16",
                "dual-stack",
            ),
            (
                "ipv6",
                "fd00:10:245::/56",
                "fd00:10:245:1::/112",
                "overlaps",
            ),
            (
                "v6",
                "fd00:10:245::/56",
                "fd00:10:246::/112",
                "invalid ipFamily",
            ),
        ] {
            let err = with(family, pod, svc).unwrap_err();
            assert!(
                format!("{err:#}").contains(why),
                "{family} {pod} {svc}: {err:#}"
            );
        }
    }
}

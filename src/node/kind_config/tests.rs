//! kind_config.rs's tests.
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

const USER: &str = include_str!("../../../tests/fixtures/user-kind-config.yaml");

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
fn subnets_follow_the_ip_family_the_user_asks_for() {
    let ipv6 = KindConfig::with_user_config(&[], &[], "networking:\n  ipFamily: ipv6\n").unwrap();
    assert_eq!(ipv6.networking.pod_subnet, "fd00:10:245::/56");
    assert_eq!(ipv6.networking.service_subnet, "fd00:10:246::/112");
    assert!(
        ipv6.to_yaml().contains("ipFamily: ipv6"),
        "{}",
        ipv6.to_yaml()
    );
    let dual = KindConfig::with_user_config(&[], &[], "networking:\n  ipFamily: dual\n").unwrap();
    assert_eq!(dual.networking.pod_subnet, "10.245.0.0/16,fd00:10:245::/56");
    for (user, field) in [
        (
            "networking:\n  ipFamily: ipv6\n  podSubnet: 10.9.0.0/16\n",
            "networking.podSubnet",
        ),
        (
            "networking:\n  serviceSubnet: fd00::/112\n",
            "networking.serviceSubnet",
        ),
        ("networking:\n  ipFamily: v6\n", "networking.ipFamily"),
        ("networking:\n  ipFamily: 6\n", "networking.ipFamily"),
    ] {
        let err = KindConfig::with_user_config(&[], &[], user).unwrap_err();
        assert!(err.starts_with(field), "{user}: {err}");
    }
}

#[test]
fn a_fast_node_status_comes_first_so_a_users_own_setting_wins() {
    let user = "kubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  nodeStatusUpdateFrequency: 4s\n";
    let mut config = KindConfig::with_user_config(&["127.0.0.1".into()], &[], user).unwrap();
    config.add_fast_node_status();
    let patches = &config.kubeadm_config_patches;
    assert!(
        patches[0].contains("nodeStatusUpdateFrequency: 1s"),
        "{patches:?}"
    );
    assert!(
        patches[1].contains("nodeStatusUpdateFrequency: 4s"),
        "{patches:?}"
    );
}

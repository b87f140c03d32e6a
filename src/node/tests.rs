//! The node plan's tests, and the options they plan from (`options`, which
//! other modules' tests start from too).

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
        fast_node_status: false,
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
    assert!(
        env["KIP_CONTAINERD_HOSTS"].starts_with("docker.io [host.\"http://172.17.0.1:5002\"]\\n")
    );
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

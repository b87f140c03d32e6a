//! Each lesson from the field (DESIGN.md §2) shown to hold on the real
//! engine: real outer dockerd, real inner dockerd, real nested containers.

use super::e2e::{docker, nested_container, E2e, SecondDaemon};
use super::support::{until, Kip};
use std::path::Path;
use std::time::Duration;

/// A throwaway Docker network on the outer engine, removed on drop.
pub struct Network(String);

impl Network {
    pub fn create(name: &str, mtu: Option<u32>) -> Network {
        let mut args = vec!["network".to_string(), "create".into()];
        if let Some(mtu) = mtu {
            args.extend(["-o".into(), format!("com.docker.network.driver.mtu={mtu}")]);
        }
        args.push(name.into());
        docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
        Network(name.into())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

/// A shell command in a nested container on the node's inner dockerd.
fn in_nested_container(t: &E2e, name: &str, script: &str) -> Kip {
    t.exec(name, &nested_container(script))
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn mtu_inner_dockerd_and_nested_containers_follow_the_node_network() {
    let Some(t) = E2e::new("mtu") else { return };
    let net1440 = Network::create(&format!("{}-1440", t.name), Some(1440));
    let net1400 = Network::create(&format!("{}-1400", t.name), Some(1400));
    let cases: [(Option<&str>, Option<&str>, &str); 4] = [
        (Some(&net1440.0), None, "1440"),
        (Some(&net1400.0), None, "1400"),
        (None, None, "1500"),
        (Some(&net1440.0), Some("1300"), "1300"),
    ];
    for (network, mtu, want) in cases {
        let mut extra = Vec::new();
        if let Some(network) = network {
            extra.extend(["--network", network]);
        }
        if let Some(mtu) = mtu {
            extra.extend(["--mtu", mtu]);
        }
        t.up(&t.name, &extra)
            .success()
            .stderr_has(&format!("MTU {want}"));
        // On the inner default bridge.
        in_nested_container(&t, &t.name, "cat /sys/class/net/eth0/mtu")
            .run()
            .success()
            .stdout_has(&format!("{want}\n"));
        // On the `kind` network, whose MTU kind copies from the default bridge.
        let cp = format!("{}-control-plane", t.name);
        t.kip(&[
            "exec",
            &t.name,
            "--",
            "docker",
            "exec",
            &cp,
            "cat",
            "/sys/class/net/eth0/mtu",
        ])
        .run()
        .success()
        .stdout_has(&format!("{want}\n"));
        let status = t.kip(&["status", &t.name, "-o", "json"]).run();
        assert_eq!(status.json()["nodeFacts"]["mtu"], want);
        t.kip(&["down", &t.name]).run().success();
    }
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn iptables_nested_egress_is_masqueraded_in_both_backends() {
    let Some(t) = E2e::new("iptables") else {
        return;
    };
    let net = Network::create(&format!("{}-net", t.name), None);
    let echo = format!("{}-echo", t.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &echo,
        "--network",
        &net.0,
        &t.image,
        "kind",
        "kip-test-tcp-echo",
        "7000",
    ]);
    let ip_of = |container: &str| {
        docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            container,
        ])
        .trim()
        .to_string()
    };
    let server = ip_of(&echo);
    for mode in ["legacy", "nft"] {
        let up = t.up(&t.name, &["--network", &net.0, "--iptables", mode]);
        up.success().stderr_has(&format!("iptables {mode}"));
        let node_ip = ip_of(&format!("kip-{}", t.name));
        let script = format!("exec 3<>/dev/tcp/{server}/7000; echo hello-{mode} >&3; head -n1 <&3");
        // The server sees the node's address: the inner MASQUERADE rule works.
        in_nested_container(&t, &t.name, &script)
            .run()
            .success()
            .stdout_has(&format!("echo: hello-{mode} from {node_ip}"));
        let status = t.kip(&["status", &t.name, "-o", "json"]).run();
        assert!(
            status.stdout.contains(&format!("\"iptables\": \"{mode}\"")),
            "{status}"
        );
        t.kip(&["down", &t.name]).run().success();
    }
    docker(&["rm", "-f", &echo]);
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn pid1_is_an_init_that_reaps_zombies() {
    let Some(t) = E2e::new("pid1") else { return };
    t.up(&t.name, &[]).success();
    t.kip(&["exec", &t.name, "--", "cat", "/proc/1/comm"])
        .run()
        .success()
        .stdout_has("docker-init");
    // Orphans reparent to PID 1 when their parent exits; an init reaps them
    // when they die.
    t.kip(&[
        "exec",
        &t.name,
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do sleep 0.2 & done; exit 0",
    ])
    .run()
    .success();
    // Done when no `sleep` is left, running or a zombie (nothing else in
    // the node runs `sleep` once the cluster is up); a zombie that stays
    // past the deadline is one PID 1 did not reap.
    until("every orphan reaped", Duration::from_secs(30), || {
        let ps = t
            .kip(&["exec", &t.name, "--", "ps", "-eo", "stat=,comm="])
            .run();
        ps.success();
        assert!(!ps.stdout.trim().is_empty(), "ps listed nothing\n{ps}");
        let left: Vec<&str> = ps
            .stdout
            .lines()
            .filter(|l| l.starts_with('Z') || l.split_whitespace().nth(1) == Some("sleep"))
            .collect();
        left.is_empty()
            .then_some(())
            .ok_or(format!("left: {left:?}\n{ps}"))
    });
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn cgroups_nested_containers_nest_under_the_node_and_down_leaves_none() {
    let Some(t) = E2e::new("cgroup") else { return };
    t.up(&t.name, &[]).success();
    let id = t.node_id(&t.name);
    let cp = format!("{}-control-plane", t.name);
    let nested = t
        .exec(&t.name, &["docker", "inspect", "-f", "{{.State.Pid}}", &cp])
        .run();
    nested.success();
    let pid = nested.stdout.trim();
    let cgroup = t
        .kip(&["exec", &t.name, "--", "cat", &format!("/proc/{pid}/cgroup")])
        .run();
    let status = t.kip(&["status", &t.name, "-o", "json"]).run().json();
    if status["nodeFacts"]["cgroup"] == "v1" {
        // v1: under <node cgroup>/docker, from the host's point of view.
        cgroup
            .success()
            .stdout_has(&format!("/docker/{id}/docker/"));
    } else {
        // v2 with a private cgroup namespace: under the node's own root.
        cgroup.success().stdout_has("0::/docker/");
    }

    let host_dir = Path::new("/sys/fs/cgroup/memory/docker").join(&id);
    let host_v1 = Path::new("/sys/fs/cgroup/memory/docker").is_dir();
    if host_v1 {
        assert!(
            host_dir.join("docker").is_dir(),
            "{} has no nested docker cgroup",
            host_dir.display()
        );
    }
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
    if host_v1 {
        assert!(!host_dir.exists(), "{} was left behind", host_dir.display());
    }
}

/// A user's kind config (shared with the unit tests of the merge).
const USER_KIND_CONFIG: &str = include_str!("../fixtures/user-kind-config.yaml");

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kubelet_cgroup_root_and_sans_survive_a_users_kind_config() {
    let Some(t) = E2e::new("kindcfg") else { return };
    let file = t.dir.path().join("kind.yaml");
    std::fs::write(&file, USER_KIND_CONFIG).unwrap();
    let file = file.to_str().unwrap();
    // The strict stand-in refuses a config without kip's patches, so success
    // proves they survived the merge.
    t.up(
        &t.name,
        &["--kind-config", file, "--cert-san", "extra.example.com"],
    )
    .success();
    let merged = t
        .kip(&["exec", &t.name, "--", "cat", "/etc/kip/kind.yaml"])
        .run();
    merged
        .success()
        .stdout_has("cgroupRoot: /kubelet")
        .stdout_has("InPlacePodVerticalScaling: true")
        .stdout_has("hostPort: 38080")
        .stdout_has("podSubnet: 10.99.0.0/16");
    for san in [
        "127.0.0.1",
        "localhost",
        "my.example.com",
        "extra.example.com",
    ] {
        merged.stdout_has(&format!("- {san}\n"));
    }
    t.kip(&["down", &t.name]).run().success();
}

/// A contradiction is a usage error naming the field; nothing is created.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_kind_config_that_contradicts_kip_is_refused_before_anything() {
    let Some(t) = E2e::new("kindbad") else { return };
    std::fs::write(
        t.dir.path().join("bad.yaml"),
        "networking:\n  apiServerAddress: 127.0.0.1\n",
    )
    .unwrap();
    let bad = t.dir.path().join("bad.yaml");
    t.up(&t.name, &["--kind-config", bad.to_str().unwrap()])
        .code(2)
        .stderr_has("networking.apiServerAddress");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_failing_kind_create_is_reported_fast_with_its_log() {
    let Some(t) = E2e::new("kindfail") else {
        return;
    };
    // kind decodes strictly: a feature gate must be a boolean.
    let file = t.dir.path().join("kind.yaml");
    std::fs::write(&file, "featureGates:\n  SomeGate: maybe\n").unwrap();
    // Exit 6 (the node failed), not 4 (the --wait deadline passed).
    let run = t.up(&t.name, &["--kind-config", file.to_str().unwrap()]);
    run.code(6)
        .stderr_has("kind could not create the cluster")
        .stderr_has("phase cluster")
        .stderr_has("decode");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn mtu_follows_a_daemon_whose_default_bridge_has_another_mtu() {
    let Some(t) = E2e::new("mtu-daemon") else {
        return;
    };
    let daemon = SecondDaemon::start(1400);
    daemon.load_image(&t.image);
    daemon.load_image(super::e2e::STAND_IN_NODE_IMAGE);

    let up = t
        .kip(&["up", &t.name])
        .env("DOCKER_HOST", &daemon.socket)
        .run();
    up.success().stderr_has("MTU 1400");
    let nested = in_nested_container(&t, &t.name, "cat /sys/class/net/eth0/mtu")
        .env("DOCKER_HOST", &daemon.socket)
        .run();
    nested.success().stdout_has("1400\n");
    t.kubectl(&["get", "--raw", "/readyz"]).success();
    t.kip(&["down", &t.name])
        .env("DOCKER_HOST", &daemon.socket)
        .run()
        .success();
    let left = daemon.docker(&["ps", "-aq"]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());
}

//! Remote mode end to end: the real `kip` binary against the test API
//! emulator (test-stack/kube-emulator, in this process), whose pods run as
//! containers on the local Docker engine on a 1440-MTU pod network, and the
//! real kubectl through the kubeconfig kip exports. The emulator's node
//! filesystem is a temporary folder, so a test decides whether the node has
//! /lib/modules.
//!
//! Most tests run one scenario of `conformance.rs`, which the real cluster
//! of `real_remote.rs` runs too. The rest need what only the emulator does
//! deterministically (an API server restart mid-watch, a slow pull, a pod
//! network of a chosen MTU, the stand-in kind's hold), or a cluster of
//! their own that the real test could not afford (each real one is ~70 s).

use super::conformance::{self, SharedCluster};
use super::e2e::{holding_node_image, kubectl_path, late_second_up, nested_container, E2e, HOLD};
use super::support::{assert_one_made_it, finish_by, until, Kip, Run};
use kip_test_kube_emulator::{Emulator, Rule};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

struct Remote {
    t: E2e,
    emulator: Option<Emulator>,
    node_root: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    fn start(test: &str, lib_modules: bool) -> Option<Remote> {
        let t = E2e::new(test)?;
        let node_root = tempfile::tempdir().unwrap();
        if lib_modules {
            std::fs::create_dir_all(node_root.path().join("lib/modules")).unwrap();
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime
            .block_on(Emulator::start_with_pods_on_node(
                1440,
                node_root.path().to_path_buf(),
            ))
            .unwrap();
        std::fs::write(t.kubeconfig(), emulator.kubeconfig()).unwrap();
        Some(Remote {
            t,
            emulator: Some(emulator),
            node_root,
            runtime,
        })
    }

    /// An emulator with a remote cluster `t.name` made on it and running.
    fn with_a_cluster(test: &str) -> Option<Remote> {
        let r = Remote::start(test, true)?;
        r.up(&r.t.name, &[]).success();
        Some(r)
    }

    fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().unwrap()
    }

    fn up(&self, name: &str, extra: &[&str]) -> Run {
        conformance::up(self, name, extra)
    }

    /// The current context answers `/readyz`; `kip down NAME` then leaves
    /// nothing of the cluster, its forwarder included.
    #[track_caller]
    fn readyz_then_down(&self, name: &str) {
        self.t
            .kubectl(&["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
        self.down(name);
    }

    /// `kip down NAME` leaves nothing of the cluster, its forwarder included.
    #[track_caller]
    fn down(&self, name: &str) {
        let pid = conformance::forwarder_pid(self, name);
        self.kip(&["down", name]).run().success();
        conformance::assert_nothing_left_of(self, name, &self.t.kubeconfig_doc(), pid);
        self.assert_nothing_left(name);
    }
}

impl SharedCluster for Remote {
    /// `kip ARGS… --remote` with this test's kubeconfig and state folder.
    fn kip(&self, args: &[&str]) -> Kip {
        // Right after the subcommand: after `--`, it would be the command's.
        let mut all = args.to_vec();
        all.insert(conformance::after_command(args), "--remote");
        self.t.kip(&all).env("KIP_STATE_DIR", self.state_dir())
    }

    /// kubectl against the emulator itself (the shared cluster).
    fn outer(&self, args: &[&str]) -> Run {
        self.t
            .kubectl(&[&["--context", "kube-emulator"], args].concat())
    }

    fn inner(&self, name: &str, args: &[&str]) -> Run {
        let context = format!("kip-{name}");
        self.t
            .kubectl(&[&["--context", context.as_str()], args].concat())
    }

    fn dind_image(&self) -> &str {
        &self.t.image
    }

    fn wait(&self) -> &str {
        "90s"
    }

    fn state_dir(&self) -> PathBuf {
        self.t.dir.path().join("state")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.t.kubeconfig()
    }

    /// The emulator's RBAC applies to every request: no other user needed.
    fn as_user_without(&self, missing: &str) -> Vec<String> {
        self.emulator().set_rbac(Some(vec![Rule {
            verbs: vec!["*".into()],
            resources: conformance::NEEDED
                .iter()
                .filter(|x| **x != missing)
                .map(|x| x.to_string())
                .collect(),
            namespaces: vec![],
        }]));
        Vec::new()
    }

    fn as_admin_again(&self) {
        self.emulator().set_rbac(None);
    }

    /// No Pod, ConfigMap or Service of `name` on the emulator, no emulator
    /// container, no forwarder, no state file, no kubeconfig entry.
    fn assert_nothing_left(&self, name: &str) {
        conformance::assert_nothing_left_of(self, name, &self.t.kubeconfig_doc(), None);
        let (label, _) = self.emulator().pod_label().unwrap();
        let containers = super::e2e::docker(&["ps", "-aq", "--filter", &format!("label={label}")]);
        assert_eq!(containers.trim(), "", "pod containers left");
    }

    /// The stand-in kind records what `kind load` brought in, a line each:
    /// `REPOSITORY:TAG ID`.
    fn kind_images(&self, name: &str) -> Vec<String> {
        let record = format!("/var/lib/docker/kip-test-kind/{name}/loaded-images");
        let run = self.kip(&["exec", name, "--", "cat", &record]).run();
        run.success();
        run.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// The job's Pod runs the test node image with this build's kip and
    /// the test's kubectl mounted from the emulated node.
    fn job(&self, script: &str) -> String {
        let bin = self.node_root.path().join("opt/ci");
        if !bin.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(super::support::kip_bin(), bin.join("kip")).unwrap();
            std::os::unix::fs::symlink(kubectl_path(), bin.join("kubectl")).unwrap();
        }
        let runner = format!("job-{}", self.t.name);
        let manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": runner},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "job",
                    "image": self.t.image,
                    "command": ["bash", "-c", conformance::job_command("", script)],
                    "volumeMounts": [
                        {"name": "kip", "mountPath": "/usr/local/bin/kip", "readOnly": true},
                        {"name": "kubectl", "mountPath": "/usr/local/bin/kubectl", "readOnly": true},
                    ],
                }],
                "volumes": [
                    {"name": "kip", "hostPath": {"path": "/opt/ci/kip", "type": "File"}},
                    {"name": "kubectl", "hostPath": {"path": "/opt/ci/kubectl", "type": "File"}},
                ],
            },
        });
        let file = self.t.dir.path().join("job.json");
        std::fs::write(&file, manifest.to_string()).unwrap();
        self.outer(&["apply", "-f", file.to_str().unwrap()])
            .success();
        conformance::job_log(self, &runner, Duration::from_secs(120))
    }

    fn job_up_flags(&self) -> String {
        "--wait 90s".into()
    }

    /// The stand-in's node is Ready as soon as its API server answers.
    fn job_waits_for_nodes(&self) -> Option<&'static str> {
        None
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Forwarders are detached processes: stop any this test left.
        for entry in std::fs::read_dir(self.state_dir().join("remote"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
            {
                if let Some(pid) = conformance::forwarder_pid(self, name) {
                    let _ = Command::new("kill").arg(pid.to_string()).status();
                }
            }
        }
        // Dropping the emulator removes its pods' containers.
        let emulator = self.emulator.take();
        self.runtime.block_on(async move { drop(emulator) });
    }
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusal_by_pod_security() {
    let Some(r) = Remote::start("remote-psa", true) else {
        return;
    };
    conformance::refused_by_pod_security(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusal_without_pods_exec() {
    let Some(r) = Remote::start("remote-noexec", true) else {
        return;
    };
    conformance::refused_without(&r, &r.t.name, "pods/exec");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusal_without_pods_portforward() {
    let Some(r) = Remote::start("remote-nofwd", true) else {
        return;
    };
    conformance::refused_without(&r, &r.t.name, "pods/portforward");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusal_as_unschedulable() {
    let Some(r) = Remote::start("remote-unsched", true) else {
        return;
    };
    conformance::refused_as_unschedulable(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusal_for_an_image_that_cannot_be_pulled() {
    let Some(r) = Remote::start("remote-pull", true) else {
        return;
    };
    conformance::refused_for_an_image_that_cannot_be_pulled(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_node_without_lib_modules_is_a_failed_mount() {
    let Some(r) = Remote::start("remote-mods", false) else {
        return;
    };
    conformance::node_without_lib_modules(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_without_a_dind_image_names_the_flag() {
    let Some(r) = Remote::start("remote-nodind", false) else {
        return;
    };
    conformance::up_without_a_dind_image_names_the_flag(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_a_config_map_kip_did_not_make_is_never_adopted_or_removed() {
    let Some(r) = Remote::start("remote-forcm", true) else {
        return;
    };
    conformance::a_config_map_kip_did_not_make_is_never_adopted_or_removed(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_a_pod_kip_did_not_make_is_never_adopted_or_removed() {
    let Some(r) = Remote::start("remote-forpod", true) else {
        return;
    };
    conformance::a_pod_kip_did_not_make_is_never_adopted_or_removed(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_dry_run_is_what_the_server_accepts() {
    let Some(r) = Remote::start("remote-dry", true) else {
        return;
    };
    conformance::dry_run_is_what_the_server_accepts(&r, &r.t.name, &r.t.kubeconfig());
}

/// The outer cluster's pods use kip's first choice of inner pod range:
/// kip reads the node's podCIDR and takes the next one. (The emulator
/// decides the node's podCIDR; a real cluster's is what it is.)
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_dry_run_picks_an_inner_pod_range_clear_of_the_nodes() {
    let Some(r) = Remote::start("remote-range", true) else {
        return;
    };
    r.emulator().set_node_pod_cidr("10.245.0.0/24");
    let dry = r
        .kip(&[
            "up",
            &r.t.name,
            "--dind-image",
            &r.t.image,
            "--dry-run",
            "--endpoint",
            "service",
        ])
        .run();
    dry.success();
    for want in [
        "kind: Pod",
        "kind: ConfigMap",
        "kind: Service",
        "podSubnet: 10.247.0.0/16",
        // The Service's DNS name is one of the API server's SANs.
        &format!("- kip-{}.default.svc\n", r.t.name),
    ] {
        assert!(dry.stdout.contains(want), "{want} not in\n{}", dry.stdout);
    }
    r.assert_nothing_left(&r.t.name);
}

/// The emulator's own fidelity: kubectl's strict field validation is
/// answered as a real API server answers it.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_unknown_fields_are_refused() {
    let Some(r) = Remote::start("remote-strict", true) else {
        return;
    };
    conformance::unknown_fields_are_refused(&r.t.kubeconfig(), &r.t.name);
}

/// With a podCIDR on the node, the subnets check names it.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_doctor_reports_every_check_ok() {
    let Some(r) = Remote::start("remote-doctor", true) else {
        return;
    };
    r.emulator().set_node_pod_cidr("10.245.0.0/24");
    let report = conformance::doctor_reports_every_check_ok(&r);
    r.kip(&["doctor", "--dind-image", &r.t.image])
        .run()
        .success()
        .stdout_has("10.245.0.0/24");
    let subnets = super::doctor::check(&report, "subnets");
    assert!(
        subnets["message"]
            .as_str()
            .is_some_and(|m| m.contains("10.245.0.0/24")),
        "{report:#}"
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_doctor_names_the_dind_image_flag() {
    let Some(r) = Remote::start("remote-doc-dind", true) else {
        return;
    };
    conformance::doctor_names_the_dind_image_flag(&r);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_doctor_fails_pod_security_in_a_baseline_namespace() {
    let Some(r) = Remote::start("remote-doc-psa", true) else {
        return;
    };
    conformance::doctor_fails_pod_security_in_a_baseline_namespace(&r, &r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_doctor_fails_rbac_for_a_user_without_pods_exec() {
    let Some(r) = Remote::start("remote-doc-rbac", true) else {
        return;
    };
    conformance::doctor_fails_rbac_for_a_user_without_pods_exec(&r);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_concurrent_ups_of_one_name_make_one_cluster() {
    let Some(r) = Remote::start("remote-same", true) else {
        return;
    };
    conformance::ups_at_once_make_one_cluster(&r, &r.t.name, 3);
    r.readyz_then_down(&r.t.name);
}

/// On the emulator's 1440-MTU pod network: what kip promises of the node
/// (conformance), and the value itself on the inner bridge and on a nested
/// container of the default bridge.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_node_is_set_up_as_kip_promises_on_a_1440_mtu_pod_network() {
    let Some(r) = Remote::start("remote-node", true) else {
        return;
    };
    let name = &r.t.name;
    r.up(name, &[])
        .success()
        .stderr_has("Docker running inside the node (MTU 1440")
        .stderr_has("API server ready at https://127.0.0.1:");
    let mtu = conformance::the_node_is_set_up_as_kip_promises(&r, name);
    assert_eq!(mtu, "1440", "the inner bridge's MTU");
    r.kip(
        &[
            &["exec", name.as_str(), "--"][..],
            &nested_container("cat /sys/class/net/eth0/mtu"),
        ]
        .concat(),
    )
    .run()
    .success()
    .stdout_has("1440\n");
    r.down(name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_load_streams_into_the_node_and_kind_loads_it() {
    let Some(r) = Remote::with_a_cluster("remote-load") else {
        return;
    };
    conformance::load_streams_into_the_node_and_kind_loads_it(&r, &r.t.name);
    r.down(&r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_list_status_kubeconfig_and_logs_find_the_cluster() {
    let Some(r) = Remote::with_a_cluster("remote-find") else {
        return;
    };
    conformance::list_status_kubeconfig_and_logs_find_it(&r, &r.t.name);
    r.down(&r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_on_a_running_cluster_reexports_it() {
    let Some(r) = Remote::with_a_cluster("remote-again") else {
        return;
    };
    conformance::up_on_a_running_cluster_reexports_it(&r, &r.t.name);
    r.down(&r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_a_killed_forwarder_is_restored_by_connect() {
    let Some(r) = Remote::with_a_cluster("remote-fwd") else {
        return;
    };
    conformance::a_killed_forwarder_is_restored_by_connect(&r, &r.t.name);
    r.readyz_then_down(&r.t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_the_logs_bundle_comes_out_of_the_pod() {
    let Some(r) = Remote::with_a_cluster("remote-bundle") else {
        return;
    };
    conformance::the_logs_bundle_comes_out_of_the_pod(&r, &r.t.name, r.t.dir.path());
    r.down(&r.t.name);
}

/// Two clusters (one forwarded, one pod-ip), three `kip down` of both at
/// once.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_concurrent_downs_leave_nothing() {
    let Some(r) = Remote::start("remote-downs", true) else {
        return;
    };
    let (a, b) = (format!("{}-a", r.t.name), format!("{}-b", r.t.name));
    r.up(&a, &[]).success();
    r.up(&b, &["--endpoint", "pod-ip", "--no-switch-context"])
        .success();
    conformance::downs_at_once_leave_nothing(&r, &[&a, &b]);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_from_a_pod_in_the_cluster() {
    let Some(r) = Remote::start("remote-incluster", true) else {
        return;
    };
    let name = &r.t.name;
    let log = r.job(&conformance::pod_ip_from_a_pod_script(&r, name));
    conformance::assert_pod_ip_from_a_pod(&r, name, &log);
    // The emulator's pod network.
    let ready = conformance::ready_line(&log);
    assert!(ready.contains("https://10.231."), "{ready}");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_with_the_service_endpoint_from_a_pod() {
    let Some(r) = Remote::start("remote-svc", true) else {
        return;
    };
    if !r.emulator().has_cluster_dns() {
        // Port 53 on the pod network's gateway takes root.
        assert!(
            !super::e2e::required(),
            "KIP_E2E=1 but the emulator has no cluster DNS (not root?)"
        );
        eprintln!("skipping: the emulator has no cluster DNS (UDP port 53 needs root)");
        return;
    }
    let name = &r.t.name;
    let log = r.job(&conformance::service_from_a_pod_script(&r, name));
    conformance::assert_service_from_a_pod(&r, name, &log);
}

/// pod-ip from the host: the kubeconfig names the Pod's IP, which the API
/// server's certificate covers (kubectl verifies it). On the real cluster
/// the pod network is out of the host's reach; its CI job Pod checks this.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_pod_ip_endpoint_names_the_pods_address_in_the_certificate() {
    let Some(r) = Remote::start("remote-podip", true) else {
        return;
    };
    let name = &r.t.name;
    r.up(name, &["--endpoint", "pod-ip", "--no-switch-context"])
        .success()
        .stderr_has("API server ready at https://10.231.");
    r.inner(name, &["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    r.kip(&["status", name])
        .run()
        .success()
        .stdout_has("Ready:       yes");
    r.down(name);
}

/// The Pod deleted behind kip's back: status says so, the garbage collector
/// takes its ConfigMap along, and `up` makes the cluster again, replacing
/// a labelled leftover ConfigMap whose owner is gone. (It ends the
/// cluster: the real test, whose one inner cluster is also the one its
/// downs end, cannot afford a second.)
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_a_pod_deleted_behind_kips_back_is_reported_and_made_again() {
    let Some(r) = Remote::with_a_cluster("remote-lost") else {
        return;
    };
    let name = &r.t.name;
    r.outer(&["delete", "pod", &format!("kip-{name}"), "--wait"])
        .success();
    r.kip(&["status", name])
        .run()
        .code(5)
        .stderr_has("is gone from namespace default");
    // The Pod owned its ConfigMap: the garbage collector took it along.
    let cm = format!("kip-{name}");
    assert_ne!(
        r.outer(&["get", "configmap", &cm]).code,
        0,
        "the ConfigMap outlived its Pod"
    );
    // A ConfigMap whose owner Pod is gone (a collector that has not got to
    // it yet) is a leftover `up` replaces, not another run's claim. Like
    // every leftover of kip's, it carries kip's labels (one without them
    // is someone else's, never replaced).
    conformance::create(
        &r,
        &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": cm, "namespace": "default",
            "labels": {"dev.kip.managed-by": "kip", "dev.kip.cluster": name},
        }}),
    );
    let owner = r#"{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"gone","uid":"0b7e3e1a-0000-4000-8000-000000000000"}]}}"#;
    r.outer(&["patch", "configmap", &cm, "--type=merge", "-p", owner])
        .success();
    r.up(name, &[]).success().stderr_has("API server ready");
    r.readyz_then_down(name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_rides_out_an_api_server_restart_while_waiting() {
    let Some(mut r) = Remote::start("remote-restart", true) else {
        return;
    };
    let name = r.t.name.clone();
    // The node Pod stays in ContainerCreating for 3 s ("pulling"): kip is
    // watching it when the API server goes away for 2 s.
    r.emulator().set_pull_delay(Duration::from_secs(3));
    let image = r.t.image.clone();
    let child = r
        .kip(&["up", &name, "--dind-image", &image, "--wait", "90s"])
        .spawn();
    until("kip created the Pod", Duration::from_secs(10), || {
        let pod = r.outer(&["get", "pod", &format!("kip-{name}")]);
        (pod.code == 0).then_some(()).ok_or(format!("{pod}"))
    });
    // kip's connections die with the API server: a write on one must be
    // an error kip retries, not a SIGPIPE that kills it (seen in CI: kip up
    // ended by a signal, right here).
    assert!(
        conformance::ignores_sigpipe(child.id()),
        "kip up does not ignore SIGPIPE"
    );
    // kip watches the Pod (it is still pulling) when the API server goes.
    until("kip watches the node Pod", Duration::from_secs(20), || {
        (r.emulator().open_watches() > 0)
            .then_some(())
            .ok_or_else(String::new)
    });
    let emulator = r.emulator.as_mut().unwrap();
    r.runtime
        .block_on(emulator.restart_api(Duration::from_secs(2)))
        .unwrap();
    let up = Run::from(child.wait_with_output().unwrap());
    up.success().stderr_has("API server ready");
    r.t.kubectl(&["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    // The forwarder rides out a restart too: a connection open through it
    // is cut (its port-forward went with the API server), the forwarder
    // stays, and the next connections go through.
    let pid = conformance::forwarder_pid(&r, &name).unwrap();
    let port = r.kip(&["kubeconfig", &name]).run().stdout;
    let port: u16 = port
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no forwarded server in {port}"));
    until(
        "the earlier connections' port-forwards are closed",
        Duration::from_secs(20),
        || {
            let open = r.emulator().open_port_forwards();
            (open == 0).then_some(()).ok_or(format!("{open} open"))
        },
    );
    let mut open = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    until(
        "the forwarder holds a port-forward for the open connection",
        Duration::from_secs(20),
        || {
            (r.emulator().open_port_forwards() > 0)
                .then_some(())
                .ok_or_else(String::new)
        },
    );
    let emulator = r.emulator.as_mut().unwrap();
    r.runtime
        .block_on(emulator.restart_api(Duration::from_secs(1)))
        .unwrap();
    let status = r.kip(&["status", &name]).run();
    status.success();
    assert!(
        conformance::ignores_sigpipe(pid),
        "the forwarder {pid} is gone after the restart"
    );
    for _ in 0..3 {
        r.t.kubectl(&["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
    }
    use std::io::Read;
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let cut = open.read_to_end(&mut rest);
    assert!(
        cut.is_ok()
            || cut
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the open connection was not cut: {cut:?}"
    );
    r.down(&name);
}

/// The stand-in kind holds mid-creation (`holding_node_image`): a second
/// `up` that starts once kind runs in the first's Pod finds no kubeconfig
/// yet, waits, then exports the first's endpoint.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_late_second_up_waits_for_the_first() {
    let Some(r) = Remote::start("remote-late", true) else {
        return;
    };
    let name = r.t.name.clone();
    let image = holding_node_image();
    let up = || {
        r.kip(&[
            "up",
            &name,
            "--dind-image",
            &r.t.image,
            "--image",
            image,
            "--wait",
            "90s",
            "-o",
            "json",
        ])
    };
    let (first, second) = late_second_up(
        up(),
        up(),
        |args| {
            r.kip(&[&["exec", name.as_str(), "--"], args].concat())
                .run()
        },
        &["touch", HOLD],
    );
    second.stderr_has("kind is creating the cluster in its node");
    assert_one_made_it(&[first, second]);
    r.readyz_then_down(&name);
}

/// No --remote: the config's `remote: true` sends gc to the emulator, which
/// collects an expired cluster. (A cluster of its own, with a TTL: the
/// real test has none to spare.)
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_collects_an_expired_remote_cluster_with_remote_in_the_config() {
    let Some(r) = Remote::start("remote-gc", true) else {
        return;
    };
    let name = r.t.name.clone();
    r.up(&name, &["--ttl", "1s"]).success();
    let pid = conformance::forwarder_pid(&r, &name);
    let config = r.t.dir.path().join("config.yaml");
    std::fs::write(&config, "remote: true\n").unwrap();
    let deleted = format!("deleted {name} (expired at");
    until(
        &format!("gc collects {name}"),
        Duration::from_secs(30),
        || {
            let run =
                r.t.kip(&["gc"])
                    .env("KIP_STATE_DIR", r.state_dir())
                    .env("KIP_CONFIG", &config)
                    .run();
            run.success();
            run.stdout
                .contains(&deleted)
                .then_some(())
                .ok_or(format!("{run}"))
        },
    );
    conformance::assert_nothing_left_of(&r, &name, &r.t.kubeconfig_doc(), pid);
    r.assert_nothing_left(&name);
}

/// The local engine (where the kind node image would come from) accepts
/// and never answers; the remote cluster is fine. kip goes on without the
/// local engine and lets the node pull the image, which the test stand-in
/// for kind refuses (no registry here). Nothing of this is the shared
/// cluster's doing: the emulator shows it as well as a real one would.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_is_not_held_by_a_local_engine_that_never_answers() {
    use super::silent_engine::SilentEngine;
    let Some(r) = Remote::start("remote-silent", true) else {
        return;
    };
    let engine = SilentEngine::start();
    let child = r
        .kip(&["up", &r.t.name, "--dind-image", &r.t.image, "--wait", "90s"])
        .env("DOCKER_HOST", engine.host())
        .spawn();
    // Generous: the limit is 10 s, and the node fails fast after it.
    let run = finish_by(child, Duration::from_secs(150), "up --remote");
    run.code(6)
        .stderr_has("no answer within 10s")
        .stderr_has("the node pulls kip-test-stand-in-node:latest itself")
        .stderr_has("has no registry");
    r.assert_nothing_left(&r.t.name);
}

/// `kip run --remote`: a cluster in a Pod of the shared cluster for CMD,
/// which reaches it through the kubeconfig kip gives it (the forwarder);
/// then nothing of it is left, and the user's kubeconfig is as it was.
/// (The real test runs `run --reuse` on its one inner cluster.)
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_run_makes_a_cluster_for_cmd_and_leaves_nothing() {
    let Some(r) = Remote::start("remote-run", true) else {
        return;
    };
    let name = r.t.name.clone();
    let before = std::fs::read(r.t.kubeconfig()).unwrap();
    let kubectl = kubectl_path();
    r.kip(&[
        "run",
        "--name",
        &name,
        "--dind-image",
        &r.t.image,
        "--wait",
        "90s",
        "--",
        &kubectl,
        "get",
        "--raw",
        "/readyz",
    ])
    .run()
    .success()
    .stdout_has("ok");
    r.assert_nothing_left(&name);
    assert_eq!(std::fs::read(r.t.kubeconfig()).unwrap(), before);
}

/// An archive whose reads fail (kip's own memory, from 0) ends a remote
/// load at once with the reason: the exec's stdin is closed, so nothing in
/// the node waits for the rest (issue 22).
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_load_of_an_unreadable_archive_ends_at_once() {
    let Some(r) = Remote::with_a_cluster("remote-archive") else {
        return;
    };
    let name = &r.t.name;
    let child = r
        .kip(&["load", name, "--archive", "/proc/self/mem"])
        .spawn();
    let run = finish_by(
        child,
        Duration::from_secs(60),
        "kip load --archive --remote",
    );
    run.code(2).stderr_has("cannot read it");
    r.down(name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_seeds_are_listed_on_their_outer_node_and_collected_by_gc() {
    let Some(r) = Remote::with_a_cluster("rseed") else {
        return;
    };
    let (key, node) = conformance::remote_seed_is_listed_on_its_outer_node(&r, &r.t.name);
    assert_eq!(node, "emulator-node");
    let report = conformance::doctor(&r, &[], 0, "default");
    let seeds = super::doctor::check(&report, "seeds");
    let message = seeds["message"].as_str().unwrap_or_default();
    assert!(message.contains("1 seed(s) take"), "{report:#}");
    assert!(message.contains("on 1 outer node(s)"), "{report:#}");
    r.down(&r.t.name);
    conformance::remote_gc_collects_an_unused_seed(&r, &key, &node);
    let store = r.node_root.path().join("var/lib/kip/seeds");
    let left: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&key))
        .collect();
    assert!(left.is_empty(), "left of the seed on the node: {left:?}");
    let helpers = r.outer(&["get", "pods", "-l", "dev.kip.seed-helper", "-o", "name"]);
    assert_eq!(helpers.success().stdout.trim(), "", "helper Pods left");
}

/// Issue 22 item 1, remote: a `kip down` between an `up`'s claim (its
/// ConfigMap) and its Pod. The down says it stops an up at work; the up
/// says who deleted its cluster (exit 6); nothing is left.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_down_between_an_ups_claim_and_its_pod_stops_it_and_says_so() {
    let Some(r) = Remote::start("remote-downclaim", true) else {
        return;
    };
    let name = r.t.name.clone();
    let pod = r.emulator().hold("create", "pods");
    let up = r
        .kip(&["up", &name, "--dind-image", r.dind_image(), "--wait", "90s"])
        .spawn();
    assert!(
        r.emulator().holding(pod, Duration::from_secs(120)),
        "`kip up` never created its Pod"
    );
    let down = r.kip(&["down", &name]).run();
    down.success()
        .stderr_has(&format!("cluster {name} is being created by a `kip up`"))
        .stderr_has(&format!("Deleted cluster {name}"));
    r.emulator().release(pod);
    let up = finish_by(up, Duration::from_secs(120), "the `kip up` cut short");
    up.code(6)
        .stderr_has(&format!("cluster {name} was deleted by another kip"));
    r.assert_nothing_left(&name);
}

/// `kip snapshot save --remote`: the remote node streamed out of its Pod
/// into a local snapshot (its kind node frozen meanwhile, thawed after),
/// with the facts a restore checks; the snapshot restores on the local
/// engine and into a new remote node with the node's data; bad input is
/// refused with nothing made; Ctrl-C mid-stream (save or restore) leaves
/// nothing half-made and the kind node running.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_snapshot_save_and_up_from_stream_through_the_pod() {
    let Some(r) = Remote::with_a_cluster("remote-snap") else {
        return;
    };
    let (name, t) = (&r.t.name, &r.t);
    let snaps = super::snapshot::Snapshots::new(t, &["s", "cut", "local", "stop"]);
    let (snap, cut) = (&snaps.0[0], &snaps.0[1]);
    let token = format!("token-{}", std::process::id());
    let in_node = |cluster: &str, script: &str| {
        let run = r.kip(&["exec", cluster, "--", "sh", "-c", script]).run();
        run.success();
        run.stdout
    };
    // A marker, and 300 MB of random data: a stream that takes a while.
    in_node(
        name,
        &format!(
            "echo {token} >/var/lib/docker/kip-test-marker && head -c 300M /dev/urandom >/var/lib/docker/kip-test-big"
        ),
    );
    let paused = "docker ps -q --filter status=paused";

    let saved = r.kip(&["snapshot", "save", name, snap]).run();
    saved
        .success()
        .stderr_has(&format!("Saved snapshot {snap} of remote cluster {name}"))
        .stderr_has("frozen");
    assert_eq!(in_node(name, paused).trim(), "", "a kind node left paused");
    r.inner(name, &["get", "--raw", "/readyz"]).success();
    // --stop: the kind node stopped for the stream, then started again.
    r.kip(&["snapshot", "save", name, &snaps.0[3], "--stop"])
        .run()
        .success()
        .stderr_has("was stopped for");
    let stopped =
        format!("docker ps -aq --filter status=exited --filter label=io.x-k8s.kind.cluster={name}");
    assert_eq!(
        in_node(name, &stopped).trim(),
        "",
        "a kind node left stopped"
    );
    until(
        "the source answers after --stop",
        Duration::from_secs(60),
        || {
            let ready = r.inner(name, &["get", "--raw", "/readyz"]);
            (ready.code == 0).then_some(()).ok_or(ready.stderr)
        },
    );
    t.kip(&["snapshot", "rm", &snaps.0[3]]).run().success();

    // An ordinary local snapshot, with the remote node's facts.
    let list = t.kip(&["snapshot", "list", "-o", "json"]).run();
    list.success();
    let list = list.json();
    let entry = list["items"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == snap.as_str()))
        .unwrap_or_else(|| panic!("{snap} not in {list}"));
    let meta = &entry["metadata"];
    assert_eq!(entry["complete"], true, "{entry}");
    assert_eq!(meta["source"], name.as_str());
    assert_eq!(meta["kindCluster"], name.as_str());
    assert_eq!(meta["dindImage"], t.image.as_str());
    assert_eq!(meta["mtu"], 1440, "{meta}");
    assert!(meta["seed"].is_null(), "{meta}");
    for fact in ["cgroup", "iptables", "arch", "certificatesExpireAt"] {
        assert!(!meta[fact].is_null(), "no {fact} in {meta}");
    }

    // Restored on the local engine: its node has the remote node's data.
    let local = format!("{name}-local");
    t.up(&local, &["--from", snap, "-q", "--no-switch-context"])
        .success();
    t.readyz(&local);
    t.exec(&local, &["cat", "/var/lib/docker/kip-test-marker"])
        .run()
        .success()
        .stdout_has(&token);
    t.kip(&["down", &local]).run().success();
    t.assert_nothing_left(&local);

    // Restored into a new remote node: streamed in, restarted, answering.
    let copy = format!("{name}-copy");
    r.up(&copy, &["--from", snap, "--no-switch-context"])
        .success()
        .stderr_has(&format!("Streamed snapshot {snap}"));
    r.inner(&copy, &["get", "--raw", "/readyz"]).success();
    assert!(in_node(&copy, "cat /var/lib/docker/kip-test-marker").contains(&token));
    let log = r.outer(&["logs", &format!("kip-{copy}")]);
    log.success()
        .stdout_has(&format!("kip-info: restored={name}"))
        .stdout_has("kip-info: cluster=restarted");
    r.kip(&["down", &copy]).run().success();
    conformance::assert_nothing_left_of(&r, &copy, &t.kubeconfig_doc(), None);

    // Bad input: nothing made, nothing touched.
    r.kip(&["snapshot", "save", "no-such-cluster", cut])
        .run()
        .code(5);
    r.kip(&["snapshot", "save", name, snap]).run().code(3);
    let no_volume = |snapshot: &str| {
        let volume = format!("name=kip-snap-{snapshot}");
        super::e2e::docker(&["volume", "ls", "-q", "--filter", &volume])
            .trim()
            .is_empty()
    };
    assert!(no_volume(cut));
    r.up(&copy, &["--from", snap, "--image", "kindest/node:v0.0.0"])
        .code(3)
        .stderr_has("kind node image");
    conformance::assert_nothing_left_of(&r, &copy, &t.kubeconfig_doc(), None);
    r.up(&copy, &["--from", "no-such-snapshot"]).code(5);
    // A snapshot of a 1500-MTU node into a Pod of a 1440-MTU network: the
    // node refuses it before any data comes (exit 3), and is removed.
    let local_snap = &snaps.0[2];
    t.up(&local, &["-q", "--no-switch-context"]).success();
    t.kip(&["snapshot", "save", &local, local_snap])
        .run()
        .success();
    t.kip(&["down", &local]).run().success();
    r.up(&copy, &["--from", local_snap])
        .code(3)
        .stderr_has("MTU: the snapshot's networks use 1500, above this node's 1440");
    conformance::assert_nothing_left_of(&r, &copy, &t.kubeconfig_doc(), None);
    t.kip(&["snapshot", "rm", local_snap]).run().success();

    // Ctrl-C once the save's stream has begun: exit 130, no volume, the
    // kind node running again.
    let mut save = r
        .kip(&["snapshot", "save", name, cut])
        .env("KIP_PROGRESS", "json")
        .spawn();
    interrupt_at_phase(&mut save, "snapshot-copied");
    assert!(no_volume(cut));
    assert_eq!(in_node(name, paused).trim(), "", "a kind node left paused");
    assert_eq!(
        in_node(name, "ls /run | grep -c kip-snapshot-save || true").trim(),
        "0"
    );
    r.inner(name, &["get", "--raw", "/readyz"]).success();

    // Ctrl-C while a restore streams: exit 130, the Pod and its objects
    // removed, no local helper left.
    let mut up = r
        .kip(&[
            "up",
            &copy,
            "--from",
            snap,
            "--dind-image",
            &t.image,
            "--wait",
            "90s",
        ])
        .env("KIP_PROGRESS", "json")
        .spawn();
    let helpers = format!("name=kip-snapshot-helper-{}-", up.id());
    interrupt_at_phase(&mut up, "snapshot-streamed");
    conformance::assert_nothing_left_of(&r, &copy, &t.kubeconfig_doc(), None);
    assert!(super::e2e::docker(&["ps", "-aq", "--filter", &helpers])
        .trim()
        .is_empty());

    t.kip(&["snapshot", "rm", snap]).run().success();
    r.down(name);
}

/// Ctrl-C to `child` once its phase `phase` has begun (as its `--progress
/// json` says): it ends with exit 130.
fn interrupt_at_phase(child: &mut std::process::Child, phase: &str) {
    let mut lines = super::support::Lines::of(child.stderr.take().unwrap());
    let begun = format!(r#""phase":"{phase}""#);
    lines
        .wait_for(Duration::from_secs(120), |l| {
            l.contains(&begun) && l.contains(r#""status":"started""#)
        })
        .unwrap_or_else(|seen| panic!("{phase} never began:\n{seen}"));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = super::support::exit_by(child, Duration::from_secs(120), "kip ends");
    assert_eq!(status.code(), Some(130), "{}", lines.all());
}

/// Remote warm pools: a pool of 2 and 3 claimers at once, on the outer
/// node whose seed the first cluster made (members use it: nobody streams
/// them the image); what a remote pool cannot honour is refused.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_pool_hands_out_members_and_refills_without_its_claimer() {
    let Some(r) = Remote::with_a_cluster("rpool") else {
        return;
    };
    super::remote_pool::remote_pool_refusals(&r);
    // The emulator runs no CronJob: this machine's `kip gc --remote`.
    let gc = || {
        let run = r.kip(&["gc"]).run();
        run.success();
        run.stdout.clone()
    };
    super::remote_pool::a_remote_pool_hands_out_members_and_refills_without_its_claimer(
        &r,
        ("rp", 2, &[]),
        &["rpa", "rpb", "rpc"],
        &gc,
        Duration::from_secs(180),
    );
    r.down(&r.t.name);
}

/// A remote claimer killed with SIGKILL at each step of its claim leaves
/// the pool whole and nothing leaked (one step waits out the minute a
/// taken member is given).
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_pool_claimer_killed_at_any_step_leaves_the_pool_whole() {
    let Some(r) = Remote::with_a_cluster("rpkill") else {
        return;
    };
    super::remote_pool::a_remote_claimer_killed_at_any_step_leaves_the_pool_whole(
        &r,
        "rk",
        Duration::from_secs(240),
    );
    r.down(&r.t.name);
}

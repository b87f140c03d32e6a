//! Remote mode end to end: the real `kip` binary against the test API
//! emulator (test-stack/kube-emulator, in this process), whose pods run as
//! containers on the local Docker engine on a 1440-MTU pod network, and the
//! real kubectl through the kubeconfig kip exports. The emulator's node
//! filesystem is a temporary folder, so a test decides whether the node has
//! /lib/modules.

use super::conformance::{self, SharedCluster};
use super::e2e::{holding_node_image, kubectl_path, late_second_up, nested_container, E2e, HOLD};
use super::support::{assert_one_made_it, wait_all, Kip, Run};
use kip_test_kube_emulator::{Emulator, Rule};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Remote {
    t: E2e,
    emulator: Option<Emulator>,
    _node_root: tempfile::TempDir,
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
            _node_root: node_root,
            runtime,
        })
    }

    fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().unwrap()
    }

    fn state_dir(&self) -> PathBuf {
        self.t.dir.path().join("state")
    }

    /// `kip ARGS… --remote` with this test's kubeconfig and state folder.
    fn kip(&self, args: &[&str]) -> Kip {
        // Right after the subcommand: after `--`, it would be the command's.
        let mut all = args.to_vec();
        all.insert(1, "--remote");
        self.t.kip(&all).env("KIP_STATE_DIR", self.state_dir())
    }

    fn up(&self, name: &str, extra: &[&str]) -> Run {
        let mut args = vec!["up", name, "--dind-image", &self.t.image, "--wait", "90s"];
        args.extend_from_slice(extra);
        self.kip(&args).run()
    }

    /// kubectl against the emulator itself (the shared cluster).
    fn outer(&self, args: &[&str]) -> Run {
        self.t
            .kubectl(&[&["--context", "kube-emulator"], args].concat())
    }

    fn forwarder_pid(&self, name: &str) -> Option<u32> {
        let text =
            std::fs::read_to_string(self.state_dir().join(format!("remote/{name}.json"))).ok()?;
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        record["forwarder"]["pid"].as_u64().map(|p| p as u32)
    }

    /// No Pod, ConfigMap or Service of `name` on the emulator, no emulator
    /// container, no forwarder, no state file, no kubeconfig entry.
    #[track_caller]
    fn assert_nothing_left(&self, name: &str, forwarder: Option<u32>) {
        let doc = self.t.kubeconfig_doc();
        conformance::assert_nothing_left_of(self, name, &self.state_dir(), &doc, forwarder);
        let (label, _) = self.emulator().pod_label().unwrap();
        let containers = super::e2e::docker(&["ps", "-aq", "--filter", &format!("label={label}")]);
        assert_eq!(containers.trim(), "", "pod containers left");
    }
}

impl Remote {
    /// The current context answers `/readyz`; `kip down NAME` then leaves
    /// nothing of the cluster, its forwarder included.
    #[track_caller]
    fn readyz_then_down(&self, name: &str) {
        self.t
            .kubectl(&["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
        let pid = self.forwarder_pid(name);
        self.kip(&["down", name]).run().success();
        self.assert_nothing_left(name, pid);
    }
}

impl SharedCluster for Remote {
    fn kip(&self, args: &[&str]) -> Kip {
        Remote::kip(self, args)
    }

    fn outer(&self, args: &[&str]) -> Run {
        Remote::outer(self, args)
    }

    fn dind_image(&self) -> &str {
        &self.t.image
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

    fn assert_nothing_left(&self, name: &str) {
        Remote::assert_nothing_left(self, name, None);
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
                if let Some(pid) = self.forwarder_pid(name) {
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
fn remote_up_forwarded_and_pod_ip_then_down_leaves_nothing() {
    let Some(r) = Remote::start("remote", true) else {
        return;
    };
    let fwd = format!("{}-f", r.t.name);
    let pip = format!("{}-p", r.t.name);
    let up = r.up(&fwd, &[]);
    up.success()
        .stderr_has("Docker running inside the node (MTU 1440")
        .stderr_has("API server ready at https://127.0.0.1:");
    // The real kubectl through the exported kubeconfig (current context).
    r.t.kubectl(&["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    r.t.kubectl(&["get", "nodes"])
        .success()
        .stdout_has("control-plane");
    // `kip load` streams into the node Pod through pods/exec, then kind load.
    let tag = format!("kip-test-tiny:remote-{}", std::process::id());
    super::ci_usage::tiny_image(&tag);
    r.kip(&["load", &fwd, &tag])
        .run()
        .success()
        .stderr_has(&format!("Loaded {tag} into cluster {fwd}"));
    r.kip(&[
        "exec",
        &fwd,
        "--",
        "cat",
        &format!("/var/lib/kip-test-kind/{fwd}/loaded-images"),
    ])
    .run()
    .success()
    .stdout_has(&tag);
    r.kip(&["load", &fwd, &tag])
        .run()
        .success()
        .stderr_has("already in the node");
    super::e2e::docker(&["rmi", &tag]);
    // On the 1440-MTU pod network: the inner dockerd's bridge and a nested
    // container use 1440.
    r.kip(&[
        "exec",
        &fwd,
        "--",
        "docker",
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{index .Options \"com.docker.network.driver.mtu\"}}",
    ])
    .run()
    .success()
    .stdout_has("1440");
    r.kip(
        &[
            &["exec", fwd.as_str(), "--"][..],
            &nested_container("cat /sys/class/net/eth0/mtu"),
        ]
        .concat(),
    )
    .run()
    .success()
    .stdout_has("1440\n");
    // pod-ip: the kubeconfig names the Pod's IP, which the API server's
    // certificate covers (kubectl verifies it).
    r.up(&pip, &["--endpoint", "pod-ip", "--no-switch-context"])
        .success()
        .stderr_has("API server ready at https://10.231.");
    r.t.kubectl(&[
        "--context",
        &format!("kip-{pip}"),
        "get",
        "--raw",
        "/readyz",
    ])
    .success()
    .stdout_has("ok");
    // tini (docker-init) is PID 1, so signals reach the bootstrap.
    let pid1 = r.kip(&["exec", &fwd, "--", "cat", "/proc/1/comm"]).run();
    pid1.success();
    assert!(
        ["tini\n", "docker-init\n"].contains(&pid1.stdout.as_str()),
        "PID 1 is {:?}",
        pid1.stdout
    );
    // list and status find them by labels.
    let list = r.kip(&["list", "-o", "json"]).run();
    list.success().stdout_has(&fwd).stdout_has(&pip);
    r.kip(&["list", "--all-namespaces"])
        .run()
        .success()
        .stdout_has(&pip);
    r.kip(&["status", &pip])
        .run()
        .success()
        .stdout_has("Ready:       yes");
    r.kip(&["kubeconfig", &fwd])
        .run()
        .success()
        .stdout_has("server: https://127.0.0.1:");
    r.kip(&["logs", &fwd])
        .run()
        .success()
        .stdout_has("kip-phase: cluster-created");

    let forwarder = r.forwarder_pid(&fwd);
    assert!(forwarder.is_some());
    // Three at once (a job's cleanup racing another job's): each succeeds.
    for run in wait_all(
        (0..3)
            .map(|_| r.kip(&["down", &fwd, &pip]).spawn())
            .collect(),
    ) {
        assert_eq!(run.code, 0, "concurrent down: {run}");
    }
    r.assert_nothing_left(&fwd, forwarder);
    r.assert_nothing_left(&pip, None);
    // Idempotent.
    r.kip(&["down", &fwd])
        .run()
        .success()
        .stderr_has("does not exist");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_doctor_checks_the_cluster_and_creates_nothing() {
    let Some(r) = Remote::start("remote-doctor", true) else {
        return;
    };
    // A podCIDR the node shows: the subnets check names it.
    r.emulator().set_node_pod_cidr("10.245.0.0/24");
    let report = r.kip(&["doctor", "--dind-image", &r.t.image]).run();
    report.success().stdout_has("10.245.0.0/24");
    conformance::doctor_reports(&r, &r.t.name);
    r.assert_nothing_left(&r.t.name, None);
}

/// kip's default DinD image exists on the local engine only: a remote `up`
/// without `--dind-image` says which flag to pass, and makes nothing.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_without_a_dind_image_names_the_flag() {
    let Some(r) = Remote::start("remote-nodind", false) else {
        return;
    };
    r.kip(&["up", &r.t.name, "--wait", "90s"])
        .env_remove("KIP_DIND_IMAGE")
        .run()
        .code(2)
        .stderr_has("pass --dind-image REGISTRY/IMAGE");
    // An empty one is no image either: refused before anything is made.
    r.kip(&["up", &r.t.name, "--wait", "90s"])
        .env("KIP_DIND_IMAGE", "")
        .run()
        .code(2)
        .stderr_has("an image reference cannot be empty");
    r.assert_nothing_left(&r.t.name, None);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_dry_run_is_what_the_server_accepts() {
    let Some(r) = Remote::start("remote-dry", true) else {
        return;
    };
    // The outer cluster's pods use kip's first choice of inner pod range:
    // kip reads the node's podCIDR and takes the next one.
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
    conformance::dry_run_is_what_the_server_accepts(&r, &r.t.name, &r.t.kubeconfig());
    conformance::unknown_fields_are_refused(&r.t.kubeconfig(), &r.t.name);
    r.assert_nothing_left(&r.t.name, None);
}

/// Runs `up` expecting a refusal: exit `code` (never 4, the --wait
/// deadline), `message` on stderr, and nothing left behind.
#[track_caller]
fn refused(r: &Remote, name: &str, extra: &[&str], code: i32, message: &str) {
    r.up(name, extra).code(code).stderr_has(message);
    r.assert_nothing_left(name, None);
}

/// The refusals, as the real cluster gives them (`conformance::refusals`).
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_refusals_are_clear_fast_and_leave_nothing() {
    let Some(r) = Remote::start("remote-no", true) else {
        return;
    };
    conformance::refusals(&r, &r.t.name);
}

/// A ConfigMap or Pod of a node's name that kip did not make is refused by
/// `up` before anything is made, and `down` leaves it.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_objects_without_kips_labels_are_never_adopted_or_removed() {
    let Some(r) = Remote::start("remote-foreign", true) else {
        return;
    };
    let (cm_cluster, pod_cluster) = (format!("{}-c", r.t.name), format!("{}-p", r.t.name));
    let (config_map, pod) = (format!("kip-{cm_cluster}"), format!("kip-{pod_cluster}"));
    r.outer(&[
        "create",
        "configmap",
        &config_map,
        "--from-literal=mine=yes",
    ])
    .success();
    refused(
        &r,
        &cm_cluster,
        &[],
        3,
        &format!(
            "a ConfigMap named {config_map} exists in namespace default that kip did not make"
        ),
    );
    r.kip(&["down", &cm_cluster])
        .run()
        .success()
        .stderr_has(&format!("left ConfigMap {config_map} alone"));
    r.outer(&["get", "configmap", &config_map]).success();

    r.outer(&[
        "run",
        &pod,
        "--image",
        &r.t.image,
        "--restart",
        "Never",
        "--command",
        "--",
        "sleep",
        "300",
    ])
    .success();
    // Running before kip looks (and before the emulator stops, which
    // removes only containers it has finished making).
    r.outer(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{pod}"),
        "--timeout=60s",
    ])
    .success();
    r.up(&pod_cluster, &[]).code(3).stderr_has(&format!(
        "a Pod named {pod} exists in namespace default that kip did not make"
    ));
    // Nothing of kip's: the foreign Pod's own container runs, rightly.
    let doc = r.t.kubeconfig_doc();
    conformance::assert_nothing_left_of(&r, &pod_cluster, &r.state_dir(), &doc, None);
    r.kip(&["status", &pod_cluster]).run().code(5);
    r.kip(&["down", &pod_cluster])
        .run()
        .success()
        .stderr_has(&format!("left Pod {pod} alone"));
    r.outer(&["get", "pod", &pod]).success();
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
fn remote_forwarder_and_pod_lost_behind_kips_back() {
    let Some(r) = Remote::start("remote-lost", true) else {
        return;
    };
    let name = &r.t.name;
    r.up(name, &[]).success();
    // The forwarder killed: status says so and how to fix it; connect
    // restores it on the same port, so the kubeconfig still works.
    let pid = r.forwarder_pid(name).unwrap();
    // A dropped API connection must be an error the forwarder handles: its
    // TLS writes (writev) would otherwise raise SIGPIPE and kill it.
    assert!(
        ignores_sigpipe(pid),
        "the forwarder does not ignore SIGPIPE"
    );
    let server = r.kip(&["kubeconfig", name]).run().stdout;
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
        assert!(Instant::now() < deadline, "the forwarder did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    r.kip(&["status", name])
        .run()
        .code(6)
        .stdout_has("port-forward to the node is not running: `kip connect");
    r.kip(&["connect", name])
        .run()
        .success()
        .stderr_has("Connected");
    r.t.kubectl(&["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    assert_eq!(r.kip(&["kubeconfig", name]).run().stdout, server);
    // `up` on a running cluster re-exports it, as locally.
    r.up(name, &[]).success().stderr_has("is already running");
    // The logs bundle comes out of the Pod (exec + tar) with its events.
    let bundle = r.t.dir.path().join("bundle");
    r.kip(&["logs", name, "--export", bundle.to_str().unwrap()])
        .run()
        .success();
    let files: Vec<String> = walk(&bundle);
    assert!(
        files.iter().any(|f| f.ends_with("dockerd.log"))
            && files.iter().any(|f| f.contains("events")),
        "{files:?}"
    );
    // The Pod deleted behind kip's back: status says so, up makes it again.
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
    r.outer(&["create", "configmap", &cm]).success();
    r.outer(&[
        "label",
        "configmap",
        &cm,
        "dev.kip.managed-by=kip",
        &format!("dev.kip.cluster={name}"),
    ])
    .success();
    let owner = r#"{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"gone","uid":"0b7e3e1a-0000-4000-8000-000000000000"}]}}"#;
    r.outer(&["patch", "configmap", &cm, "--type=merge", "-p", owner])
        .success();
    r.up(name, &[]).success().stderr_has("API server ready");
    r.t.kubectl(&["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    let pid = r.forwarder_pid(name);
    r.kip(&["down", name]).run().success();
    r.assert_nothing_left(name, pid);
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
    let mut command = r
        .kip(&["up", &name, "--dind-image", &image, "--wait", "90s"])
        .command();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.outer(&["get", "pod", &format!("kip-{name}")]).code != 0 {
        assert!(Instant::now() < deadline, "kip did not create the Pod");
        std::thread::sleep(Duration::from_millis(50));
    }
    // kip's connections die with the API server: a write on one must be
    // an error kip retries, not a SIGPIPE that kills it (seen in CI: kip up
    // ended by a signal, right here).
    assert!(
        ignores_sigpipe(child.id()),
        "kip up does not ignore SIGPIPE"
    );
    // kip watches the Pod (it is still pulling) when the API server goes.
    until("kip watches the node Pod", || {
        r.emulator().open_watches() > 0
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
    let pid = r.forwarder_pid(&name).unwrap();
    let port = r.kip(&["kubeconfig", &name]).run().stdout;
    let port: u16 = port
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no forwarded server in {port}"));
    until("the earlier connections' port-forwards are closed", || {
        r.emulator().open_port_forwards() == 0
    });
    let mut open = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    until(
        "the forwarder holds a port-forward for the open connection",
        || r.emulator().open_port_forwards() > 0,
    );
    let emulator = r.emulator.as_mut().unwrap();
    r.runtime
        .block_on(emulator.restart_api(Duration::from_secs(1)))
        .unwrap();
    let status = r.kip(&["status", &name]).run();
    status.success();
    assert!(
        ignores_sigpipe(pid),
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
    r.kip(&["down", &name]).run().success();
    r.assert_nothing_left(&name, Some(pid));
}

/// Whether process `pid` ignores SIGPIPE: bit 13 of SigIgn in its status.
fn ignores_sigpipe(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("process {pid} is gone: {e}"));
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .expect("SigIgn in /proc/PID/status");
    mask & (1 << (libc::SIGPIPE - 1)) != 0
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

impl Remote {
    /// Runs `script` (bash) as a CI job in a Pod of the emulated cluster,
    /// with this build's kip and the test's kubectl on its PATH and nothing
    /// but the service account to reach the API; returns the Pod's log
    /// once it succeeded, and deletes it.
    #[track_caller]
    fn job(&self, script: &str) -> String {
        let bin = self._node_root.path().join("opt/ci");
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
                    "command": ["bash", "-c", format!("set -eu\n# One stream: the log keeps the order things happened in.\nexec 2>&1\nexport HOME=/root KIP_STATE_DIR=/root/state\n{script}")],
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
}

/// Polls `condition` until it holds, for at most 20 s.
#[track_caller]
fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 20 s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The line of `log` that says where the API server is ready.
#[track_caller]
fn ready_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("API server ready at"))
        .unwrap_or_else(|| panic!("no ready line: {log}"))
}

/// A CI job running in a Pod of the shared cluster: kip there has no
/// kubeconfig, only the service account the kubelet mounts and the
/// `KUBERNETES_SERVICE_*` env. `kip up --remote` must use them, default to
/// the pod-ip endpoint (no forwarder), and leave a kubeconfig that kubectl
/// in the same Pod uses; `kip down` must still find the outer cluster after
/// `up` made the inner one the current context.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_from_a_pod_in_the_cluster() {
    let Some(r) = Remote::start("remote-incluster", true) else {
        return;
    };
    let name = r.t.name.clone();
    let log = r.job(&format!(
        r#"test ! -e /root/.kube/config
kip up {name} --remote --dind-image {image} --wait 90s
kubectl get --raw /readyz; echo
kubectl get nodes
kip list --remote
kip status {name} --remote
kip down {name} --remote
test ! -e /root/state/remote/{name}.json
echo AFTER-DOWN
kip list --remote
cat /root/.kube/config
echo JOB-DONE"#,
        image = r.t.image
    ));
    // The pod-ip endpoint: the API server at the node Pod's own address.
    let ready = ready_line(&log);
    assert!(ready.contains("https://10.231."), "{ready}");
    assert!(!log.contains("port-forward"), "{log}");
    assert!(log.lines().any(|l| l == "ok"), "{log}");
    assert!(log.contains("control-plane"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with(&name) && l.contains("running")),
        "kip list in the job: {log}"
    );
    assert!(log.lines().any(|l| l == "Ready:       yes"), "{log}");
    // After `down`, with a kubeconfig left that names nothing, kip goes
    // back to the service account and finds no cluster.
    let (_, after) = log.split_once("AFTER-DOWN").expect("the job reached down");
    assert!(after.contains("NAME") && !after.contains(&name), "{after}");
    assert!(after.contains("current-context: ''"), "{after}");
    assert!(log.contains("JOB-DONE"), "{log}");
    r.assert_nothing_left(&name, None);
}

/// `--endpoint service` from a CI job Pod: the kubeconfig names the
/// Service's DNS name, the job resolves it through the cluster DNS, and
/// kubectl verifies the API server's certificate for that name.
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
    let name = r.t.name.clone();
    let log = r.job(&format!(
        r#"kip up {name} --remote --endpoint service --dind-image {image} --wait 90s
kubectl config view --minify -o jsonpath='{{.clusters[0].cluster.server}}'; echo
kubectl get --raw /readyz; echo
kip down {name} --remote
echo JOB-DONE"#,
        image = r.t.image
    ));
    let server = format!("https://kip-{name}.default.svc:6443");
    assert!(ready_line(&log).contains(&server), "{log}");
    assert!(log.lines().any(|l| l == server), "{log}");
    assert!(log.lines().any(|l| l == "ok"), "{log}");
    assert!(log.contains("JOB-DONE"), "{log}");
    r.assert_nothing_left(&name, None);
}

/// Three `kip up --remote` of one name at once: one makes the Pod, the
/// others remove nothing of it and wait for it; all succeed.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_concurrent_ups_of_one_name_make_one_cluster() {
    let Some(r) = Remote::start("remote-same", true) else {
        return;
    };
    let name = r.t.name.clone();
    let image = r.t.image.clone();
    let up = [
        "up",
        &name,
        "--dind-image",
        &image,
        "--wait",
        "90s",
        "-o",
        "json",
    ];
    let runs = wait_all((0..3).map(|_| r.kip(&up).spawn()).collect());
    assert_one_made_it(&runs);
    r.readyz_then_down(&name);
}

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
    // The second starts once kind runs in the first's Pod: it runs and has
    // no kubeconfig yet. It waits, then exports the first's endpoint.
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

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_collects_an_expired_remote_cluster_with_remote_in_the_config() {
    let Some(r) = Remote::start("remote-gc", true) else {
        return;
    };
    let name = r.t.name.clone();
    r.up(&name, &["--ttl", "1s"]).success();
    let pid = r.forwarder_pid(&name);
    let config = r.t.dir.path().join("config.yaml");
    std::fs::write(&config, "remote: true\n").unwrap();
    // No --remote: the config's `remote: true` sends gc to the emulator.
    let gc = || {
        r.t.kip(&["gc"])
            .env("KIP_STATE_DIR", r.state_dir())
            .env("KIP_CONFIG", &config)
            .run()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = gc();
        run.success();
        if run.stdout.contains(&format!("deleted {name} (expired at")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gc never collected {name}: {run}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    r.assert_nothing_left(&name, pid);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn remote_up_is_not_held_by_a_local_engine_that_never_answers() {
    use super::silent_engine::{finish_by, SilentEngine};
    let Some(r) = Remote::start("remote-silent", true) else {
        return;
    };
    // The local engine (where the kind node image would come from) accepts
    // and never answers; the remote cluster is fine.
    let engine = SilentEngine::start();
    let child = r
        .kip(&["up", &r.t.name, "--dind-image", &r.t.image, "--wait", "90s"])
        .env("DOCKER_HOST", engine.host())
        .spawn();
    // Generous: the limit is 10 s, and the node fails fast after it.
    let run = finish_by(
        child,
        Instant::now() + Duration::from_secs(150),
        "up --remote",
    );
    // It went on without the local engine and let the node pull the image,
    // which the test stand-in for kind refuses (no registry here).
    run.code(6)
        .stderr_has("no answer within 10s")
        .stderr_has("the node pulls kip-test-stand-in-node:latest itself")
        .stderr_has("has no registry");
    r.assert_nothing_left(&r.t.name, None);
}

/// `kip run --remote`: a cluster in a Pod of the shared cluster for CMD,
/// which reaches it through the kubeconfig kip gives it (the forwarder);
/// then nothing of it is left, and the user's kubeconfig is as it was.
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
    r.assert_nothing_left(&name, None);
    assert_eq!(std::fs::read(r.t.kubeconfig()).unwrap(), before);
}

//! Pods as containers on the local Docker engine, driven by the real
//! kubectl. Needs Docker, kubectl and the test node image
//! (`test-stack/node-image/build.sh`); under KIP_E2E=1 (CI) their absence is
//! a failure, otherwise each test says why it skips.

use kip_test_kube_emulator::Emulator;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "kip-test-node:latest";

fn required() -> bool {
    std::env::var("KIP_E2E").as_deref() == Ok("1")
}

struct Pods {
    emulator: Option<Emulator>,
    kubectl: String,
    dir: tempfile::TempDir,
    /// Runs the emulator's servers for as long as the harness lives.
    _runtime: tokio::runtime::Runtime,
}

impl Pods {
    fn new() -> Option<Pods> {
        let kubectl = std::env::var("KIP_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let image = Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .output();
        let why = match (
            image,
            Command::new(&kubectl)
                .args(["version", "--client"])
                .output(),
        ) {
            (Ok(i), Ok(k)) if i.status.success() && k.status.success() => None,
            (Ok(i), _) if !i.status.success() => Some(format!("no {IMAGE} on the Docker engine")),
            (Err(e), _) => Some(format!("no docker CLI: {e}")),
            _ => Some(format!("no kubectl at {kubectl:?}")),
        };
        if let Some(why) = why {
            assert!(!required(), "KIP_E2E=1 but {why}");
            eprintln!("skipping: {why}");
            return None;
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime.block_on(Emulator::start_with_pods(1440)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), emulator.kubeconfig()).unwrap();
        Some(Pods {
            emulator: Some(emulator),
            kubectl,
            dir,
            _runtime: runtime,
        })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args);
        c
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out: Output = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self, yaml: &str) {
        let mut child = self
            .cmd(&["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// Polls `jsonpath` on the pod until it equals `want`.
    #[track_caller]
    fn eventually(&self, pod: &str, jsonpath: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.ok(&["get", "pod", pod, "-o", &format!("jsonpath={jsonpath}")]);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pod} {jsonpath}: {got:?}, wanted {want:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// This emulator's containers.
    fn containers(&self) -> String {
        let (label, _) = self
            .emulator
            .as_ref()
            .and_then(Emulator::pod_label)
            .expect("runs pods");
        docker_ids(&["ps", "-aq", "--filter", &format!("label={label}")])
    }
}

fn docker_ids(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Pods {}

fn pod(name: &str, command: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 2\n{extra}  containers:\n  - name: main\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", {command:?}]\n    env:\n    - name: MY_IP\n      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}\n    readinessProbe:\n      tcpSocket: {{port: 8080}}\n      periodSeconds: 1\n"
    )
}

#[test]
fn a_pod_runs_becomes_ready_logs_and_is_deleted() {
    let Some(p) = Pods::new() else { return };
    p.apply(&pod(
        "web",
        "echo IP=$MY_IP MTU=$(cat /sys/class/net/eth0/mtu); exec kind kip-test-tcp-echo 8080",
        "",
    ));
    p.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"]);
    let ip = p.ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
    assert!(ip.starts_with("10.231."), "{ip}");
    // fieldRef status.podIP, and the 1440 MTU of the pod network.
    // The engine copies stdout and stderr to the log on their own, so the
    // line may land a moment after the pod is Ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = p.ok(&["logs", "web"]);
        if logs.contains(&format!("IP={ip} MTU=1440")) {
            break;
        }
        assert!(Instant::now() < deadline, "{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let events = p.ok(&["get", "events", "-o", "jsonpath={.items[*].reason}"]);
    assert!(
        events.contains("Scheduled") && events.contains("Started"),
        "{events}"
    );
    let start = Instant::now();
    p.ok(&["delete", "pod", "web", "--wait"]);
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(p.containers(), "", "the pod's container was removed");
    assert!(p
        .cmd(&["get", "pod", "web"])
        .output()
        .unwrap()
        .stderr
        .starts_with(b"Error from server (NotFound)"));
}

#[test]
fn a_missing_image_is_err_image_pull_then_back_off() {
    let Some(p) = Pods::new() else { return };
    p.apply(&pod("nope", "true", "").replace(IMAGE, "kip-test-no-such-image:1"));
    p.eventually(
        "nope",
        "{.status.containerStatuses[0].state.waiting.reason}",
        "ImagePullBackOff",
    );
    let message = p.ok(&["get", "events", "-o", "jsonpath={.items[*].message}"]);
    assert!(
        message.contains("Failed to pull image \"kip-test-no-such-image:1\""),
        "{message}"
    );
}

#[test]
fn a_crashing_container_backs_off_and_a_finished_pod_succeeds() {
    let Some(p) = Pods::new() else { return };
    p.apply(&pod("crash", "exit 3", ""));
    p.eventually(
        "crash",
        "{.status.containerStatuses[0].state.waiting.reason}",
        "CrashLoopBackOff",
    );
    p.eventually(
        "crash",
        "{.status.containerStatuses[0].lastState.terminated.exitCode}",
        "3",
    );
    p.apply(&pod("done", "exit 0", "  restartPolicy: Never\n"));
    p.eventually("done", "{.status.phase}", "Succeeded");
}

#[test]
fn privileged_pods_run_and_teardown_removes_everything() {
    let Some(mut p) = Pods::new() else { return };
    let privileged = pod("dind", "exec kind kip-test-tcp-echo 8080", "").replace(
        "    readinessProbe:",
        "    securityContext: {privileged: true}\n    readinessProbe:",
    );
    p.apply(&privileged);
    p.ok(&["wait", "--for=condition=Ready", "pod/dind", "--timeout=30s"]);
    assert_ne!(p.containers(), "");
    // Dropping the emulator removes its containers and its network.
    let (label, network) = p.emulator.as_ref().and_then(Emulator::pod_label).unwrap();
    drop(p.emulator.take());
    assert_eq!(
        docker_ids(&["ps", "-aq", "--filter", &format!("label={label}")]),
        ""
    );
    assert_eq!(
        docker_ids(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{network}$")
        ]),
        ""
    );
}

#[test]
fn exec_carries_streams_stdin_and_the_exit_code() {
    let Some(p) = Pods::new() else { return };
    p.apply(&pod("shell", "exec kind kip-test-tcp-echo 8080", ""));
    p.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/shell",
        "--timeout=30s",
    ]);
    let out = p
        .cmd(&[
            "exec",
            "shell",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("err\n"));
    let mut child = p
        .cmd(&["exec", "-i", "shell", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"round trip\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "round trip\n");

    // Without pods/exec, kubectl is refused with the real message.
    p.emulator
        .as_ref()
        .unwrap()
        .set_rbac(Some(vec![kip_test_kube_emulator::Rule {
            verbs: vec!["*".into()],
            resources: vec!["pods".into()],
            namespaces: vec![],
        }]));
    let refused = p.cmd(&["exec", "shell", "--", "true"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("pods \"shell\" is forbidden: User \"kip-test\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""),
        "{stderr}"
    );
}

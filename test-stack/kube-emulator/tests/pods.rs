//! Pods as containers on the local Docker engine, driven by the real
//! kubectl. Needs Docker, kubectl and the test node image
//! (`test-stack/node-image/build.sh`); under KIP_E2E=1 (CI) their absence is
//! a failure, otherwise each test says why it skips.

mod common;

use common::{Harness, IMAGE};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `probe` until `done` holds for what it returns (20 s at most).
#[track_caller]
fn until(mut probe: impl FnMut() -> String, done: impl Fn(&str) -> bool) {
    common::until("the condition", Duration::from_secs(20), || {
        let got = probe();
        if done(&got) {
            Ok(())
        } else {
            Err(format!("last: {got}"))
        }
    });
}

/// Polls `jsonpath` on the pod until it equals `want`.
#[track_caller]
fn eventually(p: &Harness, pod: &str, jsonpath: &str, want: &str) {
    until(
        || p.ok(&["get", "pod", pod, "-o", &format!("jsonpath={jsonpath}")]),
        |got| got == want,
    );
}

/// This emulator's containers.
fn containers(p: &Harness) -> String {
    let (label, _) = p.emulator().pod_label().expect("runs pods");
    docker_ids(&["ps", "-aq", "--filter", &format!("label={label}")])
}

fn docker_ids(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[track_caller]
fn apply(p: &Harness, yaml: &str) {
    let out = p.apply(yaml, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod(name: &str, command: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 2\n{extra}  containers:\n  - name: main\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", {command:?}]\n    env:\n    - name: MY_IP\n      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}\n    readinessProbe:\n      tcpSocket: {{port: 8080}}\n      periodSeconds: 1\n"
    )
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_pod_runs_becomes_ready_logs_and_is_deleted() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    apply(
        &p,
        &pod(
            "web",
            "echo IP=$MY_IP MTU=$(cat /sys/class/net/eth0/mtu); exec kind kip-test-tcp-echo 8080",
            "",
        ),
    );
    p.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"]);
    let ip = p.ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
    assert!(ip.starts_with("10.231."), "{ip}");
    // fieldRef status.podIP, and the 1440 MTU of the pod network.
    // The engine copies stdout and stderr to the log on their own, so the
    // line may land a moment after the pod is Ready.
    let want = format!("IP={ip} MTU=1440");
    until(|| p.ok(&["logs", "web"]), |logs| logs.contains(&want));
    let events = p.ok(&["get", "events", "-o", "jsonpath={.items[*].reason}"]);
    assert!(
        events.contains("Scheduled") && events.contains("Started"),
        "{events}"
    );
    let start = Instant::now();
    p.ok(&["delete", "pod", "web", "--wait"]);
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(containers(&p), "", "the pod's container was removed");
    assert!(p
        .cmd(&["get", "pod", "web"])
        .output()
        .unwrap()
        .stderr
        .starts_with(b"Error from server (NotFound)"));
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_missing_image_is_err_image_pull_then_back_off() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    apply(
        &p,
        &pod("nope", "true", "").replace(IMAGE, "kip-test-no-such-image:1"),
    );
    eventually(
        &p,
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
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_container_that_ends_ends_its_pod_failed_or_succeeded() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    // Restarts are not emulated, whatever the restart policy.
    apply(&p, &pod("crash", "exit 3", ""));
    eventually(&p, "crash", "{.status.phase}", "Failed");
    eventually(
        &p,
        "crash",
        "{.status.containerStatuses[0].state.terminated.exitCode}",
        "3",
    );
    apply(&p, &pod("done", "exit 0", "  restartPolicy: Never\n"));
    eventually(&p, "done", "{.status.phase}", "Succeeded");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_command_that_cannot_start_is_run_container_error() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nostart\nspec:\n  containers:\n  - name: main\n    image: {IMAGE}\n    command: [\"/no/such/program\"]\n"
    );
    apply(&p, &yaml);
    let path = "{.status.containerStatuses[0].state.waiting.reason}";
    eventually(&p, "nostart", path, "RunContainerError");
    let message = p.ok(&[
        "get",
        "pod",
        "nostart",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.message}",
    ]);
    assert!(message.contains("/no/such/program"), "{message}");
    assert_eq!(
        p.ok(&["get", "pod", "nostart", "-o", "jsonpath={.status.phase}"]),
        "Pending"
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn privileged_pods_run_and_teardown_removes_everything() {
    let Some(mut p) = Harness::start(true) else {
        return;
    };
    let privileged = pod("dind", "exec kind kip-test-tcp-echo 8080", "").replace(
        "    readinessProbe:",
        "    securityContext: {privileged: true}\n    readinessProbe:",
    );
    apply(&p, &privileged);
    p.ok(&["wait", "--for=condition=Ready", "pod/dind", "--timeout=30s"]);
    assert_ne!(containers(&p), "");
    // Dropping the emulator removes its containers and its network.
    let (label, network) = p.emulator().pod_label().unwrap();
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
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn exec_carries_streams_stdin_and_the_exit_code() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    apply(&p, &pod("shell", "exec kind kip-test-tcp-echo 8080", ""));
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
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        p.ok(&[
            "get",
            "pod",
            "shell",
            "-o",
            "jsonpath={.status.containerStatuses}"
        ])
    );
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

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn config_map_and_secret_volumes_mount_as_files() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    let with_volumes = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: vols\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {IMAGE}\n    command: [\"/etc/boot/boot.sh\"]\n    volumeMounts:\n    - {{name: boot, mountPath: /etc/boot}}\n    - {{name: creds, mountPath: /etc/creds}}\n  volumes:\n  - name: boot\n    configMap: {{name: bootstrap, defaultMode: 0755}}\n  - name: creds\n    secret: {{secretName: creds}}\n"
    );
    // The config map does not exist yet: FailedMount, as the kubelet says it.
    apply(&p, &with_volumes);
    until(
        || p.ok(&["get", "events", "-o", "jsonpath={.items[*].message}"]),
        |events| {
            events.contains(
                "MountVolume.SetUp failed for volume \"boot\" : configmap \"bootstrap\" not found",
            )
        },
    );
    apply(
        &p,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  token: czNjcmV0\n",
    );
    let script = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bootstrap\ndata:\n  boot.sh: |\n    #!/bin/sh\n    echo token=$(cat /etc/creds/token)\n    exec sleep 300\n";
    apply(&p, script);
    eventually(&p, "vols", "{.status.phase}", "Running");
    until(
        || p.ok(&["logs", "vols"]),
        |logs| logs.contains("token=s3cret"),
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_startup_probe_gates_readiness() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    // The server starts listening four seconds in; the startup probe waits.
    let late = pod("late", "sleep 4; exec kind kip-test-tcp-echo 8080", "").replace(
        "    readinessProbe:\n      tcpSocket: {port: 8080}\n      periodSeconds: 1\n",
        "    startupProbe:\n      tcpSocket: {port: 8080}\n      periodSeconds: 1\n      failureThreshold: 30\n",
    );
    apply(&p, &late);
    eventually(&p, "late", "{.status.phase}", "Running");
    assert_eq!(
        p.ok(&[
            "get",
            "pod",
            "late",
            "-o",
            "jsonpath={.status.containerStatuses[0].started}"
        ]),
        "false"
    );
    let waited = p.run(&["wait", "--for=condition=Ready", "pod/late", "--timeout=30s"]);
    assert!(
        waited.status.success(),
        "not Ready: {}",
        p.ok(&["get", "pod", "late", "-o", "json"])
    );
    assert_eq!(
        p.ok(&[
            "get",
            "pod",
            "late",
            "-o",
            "jsonpath={.status.containerStatuses[0].started}"
        ]),
        "true"
    );
}

/// What the kubelet gives a pod to reach the API server: the
/// `KUBERNETES_SERVICE_*` env and the service account's token, CA and
/// namespace. kubectl in the pod (its in-cluster config) gets through with
/// the token; a made-up token is 401 Unauthorized; a pod with automount
/// off has no service account folder.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn pods_reach_the_api_with_their_service_account() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    let kubectl = p.kubectl_path();
    let sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    let script = format!(
        "cat {sa}/namespace; echo; \
         kubectl get pod in-cluster -o jsonpath='{{.metadata.name}}'; echo; \
         kubectl --token made-up get pods 2>&1; echo \"exit $?\""
    );
    let job = |name: &str, command: &str, automount: bool| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": automount,
                "containers": [{
                    "name": "main", "image": IMAGE,
                    "command": ["sh", "-c", command],
                    "volumeMounts": [{"name": "kubectl", "mountPath": "/usr/local/bin/kubectl", "readOnly": true}],
                }],
                "volumes": [{"name": "kubectl", "hostPath": {"path": kubectl, "type": "File"}}],
            }
        })
        .to_string()
    };
    apply(&p, &job("in-cluster", &script, true));
    apply(
        &p,
        &job(
            "no-token",
            &format!("echo host=$KUBERNETES_SERVICE_HOST; ls {sa} 2>&1; true"),
            false,
        ),
    );
    eventually(&p, "in-cluster", "{.status.phase}", "Succeeded");
    eventually(&p, "no-token", "{.status.phase}", "Succeeded");
    let log = p.ok(&["logs", "in-cluster"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "default", "{log}");
    assert_eq!(lines[1], "in-cluster", "{log}");
    assert!(
        log.contains("error: You must be logged in to the server (Unauthorized)"),
        "{log}"
    );
    assert!(log.contains("exit 1"), "{log}");
    let address = p.emulator().in_cluster_address().unwrap();
    let log = p.ok(&["logs", "no-token"]);
    assert!(log.contains(&format!("host={}", address.ip())), "{log}");
    assert!(log.contains("No such file or directory"), "{log}");
}

/// Cluster DNS: a ClusterFirst pod resolves a Service by its full name and,
/// through the search path, by its short one, to a running pod the
/// selector picks (no service proxy here); other names do not resolve. A
/// pod with `dnsPolicy: Default` keeps the node's resolver.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn cluster_first_pods_resolve_services() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    if !common::available(
        p.emulator().has_cluster_dns(),
        "no cluster DNS (UDP port 53 on the pod network's gateway needs root)",
    ) {
        return;
    }
    let pod_with = |name: &str, labels: &str, dns: &str, command: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 1\n{dns}  containers:\n  - name: main\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", {command:?}]\n"
        )
    };
    apply(&p, &pod_with("web", "app: web", "", "sleep 300"));
    eventually(&p, "web", "{.status.phase}", "Running");
    let web_ip = p.ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
    apply(
        &p,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - {port: 80}\n",
    );
    let lookups = "getent hosts web.default.svc.cluster.local; getent hosts web; \
                   getent hosts nothere.default.svc.cluster.local || echo no-nothere";
    apply(&p, &pod_with("lookup", "app: lookup", "", lookups));
    apply(
        &p,
        &pod_with(
            "plain",
            "app: plain",
            "  dnsPolicy: Default\n",
            "getent hosts web || echo no-web",
        ),
    );
    eventually(&p, "lookup", "{.status.phase}", "Succeeded");
    eventually(&p, "plain", "{.status.phase}", "Succeeded");
    let log = p.ok(&["logs", "lookup"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0].starts_with(&web_ip) && lines[0].contains("web.default.svc.cluster.local"),
        "{log}"
    );
    assert!(lines[1].starts_with(&web_ip), "{log}");
    assert_eq!(lines[2], "no-nothere", "{log}");
    assert_eq!(p.ok(&["logs", "plain"]).trim(), "no-web");
}

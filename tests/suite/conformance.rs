//! Remote-mode assertions that run against both shared clusters kip's tests
//! have: the API emulator (`remote.rs`, fast) and a real Kubernetes cluster
//! made by kip itself with the real kind (`real_remote.rs`). Where the two
//! differ, the emulator is what is fixed: these assertions are the contract.

use super::doctor::check;
use super::e2e::kubectl_path;
use super::support::{Kip, Run};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Everything kip asks of a shared cluster for `kip up --remote`: the
/// resources its SelfSubjectAccessReviews name.
pub const NEEDED: [&str; 9] = [
    "pods",
    "pods/log",
    "pods/exec",
    "pods/portforward",
    "configmaps",
    "services",
    "namespaces",
    "events",
    "selfsubjectaccessreviews",
];

/// A cluster remote mode runs its node Pods on.
pub trait SharedCluster {
    /// `kip ARGS… --remote` against this cluster, with the test's kubeconfig
    /// and state folder (no `--context` in `args`: the cluster's own).
    fn kip(&self, args: &[&str]) -> Kip;
    /// kubectl against the shared cluster itself, as its admin.
    fn outer(&self, args: &[&str]) -> Run;
    /// The Docker-in-Docker image the cluster's nodes have.
    fn dind_image(&self) -> &str;
    /// Flags that make `kip` act as a user who may do all of [`NEEDED`] but
    /// `missing`, in the namespace kip uses.
    fn as_user_without(&self, missing: &str) -> Vec<String>;
    /// Undoes [`SharedCluster::as_user_without`] where it changed the
    /// cluster rather than the flags.
    fn as_admin_again(&self) {}
    /// Nothing of cluster `name` is left on the shared cluster or on this
    /// machine (objects, forwarder, state, kubeconfig entries).
    fn assert_nothing_left(&self, name: &str);
}

/// Runs `up` expecting a refusal: exit `code` (never 4, the --wait
/// deadline), `message` on stderr, and nothing left behind.
#[track_caller]
fn refused(c: &impl SharedCluster, name: &str, extra: &[&str], code: i32, message: &str) {
    let mut args = vec!["up", name, "--dind-image", c.dind_image(), "--wait", "90s"];
    args.extend_from_slice(extra);
    let start = std::time::Instant::now();
    let run = c.kip(&args).run();
    // A number for the log (README promises seconds); not asserted.
    eprintln!("refused in {:.1?}: {message}", start.elapsed());
    run.code(code).stderr_has(message);
    c.assert_nothing_left(name);
}

/// A node without `/lib/modules` (the node Pod mounts it from the host):
/// the kubelet's FailedMount, named, exit 6, nothing left.
pub fn node_without_lib_modules(c: &impl SharedCluster, name: &str) {
    refused(
        c,
        name,
        &[],
        6,
        "FailedMount: MountVolume.SetUp failed for volume \"host-0\" : hostPath type check failed: /lib/modules is not a directory",
    );
}

/// Waits for the CI job Pod `runner` to finish (at most `within`), asserts
/// it succeeded, removes it; its log.
pub fn job_log(c: &impl SharedCluster, runner: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let phase = loop {
        let phase = c
            .outer(&["get", "pod", runner, "-o", "jsonpath={.status.phase}"])
            .stdout;
        if phase == "Succeeded" || phase == "Failed" {
            break phase;
        }
        if Instant::now() > deadline {
            let pod = c.outer(&["get", "pod", runner, "-o", "yaml"]).stdout;
            let events = c
                .outer(&["get", "events", "-o", "custom-columns=R:.reason,M:.message"])
                .stdout;
            let log = c.outer(&["logs", runner]).stdout;
            panic!("the job did not finish ({phase}):\n{pod}\n{events}\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = c.outer(&["logs", runner]).stdout;
    assert_eq!(phase, "Succeeded", "{log}");
    c.outer(&["delete", "pod", runner, "--wait"]).success();
    log
}

/// A new namespace whose Pod Security admission enforces `baseline`, which
/// refuses privileged pods.
fn baseline_namespace(c: &impl SharedCluster, namespace: &str) {
    c.outer(&["create", "namespace", namespace]).success();
    c.outer(&[
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=baseline",
    ])
    .success();
}

/// kubectl ARGS with `input` on stdin.
fn kubectl_with_stdin(kubeconfig: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A field the kind does not have is refused, not dropped: by the server
/// for one object (kubectl asks for `fieldValidation=Strict`), and for a
/// `List`'s items (kubectl checks them against the v2 schemas where the
/// server publishes them, else the server does, item by item).
pub fn unknown_fields_are_refused(kubeconfig: &Path, name: &str) {
    let config_map = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}-strict"}},"data":{{"a":"b"}},"bogus":1}}"#
    );
    let one = kubectl_with_stdin(
        kubeconfig,
        &["create", "--dry-run=server", "-f", "-"],
        &config_map,
    );
    let stderr = String::from_utf8_lossy(&one.stderr);
    assert!(!one.status.success(), "an unknown field was accepted");
    assert!(
        stderr.contains(r#"strict decoding error: unknown field "bogus""#),
        "{stderr}"
    );
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{config_map}]}}"#);
    let many = kubectl_with_stdin(kubeconfig, &["apply", "--dry-run=server", "-f", "-"], &list);
    let stderr = String::from_utf8_lossy(&many.stderr);
    assert!(
        !many.status.success(),
        "an unknown field in a List was accepted"
    );
    assert!(stderr.contains(r#"unknown field "bogus""#), "{stderr}");
}

/// The refusals README promises, each a clear error in the cluster's or
/// kip's words with nothing created: Pod Security `baseline`, RBAC without
/// `pods/exec` (or `pods/portforward`), a selector no node matches, an image
/// that cannot be pulled.
pub fn refusals(c: &impl SharedCluster, name: &str) {
    // Pod Security: a baseline namespace refuses privileged pods.
    let namespace = format!("{name}-strict");
    baseline_namespace(c, &namespace);
    refused(
        c,
        name,
        &["-n", &namespace],
        3,
        "enforces the Pod Security level \"baseline\"",
    );
    c.outer(&["delete", "namespace", &namespace, "--wait=false"])
        .success();
    // RBAC: everything but pods/exec, then everything but pods/portforward.
    for missing in ["pods/exec", "pods/portforward"] {
        let user = c.as_user_without(missing);
        let user: Vec<&str> = user.iter().map(String::as_str).collect();
        refused(c, name, &user, 3, &format!("  - create {missing}\n"));
    }
    c.as_admin_again();
    // No node matches the selector: Unschedulable, in the scheduler's words.
    refused(
        c,
        name,
        &["--node-selector", "pool=gpu"],
        6,
        "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector",
    );
    // An image that cannot be pulled: ErrImagePull, in the cluster's words.
    let start = std::time::Instant::now();
    let up = c
        .kip(&[
            "up",
            name,
            "--dind-image",
            "127.0.0.1:1/kip/missing:1",
            "--wait",
            "60s",
        ])
        .run();
    eprintln!("refused in {:.1?}: ErrImagePull", start.elapsed());
    // Exit 6, not 4: the pull error ends `up`, not the 60 s --wait.
    up.code(6).stderr_has("ErrImagePull");
    c.assert_nothing_left(name);
}

/// What is left of remote cluster `name` where any shared cluster keeps it:
/// labelled objects on the cluster, kip's state file and forwarder, the
/// kubeconfig's context.
#[track_caller]
pub fn assert_nothing_left_of(
    c: &impl SharedCluster,
    name: &str,
    state_dir: &Path,
    kubeconfig: &serde_yaml::Value,
    forwarder: Option<u32>,
) {
    let selector = format!("dev.kip.cluster={name}");
    let objects = c.outer(&[
        "get",
        "pods,configmaps,services",
        "-A",
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    objects.success();
    assert_eq!(objects.stdout.trim(), "", "objects left for {name}");
    if let Some(pid) = forwarder {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "the forwarder {pid} still runs"
        );
    }
    assert!(
        !state_dir.join(format!("remote/{name}.json")).exists(),
        "state left for {name}"
    );
    // No forwarder of this cluster runs, recorded or not.
    let forwarders: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(" forwarder ") && c.split(' ').any(|w| w == name))
        .collect();
    assert!(forwarders.is_empty(), "forwarders left: {forwarders:?}");
    let contexts: Vec<&str> = kubeconfig["contexts"]
        .as_sequence()
        .map(|s| s.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !contexts.contains(&format!("kip-{name}").as_str()),
        "{contexts:?}"
    );
}

/// `kip up --remote --dry-run` prints what the server accepts: its YAML and
/// its JSON (one kubectl-style `List`) pass `kubectl apply --dry-run=server`
/// with the kubeconfig `kubeconfig` (whose current context is the shared
/// cluster), and nothing is made.
pub fn dry_run_is_what_the_server_accepts(c: &impl SharedCluster, name: &str, kubeconfig: &Path) {
    for output in ["yaml", "json"] {
        let mut args = vec!["up", name, "--dind-image", c.dind_image(), "--dry-run"];
        args.extend(["--endpoint", "service"]);
        if output == "json" {
            args.extend(["-o", "json"]);
        }
        let dry = c.kip(&args).run();
        dry.success();
        if output == "json" {
            let list: serde_json::Value = serde_json::from_str(&dry.stdout)
                .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", dry.stdout));
            assert_eq!(list["kind"], "List");
            let mut kinds: Vec<&str> = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["kind"].as_str().unwrap())
                .collect();
            kinds.sort_unstable();
            assert_eq!(kinds, ["ConfigMap", "Pod", "Service"]);
        }
        let out = kubectl_with_stdin(
            kubeconfig,
            &["apply", "--dry-run=server", "-f", "-"],
            &dry.stdout,
        );
        assert!(
            out.status.success(),
            "the server refused the {output} dry run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("(server dry run)"));
    }
    c.assert_nothing_left(name);
}

/// The node objects in `namespace`, by name: what a run that must create
/// nothing is compared against.
fn objects_in(c: &impl SharedCluster, namespace: &str) -> String {
    let run = c.outer(&[
        "get",
        "pods,configmaps,services",
        "-n",
        namespace,
        "-o",
        "name",
    ]);
    run.success();
    run.stdout.clone()
}

/// `kip doctor --remote -o json` with `extra` flags: exit `code`, a report
/// that passes its schema, and nothing new in `namespace`.
#[track_caller]
fn doctor(c: &impl SharedCluster, extra: &[&str], code: i32, namespace: &str) -> serde_json::Value {
    let before = objects_in(c, namespace);
    let mut args = vec!["doctor", "--dind-image", c.dind_image(), "-o", "json"];
    args.extend_from_slice(extra);
    let run = c.kip(&args).run();
    run.code(code);
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run}"));
    super::schema::assert_valid("doctor-report.schema.json", &report);
    assert_eq!(report["ok"], code == 0, "{run}");
    assert_eq!(objects_in(c, namespace), before, "doctor created objects");
    report
}

/// `kip doctor --remote` asks what `kip up --remote` would and creates
/// nothing: every check ok (exit 0) in a namespace that allows the node; a
/// fail that names the problem and its fix (exit 3) in a `baseline`
/// namespace, and for a user without `pods/exec`.
pub fn doctor_reports(c: &impl SharedCluster, name: &str) {
    // The dry run is of the cluster `kip up` makes by default.
    let dry_run_name = "kip";
    let clean = doctor(c, &[], 0, "default");
    let names: Vec<&str> = clean["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "kubernetes",
            "rbac",
            "pod-security",
            "dind-image",
            "dry-run",
            "subnets"
        ]
    );
    for name in names {
        assert_eq!(check(&clean, name)["status"], "ok", "{clean:#}");
    }
    c.kip(&["doctor", "--dind-image", c.dind_image()])
        .run()
        .success()
        .stdout_has("ok    rbac")
        .stdout_has("ok    dry-run");
    // kip's default DinD image is on the local engine only, as `up --remote`
    // would say.
    c.kip(&["doctor"])
        .env_remove("KIP_DIND_IMAGE")
        .run()
        .code(3)
        .stdout_has("fail  dind-image")
        .stdout_has("pass --dind-image REGISTRY/IMAGE");

    // Pod Security: a baseline namespace refuses privileged pods. Not
    // `refusals`' namespace, which may still be terminating.
    let namespace = format!("{name}-psa");
    baseline_namespace(c, &namespace);
    let strict = doctor(c, &["-n", &namespace], 3, &namespace);
    let psa = check(&strict, "pod-security");
    assert_eq!(psa["status"], "fail", "{strict:#}");
    assert!(
        psa["message"]
            .as_str()
            .unwrap()
            .contains("enforces the Pod Security level \"baseline\""),
        "{strict:#}"
    );
    assert!(
        psa["fix"].as_str().unwrap().contains(&format!(
            "kubectl label namespace {namespace} pod-security.kubernetes.io/enforce=privileged"
        )),
        "{strict:#}"
    );
    c.outer(&["delete", "namespace", &namespace, "--wait=false"])
        .success();

    // RBAC: everything but pods/exec.
    let user = c.as_user_without("pods/exec");
    let user: Vec<&str> = user.iter().map(String::as_str).collect();
    let denied = doctor(c, &user, 3, "default");
    c.as_admin_again();
    let rbac = check(&denied, "rbac");
    assert_eq!(rbac["status"], "fail", "{denied:#}");
    assert!(
        rbac["message"]
            .as_str()
            .unwrap()
            .contains("  - create pods/exec"),
        "{denied:#}"
    );
    assert!(
        rbac["fix"]
            .as_str()
            .unwrap()
            .contains("resources: [\"pods/exec\"]"),
        "{denied:#}"
    );
    assert_eq!(check(&denied, "kubernetes")["status"], "ok");
    c.assert_nothing_left(name);
    c.assert_nothing_left(dry_run_name);
}

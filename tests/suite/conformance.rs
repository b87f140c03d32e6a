//! Remote-mode scenarios that run against both shared clusters kip's tests
//! have: the API emulator (`remote.rs`, fast, one test per scenario) and a
//! real Kubernetes cluster made by kip itself with the real kind
//! (`real_remote.rs`, one expensive cluster for all of them, each scenario a
//! soft check). Where the two differ, the emulator is what is fixed: these
//! assertions are the contract.

use super::doctor::check;
use super::e2e::kubectl_path;
use super::support::{assert_one_made_it, until, wait_all, Kip, Run};
use std::io::Write;
use std::path::{Path, PathBuf};
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
    /// kubectl through the kubeconfig kip wrote, to remote cluster `name`.
    fn inner(&self, name: &str, args: &[&str]) -> Run;
    /// The Docker-in-Docker image the cluster's nodes have.
    fn dind_image(&self) -> &str;
    /// How long a new remote cluster may take here (`--wait`).
    fn wait(&self) -> &str;
    /// kip's state folder (`KIP_STATE_DIR`) and the kubeconfig it writes.
    fn state_dir(&self) -> PathBuf;
    fn kubeconfig(&self) -> PathBuf;
    /// Flags that make `kip` act as a user who may do all of [`NEEDED`] but
    /// `missing`, in the namespace kip uses.
    fn as_user_without(&self, missing: &str) -> Vec<String>;
    /// Undoes [`SharedCluster::as_user_without`] where it changed the
    /// cluster rather than the flags.
    fn as_admin_again(&self) {}
    /// Nothing of cluster `name` is left on the shared cluster or on this
    /// machine (objects, forwarder, state, kubeconfig entries).
    fn assert_nothing_left(&self, name: &str);
    /// The images kind has loaded into remote cluster `name`, each as
    /// `REPOSITORY:TAG` (the stand-in's record, or crictl's list on a real
    /// kind node).
    fn kind_images(&self, name: &str) -> Vec<String>;
    /// Runs `script` (bash) as a CI job in a Pod of the shared cluster: kip
    /// and kubectl on its PATH, no kubeconfig, only the Pod's service
    /// account; the job's log once it succeeded (see [`job_command`]).
    fn job(&self, script: &str) -> String;
    /// The flags a job's `kip up --remote` needs here beyond the DinD image.
    fn job_up_flags(&self) -> String;
    /// A line of the job's script that waits for the inner cluster's nodes
    /// to be Ready, printing "condition met"; None where they are Ready as
    /// soon as the API server answers (the stand-in's).
    fn job_waits_for_nodes(&self) -> Option<&'static str>;
}

/// `kip up NAME --remote` with this cluster's DinD image, `--wait` and `extra`.
/// Where the target flags go in `args`: right after the (sub)command
/// (after `--` they would be the command's).
pub fn after_command(args: &[&str]) -> usize {
    match args.first() {
        Some(&"seed" | &"snapshot" | &"pool") => 2.min(args.len()),
        _ => 1,
    }
}

pub fn up(c: &impl SharedCluster, name: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "up",
        name,
        "--dind-image",
        c.dind_image(),
        "--wait",
        c.wait(),
    ];
    args.extend_from_slice(extra);
    c.kip(&args).run()
}

/// The pid of cluster `name`'s forwarder, as kip recorded it.
pub fn forwarder_pid(c: &impl SharedCluster, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(c.state_dir().join(format!("remote/{name}.json"))).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    record["forwarder"]["pid"].as_u64().map(|p| p as u32)
}

/// The kubeconfig kip writes, as YAML (Null when there is none).
pub fn kubeconfig_doc(c: &impl SharedCluster) -> serde_yaml::Value {
    let text = std::fs::read_to_string(c.kubeconfig()).unwrap_or_default();
    serde_yaml::from_str(&text).unwrap_or(serde_yaml::Value::Null)
}

/// `kubectl create -f` of `manifest` on the shared cluster. (kubectl's
/// typed commands, `create namespace` and the like, send protobuf, which
/// the emulator does not read; a manifest goes as JSON.)
pub fn create(c: &impl SharedCluster, manifest: &serde_json::Value) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(manifest.to_string().as_bytes()).unwrap();
    c.outer(&["create", "-f", file.path().to_str().unwrap()])
        .success();
}

/// Runs `up` expecting a refusal: exit `code` (never 4, the --wait
/// deadline), `message` on stderr, and nothing left behind.
#[track_caller]
fn refused(c: &impl SharedCluster, name: &str, extra: &[&str], code: i32, message: &str) {
    let mut args = vec!["up", name, "--dind-image", c.dind_image(), "--wait", "90s"];
    args.extend_from_slice(extra);
    let start = Instant::now();
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

/// The bash a CI job Pod runs: one stream (the log keeps the order things
/// happened in), HOME and kip's state under /root, the runner's `setup`
/// (lines, each ending in a newline), then `script`.
pub fn job_command(setup: &str, script: &str) -> String {
    format!(
        "set -eu\n# One stream: the log keeps the order things happened in.\nexec 2>&1\n\
         export HOME=/root KIP_STATE_DIR=/root/state\n{setup}{script}"
    )
}

/// Waits for the CI job Pod `runner` to finish (at most `within`), asserts
/// it succeeded, removes it; its log.
pub fn job_log(c: &impl SharedCluster, runner: &str, within: Duration) -> String {
    let phase = super::support::eventually(within, || {
        let phase = c
            .outer(&["get", "pod", runner, "-o", "jsonpath={.status.phase}"])
            .stdout;
        match phase.as_str() {
            "Succeeded" | "Failed" => Ok(phase),
            _ => Err(phase),
        }
    });
    let phase = phase.unwrap_or_else(|phase| {
        let pod = c.outer(&["get", "pod", runner, "-o", "yaml"]).stdout;
        let events = c
            .outer(&["get", "events", "-o", "custom-columns=R:.reason,M:.message"])
            .stdout;
        let log = c.outer(&["logs", runner]).stdout;
        panic!("the job did not finish ({phase}):\n{pod}\n{events}\n{log}");
    });
    let log = c.outer(&["logs", runner]).stdout;
    assert_eq!(phase, "Succeeded", "{log}");
    c.outer(&["delete", "pod", runner, "--wait"]).success();
    log
}

/// A new namespace whose Pod Security admission enforces `baseline`, which
/// refuses privileged pods.
fn baseline_namespace(c: &impl SharedCluster, namespace: &str) {
    create(
        c,
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": namespace,
            "labels": {"pod-security.kubernetes.io/enforce": "baseline"},
        }}),
    );
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

/// Pod Security: a `baseline` namespace refuses privileged pods; kip says
/// so before it creates anything.
pub fn refused_by_pod_security(c: &impl SharedCluster, name: &str) {
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
}

/// RBAC: a user who may do everything kip needs but `missing` (pods/exec,
/// pods/portforward) is told which right an admin must grant.
pub fn refused_without(c: &impl SharedCluster, name: &str, missing: &str) {
    let user = c.as_user_without(missing);
    let user: Vec<&str> = user.iter().map(String::as_str).collect();
    refused(c, name, &user, 3, &format!("  - create {missing}\n"));
    c.as_admin_again();
}

/// No node matches the selector: Unschedulable, in the scheduler's words.
pub fn refused_as_unschedulable(c: &impl SharedCluster, name: &str) {
    refused(
        c,
        name,
        &["--node-selector", "pool=gpu"],
        6,
        "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector",
    );
}

/// An image that cannot be pulled: ErrImagePull, in the cluster's words,
/// and exit 6, not 4: the pull error ends `up`, not the 60 s --wait.
pub fn refused_for_an_image_that_cannot_be_pulled(c: &impl SharedCluster, name: &str) {
    let start = Instant::now();
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
    up.code(6).stderr_has("ErrImagePull");
    c.assert_nothing_left(name);
}

/// kip's default DinD image exists on the local engine only: a remote `up`
/// without `--dind-image` says which flag to pass, and an empty one is no
/// image either; both refused before anything is made.
pub fn up_without_a_dind_image_names_the_flag(c: &impl SharedCluster, name: &str) {
    c.kip(&["up", name, "--wait", "90s"])
        .env_remove("KIP_DIND_IMAGE")
        .run()
        .code(2)
        .stderr_has("pass --dind-image REGISTRY/IMAGE");
    c.kip(&["up", name, "--wait", "90s"])
        .env("KIP_DIND_IMAGE", "")
        .run()
        .code(2)
        .stderr_has("an image reference cannot be empty");
    c.assert_nothing_left(name);
}

/// A ConfigMap of a node's name that kip did not make is refused by `up`
/// before anything is made, and `down` leaves it.
pub fn a_config_map_kip_did_not_make_is_never_adopted_or_removed(
    c: &impl SharedCluster,
    name: &str,
) {
    let config_map = format!("kip-{name}");
    create(
        c,
        &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": config_map, "namespace": "default"}, "data": {"mine": "yes"}}),
    );
    refused(
        c,
        name,
        &[],
        3,
        &format!(
            "a ConfigMap named {config_map} exists in namespace default that kip did not make"
        ),
    );
    c.kip(&["down", name])
        .run()
        .success()
        .stderr_has(&format!("left ConfigMap {config_map} alone"));
    c.outer(&["get", "configmap", &config_map]).success();
    c.outer(&["delete", "configmap", &config_map]).success();
}

/// A Pod of a node's name that kip did not make (running before kip looks)
/// is refused by `up`, which creates nothing; `status` finds no cluster and
/// `down` leaves the Pod.
pub fn a_pod_kip_did_not_make_is_never_adopted_or_removed(c: &impl SharedCluster, name: &str) {
    let pod = format!("kip-{name}");
    c.outer(&[
        "run",
        &pod,
        "--image",
        c.dind_image(),
        "--restart",
        "Never",
        "--command",
        "--",
        "sleep",
        "300",
    ])
    .success();
    // Running before kip looks (and, on the emulator, before it stops,
    // which removes only containers it has finished making).
    c.outer(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{pod}"),
        "--timeout=60s",
    ])
    .success();
    up(c, name, &[]).code(3).stderr_has(&format!(
        "a Pod named {pod} exists in namespace default that kip did not make"
    ));
    // Nothing of kip's (the foreign Pod runs, rightly).
    assert_nothing_left_of(c, name, &kubeconfig_doc(c), None);
    c.kip(&["status", name]).run().code(5);
    c.kip(&["down", name])
        .run()
        .success()
        .stderr_has(&format!("left Pod {pod} alone"));
    c.outer(&["get", "pod", &pod]).success();
    c.outer(&["delete", "pod", &pod, "--wait=false"]).success();
}

/// What is left of remote cluster `name` where any shared cluster keeps it:
/// labelled objects on the cluster, kip's state file and forwarder, the
/// kubeconfig's context.
#[track_caller]
pub fn assert_nothing_left_of(
    c: &impl SharedCluster,
    name: &str,
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
        !c.state_dir().join(format!("remote/{name}.json")).exists(),
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
            let list = dry.json();
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
pub fn doctor(
    c: &impl SharedCluster,
    extra: &[&str],
    code: i32,
    namespace: &str,
) -> serde_json::Value {
    let before = objects_in(c, namespace);
    let mut args = vec!["doctor", "--dind-image", c.dind_image(), "-o", "json"];
    args.extend_from_slice(extra);
    let run = c.kip(&args).run();
    run.code(code);
    let report = run.json();
    super::schema::assert_valid("doctor-report.schema.json", &report);
    assert_eq!(report["ok"], code == 0, "{run}");
    assert_eq!(objects_in(c, namespace), before, "doctor created objects");
    report
}

/// `kip doctor --remote` asks what `kip up --remote` would and creates
/// nothing: in a namespace that allows the node, every check ok (exit 0),
/// in JSON and in text. The report as JSON.
pub fn doctor_reports_every_check_ok(c: &impl SharedCluster) -> serde_json::Value {
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
            "pools",
            "pod-security",
            "dind-image",
            "dry-run",
            "seeds",
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
    // The dry run is of the cluster `kip up` makes by default.
    c.assert_nothing_left("kip");
    clean
}

/// kip's default DinD image is on the local engine only, as `up --remote`
/// would say: doctor fails that check and names the flag.
pub fn doctor_names_the_dind_image_flag(c: &impl SharedCluster) {
    c.kip(&["doctor"])
        .env_remove("KIP_DIND_IMAGE")
        .run()
        .code(3)
        .stdout_has("fail  dind-image")
        .stdout_has("pass --dind-image REGISTRY/IMAGE");
    c.assert_nothing_left("kip");
}

/// In a `baseline` namespace doctor fails the pod-security check with the
/// `kubectl label namespace` fix (exit 3), creating nothing. `name` names
/// the namespace (not `refused_by_pod_security`'s, which may still be
/// terminating).
pub fn doctor_fails_pod_security_in_a_baseline_namespace(c: &impl SharedCluster, name: &str) {
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
    c.assert_nothing_left("kip");
}

/// For a user without pods/exec doctor fails the rbac check, naming the
/// right and the Role rule that grants it (exit 3), creating nothing.
pub fn doctor_fails_rbac_for_a_user_without_pods_exec(c: &impl SharedCluster) {
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
    c.assert_nothing_left("kip");
}

/// `count` `kip up -o json` of `name` at once (a job's retry racing
/// another): one makes the cluster, the others remove nothing of it and
/// wait for it; all succeed. The maker's run.
pub fn ups_at_once_make_one_cluster(c: &impl SharedCluster, name: &str, count: usize) -> Run {
    let up = [
        "up",
        name,
        "--dind-image",
        c.dind_image(),
        "--wait",
        c.wait(),
        "-o",
        "json",
    ];
    let runs = wait_all((0..count).map(|_| c.kip(&up).spawn()).collect());
    assert_one_made_it(&runs);
    runs.into_iter()
        .find(|r| r.json()["reused"] == false)
        .expect("one run made the cluster")
}

/// A tiny image on the host engine: one file, imported, no registry.
pub fn tiny_image(tag: &str) {
    let mut child = Command::new("docker")
        .args(["import", "-", tag])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let tar = Command::new("sh")
        .args([
            "-c",
            "d=$(mktemp -d) && echo kip > \"$d/hello\" && tar -C \"$d\" -c hello && rm -rf \"$d\"",
        ])
        .output()
        .unwrap();
    assert!(tar.status.success());
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(child.wait().unwrap().success());
}

/// `kip load` into running remote cluster `name` streams the image into the
/// node Pod's Docker (pods/exec) and kind loads it; a second load skips it.
pub fn load_streams_into_the_node_and_kind_loads_it(c: &impl SharedCluster, name: &str) {
    let tag = format!("kip-test-tiny:{name}");
    tiny_image(&tag);
    let loaded = c.kip(&["load", name, &tag]).run();
    let again = c.kip(&["load", name, &tag]).run();
    let in_kind = c.kind_images(name);
    super::e2e::docker(&["rmi", &tag]);
    loaded
        .success()
        .stderr_has(&format!("Loaded {tag} into cluster {name}"));
    assert!(
        in_kind.iter().any(|image| image.ends_with(&tag)),
        "{tag} not in {in_kind:?}"
    );
    again.success().stderr_has("already in the node");
}

/// Running remote cluster `name`'s node is what kip promises: kubectl
/// reaches its API server through the kubeconfig, tini (docker-init) is
/// PID 1 so signals reach the bootstrap, and the inner dockerd's bridge and
/// kind's node use the MTU of the Pod's own interface. That MTU.
pub fn the_node_is_set_up_as_kip_promises(c: &impl SharedCluster, name: &str) -> String {
    c.inner(name, &["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    c.inner(name, &["get", "nodes"])
        .success()
        .stdout_has("control-plane");
    let exec = |args: &[&str]| {
        let run = c.kip(&[&["exec", name, "--"], args].concat()).run();
        run.success();
        run.stdout.trim().to_string()
    };
    let pid1 = exec(&["cat", "/proc/1/comm"]);
    assert!(
        ["tini", "docker-init"].contains(&pid1.as_str()),
        "PID 1 is {pid1:?}"
    );
    let pod_mtu = exec(&["cat", "/sys/class/net/eth0/mtu"]);
    let bridge = exec(&[
        "docker",
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{index .Options \"com.docker.network.driver.mtu\"}}",
    ]);
    let kind_node = exec(&[
        "docker",
        "exec",
        &format!("{name}-control-plane"),
        "cat",
        "/sys/class/net/eth0/mtu",
    ]);
    assert_eq!(
        (bridge.as_str(), kind_node.as_str()),
        (pod_mtu.as_str(), pod_mtu.as_str()),
        "the inner bridge's and kind's node's MTU, against the Pod's"
    );
    pod_mtu
}

/// `list` (and `list -A`), `status`, `kubeconfig` and `logs` find running
/// remote cluster `name` by its labels.
pub fn list_status_kubeconfig_and_logs_find_it(c: &impl SharedCluster, name: &str) {
    let list = c.kip(&["list", "-o", "json"]).run();
    list.success();
    assert!(
        list.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == name),
        "{list}"
    );
    c.kip(&["list", "--all-namespaces"])
        .run()
        .success()
        .stdout_has(name);
    c.kip(&["status", name])
        .run()
        .success()
        .stdout_has("Ready:       yes");
    c.kip(&["kubeconfig", name])
        .run()
        .success()
        .stdout_has("server: https://127.0.0.1:");
    c.kip(&["logs", name])
        .run()
        .success()
        .stdout_has("kip-phase: cluster-created");
}

/// `up` on running remote cluster `name` re-exports it, as locally, and
/// streams nothing into its node.
pub fn up_on_a_running_cluster_reexports_it(c: &impl SharedCluster, name: &str) {
    let again = up(c, name, &[]);
    again.success().stderr_has("is already running");
    assert!(!again.stderr.contains("streamed"), "{again}");
}

/// Whether process `pid` ignores SIGPIPE: bit 13 of SigIgn in its status.
pub fn ignores_sigpipe(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("process {pid} is gone: {e}"));
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .expect("SigIgn in /proc/PID/status");
    mask & (1 << (libc::SIGPIPE - 1)) != 0
}

/// The forwarder of running remote cluster `name` killed behind kip's
/// back: `status` says so and how to fix it (exit 6); `connect` restores
/// it on the same port, so the kubeconfig still works.
pub fn a_killed_forwarder_is_restored_by_connect(c: &impl SharedCluster, name: &str) {
    let pid = forwarder_pid(c, name).expect("a forwarder is recorded");
    // A dropped API connection must be an error the forwarder handles: its
    // TLS writes (writev) would otherwise raise SIGPIPE and kill it.
    assert!(
        ignores_sigpipe(pid),
        "the forwarder does not ignore SIGPIPE"
    );
    let server = c.kip(&["kubeconfig", name]).run().stdout;
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    until(
        "the forwarder stopped",
        Duration::from_secs(5),
        || match std::fs::read_to_string(format!("/proc/{pid}/cmdline")) {
            Ok(cmdline) if !cmdline.is_empty() => Err(cmdline),
            _ => Ok(()),
        },
    );
    c.kip(&["status", name])
        .run()
        .code(6)
        .stdout_has("port-forward to the node is not running: `kip connect");
    c.kip(&["connect", name])
        .run()
        .success()
        .stderr_has("Connected");
    c.inner(name, &["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    assert_eq!(c.kip(&["kubeconfig", name]).run().stdout, server);
}

/// The logs bundle of running remote cluster `name` comes out of the Pod
/// (exec + tar) with its events.
pub fn the_logs_bundle_comes_out_of_the_pod(c: &impl SharedCluster, name: &str, dir: &Path) {
    let bundle = dir.join(format!("bundle-{name}"));
    c.kip(&["logs", name, "--export", bundle.to_str().unwrap()])
        .run()
        .success();
    let files: Vec<String> = super::support::walk(&bundle)
        .iter()
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("dockerd.log"))
            && files.iter().any(|f| f.contains("events")),
        "{files:?}"
    );
}

/// Three `kip down` of the running remote clusters `names` at once (a
/// job's cleanup racing another job's): each succeeds, nothing of them is
/// left (forwarders included), and a `down` after that says they do not
/// exist.
pub fn downs_at_once_leave_nothing(c: &impl SharedCluster, names: &[&str]) {
    let forwarders: Vec<Option<u32>> = names.iter().map(|n| forwarder_pid(c, n)).collect();
    let mut down = vec!["down"];
    down.extend_from_slice(names);
    for run in wait_all((0..3).map(|_| c.kip(&down).spawn()).collect()) {
        assert_eq!(run.code, 0, "concurrent down: {run}");
    }
    let doc = kubeconfig_doc(c);
    for (name, forwarder) in names.iter().zip(forwarders) {
        assert_nothing_left_of(c, name, &doc, forwarder);
        c.assert_nothing_left(name);
    }
    c.kip(&["down", names[0]])
        .run()
        .success()
        .stderr_has("does not exist");
}

/// The part of a CI job's log that the scenario for cluster `name` wrote.
#[track_caller]
pub fn job_part<'a>(log: &'a str, name: &str) -> &'a str {
    let begin = format!("== {name}\n");
    let end = format!("== {name} done\n");
    let start = log
        .find(&begin)
        .unwrap_or_else(|| panic!("the job never began {name}:\n{log}"));
    let rest = &log[start + begin.len()..];
    let stop = rest
        .find(&end)
        .unwrap_or_else(|| panic!("the job never finished {name}:\n{log}"));
    &rest[..stop]
}

/// The line of `log` that says where the API server is ready.
#[track_caller]
pub fn ready_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("API server ready at"))
        .unwrap_or_else(|| panic!("no ready line: {log}"))
}

/// A CI job in a Pod of the shared cluster has no kubeconfig, only the
/// service account the kubelet mounts and the `KUBERNETES_SERVICE_*` env:
/// `kip up --remote` uses them and defaults to the pod-ip endpoint (no
/// forwarder), kubectl in the same Pod uses the kubeconfig it leaves, and
/// `kip down` still finds the outer cluster after `up` made the inner one
/// the current context. The script for [`SharedCluster::job`] (it must come
/// first in a job: it checks there is no kubeconfig yet).
pub fn pod_ip_from_a_pod_script(c: &impl SharedCluster, name: &str) -> String {
    let nodes = c.job_waits_for_nodes().unwrap_or("");
    format!(
        r#"echo "== {name}"
test ! -e /root/.kube/config
kip up {name} --remote --dind-image {image} {flags}
kubectl get --raw /readyz; echo
{nodes}
kubectl get nodes
kip list --remote
kip status {name} --remote
kip down {name} --remote
test ! -e /root/state/remote/{name}.json
echo AFTER-DOWN
kip list --remote
cat /root/.kube/config
echo "== {name} done"
"#,
        image = c.dind_image(),
        flags = c.job_up_flags(),
    )
}

/// What `pod_ip_from_a_pod_script` must have printed in the job's `log`.
pub fn assert_pod_ip_from_a_pod(c: &impl SharedCluster, name: &str, log: &str) {
    let part = job_part(log, name);
    // The pod-ip endpoint: the API server at the node Pod's own address.
    let ready = ready_line(part);
    assert!(
        ready.contains(":6443") && !ready.contains("127.0.0.1"),
        "{ready}"
    );
    assert!(!part.contains("port-forward"), "{part}");
    assert!(part.lines().any(|l| l == "ok"), "{part}");
    if c.job_waits_for_nodes().is_some() {
        assert!(part.contains("condition met"), "{part}");
    }
    assert!(part.contains("control-plane"), "{part}");
    assert!(
        part.lines()
            .any(|l| l.starts_with(name) && l.contains("running")),
        "kip list in the job: {part}"
    );
    assert!(part.lines().any(|l| l == "Ready:       yes"), "{part}");
    // After `down`, with a kubeconfig left that names nothing, kip goes
    // back to the service account and finds no cluster.
    let (_, after) = part.split_once("AFTER-DOWN").expect("the job reached down");
    assert!(after.contains("NAME") && !after.contains(name), "{after}");
    assert!(after.contains("current-context: ''"), "{after}");
    c.assert_nothing_left(name);
}

/// `--endpoint service` from a CI job Pod: the kubeconfig names the
/// Service's DNS name, the job resolves it through the cluster DNS, and
/// kubectl verifies the API server's certificate for that name. The script
/// for [`SharedCluster::job`].
pub fn service_from_a_pod_script(c: &impl SharedCluster, name: &str) -> String {
    format!(
        r#"echo "== {name}"
kip up {name} --remote --endpoint service --dind-image {image} {flags}
kubectl config view --minify -o jsonpath='{{.clusters[0].cluster.server}}'; echo
kubectl get --raw /readyz; echo
kip down {name} --remote
echo "== {name} done"
"#,
        image = c.dind_image(),
        flags = c.job_up_flags(),
    )
}

/// What `service_from_a_pod_script` must have printed in the job's `log`.
pub fn assert_service_from_a_pod(c: &impl SharedCluster, name: &str, log: &str) {
    let part = job_part(log, name);
    let server = format!("https://kip-{name}.default.svc:6443");
    assert!(ready_line(part).contains(&server), "{part}");
    assert!(!part.contains("port-forward"), "{part}");
    assert!(part.lines().any(|l| l == server), "{part}");
    assert!(part.lines().any(|l| l == "ok"), "{part}");
    c.assert_nothing_left(name);
}

/// The seed of cluster `name` (up, made from a seed): `kip seed list
/// --remote` finds it on the outer node the node Pod runs on, in use by
/// the cluster, so `kip seed rm` refuses it (exit 3, naming the cluster).
/// Returns its key and outer node.
pub fn remote_seed_is_listed_on_its_outer_node(
    c: &impl SharedCluster,
    name: &str,
) -> (String, String) {
    let list = c.kip(&["seed", "list", "-o", "json"]).run();
    list.success();
    let doc: serde_json::Value = serde_json::from_str(&list.stdout).expect("JSON");
    super::schema::assert_valid("seed-list.schema.json", &doc);
    let items = doc["items"].as_array().expect("items");
    let seed = items
        .iter()
        .find(|s| {
            s["clusters"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == name))
        })
        .unwrap_or_else(|| panic!("no seed used by {name}: {list}"));
    assert_eq!(seed["state"], "ready", "{seed}");
    assert_eq!(seed["inUse"], true, "{seed}");
    let node = seed["node"].as_str().expect("the outer node is named");
    let pod_node = c
        .outer(&[
            "get",
            "pod",
            &format!("kip-{name}"),
            "-o",
            "jsonpath={.spec.nodeName}",
        ])
        .success()
        .stdout
        .clone();
    assert_eq!(node, pod_node.trim(), "the node Pod's outer node");
    let key = seed["key"].as_str().expect("key").to_string();
    c.kip(&["seed", "rm", &key]).run().code(3).stderr_has(name);
    (key, node.to_string())
}

/// After the clusters that used seed `key` are gone: `kip seed list
/// --remote` still finds it (kip remembers the outer node), unused; `kip
/// gc --remote --older-than` would delete it (dry run), then does, and it
/// is listed no more.
pub fn remote_gc_collects_an_unused_seed(c: &impl SharedCluster, key: &str, node: &str) {
    let listed = |key: &str| -> Option<serde_json::Value> {
        let list = c.kip(&["seed", "list", "-o", "json"]).run();
        list.success();
        let doc: serde_json::Value = serde_json::from_str(&list.stdout).expect("JSON");
        doc["items"]
            .as_array()?
            .iter()
            .find(|s| s["key"] == key)
            .cloned()
    };
    let seed = listed(key).expect("the seed outlives its clusters");
    assert_eq!(seed["inUse"], false, "{seed}");
    assert_eq!(seed["node"], node, "{seed}");
    let dry = c
        .kip(&["gc", "--dry-run", "--older-than", "1ms", "-o", "json"])
        .run();
    dry.success();
    let doc: serde_json::Value = serde_json::from_str(&dry.stdout).expect("JSON");
    super::schema::assert_valid("gc-result.schema.json", &doc);
    let due = doc["seeds"]["deleted"].as_array().expect("seeds collected");
    assert!(
        due.iter().any(|d| d["name"] == key && d["node"] == node),
        "{dry}"
    );
    assert!(listed(key).is_some(), "a dry run removes nothing");
    c.kip(&["gc", "--older-than", "1ms"])
        .run()
        .success()
        .stdout_has(&format!("delete seed {key} on outer node {node}"));
    assert!(listed(key).is_none(), "gc removed the seed");
}

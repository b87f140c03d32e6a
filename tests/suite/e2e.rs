//! End-to-end tests: the real `kip` binary against the real Docker engine,
//! the test node image (real inner dockerd, the strict test stand-in for
//! kind, a real nested control-plane container) and the real `kubectl`.
//!
//! With KIP_E2E=1 (CI sets it) a missing daemon, image or kubectl fails the
//! test; without it, each test says why it skips.

use super::support::{assert_one_made_it, exit_by, kip, until, wait_all, Kip, Lines, Run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct E2e {
    pub name: String,
    pub image: String,
    pub dir: tempfile::TempDir,
}

/// The "kind node image" the stand-in is given: a tiny image that
/// test-stack/node-image/build.sh makes, streamed in by kip as a real one is.
pub const STAND_IN_NODE_IMAGE: &str = "kip-test-stand-in-node:latest";

/// Where the holding node image (`holding_node_image`) makes the stand-in
/// wait: `kind create cluster` writes `HOLD.waiting` in the node, then waits
/// until `HOLD` exists.
pub const HOLD: &str = "/tmp/kip-test-hold";

/// The stand-in's node image, labelled so that `kind create cluster` holds
/// mid-creation until the test creates `HOLD` in the node.
pub fn holding_node_image() -> &'static str {
    const IMAGE: &str = "kip-test-stand-in-node:hold";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {STAND_IN_NODE_IMAGE}\nLABEL io.kip.test-stack.hold={HOLD}\n"),
    )
    .unwrap();
    let build = Command::new("docker")
        .args(["build", "-q", "-t", IMAGE])
        .arg(dir.path())
        .output()
        .expect("docker build runs");
    assert!(
        build.status.success(),
        "cannot build {IMAGE}: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    IMAGE
}

/// A second `kip up` that starts while the first is surely still making the
/// cluster (the stand-in holds, see `holding_node_image`), and is surely
/// waiting for it before `end_hold` (a command in the node) ends the hold.
/// `exec` runs a command in the node. Both runs, first and second.
pub fn late_second_up(
    first: Kip,
    second: Kip,
    exec: impl Fn(&[&str]) -> Run,
    end_hold: &[&str],
) -> (Run, Run) {
    let mut first = first.spawn();
    let waiting = format!("{HOLD}.waiting");
    // Polled until kind holds, or the first run ends without it holding.
    let held = until(
        "kind held in the first `kip up`",
        Duration::from_secs(120),
        || {
            if first.try_wait().unwrap().is_some() {
                return Ok(false);
            }
            let held = exec(&["test", "-e", &waiting]);
            (held.code == 0).then_some(true).ok_or(format!("{held}"))
        },
    );
    assert!(
        held,
        "the first `kip up` ended before kind held (a test node image older than the \
         stand-in's hold? rebuild it: test-stack/node-image/build.sh): {}",
        Run::from(first.wait_with_output().unwrap())
    );
    let mut second = second.spawn();
    let mut stderr = Lines::of(second.stderr.take().unwrap());
    let said = stderr.wait_for(Duration::from_secs(60), |l| {
        l.contains("is being created by another `kip up`")
    });
    if let Err(seen) = said {
        let _ = second.kill();
        panic!("the second `kip up` never said it waits for the first:\n{seen}");
    }
    exec(end_hold).success();
    let first = Run::from(first.wait_with_output().unwrap());
    let out = second.wait_with_output().unwrap();
    let second = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr.all(),
    };
    (first, second)
}

pub fn required() -> bool {
    std::env::var("KIP_E2E").is_ok_and(|v| v == "1")
}

/// `docker run` of a shell command in a nested container on a node's inner
/// dockerd (the words after `kip exec NAME --`). The stand-in's tiny image
/// runs the node's own /usr, read-only.
pub fn nested_container(script: &str) -> [&str; 9] {
    [
        "docker",
        "run",
        "--rm",
        "-v",
        "/usr:/usr:ro",
        "kip-test-kind-rootfs:latest",
        "bash",
        "-c",
        script,
    ]
}

/// The kubectl the tests use, as a path a shell can run.
pub fn kubectl_path() -> String {
    which(&kubectl_bin()).display().to_string()
}

pub fn kubectl_bin() -> String {
    std::env::var("KIP_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// Why end-to-end tests cannot run here, if they cannot.
fn missing_prerequisite(image: &str) -> Option<String> {
    let docker = Command::new("docker")
        .args(["image", "inspect", image])
        .output();
    match docker {
        Err(e) => return Some(format!("the docker CLI cannot run: {e}")),
        Ok(out) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr);
            return Some(if err.contains("No such image") {
                format!("the test node image {image} is missing (build it: test-stack/node-image/build.sh)")
            } else {
                format!("Docker is not answering: {}", err.trim())
            });
        }
        Ok(_) => {}
    }
    match Command::new(kubectl_bin())
        .args(["version", "--client"])
        .output()
    {
        Ok(out) if out.status.success() => None,
        _ => Some(format!(
            "no kubectl at {:?} (set KIP_TEST_KUBECTL)",
            kubectl_bin()
        )),
    }
}

impl E2e {
    /// `None` (after saying why) when the test stack is absent and KIP_E2E
    /// is not set; a failure when it is set.
    pub fn new(test: &str) -> Option<E2e> {
        let image =
            std::env::var("KIP_TEST_IMAGE").unwrap_or_else(|_| "kip-test-node:latest".into());
        if let Some(why) = missing_prerequisite(&image) {
            assert!(!required(), "KIP_E2E=1 but {why}");
            eprintln!(
                "skipping end-to-end test {test}: {why} (set KIP_E2E=1 to make this a failure)"
            );
            return None;
        }
        let name = format!("e2e-{test}-{}", std::process::id());
        assert!(name.len() <= 40, "{name} is too long for a cluster name");
        Some(E2e {
            name,
            image,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn kip(&self, args: &[&str]) -> Kip {
        kip(args)
            .kubeconfig(&self.kubeconfig())
            .env("KIP_DIND_IMAGE", &self.image)
            .env("KIP_IMAGE", STAND_IN_NODE_IMAGE)
    }

    pub fn up(&self, name: &str, extra: &[&str]) -> Run {
        let mut args = vec!["up", name];
        args.extend_from_slice(extra);
        self.kip(&args).run()
    }

    /// `kip exec NAME -- ARGS…`
    pub fn exec(&self, name: &str, args: &[&str]) -> Kip {
        let mut all = vec!["exec", name, "--"];
        all.extend_from_slice(args);
        self.kip(&all)
    }

    /// The full ID of cluster `name`'s node container ("" when there is none).
    pub fn node_id(&self, name: &str) -> String {
        let label = format!("label=dev.kip.cluster={name}");
        docker(&["ps", "-aq", "--no-trunc", "--filter", &label])
            .trim()
            .to_string()
    }

    pub fn kubectl(&self, args: &[&str]) -> Run {
        let out = Command::new(kubectl_bin())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs");
        Run::from(out)
    }

    /// `kubectl get --raw /readyz` through cluster `name`'s context.
    #[track_caller]
    pub fn readyz(&self, name: &str) {
        self.kubectl(&[
            "--context",
            &format!("kip-{name}"),
            "get",
            "--raw",
            "/readyz",
        ])
        .success()
        .stdout_has("ok");
    }

    pub fn kubeconfig_doc(&self) -> serde_yaml::Value {
        let text = std::fs::read_to_string(self.kubeconfig()).unwrap_or_default();
        serde_yaml::from_str(&text).unwrap_or(serde_yaml::Value::Null)
    }

    /// Nothing of cluster `name` is left: no container, no volume, no
    /// kubeconfig entry.
    #[track_caller]
    pub fn assert_nothing_left(&self, name: &str) {
        let label = format!("label=dev.kip.cluster={name}");
        let containers = docker(&["ps", "-aq", "--filter", &label]);
        assert!(
            containers.trim().is_empty(),
            "containers left for {name}: {containers}"
        );
        let volumes = docker(&["volume", "ls", "-q", "--filter", &label]);
        assert!(
            volumes.trim().is_empty(),
            "volumes left for {name}: {volumes}"
        );
        let context = format!("kip-{name}");
        let doc = self.kubeconfig_doc();
        for section in ["clusters", "users", "contexts"] {
            let names: Vec<&str> = doc[section]
                .as_sequence()
                .map(|s| s.iter().filter_map(|e| e["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                !names.contains(&context.as_str()),
                "{section} still has {context}: {names:?}"
            );
        }
        assert_ne!(doc["current-context"].as_str(), Some(context.as_str()));
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        // A failed test must not leak clusters into the next one.
        let names = docker(&[
            "ps",
            "-a",
            "--filter",
            "label=dev.kip.managed-by=kip",
            "--format",
            "{{.Label \"dev.kip.cluster\"}}",
        ]);
        // This test's names: its own, or its own followed by "-".
        let prefix = format!("{}-", self.name);
        let ours = |n: &str| n == self.name || n.starts_with(&prefix);
        for name in names.lines().filter(|n| ours(n)) {
            let _ = self.kip(&["down", name]).run();
        }
        // What a failed test made beside kip: its own containers (named
        // after it) and node volumes whose node is gone. Never a panic here.
        let list = |args: &[&str]| {
            Command::new("docker")
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for name in list(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .filter(|n| ours(n))
        {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
        for volume in list(&["volume", "ls", "-q"]).lines().filter(|v| {
            v.strip_prefix("kip-")
                .and_then(|v| v.strip_suffix("-docker"))
                .is_some_and(ours)
        }) {
            let _ = Command::new("docker")
                .args(["volume", "rm", volume])
                .output();
        }
    }
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A kubeconfig as people have them: several contexts, an exec plugin,
/// extensions, unknown fields (shared with the unit tests).
const BUSY_KUBECONFIG: &str = include_str!("../fixtures/busy-kubeconfig.yaml");

#[track_caller]
fn assert_keeps_busy_entries(doc: &serde_yaml::Value) {
    let busy: serde_yaml::Value = serde_yaml::from_str(BUSY_KUBECONFIG).unwrap();
    for section in ["clusters", "users", "contexts"] {
        for entry in busy[section].as_sequence().unwrap() {
            let kept = doc[section]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|e| e == entry);
            assert!(kept, "{section} lost {entry:?}");
        }
    }
    assert_eq!(doc["extensions"], busy["extensions"]);
    assert_eq!(doc["preferences"], busy["preferences"]);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn up_then_kubectl_then_list_then_down_leaves_nothing() {
    let Some(t) = E2e::new("basic") else { return };
    std::fs::write(t.kubeconfig(), BUSY_KUBECONFIG).unwrap();

    let up = t.up(&t.name, &[]);
    up.success()
        .stderr_has("Docker running inside the node")
        .stderr_has("Cluster created")
        .stderr_has("API server ready")
        .stderr_has("Kubeconfig written");

    // The real kubectl, through the exported kubeconfig and its new context.
    let doc = t.kubeconfig_doc();
    assert_eq!(
        doc["current-context"].as_str(),
        Some(format!("kip-{}", t.name).as_str())
    );
    assert_keeps_busy_entries(&doc);
    t.kubectl(&["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    t.kubectl(&["version", "-o", "json"])
        .success()
        .stdout_has("kip-test-stand-in");
    // Needs the client certificate kip exported (the stand-in refuses anonymous).
    t.kubectl(&["get", "nodes", "-o", "name"])
        .success()
        .stdout_has("node/");

    let list = t.kip(&["list", "-o", "json"]).run();
    list.success();
    let list = list.json();
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == t.name.as_str())
        .expect("listed");
    assert_eq!(item["state"], "running");
    assert!(item["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));

    let down = t.kip(&["down", &t.name]).run();
    down.success().stderr_has("Deleted cluster");
    t.assert_nothing_left(&t.name);
    // Entry for entry, and the context `up` switched away from is current again.
    let expected: serde_yaml::Value = serde_yaml::from_str(BUSY_KUBECONFIG).unwrap();
    assert_eq!(t.kubeconfig_doc(), expected, "down restores the kubeconfig");

    // Idempotent: an absent cluster is reported, not an error.
    t.kip(&["down", &t.name])
        .run()
        .success()
        .stderr_has("does not exist");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_second_up_reexports_the_running_cluster() {
    let Some(t) = E2e::new("reuse") else { return };
    t.up(&t.name, &["--no-switch-context"]).success();
    assert_eq!(t.kubeconfig_doc()["current-context"].as_str(), None);

    std::fs::remove_file(t.kubeconfig()).unwrap();
    t.up(&t.name, &[]).success().stderr_has("already running");
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn exec_runs_in_the_node_and_passes_the_exit_code_through() {
    let Some(t) = E2e::new("exec") else { return };
    t.up(&t.name, &["-q"]).success();
    let exec = t
        .kip(&[
            "exec",
            &t.name,
            "--",
            "sh",
            "-c",
            "docker ps --format '{{.Names}}'; exit 7",
        ])
        .run();
    exec.code(7)
        .stdout_has(&format!("{}-control-plane", t.name));
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn status_and_logs_report_the_running_node() {
    let Some(t) = E2e::new("status") else { return };
    t.up(&t.name, &["--security", "caps"]).success();
    let status = t.kip(&["status", &t.name, "-o", "json"]).run();
    status.success();
    let status = status.json();
    assert_eq!(status["ready"], true);
    assert_eq!(status["security"], "caps");
    assert_eq!(status["phase"], "cluster-created");
    assert_eq!(status["kubernetesVersion"], "v1.33.1-kip-test-stand-in");
    assert!(status["nodeFacts"]["mtu"].as_str().is_some());

    t.kip(&["logs", &t.name])
        .run()
        .success()
        .stdout_has("kip-phase: cluster-created");
    t.kip(&["logs", &t.name, "--dockerd"])
        .run()
        .success()
        .stdout_has("API listen on");

    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
    t.kip(&["status", &t.name]).run().code(5);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kubeconfig_output_is_what_it_prints_with_mode_0600() {
    let Some(t) = E2e::new("kcfile") else { return };
    t.up(&t.name, &["-q"]).success();
    let kc_file = t.dir.path().join("standalone");
    t.kip(&["kubeconfig", &t.name, "--output", kc_file.to_str().unwrap()])
        .run()
        .success();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kc_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let printed = t.kip(&["kubeconfig", &t.name]).run();
    printed.success();
    assert_eq!(std::fs::read_to_string(&kc_file).unwrap(), printed.stdout);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn four_concurrent_ups_share_one_kubeconfig() {
    let Some(t) = E2e::new("four") else { return };
    std::fs::write(t.kubeconfig(), BUSY_KUBECONFIG).unwrap();
    let names: Vec<String> = (1..=4).map(|i| format!("{}-{i}", t.name)).collect();
    let children: Vec<_> = names
        .iter()
        .map(|name| t.kip(&["up", name, "-q"]).spawn())
        .collect();
    for (name, child) in names.iter().zip(children) {
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.code, 0, "{name}: {run}");
    }
    let doc = t.kubeconfig_doc();
    assert_keeps_busy_entries(&doc);
    for name in &names {
        let context = format!("kip-{name}");
        for section in ["clusters", "users", "contexts"] {
            let count = doc[section]
                .as_sequence()
                .unwrap()
                .iter()
                .filter(|e| e["name"] == context.as_str())
                .count();
            assert_eq!(count, 1, "{section} {context}");
        }
        t.kubectl(&["--context", &context, "get", "--raw", "/readyz"])
            .success();
    }
    // Four `kip down` of all four at once (a job's cleanup racing another
    // job's `kip gc`): each succeeds, whoever removes a node first.
    let mut args = vec!["down"];
    args.extend(names.iter().map(String::as_str));
    for run in wait_all((0..4).map(|_| t.kip(&args).spawn()).collect()) {
        assert_eq!(run.code, 0, "concurrent down: {run}");
    }
    for name in &names {
        t.assert_nothing_left(name);
    }
    assert_keeps_busy_entries(&t.kubeconfig_doc());
}

/// Four `kip up` of one name at once (matrix jobs on one engine), with
/// `extra` flags.
fn four_ups_at_once(t: &E2e, extra: &[&str]) -> Vec<Run> {
    let mut args = vec!["up", t.name.as_str(), "-o", "json"];
    args.extend_from_slice(extra);
    wait_all((0..4).map(|_| t.kip(&args).spawn()).collect())
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn concurrent_ups_of_one_name_make_one_cluster() {
    let Some(t) = E2e::new("same") else { return };
    // One makes the node, the others wait for it; all succeed, one node.
    // A loser waits at whichever step it meets the maker: before its node
    // exists (it loses the container's name) or after (it finds the node
    // being made).
    let runs = four_ups_at_once(&t, &[]);
    assert_one_made_it(&runs);
    let waited = runs
        .iter()
        .filter(|r| {
            r.stderr.contains("is being started by another `kip up")
                || r.stderr.contains("is being created by another `kip up`")
        })
        .count();
    assert!(waited >= 1, "no run waited for another");
    let nodes = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.kip.cluster={}", t.name),
    ]);
    assert_eq!(nodes.lines().count(), 1, "{nodes}");
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn concurrent_ups_whose_maker_fails_all_say_so_and_leave_nothing() {
    let Some(t) = E2e::new("same-fail") else {
        return;
    };
    // The maker fails (dockerd refuses a flag) and removes its node: the
    // others say so; nothing is left.
    let runs = four_ups_at_once(&t, &["--dockerd-arg=--no-such-flag"]);
    for run in &runs {
        assert_ne!(run.code, 0, "{run}");
    }
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("dockerd failed inside the node")),
        "the maker's own error"
    );
    for run in runs.iter().filter(|r| r.stderr.contains("another `kip up")) {
        run.stderr_has("failed and removed it");
    }
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_late_second_up_waits_for_the_first() {
    let Some(t) = E2e::new("late") else { return };
    let image = holding_node_image();
    let up = || {
        t.kip(&[
            "up", &t.name, "--image", image, "--wait", "90s", "-o", "json",
        ])
    };
    // The second starts once kind runs in the first's node: the node is
    // up and has no kubeconfig yet. It waits, then re-exports.
    let (first, second) = late_second_up(
        up(),
        up(),
        |args| t.exec(&t.name, args).run(),
        &["touch", HOLD],
    );
    second.stderr_has("kind is creating the cluster in its node");
    assert_one_made_it(&[first, second]);
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_late_second_up_says_when_the_first_fails_and_keeps_its_node() {
    let Some(t) = E2e::new("late-fail") else {
        return;
    };
    let image = holding_node_image();
    let up = |extra: &[&str]| {
        let mut args = vec!["up", t.name.as_str(), "--image", image, "--wait", "90s"];
        args.extend_from_slice(extra);
        t.kip(&args)
    };
    // kind dies mid-creation; the first run keeps the failed node, so the
    // second is told the cluster is broken, not left waiting it out.
    let (first, second) = late_second_up(
        up(&["--keep-on-failure"]),
        up(&[]),
        |args| t.exec(&t.name, args).run(),
        &["pkill", "-x", "kind"],
    );
    first.code(6).stderr_has("Kept node");
    second
        .code(6)
        .stderr_has("exists but is not running")
        .stderr_has("--recreate");
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// A node removed outside kip (`docker rm -f`, a CI clean-up script)
/// leaves its /var/lib/docker volume; the next `kip up` of that name must
/// not start on the old node's containers (kind: "node(s) already exist").
/// A restart of the node itself keeps them.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_volume_left_by_a_removed_node_does_not_break_the_next_up() {
    let Some(t) = E2e::new("leftover") else {
        return;
    };
    t.up(&t.name, &["-q"]).success();
    docker(&["rm", "-f", &format!("kip-{}", t.name)]);
    let volume = format!("kip-{}-docker", t.name);
    assert_eq!(
        docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{volume}$")
        ])
        .trim(),
        volume
    );
    t.up(&t.name, &[]).success().stderr_has("API server ready");
    t.readyz(&t.name);
    let node = format!("kip-{}", t.name);
    let wiped = |log: &str| log.matches("docker-root=wiped").count();
    let log = docker(&["logs", &node]);
    assert_eq!(wiped(&log), 1, "{log}");
    // Its own restart is not a new node: nothing is wiped.
    docker(&["restart", "-t", "2", &node]);
    let log = until(
        "the restarted node's dockerd came back",
        Duration::from_secs(30),
        || {
            let log = docker(&["logs", &node]);
            (log.matches("kip-phase: dockerd-ready").count() >= 2)
                .then_some(log.clone())
                .ok_or(log)
        },
    );
    assert_eq!(wiped(&log), 1, "{log}");
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn interrupting_up_at_random_moments_leaves_nothing() {
    let Some(t) = E2e::new("sigint") else { return };
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("interrupt test seed: {seed}");
    let mut completed = 0;
    for run in 0..10 {
        // xorshift: a delay between 0 and 2.5 s, about one whole `up`.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 2500);
        let name = format!("{}-{run}", t.name);
        let mut command = t.kip(&["up", &name]).command();
        let child = command
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kip starts");
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let output = Run::from(child.wait_with_output().unwrap());
        match Some(output.code).filter(|c| *c >= 0) {
            // Finished before the signal: a whole cluster, then removed.
            Some(0) => {
                completed += 1;
                t.kip(&["down", &name]).run().success();
            }
            // Interrupted (130), or killed before kip listened for signals.
            Some(130) | None => {}
            Some(_) => panic!("run {run} (after {delay:?}): {output}"),
        }
        t.assert_nothing_left(&name);
    }
    eprintln!("{completed} of 10 runs finished before the signal");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn dockerd_failure_is_reported_fast_with_the_log_tail() {
    let Some(t) = E2e::new("dockerd") else { return };
    // Exit 6 (the node failed), not 4 (the --wait deadline passed): kip
    // reports the failure when the node does, without waiting it out.
    let run = t.up(&t.name, &["--dockerd-arg=--no-such-flag"]);
    run.code(6)
        .stderr_has("dockerd failed inside the node")
        .stderr_has("phase dockerd")
        .stderr_has("no-such-flag");
    run.stderr_has("Removed what this run created");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn keep_on_failure_keeps_the_failed_node_and_up_says_it_is_broken() {
    let Some(t) = E2e::new("keep") else { return };
    // --keep-on-failure keeps the node for debugging.
    t.up(
        &t.name,
        &["--dockerd-arg=--no-such-flag", "--keep-on-failure"],
    )
    .code(6)
    .stderr_has("Kept node");
    assert!(!docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.kip.cluster={}", t.name)
    ])
    .trim()
    .is_empty());
    // Failed and kept is broken, not in the making: said at once.
    let again = t.kip(&["up", &t.name]).run();
    again.code(6).stderr_has("--recreate");
    assert!(!again.stderr.contains("being created"), "{again}");
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_wait_timeout_is_a_timeout_failure_and_cleans_up() {
    let Some(t) = E2e::new("timeout") else { return };
    let run = t.up(&t.name, &["--wait", "200ms"]);
    run.code(4).stderr_has("not ready within 200ms");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_port_in_use_is_named() {
    let Some(t) = E2e::new("port") else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let run = t.up(&t.name, &["--api-port", &port]);
    run.code(3)
        .stderr_has(&format!("127.0.0.1:{port} is already in use"))
        .stderr_has("--api-port");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_missing_dind_image_is_named() {
    let Some(t) = E2e::new("image") else { return };
    let run = t
        .kip(&[
            "up",
            &t.name,
            "--dind-image",
            "127.0.0.1:1/kip-test-no-such-image:0",
        ])
        .run();
    run.code(3)
        .stderr_has("kip-test-no-such-image:0 is not on this Docker engine");
    t.assert_nothing_left(&t.name);
}

/// The kind node image: on neither the host's engine nor a registry.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_missing_kind_node_image_is_named() {
    let Some(t) = E2e::new("nodeimage") else {
        return;
    };
    let run = t
        .kip(&[
            "up",
            &t.name,
            "--image",
            "127.0.0.1:1/kip-test-no-such-node:0",
        ])
        .run();
    run.code(3)
        .stderr_has("kind node image 127.0.0.1:1/kip-test-no-such-node:0 is neither on the host's Docker engine nor pullable")
        .stderr_has("docker pull");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_privileged_request_either_works_or_is_one_clear_line() {
    let Some(t) = E2e::new("priv") else { return };
    let run = t.up(&t.name, &["--security", "privileged"]);
    if run.code == 0 {
        let status = t.kip(&["status", &t.name, "-o", "json"]).run();
        assert!(
            status.stdout.contains("\"security\": \"privileged\""),
            "{status}"
        );
        t.kip(&["down", &t.name]).run().success();
    } else {
        // The CI machine's engine refuses privileged containers.
        run.code(3)
            .stderr_has("refuses privileged containers")
            .stderr_has("--security caps");
        let error_lines = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count();
        assert_eq!(error_lines, 1, "{run}");
        assert!(!run.stderr.contains("OCI runtime create failed"), "{run}");
    }
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn the_shell_example_runs_and_cleans_up() {
    let Some(t) = E2e::new("example") else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci-smoke.sh");
    // `kip` and `kubectl` on PATH, as a CI job would have them.
    let bin = t.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(super::support::kip_bin(), bin.join("kip")).unwrap();
    let kubectl = which(&kubectl_bin());
    std::os::unix::fs::symlink(kubectl, bin.join("kubectl")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg(&script)
        .env("PATH", path)
        .env("CLUSTER", &t.name)
        .env("KIP_DIND_IMAGE", &t.image)
        .env("KIP_IMAGE", STAND_IN_NODE_IMAGE)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = Run::from(out);
    run.success()
        .stdout_has("ok")
        .stdout_has("kip-test-stand-in")
        .stderr_has("Deleted cluster");
    t.assert_nothing_left(&t.name);
}

fn which(program: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn recreate_replaces_a_cluster() {
    let Some(t) = E2e::new("recreate") else {
        return;
    };
    t.up(&t.name, &[]).success();
    let first = t.node_id(&t.name);
    t.up(&t.name, &["--recreate"])
        .success()
        .stderr_has("Deleted the existing cluster");
    let second = t.node_id(&t.name);
    assert_ne!(first, second, "--recreate made a new node");
    assert!(!second.is_empty());
    t.kubectl(&["get", "--raw", "/readyz"]).success();
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// `logs -f` prints the log so far and ends when the node goes: the node
/// is removed once the follower has printed the created phase.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn logs_follow_ends_when_the_node_goes() {
    let Some(t) = E2e::new("follow") else {
        return;
    };
    t.up(&t.name, &["-q"]).success();
    let mut follower = t
        .kip(&["logs", &t.name, "-f"])
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read as it comes, so a full pipe cannot hold the follower.
    let mut lines = Lines::of(follower.stdout.take().unwrap());
    if let Err(seen) = lines.wait_for(Duration::from_secs(60), |l| {
        l.contains("kip-phase: cluster-created")
    }) {
        let _ = follower.kill();
        panic!("logs -f never printed the created phase:\n{seen}");
    }
    t.kip(&["down", &t.name]).run().success();
    // It ends by itself once the node is gone.
    let status = exit_by(
        &mut follower,
        Duration::from_secs(60),
        "logs -f did not end when the node went",
    );
    lines.all();
    assert!(status.success(), "logs -f: {status}");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_held_kubeconfig_lock_never_fails_a_ready_cluster() {
    let Some(t) = E2e::new("lock") else { return };
    std::fs::write(t.kubeconfig(), BUSY_KUBECONFIG).unwrap();
    let lock = t.dir.path().join("kubeconfig.lock");
    std::fs::write(&lock, "").unwrap();
    // kip waits for the lock (10 s), then keeps the cluster and says how to
    // get its kubeconfig.
    let up = t.up(&t.name, &["-o", "json"]);
    up.success()
        .stderr_has("the cluster is ready, but kip could not update")
        .stderr_has(&format!("kip kubeconfig {}", t.name));
    assert_eq!(up.json()["kubeconfigWritten"], false, "{up}");
    // Again, on the running cluster: nothing claims a re-export.
    let again = t.up(&t.name, &["-o", "json"]);
    again
        .success()
        .stderr_has("the cluster is ready, but kip could not update");
    assert!(!again.stderr.contains("re-exported"), "{again}");
    let json = again.json();
    assert_eq!(
        (&json["reused"], &json["kubeconfigWritten"]),
        (&true.into(), &false.into())
    );
    assert_eq!(
        std::fs::read_to_string(t.kubeconfig()).unwrap(),
        BUSY_KUBECONFIG,
        "untouched"
    );
    t.kip(&["status", &t.name]).run().success();
    std::fs::remove_file(&lock).unwrap();
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// A second Docker daemon whose default bridge has its own MTU, on a bridge
/// of its own; stopped and removed on drop.
pub struct SecondDaemon {
    pub socket: String,
    bridge: String,
    root: std::path::PathBuf,
    child: std::process::Child,
}

impl SecondDaemon {
    pub fn start(mtu: u32) -> SecondDaemon {
        // Unique per daemon: several tests of this process may run one.
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = (std::process::id() % 10_000) * 10 + n % 10;
        let bridge = format!("kipbr{id}");
        let run = |cmd: &[&str]| {
            let out = std::process::Command::new(cmd[0])
                .args(&cmd[1..])
                .output()
                .expect("runs");
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["ip", "link", "add", &bridge, "type", "bridge"]);
        run(&[
            "ip",
            "addr",
            "add",
            &format!("10.213.{}.1/24", id % 250),
            "dev",
            &bridge,
        ]);
        run(&["ip", "link", "set", &bridge, "up"]);
        let root = std::env::temp_dir().join(format!("kip-test-dockerd-{id}"));
        let socket = format!("unix://{}/docker.sock", root.display());
        std::fs::create_dir_all(&root).unwrap();
        let log = std::fs::File::create(root.join("dockerd.log")).unwrap();
        let child = std::process::Command::new("dockerd")
            .args([
                "--host",
                &socket,
                "--bridge",
                &bridge,
                "--mtu",
                &mtu.to_string(),
            ])
            .args(["--iptables=false", "--ip-masq=false"])
            .arg(format!("--data-root={}/data", root.display()))
            .arg(format!("--exec-root={}/exec", root.display()))
            .arg(format!("--pidfile={}/docker.pid", root.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let daemon = SecondDaemon {
            socket,
            bridge,
            root,
            child,
        };
        until(
            "the second dockerd answers",
            Duration::from_secs(30),
            || {
                let info = daemon.docker(&["info"]);
                info.status
                    .success()
                    .then_some(())
                    .ok_or_else(|| String::from_utf8_lossy(&info.stderr).into_owned())
            },
        );
        daemon
    }

    /// `image` from the main engine into this one.
    pub fn load_image(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let load = Command::new("docker")
            .args(["-H", &self.socket, "load", "-q"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        assert!(
            load.status.success(),
            "{}",
            String::from_utf8_lossy(&load.stderr)
        );
    }

    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("docker")
            .arg("-H")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for SecondDaemon {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]).stdout;
        for id in String::from_utf8_lossy(&ids).split_whitespace() {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        terminate(self.child.id());
        let _ = self.child.wait();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// SIGTERM, so dockerd stops its containerd and cleans up.
fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

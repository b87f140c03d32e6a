//! kip touches only what it made (issue 11): `kip run` deletes only the
//! cluster it created and stops every process CMD started; objects without
//! kip's labels are never adopted or removed; what a node removed behind
//! kip's back left is seen by `list` and `gc`.

use super::e2e::{docker, E2e};
use super::schema::assert_valid;
use super::support::exit_by;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet),
/// waiting a little for a killed one to finish dying.
fn process_ended(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ended = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // "PID (comm) STATE …"
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z')),
        };
        if ended || Instant::now() >= deadline {
            return ended;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid CMD wrote to `file`.
fn pid_in(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("CMD wrote no pid to {}: {e}", file.display()))
        .trim()
        .to_string()
}

fn kill_if_left(pid: &str) {
    let _ = Command::new("kill")
        .args(["-9", pid])
        .stderr(Stdio::null())
        .status();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_leaves_a_cluster_it_did_not_make_and_stops_all_of_cmd() {
    let Some(t) = E2e::new("run-own") else { return };
    t.up(&t.name, &["-q"]).success();
    let kubeconfig = std::fs::read_to_string(t.kubeconfig()).unwrap();

    // `kip up demo; kip run --name demo` used to run against demo and then
    // delete it: an existing name is refused, and nothing is touched.
    t.kip(&["run", "--name", &t.name, "--", "true"])
        .run()
        .code(3)
        .stderr_has(&format!("cluster {} already exists", t.name))
        .stderr_has("--reuse");
    t.kip(&["status", &t.name]).run().success();
    // With --reuse it is used and left, kubeconfig entries and all.
    t.kip(&["run", "--name", &t.name, "--reuse", "--", "true"])
        .run()
        .success()
        .stderr_has("Kept cluster");
    t.kip(&["status", &t.name]).run().success();
    assert_eq!(
        std::fs::read_to_string(t.kubeconfig()).unwrap(),
        kubeconfig,
        "kip run changed the user's kubeconfig"
    );
    t.readyz(&t.name);

    // --timeout stops CMD's whole process group, not only `sh`: the
    // `sleep` it started would hold a CI job's output pipe open.
    let pid_file = t.dir.path().join("timeout.pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    t.kip(&[
        "run",
        "--reuse",
        &t.name,
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .run()
    .code(4)
    .stderr_has("longer than --timeout 1s");
    let sleeper = pid_in(&pid_file);
    let ended = process_ended(&sleeper);
    kill_if_left(&sleeper);
    assert!(ended, "the sleep CMD started outlived kip run --timeout");

    // A second SIGINT kills CMD's group, even what ignores SIGINT and
    // SIGTERM.
    let pid_file = t.dir.path().join("interrupt.pid");
    let script = format!(
        "trap '' INT TERM; sleep 300 & echo $! > {}; echo started; wait",
        pid_file.display()
    );
    let mut child = t
        .kip(&["run", "--reuse", &t.name, "--", "sh", "-c", &script])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "started");
    let kip_pid = child.id().to_string();
    Command::new("kill")
        .args(["-INT", &kip_pid])
        .status()
        .unwrap();
    // The second one only once kip has passed the first on.
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "kip said nothing of the SIGINT"
        );
        if line.contains("passing SIGINT on") {
            break;
        }
    }
    Command::new("kill")
        .args(["-INT", &kip_pid])
        .status()
        .unwrap();
    let status = exit_by(
        &mut child,
        Instant::now() + Duration::from_secs(60),
        "kip run did not end within 60s",
    );
    let sleeper = pid_in(&pid_file);
    let ended = process_ended(&sleeper);
    kill_if_left(&sleeper);
    assert_eq!(status.code(), Some(128 + 9), "CMD ends by SIGKILL");
    assert!(ended, "the second SIGINT did not reach all of CMD's group");
    t.kip(&["status", &t.name]).run().success();

    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// Objects a test made beside kip, removed even when it fails.
struct Strangers(Vec<[&'static str; 2]>, Vec<String>);

impl Drop for Strangers {
    fn drop(&mut self) {
        for ([kind, flag], name) in self.0.iter().zip(&self.1) {
            let _ = Command::new("docker")
                .args([kind, "rm", flag, name])
                .output();
        }
    }
}

/// Whether the engine has a volume of this name.
fn volume_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["volume", "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn objects_without_kips_labels_are_never_adopted_or_removed() {
    let Some(t) = E2e::new("foreign") else { return };
    let (vol_cluster, node_cluster) = (format!("{}-v", t.name), format!("{}-n", t.name));
    let volume = format!("kip-{vol_cluster}-docker");
    let container = format!("kip-{node_cluster}");
    let _strangers = Strangers(
        vec![["volume", "-f"], ["container", "-f"]],
        vec![volume.clone(), container.clone()],
    );
    // The user's own volume that happens to have a node volume's name.
    docker(&["volume", "create", &volume]);
    docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "-v",
        &format!("{volume}:/v"),
        &t.image,
        "-c",
        "echo mine > /v/marker",
    ]);
    t.up(&vol_cluster, &["-q"])
        .code(3)
        .stderr_has(&format!("volume named {volume}"))
        .stderr_has("kip did not make");
    assert_eq!(t.node_id(&vol_cluster), "", "up created a node");
    t.kip(&["down", &vol_cluster])
        .run()
        .success()
        .stderr_has(&format!("left volume {volume} alone"));
    let marker = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "-v",
        &format!("{volume}:/v"),
        &t.image,
        "/v/marker",
    ]);
    assert_eq!(marker.trim(), "mine", "the user's volume was wiped");

    // A container of a node's name that kip did not make: reported at
    // once (not after waiting for "another kip up"), nothing created.
    docker(&[
        "create",
        "--name",
        &container,
        "--entrypoint",
        "true",
        &t.image,
    ]);
    t.up(&node_cluster, &["-q"])
        .code(3)
        .stderr_has(&format!("container named {container}"));
    assert!(
        !volume_exists(&format!("kip-{node_cluster}-docker")),
        "up left a volume behind"
    );
    t.kip(&["down", &node_cluster]).run().success();
    docker(&["container", "inspect", &container]);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn what_a_node_removed_outside_kip_left_is_listed_and_collected() {
    let Some(t) = E2e::new("orphan") else { return };
    let selector = format!("kip-test-orphan={}", t.name);
    // A TTL far off: an orphan is collected whatever its TTL.
    t.up(&t.name, &["-q", "--ttl", "1h", "--label", &selector])
        .success();
    docker(&["rm", "-f", &format!("kip-{}", t.name)]);

    let list = t.kip(&["list", "-o", "json"]).run();
    list.success();
    let doc: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_valid("cluster-list.schema.json", &doc);
    let row = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == t.name.as_str())
        .unwrap_or_else(|| panic!("kip list does not show the orphan\n{list}"));
    assert_eq!(row["state"], "orphaned");
    assert_eq!(row["status"], "node container gone, volume left");
    t.kip(&["list"])
        .run()
        .success()
        .stdout_has("orphaned")
        .stderr_has("kip gc");
    let status = t.kip(&["status", &t.name, "-o", "json"]).run();
    status.code(6);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_valid("cluster-status.schema.json", &doc);
    assert_eq!(doc["state"], "orphaned");
    assert!(
        doc["failure"]
            .as_str()
            .unwrap()
            .contains(&format!("kip down {}", t.name)),
        "{status}"
    );
    // The commands that need the node say what is left and what to do,
    // not that there is no such cluster.
    let left = format!(
        "its node container was removed outside kip and its volume is left; `kip down {}`",
        t.name
    );
    for args in [
        vec!["kubeconfig", t.name.as_str()],
        vec!["logs", t.name.as_str()],
        vec!["exec", t.name.as_str(), "--", "true"],
        vec!["load", t.name.as_str(), super::e2e::STAND_IN_NODE_IMAGE],
    ] {
        let run = t.kip(&args).run();
        run.stderr_has(&left);
        assert_ne!(run.code, 0, "{args:?}: {run}");
    }

    // Made moments ago, it may be a `kip up` between its volume and its
    // node: gc leaves it for a minute, or until --older-than.
    let dry = t.kip(&["gc", "--dry-run", "-l", &selector]).run();
    dry.success();
    assert!(!dry.stdout.contains(&t.name), "{dry}");
    let would = format!(
        "would delete {} (orphaned: node container gone, volume left)",
        t.name
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let dry = t
            .kip(&["gc", "--dry-run", "--older-than", "1s", "-l", &selector])
            .run();
        dry.success();
        if dry.stdout.contains(&would) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{dry}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(volume_exists(&format!("kip-{}-docker", t.name)));
    let gc = t
        .kip(&["gc", "-o", "json", "--older-than", "1s", "-l", &selector])
        .run();
    gc.success();
    let doc: serde_json::Value = serde_json::from_str(&gc.stdout).unwrap();
    assert_valid("gc-result.schema.json", &doc);
    assert_eq!(doc["deleted"][0]["name"], t.name.as_str(), "{gc}");
    // The volume and the kubeconfig entries went.
    t.assert_nothing_left(&t.name);
    // Now there is no such cluster at all.
    t.kip(&["kubeconfig", &t.name])
        .run()
        .stderr_has(&format!("no kip cluster named {:?}", t.name));
}

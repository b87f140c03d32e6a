//! kip touches only what it made (issue 11): `kip run` deletes only the
//! cluster it created and stops every process CMD started; objects without
//! kip's labels are never adopted or removed; what a node removed behind
//! kip's back left is seen by `list` and `gc`.

use super::e2e::{docker, E2e};
use super::schema::assert_valid;
use super::support::{eventually, exit_by, until, Lines};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet),
/// waiting a little for a killed one to finish dying.
fn process_ended(pid: &str) -> bool {
    eventually(Duration::from_secs(10), || {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => Ok(()),
            // "PID (comm) STATE …"
            Ok(stat)
                if stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z')) =>
            {
                Ok(())
            }
            Ok(stat) => Err(stat),
        }
    })
    .is_ok()
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
fn run_refuses_a_name_that_is_taken_and_reuse_leaves_it_as_it_was() {
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
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// --timeout stops CMD's whole process group, not only `sh`: the `sleep`
/// it started would hold a CI job's output pipe open.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_timeout_stops_all_of_cmd() {
    let Some(t) = E2e::new("run-tmo") else { return };
    t.up(&t.name, &["-q"]).success();
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
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// A second SIGINT kills CMD's group, even what ignores SIGINT and SIGTERM.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_second_sigint_kills_all_of_cmd() {
    let Some(t) = E2e::new("run-int") else { return };
    t.up(&t.name, &["-q"]).success();
    let pid_file = t.dir.path().join("interrupt.pid");
    let script = format!(
        "trap '' INT TERM; sleep 300 & echo $! > {}; echo started; wait",
        pid_file.display()
    );
    let mut child = t
        .kip(&["run", "--reuse", &t.name, "--", "sh", "-c", &script])
        .spawn();
    let mut stdout = Lines::of(child.stdout.take().unwrap());
    let mut stderr = Lines::of(child.stderr.take().unwrap());
    let started = stdout.wait_for(Duration::from_secs(60), |l| l.trim() == "started");
    let interrupt = |child: &std::process::Child| {
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
    };
    if let Err(seen) = started {
        let _ = child.kill();
        panic!("CMD never started:\n{seen}");
    }
    interrupt(&child);
    // The second one only once kip has passed the first on.
    let passed = stderr.wait_for(Duration::from_secs(30), |l| l.contains("passing SIGINT on"));
    if let Err(seen) = passed {
        let _ = child.kill();
        panic!("kip said nothing of the SIGINT:\n{seen}");
    }
    interrupt(&child);
    let status = exit_by(
        &mut child,
        Duration::from_secs(60),
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
fn a_volume_kip_did_not_make_is_never_adopted_or_wiped() {
    let Some(t) = E2e::new("foreign-v") else {
        return;
    };
    let vol_cluster = t.name.clone();
    let volume = format!("kip-{vol_cluster}-docker");
    let _strangers = Strangers(vec![["volume", "-f"]], vec![volume.clone()]);
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
}

/// A container of a node's name that kip did not make: reported at once
/// (not after waiting for "another kip up"), nothing created.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_container_kip_did_not_make_is_refused_at_once_and_left() {
    let Some(t) = E2e::new("foreign-c") else {
        return;
    };
    let node_cluster = t.name.clone();
    let container = format!("kip-{node_cluster}");
    let _strangers = Strangers(vec![["container", "-f"]], vec![container.clone()]);
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

/// Cluster `t.name` with its node container removed outside kip (its
/// volume left), labelled `selector`; a TTL far off, since an orphan is
/// collected whatever its TTL.
pub(super) fn orphan(t: &E2e, selector: &str) {
    t.up(&t.name, &["-q", "--ttl", "1h", "--label", selector])
        .success();
    docker(&["rm", "-f", &format!("kip-{}", t.name)]);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn an_orphaned_cluster_is_listed_and_its_status_says_what_is_left() {
    let Some(t) = E2e::new("orphan") else { return };
    orphan(&t, &format!("kip-test-orphan={}", t.name));

    let list = t.kip(&["list", "-o", "json"]).run();
    list.success();
    let doc = list.json();
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
    let doc = status.json();
    assert_valid("cluster-status.schema.json", &doc);
    assert_eq!(doc["state"], "orphaned");
    assert!(
        doc["failure"]
            .as_str()
            .unwrap()
            .contains(&format!("kip down {}", t.name)),
        "{status}"
    );
}

/// The commands that need the node say what is left and what to do, not
/// that there is no such cluster.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn commands_on_an_orphaned_cluster_say_what_is_left() {
    let Some(t) = E2e::new("orphan-cmd") else {
        return;
    };
    orphan(&t, &format!("kip-test-orphan={}", t.name));
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
}

/// Made moments ago, an orphan may be a `kip up` between its volume and
/// its node: gc leaves it for a minute, or until --older-than; then it
/// takes the volume and the kubeconfig entries, and no such cluster is left.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_collects_an_orphan_once_it_cannot_be_an_up_under_way() {
    let Some(t) = E2e::new("orphan-gc") else {
        return;
    };
    let selector = format!("kip-test-orphan={}", t.name);
    orphan(&t, &selector);
    let dry = t.kip(&["gc", "--dry-run", "-l", &selector]).run();
    dry.success();
    assert!(!dry.stdout.contains(&t.name), "{dry}");
    let would = format!(
        "would delete {} (orphaned: node container gone, volume left)",
        t.name
    );
    until(&would, Duration::from_secs(30), || {
        let dry = t
            .kip(&["gc", "--dry-run", "--older-than", "1s", "-l", &selector])
            .run();
        dry.success();
        dry.stdout
            .contains(&would)
            .then_some(())
            .ok_or(format!("{dry}"))
    });
    assert!(volume_exists(&format!("kip-{}-docker", t.name)));
    let gc = t
        .kip(&["gc", "-o", "json", "--older-than", "1s", "-l", &selector])
        .run();
    gc.success();
    let doc = gc.json();
    assert_valid("gc-result.schema.json", &doc);
    assert_eq!(doc["deleted"][0]["name"], t.name.as_str(), "{gc}");
    // The volume and the kubeconfig entries went.
    t.assert_nothing_left(&t.name);
    // Now there is no such cluster at all.
    t.kip(&["kubeconfig", &t.name])
        .run()
        .stderr_has(&format!("no kip cluster named {:?}", t.name));
}

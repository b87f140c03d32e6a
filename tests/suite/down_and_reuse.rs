//! End-to-end: a Ctrl-C during `kip down`, `kip up` on a cluster that
//! already runs, `kip exec` on a stopped node, and the hints `up` and `run`
//! print, against the real Docker engine and the test node image.

use super::e2e::{docker, E2e};
use super::support::{exit_by, until, Kip, Lines};
use std::process::ExitStatus;
use std::time::Duration;

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn ctrl_c_during_down_finishes_the_deletion_then_exits_130() {
    let Some(t) = E2e::new("downint") else { return };
    t.up(&t.name, &[]).success();

    let (status, _, stderr) =
        interrupted_while_deleting(t.kip(&["--progress", "json", "down", &t.name]));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("finishing the deletion of cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("Deleted cluster"), "{stderr}");
    // Node, volume and kubeconfig entries gone; the current context is not
    // the removed cluster's.
    t.assert_nothing_left(&t.name);
}

/// `kip gc` as `kip down`: a Ctrl-C lets the deletion under way finish,
/// skips the other due cluster, says which, and exits 130.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn ctrl_c_during_gc_finishes_the_deletion_and_skips_the_rest() {
    let Some(t) = E2e::new("gcint") else { return };
    let selector = format!("kip-test-gcint={}", t.name);
    let names = [format!("{}-a", t.name), format!("{}-b", t.name)];
    for name in &names {
        t.up(name, &["-q", "--label", &selector]).success();
    }
    let gc = ["gc", "--older-than", "1s", "-l", selector.as_str()];
    until("both clusters due", Duration::from_secs(30), || {
        let dry = t.kip(&[&gc[..], &["--dry-run"]].concat()).run();
        dry.success();
        names
            .iter()
            .all(|n| dry.stdout.contains(&format!("would delete {n} ")))
            .then_some(())
            .ok_or(format!("{dry}"))
    });

    let (status, stdout, stderr) =
        interrupted_while_deleting(t.kip(&[&["--progress", "json"][..], &gc[..]].concat()));
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("finishing the deletion of cluster"),
        "{stderr}"
    );
    let (gone, kept): (Vec<&String>, Vec<&String>) = names
        .iter()
        .partition(|n| stdout.contains(&format!("deleted {n} ")));
    assert_eq!((gone.len(), kept.len()), (1, 1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("not deleted {} (run `kip gc` again)", kept[0])),
        "{stderr}"
    );
    t.assert_nothing_left(gone[0]);
    t.kip(&["status", kept[0]]).run().success();
    t.kip(&["down", kept[0]]).run().success();
    t.assert_nothing_left(kept[0]);
}

/// Runs `kip` (with `--progress json`), sends it a SIGINT once a cluster's
/// deletion is under way (its node is being stopped), and waits for it to
/// end: its exit status, stdout and stderr.
fn interrupted_while_deleting(kip: Kip) -> (ExitStatus, String, String) {
    let mut child = kip.spawn();
    let stdout = Lines::of(child.stdout.take().unwrap());
    let mut stderr = Lines::of(child.stderr.take().unwrap());
    let started = stderr.wait_for(Duration::from_secs(60), |line| {
        line.contains("\"phase\":\"cluster-deleted\"") && line.contains("\"status\":\"started\"")
    });
    if let Err(seen) = started {
        let _ = child.kill();
        panic!("no deletion started:\n{seen}");
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = exit_by(
        &mut child,
        Duration::from_secs(60),
        "kip did not end after the Ctrl-C",
    );
    (status, stdout.all(), stderr.all())
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn up_on_a_running_cluster_names_the_flags_it_ignored() {
    let Some(t) = E2e::new("ignored") else { return };
    let up = t.up(&t.name, &[]);
    // The kubeconfig written is the one kubectl reads (KUBECONFIG).
    up.success()
        .stderr_has(&format!("kubectl --context kip-{} get", t.name));

    let again = t.up(
        &t.name,
        &["--ttl", "1h", "--mtu", "1400", "--wait", "2m", "-o", "json"],
    );
    again
        .success()
        .stderr_has("these flags were ignored")
        .stderr_has("--ttl 1h, --mtu 1400")
        .stderr_has("it has no TTL")
        .stderr_has(&format!("kip up {} --recreate", t.name));
    let result = again.json();
    super::schema::assert_valid("up-result.schema.json", &result);
    assert_eq!(result["reused"], true);
    assert_eq!(
        result["ignoredFlags"],
        serde_json::json!(["--ttl 1h", "--mtu 1400"])
    );
    // `--wait` is about this run, not the cluster's shape.
    assert!(!again.stderr.contains("--wait"), "{again}");

    // A plain re-export ignores nothing and says nothing of it.
    let plain = t.up(&t.name, &["-o", "json"]);
    plain.success();
    assert!(!plain.stderr.contains("flags were ignored"), "{plain}");
    assert_eq!(plain.json()["ignoredFlags"], serde_json::json!([]));
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// `kip exec` on a stopped node: a node failure that says how to start it.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn exec_on_a_stopped_node_says_how_to_start_it() {
    let Some(t) = E2e::new("stopped") else { return };
    t.up(&t.name, &["-q"]).success();
    docker(&["stop", &format!("kip-{}", t.name)]);
    let exec = t.exec(&t.name, &["true"]).run();
    exec.code(6)
        .stderr_has(&format!("docker start kip-{}", t.name))
        .stderr_has(&format!("kip up {} --recreate", t.name));
    assert!(!exec.stderr.contains("status code 409"), "{exec}");

    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_points_kubectl_at_the_kubeconfig_it_wrote() {
    let Some(t) = E2e::new("runhint") else { return };
    let name = format!("{}-r", t.name);
    let run = t.kip(&["run", "--name", &name, "--", "true"]).run();
    // The context exists only in run's private kubeconfig: the hint says which.
    run.success().stderr_has("kubectl --kubeconfig ");
    assert!(
        !run.stderr
            .contains(&format!("kubectl --context kip-{name}")),
        "{run}"
    );
    t.assert_nothing_left(&name);
}

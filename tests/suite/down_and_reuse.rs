//! End-to-end: a Ctrl-C during `kip down`, `kip up` on a cluster that
//! already runs, `kip exec` on a stopped node, and the hints `up` and `run`
//! print, against the real Docker engine and the test node image.

use super::e2e::{docker, E2e};
use super::support::{exit_by, Kip, Run};
use std::io::BufRead;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dry = t.kip(&[&gc[..], &["--dry-run"]].concat()).run();
        dry.success();
        if names
            .iter()
            .all(|n| dry.stdout.contains(&format!("would delete {n} ")))
        {
            break;
        }
        assert!(Instant::now() < deadline, "never both due: {dry}");
        std::thread::sleep(Duration::from_millis(100));
    }

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
    let mut child = kip
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kip starts");
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line.clone()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no deletion started: {seen:?}"));
        let started = line.contains("\"phase\":\"cluster-deleted\"")
            && line.contains("\"status\":\"started\"");
        seen.push(line);
        if started {
            break;
        }
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = exit_by(
        &mut child,
        deadline,
        &format!("kip did not end after the Ctrl-C: {seen:?}"),
    );
    reader.join().unwrap();
    seen.extend(lines.try_iter());
    (status, out.join().unwrap(), seen.join("\n"))
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{run}"))
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
    let result = json(&again);
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
    assert_eq!(json(&plain)["ignoredFlags"], serde_json::json!([]));

    // `kip exec` on a stopped node: a node failure that says how to start it.
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

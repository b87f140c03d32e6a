//! End-to-end: a Ctrl-C during `kip down`, against the real Docker engine
//! and the test node image.

use super::e2e::E2e;
use std::io::BufRead;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn ctrl_c_during_down_finishes_the_deletion_then_exits_130() {
    let Some(t) = E2e::new("downint") else { return };
    t.up(&t.name, &[]).success();

    let mut child = t
        .kip(&["--progress", "json", "down", &t.name])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kip starts");
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
    // The deletion is under way (its node is being stopped): interrupt it.
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
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("kip down did not end after the Ctrl-C: {seen:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    seen.extend(lines.try_iter());
    let stderr = seen.join("\n");
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

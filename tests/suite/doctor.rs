//! `kip doctor`: each check's ok and not-ok paths, the failing condition
//! injected through the test seams (KIP_TEST_PROC_DIR, KIP_TEST_HOST_ROOT)
//! or made real on the engine.

use super::e2e::{docker, E2e};
use super::support::kip;
use std::path::Path;

/// The check `name` of a doctor report.
#[track_caller]
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
}

/// A fake /proc and host root: inotify limits as given, /lib/modules and
/// Docker's data root present or not.
fn fake_host(dir: &Path, watches: u64, instances: u64, modules: bool) {
    let inotify = dir.join("proc/sys/fs/inotify");
    std::fs::create_dir_all(&inotify).unwrap();
    std::fs::write(inotify.join("max_user_watches"), format!("{watches}\n")).unwrap();
    std::fs::write(inotify.join("max_user_instances"), format!("{instances}\n")).unwrap();
    std::fs::create_dir_all(dir.join("root/var/lib/docker")).unwrap();
    if modules {
        std::fs::create_dir_all(dir.join("root/lib/modules")).unwrap();
    }
}

#[test]
fn doctor_fails_when_the_engine_does_not_answer() {
    let run = kip(&["doctor", "-o", "json"])
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .run();
    run.code(3);
    let report = run.json();
    assert_eq!(report["ok"], false);
    assert_eq!(check(&report, "docker")["status"], "fail");
    assert!(check(&report, "docker")["fix"]
        .as_str()
        .unwrap()
        .contains("DOCKER_HOST"));
}

#[test]
fn doctor_reports_a_missing_socket_as_it_does_a_refused_address() {
    let run = kip(&["doctor"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run();
    run.code(3)
        .stdout_has("fail  docker")
        .stdout_has("/nonexistent/docker.sock")
        .stdout_has("fix: start Docker");
    let run = kip(&["doctor", "-o", "json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run();
    run.code(3);
    assert_eq!(check(&run.json(), "docker")["status"], "fail");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn doctor_on_a_good_host_reports_every_check_ok() {
    let Some(t) = E2e::new("doctor") else { return };
    let good = t.dir.path().join("good");
    fake_host(&good, 524_288, 512, true);
    let run = t
        .kip(&["doctor", "-o", "json"])
        .env("KIP_TEST_PROC_DIR", good.join("proc"))
        .env("KIP_TEST_HOST_ROOT", good.join("root"))
        .run();
    let r = run.json();
    assert_eq!(check(&r, "docker")["status"], "ok");
    assert_eq!(check(&r, "inotify")["status"], "ok", "{run}");
    assert_eq!(check(&r, "lib-modules")["status"], "ok");
    assert!(check(&r, "disk")["message"]
        .as_str()
        .unwrap()
        .contains("GiB free"));
    assert_ne!(check(&r, "privileged")["status"], "fail");
    assert_eq!(
        run.code == 0,
        r["ok"] == true,
        "exit code follows the report\n{run}"
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn doctor_warns_of_low_inotify_limits_and_no_lib_modules() {
    let Some(t) = E2e::new("doctor-bad") else {
        return;
    };
    let bad = t.dir.path().join("bad");
    fake_host(&bad, 8192, 128, false);
    let run = t
        .kip(&["doctor"])
        .env("KIP_TEST_PROC_DIR", bad.join("proc"))
        .env("KIP_TEST_HOST_ROOT", bad.join("root"))
        .run();
    // Low inotify limits are a warning here as in `kip up`: not a failure.
    run.success()
        .stdout_has("warn  inotify")
        .stdout_has("fix: sudo sysctl")
        .stdout_has("warn  lib-modules");
    assert!(!run.stderr.contains("inotify failed"), "{run}");
}

/// `kip up` runs the cheap form of doctor and says what is not ok, without
/// failing; a warning named in KIP_ACCEPT_WARNINGS is not printed again.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn up_prints_doctors_warnings_but_not_the_accepted_ones() {
    let Some(t) = E2e::new("doctor-up") else {
        return;
    };
    let bad = t.dir.path().join("bad");
    fake_host(&bad, 8192, 128, false);
    let up = t
        .kip(&["up", &t.name])
        .env("KIP_TEST_PROC_DIR", bad.join("proc"))
        .env("KIP_TEST_HOST_ROOT", bad.join("root"))
        .run();
    up.success()
        .stderr_has("warning: inotify")
        .stderr_has("KIP_ACCEPT_WARNINGS=inotify silences this")
        .stderr_has("warning: lib-modules");
    let again = t
        .kip(&["up", &t.name])
        .env("KIP_TEST_PROC_DIR", bad.join("proc"))
        .env("KIP_TEST_HOST_ROOT", bad.join("root"))
        .env("KIP_ACCEPT_WARNINGS", "inotify")
        .run();
    again.success().stderr_has("warning: lib-modules");
    assert!(!again.stderr.contains("warning: inotify"), "{again}");
    // A node without /lib/modules on its host gets no such mount.
    let mounts = t
        .kip(&[
            "exec",
            &t.name,
            "--",
            "sh",
            "-c",
            "grep -c ' /lib/modules ' /proc/self/mounts || true",
        ])
        .run();
    assert_eq!(mounts.stdout.trim(), "0", "{mounts}");
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn doctor_finds_a_stale_kind_network_with_a_larger_mtu() {
    let Some(t) = E2e::new("kindnet") else { return };
    let existing = std::process::Command::new("docker")
        .args(["network", "inspect", "kind"])
        .output()
        .unwrap();
    if existing.status.success() {
        // A developer's own kind network: never touch it.
        assert!(
            !super::e2e::required(),
            "KIP_E2E=1 but a `kind` network already exists on this engine"
        );
        eprintln!(
            "skipping: a `kind` network already exists on this engine (this test creates its own)"
        );
        return;
    }
    docker(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=9000",
        "kind",
    ]);
    let run = t.kip(&["doctor", "-o", "json"]).run();
    docker(&["network", "rm", "kind"]);
    let r = run.json();
    let kind = check(&r, "kind-network");
    assert_eq!(kind["status"], "fail", "{run}");
    assert!(kind["fix"]
        .as_str()
        .unwrap()
        .contains("docker network rm kind"));
    let run = t.kip(&["doctor", "-o", "json"]).run();
    assert_eq!(check(&run.json(), "kind-network")["status"], "ok");
}

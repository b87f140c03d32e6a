//! kip in CI scripts: `run` in its four endings, `gc`, `logs --export`,
//! `load`, JSON outputs against their documented schemas, exit codes,
//! dynamic completion of cluster names, and the examples.

use super::e2e::{docker, E2e, SecondDaemon, STAND_IN_NODE_IMAGE};
use super::schema::assert_valid;
use super::support::{exit_by, kip, until, Lines, Run};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const USER_KUBECONFIG: &str =
    "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\ncurrent-context: mine\n";

/// Polls `gc --dry-run -o json` (as `dry_run` runs it) until it would
/// delete `name`: a `--ttl 1s` has run out, with no fixed sleep.
#[track_caller]
fn until_due(name: &str, dry_run: impl Fn() -> Run) {
    until(
        &format!("{name} comes due"),
        Duration::from_secs(30),
        || {
            let dry = dry_run();
            dry.success();
            deleted_names(&dry.json())
                .contains(&name)
                .then_some(())
                .ok_or(format!("{dry}"))
        },
    );
}

/// The names in a `kip gc -o json` result's `deleted`.
fn deleted_names(gc: &serde_json::Value) -> Vec<&str> {
    gc["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect()
}

/// The user's own kubeconfig, which `kip run` never touches.
fn user_kubeconfig(t: &E2e) {
    std::fs::write(t.kubeconfig(), USER_KUBECONFIG).unwrap();
}

#[track_caller]
fn assert_user_kubeconfig_untouched(t: &E2e) {
    assert_eq!(
        std::fs::read_to_string(t.kubeconfig()).unwrap(),
        USER_KUBECONFIG
    );
}

/// Success: CMD reaches the cluster through its private KUBECONFIG.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_gives_cmd_the_cluster_and_deletes_it_on_success() {
    let Some(t) = E2e::new("run") else { return };
    user_kubeconfig(&t);
    let cmd = format!(
        "test \"$KUBECONFIG\" != '{}' && {} get --raw /readyz",
        t.kubeconfig().display(),
        super::e2e::kubectl_path()
    );
    let ok = t
        .kip(&["run", "--name", &t.name, "--", "sh", "-c", &cmd])
        .run();
    ok.success().stdout_has("ok").stderr_has("Deleted cluster");
    t.assert_nothing_left(&t.name);
    assert_user_kubeconfig_untouched(&t);
}

/// Failure: CMD's own exit code, and the logs bundle.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_exits_with_cmds_code_and_writes_the_logs_bundle_on_failure() {
    let Some(t) = E2e::new("run-fail") else {
        return;
    };
    user_kubeconfig(&t);
    let logs = t.dir.path().join("logs");
    let fail = t
        .kip(&[
            "run",
            "--name",
            &t.name,
            "--logs-dir",
            logs.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .run();
    fail.code(3).stderr_has("Deleted cluster");
    for file in [
        "bootstrap.log",
        "dockerd.log",
        "node.json",
        "status.json",
        "kind/kind-version.txt",
    ] {
        assert!(
            logs.join(file).exists(),
            "{file} missing from the logs bundle"
        );
    }
    t.assert_nothing_left(&t.name);
    assert_user_kubeconfig_untouched(&t);
}

/// A signal is forwarded to CMD first; kip exits as CMD did.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_forwards_a_signal_to_cmd_and_exits_as_cmd_did() {
    let Some(t) = E2e::new("run-sig") else { return };
    user_kubeconfig(&t);
    let mut child = t
        .kip(&[
            "run",
            "--name",
            &t.name,
            "--",
            "sh",
            "-c",
            "trap 'exit 42' INT; echo started; sleep 30 & wait",
        ])
        .spawn();
    let mut stdout = Lines::of(child.stdout.take().unwrap());
    let stderr = Lines::of(child.stderr.take().unwrap());
    let started = stdout.wait_for(Duration::from_secs(60), |_| true);
    if started.as_deref().map(str::trim) != Ok("started") {
        let _ = child.kill();
        panic!("CMD did not start first: {started:?}");
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = exit_by(&mut child, Duration::from_secs(60), "kip run did not end");
    assert_eq!(status.code(), Some(42), "{}", stderr.all());
    t.assert_nothing_left(&t.name);
    assert_user_kubeconfig_untouched(&t);
}

/// Timeout: SIGTERM to CMD, teardown, kip's timeout code.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_timeout_ends_cmd_and_deletes_the_cluster() {
    let Some(t) = E2e::new("run-slow") else {
        return;
    };
    user_kubeconfig(&t);
    let slow = t
        .kip(&[
            "run",
            "--name",
            &t.name,
            "--timeout",
            "1s",
            "--",
            "sleep",
            "30",
        ])
        .run();
    slow.code(4)
        .stderr_has("longer than --timeout 1s")
        .stderr_has("Deleted cluster");
    t.assert_nothing_left(&t.name);
    assert_user_kubeconfig_untouched(&t);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn run_keep_and_reuse_leave_the_cluster() {
    let Some(t) = E2e::new("reuse-run") else {
        return;
    };
    t.kip(&["run", "--name", &t.name, "--keep", "--", "true"])
        .run()
        .success()
        .stderr_has("Kept cluster");
    t.kip(&["run", "--reuse", &t.name, "--", "sh", "-c", "exit 5"])
        .run()
        .code(5)
        .stderr_has("Kept cluster");
    assert!(t.kip(&["status", &t.name]).run().code == 0);
    t.kip(&["run", "--reuse", "no-such-cluster", "--", "true"])
        .run()
        .code(5);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_deletes_exactly_the_expired_clusters() {
    let Some(t) = E2e::new("gc") else { return };
    let selector = format!("kip-test-gc={}", t.name);
    let (short, long, none) = (
        format!("{}-a", t.name),
        format!("{}-b", t.name),
        format!("{}-c", t.name),
    );
    t.kip(&["up", &short, "-q", "--ttl", "1s", "--label", &selector])
        .run()
        .success();
    t.kip(&["up", &long, "-q", "--ttl", "1h", "--label", &selector])
        .run()
        .success();
    t.kip(&["up", &none, "-q", "--label", &selector])
        .run()
        .success();
    // Not kip's: it carries a kip-looking label but not managed-by=kip.
    let stranger = format!("{}-stranger", t.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &stranger,
        "--label",
        &format!("dev.kip.cluster={stranger}"),
        &t.image,
        "sleep",
        "300",
    ]);
    let dry_run = || {
        t.kip(&["gc", "--dry-run", "-o", "json", "-l", &selector])
            .run()
    };
    until_due(&short, dry_run);

    let dry = dry_run();
    dry.success();
    let dry = dry.json();
    assert_valid("gc-result.schema.json", &dry);
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 1);
    // A dry run deleted nothing: the expired cluster is still there.
    t.kip(&["status", &short]).run().success();

    // Without a selector: every expired cluster on the engine. Of this
    // test's, exactly the expired one; another test's cluster whose short
    // TTL has run out (the gc failure test makes one) may go too, rightly.
    let gc = t.kip(&["gc", "-o", "json"]).run();
    gc.success();
    let gc = gc.json();
    assert_valid("gc-result.schema.json", &gc);
    let prefix = format!("{}-", t.name);
    let ours: Vec<&str> = deleted_names(&gc)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert_eq!(ours, [short.as_str()]);
    t.assert_nothing_left(&short);

    let old = t.kip(&["gc", "--older-than", "1s", "-l", &selector]).run();
    old.success()
        .stdout_has(&format!("deleted {none} (no TTL and older than 1s)"));
    t.assert_nothing_left(&none);
    t.kip(&["status", &long]).run().success();
    assert!(
        docker(&["ps", "-q", "--filter", &format!("name={stranger}")])
            .trim()
            .len()
            > 1,
        "gc touched a stranger"
    );
    docker(&["rm", "-f", &stranger]);
    t.kip(&["down", &long]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn json_outputs_match_their_schemas() {
    let Some(t) = E2e::new("json") else { return };
    let up = t
        .kip(&[
            "up",
            &t.name,
            "-o",
            "json",
            "--progress",
            "json",
            "--ttl",
            "30m",
        ])
        .run();
    up.success();
    assert_valid("up-result.schema.json", &up.json());
    let mut phases = Vec::new();
    for line in up.stderr.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_valid("progress-event.schema.json", &event);
        if event["status"] == "done" {
            // From the engine's seed, or streamed (into the seed it makes).
            let phase = event["phase"]
                .as_str()
                .unwrap()
                .replace("kind-image-seeded", "kind-image-streamed");
            phases.push(phase);
        }
    }
    assert_eq!(
        phases,
        [
            "node-started",
            "dockerd-ready",
            "kind-image-streamed",
            "cluster-created",
            "api-ready",
            "kubeconfig-written"
        ]
    );

    let list = t.kip(&["list", "-o", "json"]).run();
    assert_valid("cluster-list.schema.json", &list.json());
    let status = t.kip(&["status", &t.name, "-o", "json"]).run();
    status.success();
    let status = status.json();
    assert_valid("cluster-status.schema.json", &status);
    assert!(status["expiresAt"].as_str().is_some());
    let doctor = t.kip(&["doctor", "-o", "json"]).run();
    assert_valid("doctor-report.schema.json", &doctor.json());

    let kc = t.kip(&["kubeconfig", &t.name, "--format", "json"]).run();
    assert_eq!(
        kc.json()["current-context"],
        format!("kip-{}", t.name).as_str()
    );
    t.kip(&["down", &t.name]).run().success();
}

/// status: 0 running and ready, 6 present but not running, 5 absent.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn status_exits_0_running_6_stopped_and_5_absent() {
    let Some(t) = E2e::new("codes") else { return };
    t.up(&t.name, &["-q"]).success();
    t.kip(&["status", &t.name]).run().success();
    docker(&["stop", "-t", "5", &format!("kip-{}", t.name)]);
    t.kip(&["status", &t.name]).run().code(6);
    t.kip(&["down", &t.name]).run().success();
    t.kip(&["status", &t.name]).run().code(5);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn logs_export_writes_the_whole_bundle() {
    let Some(t) = E2e::new("bundle") else { return };
    t.up(&t.name, &[]).success();
    let dir = t.dir.path().join("bundle");
    t.kip(&["logs", &t.name, "--export", dir.to_str().unwrap()])
        .run()
        .success();
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert!(read("bootstrap.log").contains("kip-phase: cluster-created"));
    assert!(read("dockerd.log").contains("API listen on"));
    assert!(read("kind.log").contains("Creating cluster"));
    assert!(read(&format!("kind/{}-control-plane/serve.log", t.name)).contains("serving"));
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&read(f)).unwrap_or_else(|e| panic!("{f} is not JSON: {e}"))
    };
    let node = json("node.json");
    assert_eq!(node["Name"], format!("/kip-{}", t.name).as_str());
    let events = json("events.json");
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["Action"] == "start"));
    assert_valid("cluster-status.schema.json", &json("status.json"));
    assert!(
        !dir.join("errors.txt").exists(),
        "{}",
        std::fs::read_to_string(dir.join("errors.txt")).unwrap_or_default()
    );
    t.kip(&["down", &t.name]).run().success();
}

/// `up --logs-dir` writes the bundle when up fails.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn up_logs_dir_writes_the_bundle_when_up_fails() {
    let Some(t) = E2e::new("logsdir") else { return };
    let failed = t.dir.path().join("failed");
    let name = t.name.clone();
    t.up(
        &name,
        &[
            "--dockerd-arg=--bogus",
            "--logs-dir",
            failed.to_str().unwrap(),
        ],
    )
    .code(6)
    .stderr_has("Logs bundle written");
    assert!(std::fs::read_to_string(failed.join("dockerd.log"))
        .unwrap()
        .contains("bogus"));
    t.assert_nothing_left(&name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn load_streams_images_in_and_skips_what_the_node_has() {
    let Some(t) = E2e::new("load") else { return };
    let tag = format!("kip-test-tiny:{}-load", std::process::id());
    super::conformance::tiny_image(&tag);
    t.up(&t.name, &[]).success();
    t.kip(&["load", &t.name, &tag])
        .run()
        .success()
        .stderr_has(&format!("Loaded {tag} into cluster"));
    let host_id = docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    let in_node = t
        .kip(&[
            "exec", &t.name, "--", "docker", "image", "inspect", "-f", "{{.Id}}", &tag,
        ])
        .run();
    assert_eq!(in_node.stdout.trim(), host_id.trim());
    // kind load recorded it in the cluster.
    let loaded = t
        .kip(&[
            "exec",
            &t.name,
            "--",
            "cat",
            &format!("/var/lib/docker/kip-test-kind/{}/loaded-images", t.name),
        ])
        .run();
    loaded.success().stdout_has(&tag);

    t.kip(&["load", &t.name, &tag])
        .run()
        .success()
        .stderr_has("already in the node");
    docker(&["rmi", &tag]);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn load_names_an_image_the_host_lacks_and_a_cluster_that_is_not_there() {
    let Some(t) = E2e::new("load-miss") else {
        return;
    };
    t.up(&t.name, &["-q"]).success();
    t.kip(&["load", &t.name, "kip-test-no-such:1"])
        .run()
        .code(3)
        .stderr_has("not on the host's Docker engine");
    t.kip(&["load", "no-such-cluster", STAND_IN_NODE_IMAGE])
        .run()
        .code(5);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn load_takes_a_docker_save_archive() {
    let Some(t) = E2e::new("load-tar") else {
        return;
    };
    let tag = format!("kip-test-tiny:{}-archive", std::process::id());
    super::conformance::tiny_image(&tag);
    t.up(&t.name, &["-q"]).success();
    let archive = t.dir.path().join("tiny.tar");
    docker(&["save", "-o", archive.to_str().unwrap(), &tag]);
    t.kip(&["load", &t.name, "--archive", archive.to_str().unwrap()])
        .run()
        .success()
        .stderr_has(&format!("Loaded {tag}"));
    docker(&["rmi", &tag]);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn completion_offers_the_clusters_that_exist() {
    let Some(t) = E2e::new("complete") else {
        return;
    };
    t.up(&t.name, &[]).success();
    let run = t
        .kip(&["--", "kip", "down", ""])
        .env("COMPLETE", "fish")
        .run();
    run.success().stdout_has(&format!("{}\t", t.name));
    let run = t
        .kip(&["--", "kip", "status", &t.name[..6]])
        .env("COMPLETE", "fish")
        .run();
    run.success().stdout_has(&t.name);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
fn the_yaml_examples_parse_and_say_what_they_should() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let load = |f: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(dir.join(f)).unwrap())
            .unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let gh = load("github-actions.yml");
    let steps = gh["jobs"]["e2e"]["steps"].as_sequence().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["run"].as_str().is_some_and(|r| r.starts_with("kip run "))));

    let gitlab = load("gitlab-ci.yml");
    let script = gitlab["e2e"]["script"].as_sequence().unwrap();
    assert!(script
        .iter()
        .any(|s| s.as_str().unwrap().starts_with("kip run ")));
    assert_eq!(
        gitlab["e2e"]["variables"]["DOCKER_HOST"].as_str(),
        Some("tcp://docker:2375")
    );

    let task = load("tekton-task.yaml");
    assert_eq!(task["apiVersion"].as_str(), Some("tekton.dev/v1"));
    assert_eq!(task["kind"].as_str(), Some("Task"));
    assert!(task["spec"]["steps"][0]["script"]
        .as_str()
        .unwrap()
        .contains("kip run"));
    assert_eq!(
        task["spec"]["sidecars"][0]["securityContext"]["privileged"].as_bool(),
        Some(true)
    );

    let pod = load("kip-pod.yaml");
    assert_eq!(pod["kind"].as_str(), Some("Pod"));
    assert_eq!(
        pod["spec"]["automountServiceAccountToken"].as_bool(),
        Some(false)
    );
    let dind = &pod["spec"]["containers"][0];
    assert_eq!(dind["securityContext"]["privileged"].as_bool(), Some(true));
    assert_eq!(
        dind["volumeMounts"][0]["mountPath"].as_str(),
        Some("/var/lib/docker")
    );
    assert_eq!(
        pod["spec"]["volumes"][0]["emptyDir"],
        serde_yaml::Value::Mapping(Default::default())
    );
}

#[test]
fn labels_are_validated() {
    kip(&["up", "--label", "novalue"])
        .run()
        .code(2)
        .stderr_has("KEY=VALUE");
    kip(&["up", "--label", "dev.kip.cluster=x"])
        .run()
        .code(2)
        .stderr_has("kip's own");
    kip(&["gc", "-l", "a b=c"]).run().code(2);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_reports_a_partial_failure_with_a_nonzero_exit() {
    let Some(t) = E2e::new("gcfail") else { return };
    let selector = format!("kip-test-gc={}", t.name);
    t.kip(&["up", &t.name, "-q", "--ttl", "1s", "--label", &selector])
        .run()
        .success();
    // Another container holds the cluster's volume, so it cannot be removed.
    let holder = format!("{}-holder", t.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &holder,
        "-v",
        &format!("kip-{}-docker:/held", t.name),
        &t.image,
        "sleep",
        "300",
    ]);
    until_due(&t.name, || {
        t.kip(&["gc", "--dry-run", "-o", "json", "-l", &selector])
            .run()
    });
    let gc = t.kip(&["gc", "-o", "json", "-l", &selector]).run();
    gc.code(1).stderr_has("could not delete every due cluster");
    let report = gc.json();
    assert_valid("gc-result.schema.json", &report);
    assert_eq!(report["failed"][0]["name"], t.name.as_str());
    docker(&["rm", "-f", &holder]);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

/// `kip down --all` and `kip gc` without a selector act on every kip
/// cluster of the engine, so they run against a Docker daemon of this
/// test's own: they take exactly kip's clusters and leave the rest.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn down_all_and_gc_take_only_kips_clusters_on_the_engine() {
    let Some(t) = E2e::new("all") else { return };
    let daemon = SecondDaemon::start(1500);
    daemon.load_image(&t.image);
    daemon.load_image(super::e2e::STAND_IN_NODE_IMAGE);
    let on_daemon = |args: &[&str]| t.kip(args).env("DOCKER_HOST", &daemon.socket).run();
    let (kept, expiring) = (format!("{}-kept", t.name), format!("{}-ttl", t.name));
    on_daemon(&["up", &kept, "-q"]).success();
    on_daemon(&["up", &expiring, "-q", "--ttl", "1s"]).success();
    // Not kip's: a kip-looking label, but not managed-by=kip.
    let stranger = daemon.docker(&[
        "run",
        "-d",
        "--name",
        "stranger",
        "--label",
        "dev.kip.cluster=stranger",
        "--entrypoint",
        "sleep",
        &t.image,
        "300",
    ]);
    assert!(
        stranger.status.success(),
        "{}",
        String::from_utf8_lossy(&stranger.stderr)
    );
    until_due(&expiring, || on_daemon(&["gc", "--dry-run", "-o", "json"]));

    let gc = on_daemon(&["gc", "-o", "json"]);
    gc.success();
    let gc = gc.json();
    let deleted = deleted_names(&gc);
    assert_eq!(
        deleted,
        [expiring.as_str()],
        "gc takes the expired cluster only"
    );

    on_daemon(&["down", "--all"]).success().stderr_has(&kept);
    let list = on_daemon(&["list", "-o", "json"]);
    list.success();
    assert_eq!(list.json()["items"], serde_json::json!([]), "{list}");
    let left = daemon.docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "stranger");
    // `down` never removes the engine's seeds; `kip seed rm --all` does.
    let volumes = daemon.docker(&["volume", "ls", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&volumes.stdout).trim(),
        "kip-seeds",
        "volumes left"
    );
    on_daemon(&["seed", "rm", "--all"]).success();
    let volumes = daemon.docker(&["volume", "ls", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&volumes.stdout).trim(),
        "",
        "volumes left"
    );
    // Their kubeconfig entries went with them.
    let doc = t.kubeconfig_doc();
    for name in [&kept, &expiring] {
        let context = format!("kip-{name}");
        assert!(
            !doc["contexts"]
                .as_sequence()
                .is_some_and(|s| s.iter().any(|c| c["name"] == context.as_str())),
            "{context} left in the kubeconfig"
        );
    }
}

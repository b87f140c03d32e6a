//! Snapshots end to end on the real Docker engine with the stand-in kind
//! (fast): save, list, restore under another name and port, rm; every bad
//! input refused with nothing made or touched; Ctrl-C during a save or a
//! restore leaves nothing half-made and the source running. On the real
//! kind (objects, a loaded image, a claim's file): real_kind.rs.

use super::e2e::{docker, E2e};
use super::support::{until, Lines, Run};
use std::process::Command;
use std::time::Duration;

/// This test's snapshots, removed when it ends (pass or fail).
pub(super) struct Snapshots(pub(super) Vec<String>);

impl Snapshots {
    pub(super) fn new(t: &E2e, suffixes: &[&str]) -> Snapshots {
        Snapshots(suffixes.iter().map(|s| format!("{}-{s}", t.name)).collect())
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker")
                .args(["volume", "rm", &format!("kip-snap-{name}")])
                .output();
        }
    }
}

fn volume_exists(volume: &str) -> bool {
    !docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name=^{volume}$"),
    ])
    .trim()
    .is_empty()
}

fn snapshot_list(t: &E2e) -> serde_json::Value {
    let run = t.kip(&["snapshot", "list", "-o", "json"]).run();
    run.success();
    run.json()
}

fn listed<'a>(list: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    list["items"].as_array()?.iter().find(|s| s["name"] == name)
}

/// The node of `cluster` is running and not frozen.
#[track_caller]
fn assert_running(t: &E2e, cluster: &str) {
    let state = docker(&[
        "inspect",
        "-f",
        "{{.State.Running}} {{.State.Paused}}",
        &t.node_id(cluster),
    ]);
    assert_eq!(state.trim(), "true false", "node of {cluster}");
    t.readyz(cluster);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn save_list_restore_under_another_name_and_rm() {
    let Some(t) = E2e::new("snap") else { return };
    let snaps = Snapshots::new(&t, &["s"]);
    let snap = &snaps.0[0];
    let (source, copy) = (format!("{}-src", t.name), format!("{}-new", t.name));
    t.up(&source, &["-q"]).success();
    let saved = t.kip(&["snapshot", "save", &source, snap]).run();
    saved
        .success()
        .stderr_has(&format!("Saved snapshot {snap} of cluster {source}"))
        .stderr_has("frozen");
    assert_running(&t, &source);

    let list = snapshot_list(&t);
    super::schema::assert_valid("snapshot-list.schema.json", &list);
    let entry = listed(&list, snap).unwrap_or_else(|| panic!("{snap} not in {list}"));
    assert_eq!(entry["complete"], true);
    let meta = &entry["metadata"];
    assert_eq!(meta["source"], source.as_str());
    assert_eq!(meta["kindCluster"], source.as_str());
    assert_eq!(meta["dindImage"], t.image.as_str());
    for fact in [
        "mtu",
        "cgroup",
        "iptables",
        "arch",
        "kindImageId",
        "certificatesExpireAt",
    ] {
        assert!(!meta[fact].is_null(), "no {fact} in {meta}");
    }
    assert!(meta["sizeBytes"].as_u64().unwrap() > 0, "{meta}");

    // A dry run: the restore's checks and what it would copy where, the
    // node plan it would make; nothing made. What a restore refuses, it
    // refuses (an unknown snapshot exit 5, a difference exit 3).
    let dry = t.kip(&["up", &copy, "--from", snap, "--dry-run"]).run();
    dry.success()
        .stderr_has(&format!("kip up would restore {copy} from snapshot {snap}"))
        .stderr_has(&format!("saved from {source}"))
        .stderr_has("Checked on this engine and these flags")
        .stderr_has(&format!("into volume kip-{copy}-docker"))
        .stdout_has(&format!("dev.kip.snapshot: {snap}"))
        .stdout_has(&format!("image: {}", t.image));
    t.kip(&["status", &copy]).run().code(5);
    assert!(!volume_exists(&format!("kip-{copy}-docker")));
    t.kip(&["up", &copy, "--from", &format!("{snap}-no"), "--dry-run"])
        .run()
        .code(5);
    t.kip(&[
        "up",
        &copy,
        "--from",
        snap,
        "--dry-run",
        "--cert-san",
        "x.test",
    ])
    .run()
    .code(3)
    .stderr_has("--cert-san");

    // Another name, its own port, labels and TTL; the source untouched.
    let port = free_port();
    let restored = t
        .kip(&[
            "up",
            &copy,
            "--from",
            snap,
            "--api-port",
            &port.to_string(),
            "--label",
            "team=snap",
            "--ttl",
            "1h",
            "--no-switch-context",
            "-o",
            "json",
        ])
        .run();
    restored.success().stderr_has("Copied snapshot");
    let outcome = restored.json();
    assert!(
        outcome["endpoint"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!(":{port}")),
        "{outcome}"
    );
    t.readyz(&copy);
    assert_running(&t, &source);
    let labels = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &t.node_id(&copy),
    ]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["team"], "snap");
    assert!(labels["dev.kip.expires-at"].is_string(), "{labels}");
    assert_eq!(labels["dev.kip.kind-cluster"], source.as_str());
    // The restored node's own bootstrap said so; its data is its own.
    let log = docker(&["logs", &t.node_id(&copy)]);
    assert!(
        log.contains(&format!("kip-info: restored={source}")),
        "{log}"
    );
    assert!(log.contains("kip-info: cluster=restarted"), "{log}");

    // kip load reaches the inner cluster under the name it was made under.
    let tag = format!("kip-test-tiny:{}-snap", std::process::id());
    super::conformance::tiny_image(&tag);
    let load = t.kip(&["load", &copy, &tag]).run();
    let _ = Command::new("docker").args(["rmi", &tag]).output();
    load.success().stderr_has("Loaded");

    // --stop: stopped cleanly for the copy, then running again.
    let stopped = format!("{snap}-stop");
    let _stopped_guard = Snapshots(vec![stopped.clone()]);
    t.kip(&["snapshot", "save", &source, &stopped, "--stop"])
        .run()
        .success()
        .stderr_has("stopped");
    until(
        "the source answers again after --stop",
        Duration::from_secs(120),
        || {
            let ready = t.kubectl(&[
                "--context",
                &format!("kip-{source}"),
                "get",
                "--raw",
                "/readyz",
            ]);
            (ready.code == 0).then_some(()).ok_or(ready.stderr)
        },
    );
    let meta = listed(&snapshot_list(&t), &stopped).unwrap()["metadata"].clone();
    assert_eq!(meta["stopped"], true, "{meta}");
    t.kip(&["snapshot", "rm", &stopped]).run().success();

    // The source deleted: the snapshot still restores.
    t.kip(&["down", &source, &copy]).run().success();
    t.up(&copy, &["--from", snap, "-q"]).success();
    t.readyz(&copy);
    t.kip(&["down", &copy]).run().success();

    t.kip(&["snapshot", "rm", snap])
        .run()
        .success()
        .stderr_has(&format!("Removed snapshot {snap}"));
    assert!(!volume_exists(&format!("kip-snap-{snap}")));
    t.assert_nothing_left(&source);
    t.assert_nothing_left(&copy);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn bad_inputs_are_refused_with_nothing_made_or_touched() {
    let Some(t) = E2e::new("snapbad") else { return };
    let snaps = Snapshots::new(&t, &["s", "none"]);
    let (snap, none) = (&snaps.0[0], &snaps.0[1]);
    let source = format!("{}-src", t.name);
    let other = format!("{}-other", t.name);

    // Unknown cluster, unknown snapshot: exit 5, nothing made.
    t.kip(&["snapshot", "save", &other, snap])
        .run()
        .code(5)
        .stderr_has("no kip cluster named");
    assert!(!volume_exists(&format!("kip-snap-{snap}")));
    t.up(&other, &["--from", none])
        .code(5)
        .stderr_has(&format!("no snapshot \"{none}\""));
    t.assert_nothing_left(&other);
    t.kip(&["snapshot", "rm", none]).run().code(5);

    t.up(&source, &["-q"]).success();
    t.kip(&["snapshot", "save", &source, snap]).run().success();
    let before = listed(&snapshot_list(&t), snap).cloned().unwrap();

    // A snapshot name taken: exit 3, the snapshot as it was.
    t.kip(&["snapshot", "save", &source, snap])
        .run()
        .code(3)
        .stderr_has(&format!("a snapshot named {snap} exists"));
    assert_eq!(listed(&snapshot_list(&t), snap), Some(&before));

    // A cluster name taken: exit 3, that cluster as it was.
    let id = t.node_id(&source);
    t.up(&source, &["--from", snap])
        .code(3)
        .stderr_has(&format!("cluster {source} already exists"));
    assert_eq!(t.node_id(&source), id);
    assert_running(&t, &source);

    // Another kind node image than the snapshot's: exit 3, naming both.
    let refused = t.up(&other, &["--from", snap, "--image", "kindest/node:v1.30.0"]);
    refused
        .code(3)
        .stderr_has("kind node image")
        .stderr_has("kindest/node:v1.30.0")
        .stderr_has("nothing was made");
    t.assert_nothing_left(&other);

    // A network whose MTU is below the snapshot's: exit 3, naming both.
    let network = super::node_fixes::Network::create(&format!("{}-mtu", t.name), Some(1400));
    let refused = t.up(
        &other,
        &["--from", snap, "--network", &format!("{}-mtu", t.name)],
    );
    refused.code(3).stderr_has("MTU").stderr_has("1400");
    t.assert_nothing_left(&other);
    drop(network);

    // A flag only a new kind cluster takes: exit 3, naming it.
    t.up(&other, &["--from", snap, "--cert-san", "x.example.com"])
        .code(3)
        .stderr_has("--cert-san");
    t.assert_nothing_left(&other);

    // A snapshot name that would be a node volume's: bad usage.
    t.kip(&["snapshot", "save", &source, "x-docker"])
        .run()
        .code(2);
    t.kip(&["down", &source]).run().success();
    t.assert_nothing_left(&source);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn ctrl_c_during_save_or_restore_leaves_nothing_half_made() {
    let Some(t) = E2e::new("snapint") else { return };
    let snaps = Snapshots::new(&t, &["s", "cut"]);
    let (snap, cut) = (&snaps.0[0], &snaps.0[1]);
    let (source, copy) = (format!("{}-src", t.name), format!("{}-new", t.name));
    t.up(&source, &["-q"]).success();
    // A data root big enough that its copy takes a while.
    t.exec(
        &source,
        &[
            "sh",
            "-c",
            "head -c 300M /dev/urandom >/var/lib/docker/kip-test-big",
        ],
    )
    .run()
    .success();

    // Ctrl-C once the copy step has begun: kip says so before it makes
    // the helper, and the copy, the finish and the metadata helpers all
    // come after (a poll for the helper container can miss a fast copy).
    let mut save = t
        .kip(&["--progress", "json", "snapshot", "save", &source, cut])
        .spawn();
    let helper = format!("name=kip-snapshot-helper-{}-", save.id());
    let mut lines = Lines::of(save.stderr.take().unwrap());
    lines
        .wait_for(Duration::from_secs(60), |l| {
            l.contains(r#""phase":"snapshot-copied""#) && l.contains(r#""status":"started""#)
        })
        .unwrap_or_else(|seen| panic!("the save's copy never started:\n{seen}"));
    interrupt(save.id());
    let status = super::support::exit_by(&mut save, Duration::from_secs(120), "the save ends");
    assert_eq!(status.code(), Some(130), "{}", lines.all());
    assert!(!volume_exists(&format!("kip-snap-{cut}")));
    assert!(listed(&snapshot_list(&t), cut).is_none());
    assert!(docker(&["ps", "-aq", "--filter", &helper])
        .trim()
        .is_empty());
    assert_running(&t, &source);

    // Ctrl-C while the restore copies the snapshot into the new volume.
    t.kip(&["snapshot", "save", &source, snap]).run().success();

    // Ctrl-C during an export (its phase has begun; 300 MB of random data
    // take a while to compress): exit 130, no file, no temporary file, no
    // helper left (an attach left open once held the helper in dockerd).
    let file = t.dir.path().join("cut.tgz");
    let mut export = t
        .kip(&[
            "--progress",
            "json",
            "snapshot",
            "export",
            snap,
            file.to_str().unwrap(),
        ])
        .spawn();
    let helper = format!("name=kip-snapshot-helper-{}-", export.id());
    let mut lines = Lines::of(export.stderr.take().unwrap());
    lines
        .wait_for(Duration::from_secs(60), |l| {
            l.contains(r#""phase":"snapshot-exported""#) && l.contains(r#""status":"started""#)
        })
        .unwrap_or_else(|seen| panic!("the export never started:\n{seen}"));
    interrupt(export.id());
    let status = super::support::exit_by(&mut export, Duration::from_secs(120), "the export ends");
    assert_eq!(status.code(), Some(130), "{}", lines.all());
    let left: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("cut.tgz"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(docker(&["ps", "-aq", "--filter", &helper])
        .trim()
        .is_empty());
    let up = t.kip(&["up", &copy, "--from", snap]).spawn();
    let volume = format!("kip-{copy}-docker");
    until(
        "the restore's volume was made",
        Duration::from_secs(60),
        || volume_exists(&volume).then_some(()).ok_or_else(String::new),
    );
    interrupt(up.id());
    let run: Run = super::support::finish_by(up, Duration::from_secs(120), "the restore ends");
    assert_eq!(run.code, 130, "{run}");
    t.assert_nothing_left(&copy);
    assert_running(&t, &source);
    t.kip(&["down", &source]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_snapshot_taken_while_the_node_writes_restores_twice_at_once() {
    let Some(t) = E2e::new("snapw") else { return };
    let snaps = Snapshots::new(&t, &["s"]);
    let snap = &snaps.0[0];
    let source = format!("{}-src", t.name);
    let copies = [format!("{}-a", t.name), format!("{}-b", t.name)];
    t.up(&source, &["-q"]).success();
    // A writer in the node's data root that never stops: numbered lines,
    // appended one by one.
    let log = "/var/lib/docker/kip-test-writer";
    let writer = format!(
        "nohup sh -c 'i=0; while :; do i=$((i+1)); echo line-$i >>{log}; done' >/dev/null 2>&1 &"
    );
    t.exec(&source, &["sh", "-c", &writer]).run().success();
    let lines = |cluster: &str| {
        let run = t
            .exec(cluster, &["sh", "-c", &format!("wc -l <{log}")])
            .run();
        run.success();
        run.stdout.trim().parse::<u64>().unwrap_or(0)
    };
    until("the writer writes", Duration::from_secs(30), || {
        (lines(&source) > 100).then_some(()).ok_or_else(String::new)
    });
    t.kip(&["snapshot", "save", &source, snap]).run().success();
    // The writer was frozen, not stopped: it goes on after the save.
    let after = lines(&source);
    until(
        "the writer goes on after the save",
        Duration::from_secs(30),
        || {
            (lines(&source) > after)
                .then_some(())
                .ok_or_else(String::new)
        },
    );

    // Two restores of the one snapshot at once: both up, distinct, both
    // answer, each with the writer's file as it was at the freeze (every
    // line whole and in order: nothing torn but, at most, the last).
    let ups: Vec<_> = copies
        .iter()
        .map(|c| {
            t.kip(&["up", c, "--from", snap, "-q", "--no-switch-context"])
                .spawn()
        })
        .collect();
    for run in super::support::wait_all(ups) {
        run.success();
    }
    assert_ne!(t.node_id(&copies[0]), t.node_id(&copies[1]));
    for copy in &copies {
        t.readyz(copy);
        let text = t.exec(copy, &["cat", log]).run();
        text.success();
        let all: Vec<&str> = text.stdout.lines().collect();
        assert!(all.len() > 100, "{copy}: {} lines", all.len());
        let whole = &all[..all.len() - 1];
        for (i, line) in whole.iter().enumerate() {
            assert_eq!(*line, format!("line-{}", i + 1), "{copy}: line {}", i + 1);
        }
        // The restored node runs no writer: its file stays as saved.
        let saved = text.stdout.matches('\n').count() as u64;
        assert_eq!(lines(copy), saved, "{copy}");
    }
    let endpoints: Vec<String> = copies
        .iter()
        .map(|c| t.kip(&["status", c, "-o", "json"]).run().json()["endpoint"].to_string())
        .collect();
    assert_ne!(endpoints[0], endpoints[1]);
    t.kip(&["down", &source, &copies[0], &copies[1]])
        .run()
        .success();
    t.kip(&["snapshot", "rm", snap]).run().success();
    t.assert_nothing_left(&source);
    for copy in &copies {
        t.assert_nothing_left(copy);
    }
}

/// `kip snapshot import FILE NAME` run to its end: the run, and whether a
/// helper container of that run is left.
fn import(t: &E2e, file: &std::path::Path, name: &str) -> (Run, bool) {
    let child = t
        .kip(&["snapshot", "import", file.to_str().unwrap(), name])
        .spawn();
    let helpers = format!("name=kip-snapshot-helper-{}-", child.id());
    let run = super::support::finish_by(child, Duration::from_secs(300), "the import ends");
    let left = !docker(&["ps", "-aq", "--filter", &helpers])
        .trim()
        .is_empty();
    (run, left)
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn export_import_carries_a_snapshot_and_refuses_bad_archives_with_nothing_made() {
    let Some(t) = E2e::new("snapx") else { return };
    let snaps = Snapshots::new(&t, &["s", "i", "p", "bad"]);
    let (snap, imported, piped, bad) = (&snaps.0[0], &snaps.0[1], &snaps.0[2], &snaps.0[3]);
    let (source, copy) = (format!("{}-src", t.name), format!("{}-new", t.name));
    t.up(&source, &["-q"]).success();
    t.kip(&["snapshot", "save", &source, snap]).run().success();
    // The seed the source came from counts the snapshot as its user:
    // `seed rm` refuses naming it (exit 3).
    let seed = listed(&snapshot_list(&t), snap).unwrap()["metadata"]["seed"].clone();
    let seed = seed.as_str().expect("the stand-in's cluster is seeded");
    let seeds = t.kip(&["seed", "list", "-o", "json"]).run();
    let users = seeds.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == seed)
        .map(|s| s["snapshots"].clone());
    assert!(
        users
            .as_ref()
            .and_then(|u| u.as_array())
            .is_some_and(|u| u.iter().any(|n| n == snap.as_str())),
        "{users:?}"
    );
    t.kip(&["seed", "rm", seed])
        .run()
        .code(3)
        .stderr_has("snapshot(s) ")
        .stderr_has(snap);
    let file = t.dir.path().join("snap.tgz");
    let exported = t
        .kip(&["snapshot", "export", snap, file.to_str().unwrap()])
        .run();
    exported.success().stderr_has("Exported snapshot");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 4096, "{} bytes", bytes.len());
    // Never overwritten.
    t.kip(&["snapshot", "export", snap, file.to_str().unwrap()])
        .run()
        .code(3)
        .stderr_has("exists");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // Imported under another name: complete, needing no seed (the seed's
    // layers travel in the archive), restored to a cluster that answers.
    let (run, left) = import(&t, &file, imported);
    run.success()
        .stderr_has(&format!("Imported snapshot {imported}"));
    assert!(!left, "a helper container is left");
    let list = snapshot_list(&t);
    super::schema::assert_valid("snapshot-list.schema.json", &list);
    let entry = listed(&list, imported).unwrap_or_else(|| panic!("{imported} not in {list}"));
    assert_eq!(entry["complete"], true, "{entry}");
    assert_eq!(entry["metadata"]["name"], imported.as_str());
    assert_eq!(entry["metadata"]["source"], source.as_str());
    assert!(entry["metadata"]["seed"].is_null(), "{entry}");
    t.kip(&["down", &source]).run().success();
    t.up(&copy, &["--from", imported, "-q"]).success();
    t.readyz(&copy);
    let labels = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &t.node_id(&copy),
    ]);
    assert!(!labels.contains("dev.kip.seed"), "{labels}");

    // `kip run --from`: CMD against a cluster restored from it, which is
    // gone afterwards; an unknown snapshot is exit 5 with nothing made.
    let ran = format!("{}-run", t.name);
    let kubectl = super::e2e::kubectl_bin();
    let run = t
        .kip(&[
            "run", "--name", &ran, "--from", imported, "--", &kubectl, "get", "--raw", "/readyz",
        ])
        .run();
    run.success().stdout_has("ok").stderr_has("Copied snapshot");
    t.assert_nothing_left(&ran);
    t.kip(&["run", "--name", &ran, "--from", bad, "--", "true"])
        .run()
        .code(5)
        .stderr_has(&format!("no snapshot \"{bad}\""));
    t.assert_nothing_left(&ran);

    // A taken name: exit 3, that snapshot untouched.
    let (run, _) = import(&t, &file, imported);
    run.code(3)
        .stderr_has(&format!("a snapshot named {imported} exists"));
    assert_eq!(listed(&snapshot_list(&t), imported), Some(entry));

    // Truncated (as `head -c` cuts it), corrupted, foreign: exit 3 naming
    // the problem, no volume and no helper left.
    let cut = t.dir.path().join("cut.tgz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let corrupted = t.dir.path().join("corrupted.tgz");
    std::fs::write(&corrupted, &flipped).unwrap();
    let foreign = t.dir.path().join("foreign.tgz");
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo hi >{0}.txt && tar -czf {0} -C {1} foreign.tgz.txt",
            foreign.display(),
            t.dir.path().display()
        ))
        .status()
        .unwrap();
    assert!(made.success());
    for (archive, problem) in [
        (&cut, "truncated"),
        (&corrupted, "corrupt"),
        (&foreign, "does not begin with"),
    ] {
        let (run, left) = import(&t, archive, bad);
        run.code(3)
            .stderr_has("is not a snapshot archive kip can import")
            .stderr_has(problem)
            .stderr_has("nothing was made");
        assert!(
            !volume_exists(&format!("kip-snap-{bad}")),
            "{}",
            archive.display()
        );
        assert!(!left, "a helper is left after {}", archive.display());
    }
    assert!(listed(&snapshot_list(&t), bad).is_none());

    // `-`: stdout into stdin through a pipe.
    let mut export = t
        .kip(&["snapshot", "export", imported, "-"])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let from_pipe = t
        .kip(&["snapshot", "import", "-", piped])
        .command()
        .stdin(export.stdout.take().unwrap())
        .output()
        .unwrap();
    let export = export.wait_with_output().unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    Run::from(from_pipe).success();
    assert_eq!(listed(&snapshot_list(&t), piped).unwrap()["complete"], true);

    // gc: snapshots only with --snapshots, and only those older than
    // --older-than (an archive of one saved in 2000, imported).
    let ancient = t.dir.path().join("ancient.tgz");
    std::fs::write(&ancient, dated(&bytes, "2000-01-01T00:00:00Z")).unwrap();
    let (run, _) = import(&t, &ancient, bad);
    run.success();
    // A selector matching no cluster: other clusters on this engine are not
    // this test's to collect.
    let none = format!("kip-test-none={}", t.name);
    let plain = t
        .kip(&["gc", "--older-than", "3650d", "-l", &none, "-o", "json"])
        .run();
    plain.success();
    assert!(plain.json().get("snapshots").is_none(), "{plain}");
    assert!(volume_exists(&format!("kip-snap-{bad}")));
    let gc = t
        .kip(&[
            "gc",
            "--snapshots",
            "--older-than",
            "3650d",
            "-l",
            &none,
            "-o",
            "json",
        ])
        .run();
    gc.success();
    let result = gc.json();
    super::schema::assert_valid("gc-result.schema.json", &result);
    let deleted: Vec<&str> = result["snapshots"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(deleted, [bad.as_str()], "{result}");
    assert!(!volume_exists(&format!("kip-snap-{bad}")));
    assert!(listed(&snapshot_list(&t), imported).is_some());
    t.kip(&["gc", "--snapshots"]).run().code(2);

    // doctor: the snapshots' disk use.
    let doctor = t.kip(&["doctor", "-o", "json"]).run();
    let checks = doctor.json()["checks"].clone();
    let check = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "snapshots")
        .unwrap_or_else(|| panic!("no snapshots check: {doctor}"))
        .clone();
    assert_eq!(check["status"], "ok", "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("snapshot(s) take"),
        "{check}"
    );

    t.kip(&["down", &copy]).run().success();
    t.kip(&["snapshot", "rm", snap, imported, piped])
        .run()
        .success();
    t.assert_nothing_left(&source);
    t.assert_nothing_left(&copy);
}

/// The archive `bytes` with its snapshot's creation time set to `at`
/// (kip's first entry rewritten; the rest as it was).
fn dated(bytes: &[u8], at: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut tar)
        .unwrap();
    let header = tar::Header::from_byte_slice(&tar[..512]);
    let size = header.entry_size().unwrap() as usize;
    let mut doc: serde_json::Value = serde_json::from_slice(&tar[512..512 + size]).unwrap();
    doc["metadata"]["createdAt"] = at.into();
    let json = serde_json::to_vec(&doc).unwrap();
    let mut entry = tar::Header::new_gnu();
    entry.set_path("kip-snapshot.json").unwrap();
    entry.set_size(json.len() as u64);
    entry.set_mode(0o644);
    entry.set_cksum();
    let mut out = entry.as_bytes().to_vec();
    out.extend_from_slice(&json);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&tar[512 + size.div_ceil(512) * 512..]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&out).unwrap();
    gz.finish().unwrap()
}

fn interrupt(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// ConfigMap, claim and Deployment (of a `kip load`ed image, never pulled)
/// whose pod writes `token` in the claim once and then sleeps.
fn workload(image: &str, token: &str) -> String {
    let items = serde_json::json!([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "snap"},
         "data": {"token": token}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "loaded"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "loaded"}},
           "template": {"metadata": {"labels": {"app": "loaded"}},
             "spec": {"terminationGracePeriodSeconds": 1,
               "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", format!("test -f /data/probe || echo {token} >/data/probe; exec sleep infinity")],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
               "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}},
    ]);
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// The workload is there and serving in cluster `name`, within 4 minutes:
/// the Deployment rolled out, its container running (a restored cluster's
/// restarts it a few seconds after its API answers; the Deployment's status
/// is the snapshot's until then), the claim's file and the ConfigMap hold
/// `token`.
fn workload_there(t: &super::real_kind::RealKind, name: &str, token: &str) -> Result<(), String> {
    super::support::eventually(Duration::from_secs(240), || workload_now(t, name, token))
}

fn workload_now(t: &super::real_kind::RealKind, name: &str, token: &str) -> Result<(), String> {
    use super::real_kind::ok;
    ok(&t.kubectl(
        name,
        &["rollout", "status", "deploy/loaded", "--timeout=240s"],
    ))?;
    let file = ok(&t.kubectl(name, &["exec", "deploy/loaded", "--", "cat", "/data/probe"]))?
        .trim()
        .to_string();
    let map = ok(&t.kubectl(
        name,
        &["get", "configmap", "snap", "-o", "jsonpath={.data.token}"],
    ))?
    .to_string();
    (file == token && map == token).then_some(()).ok_or(format!(
        "the claim's file holds {file:?}, the ConfigMap {map:?}, not {token:?}"
    ))
}

#[test]
#[ignore = "end-to-end on real Kubernetes: needs the real-kind test images (test-stack/real-kind/build.sh)"]
fn real_kind_restore_brings_back_objects_loaded_images_and_claims() {
    use super::real_kind::{ok, RealKind};
    let Some(t) = RealKind::new("rsnap") else {
        return;
    };
    let snaps = Snapshots::new(&t.e2e, &["s", "i"]);
    let snap = &snaps.0[0];
    let name = t.e2e.name.clone();
    let (source, copy) = (format!("{name}-src"), format!("{name}-new"));
    let mut c = super::support::Checks::default();
    t.up(&source, &[]).success();
    // An image only `kip load` brings in (the node image has it as kube-proxy).
    let image = format!("kip.local/snap-load:{}", std::process::id());
    docker(&[
        "tag",
        &format!("registry.k8s.io/kube-proxy:{}", t.version),
        &image,
    ]);
    let loaded = t.e2e.kip(&["load", &source, &image]).run();
    let _ = Command::new("docker").args(["rmi", &image]).output();
    c.check("kip load into the source", ok(&loaded).map(|_| ()));
    let token = format!("kip-snap-{}", std::process::id());
    c.check(
        "the workload runs in the source",
        super::real_kind::apply(&t, &source, &workload(&image, &token))
            .and_then(|()| workload_there(&t, &source, &token)),
    );
    let saved = t.e2e.kip(&["snapshot", "save", &source, snap]).run();
    c.check("snapshot save", ok(&saved).map(|_| ()));
    eprintln!("{}", saved.stderr);
    c.check(
        "the source keeps serving",
        ok(&t.kubectl(&source, &["get", "--raw", "/readyz"])).map(|_| ()),
    );
    restore_and_check(&t, &mut c, (snap, &copy), &token);
    c.check(
        "the source still serves",
        workload_there(&t, &source, &token),
    );
    // The clone shares containerd's content store with the snapshot (hard
    // links): the image removed in the clone (its blobs unlinked there) is
    // still the snapshot's, as the restore of its export below shows.
    c.check(
        "the loaded image removed in the clone",
        remove_kind_image(&t, &copy, &image),
    );

    // Export, then this test's clusters and snapshot removed (the kip
    // objects of other tests on this shared engine are not this test's to
    // delete), import, and a restore of the imported snapshot: the same.
    let (imported, again) = (&snaps.0[1], format!("{name}-imp"));
    let file = t.e2e.dir.path().join("snap.tgz");
    let began = std::time::Instant::now();
    let exported = t
        .e2e
        .kip(&["snapshot", "export", snap, file.to_str().unwrap()])
        .run();
    let export_s = began.elapsed().as_secs_f64();
    c.check("snapshot export", ok(&exported).map(|_| ()));
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "export: {export_s:.1} s, archive {:.2} GiB",
        bytes as f64 / (1u64 << 30) as f64
    );
    c.check(
        "kip down of both, snapshot rm",
        kip_ok(&t, &["down", &source, &copy]).and_then(|()| kip_ok(&t, &["snapshot", "rm", snap])),
    );
    let began = std::time::Instant::now();
    let (imported_run, left) = import(&t.e2e, &file, imported);
    eprintln!("import: {:.1} s", began.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(&file);
    c.check(
        "snapshot import, no helper left",
        ok(&imported_run).and_then(|_| (!left).then_some(()).ok_or("a helper is left".into())),
    );
    restore_and_check(&t, &mut c, (imported, &again), &token);
    c.check(
        "kip down, snapshot rm of the imported one",
        kip_ok(&t, &["down", &again]).and_then(|()| kip_ok(&t, &["snapshot", "rm", imported])),
    );
    c.run("nothing is left", || {
        for cluster in [&source, &copy, &again] {
            t.e2e.assert_nothing_left(cluster);
        }
        for snapshot in [snap, imported] {
            assert!(!volume_exists(&format!("kip-snap-{snapshot}")));
        }
    });
    c.finish();
}

/// `crictl rmi IMAGE` in every kind node of cluster `name` (with the
/// image's other names), and the image gone from them.
fn remove_kind_image(
    t: &super::real_kind::RealKind,
    name: &str,
    image: &str,
) -> Result<(), String> {
    let script = format!(
        "for n in $(docker ps --format '{{{{.Names}}}}'); do docker exec $n crictl rmi {image} || exit 1; \
         ! docker exec $n crictl inspecti {image} >/dev/null 2>&1 || exit 1; done"
    );
    kip_ok(t, &["exec", name, "--", "sh", "-c", &script])
}

/// `kip ARGS` ran to success, or what it said.
fn kip_ok(t: &super::real_kind::RealKind, args: &[&str]) -> Result<(), String> {
    super::real_kind::ok(&t.e2e.kip(args).run()).map(|_| ())
}

/// `kip up COPY --from SNAP`, then what a restore must bring back:
/// the node Ready by its own kubelet, the workload serving with `token`,
/// nothing pulled.
fn restore_and_check(
    t: &super::real_kind::RealKind,
    c: &mut super::support::Checks,
    (snap, copy): (&str, &str),
    token: &str,
) {
    use super::real_kind::{ok, WAIT};
    let began = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // The same kind node image as the source's, named (the suite sets
    // KIP_IMAGE to the stand-in's): accepted.
    let restored = t
        .e2e
        .kip(&[
            "up",
            copy,
            "--from",
            snap,
            "--image",
            &t.node_image,
            "--wait",
            WAIT,
        ])
        .run();
    eprintln!("{}", restored.stderr);
    c.check(&format!("kip up --from {snap}"), ok(&restored).map(|_| ()));
    // A local engine: the helper sees its volumes folder.
    c.check(
        "restored: containerd's content store linked, not copied",
        restored
            .stderr
            .contains("its images' content linked, not copied")
            .then_some(())
            .ok_or("the restore copied the content store".to_string()),
    );
    // Ready as the restored kubelet says it (a heartbeat since the restore
    // began), not as the snapshot's etcd remembers it.
    c.check("restored: the node is Ready, by its own kubelet", {
        super::support::eventually(Duration::from_secs(240), || {
            let ready = "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")]['status','lastHeartbeatTime']}";
            let out = ok(&t.kubectl(copy, &["get", "nodes", "-o", ready]))?.to_string();
            match out.split_whitespace().collect::<Vec<_>>()[..] {
                ["True", beat] if beat >= began.as_str() => Ok(()),
                _ => Err(format!("Ready condition (status, heartbeat): {out:?}, restore began {began}")),
            }
        })
    });
    c.check(
        "restored: the Deployment runs from the loaded image, the ConfigMap and the claim's file are there",
        workload_there(t, copy, token),
    );
    c.check("restored: nothing was pulled", {
        ok(&t.kubectl(
            copy,
            &[
                "get",
                "events",
                "-A",
                "--field-selector",
                "reason=Pulling",
                "-o",
                "name",
            ],
        ))
        .and_then(|out| out.trim().is_empty().then_some(()).ok_or(out.to_string()))
    });
}

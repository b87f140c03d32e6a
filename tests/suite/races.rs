//! The races of `up`, `down` and `gc` on one name (issue 22, items 1 and
//! 10): a `kip down` put exactly between two of an `up`'s requests to the
//! engine (held at the [`Gate`]), or while kind is held in the node. The
//! end state is one cluster with kip's labels or none, and every command
//! says what happened.

use super::e2e::{docker, holding_node_image, E2e, HOLD};
use super::gate::Gate;
use super::support::finish_by;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// No volume of the cluster's name at all, kip's or not.
#[track_caller]
fn assert_no_volume_named(name: &str) {
    let volume = format!("kip-{name}-docker");
    let inspect = Command::new("docker")
        .args(["volume", "inspect", "--format", "{{json .Labels}}", &volume])
        .output()
        .unwrap();
    assert!(
        !inspect.status.success(),
        "volume {volume} is left, with labels {}",
        String::from_utf8_lossy(&inspect.stdout)
    );
}

/// What a `kip up` that another kip's `down` cut short says.
#[track_caller]
fn assert_up_says_deleted_by_another(up: &super::support::Run, name: &str) {
    up.code(6)
        .stderr_has(&format!("cluster {name} was deleted by another kip"));
    assert!(!says_409(&up.stderr), "{up}");
}

/// Whether `text` has the engine's 409 (a conflict leaked as it is) as a
/// number of its own: a port such as 40953 is not one.
fn says_409(text: &str) -> bool {
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    text.match_indices("409").any(|(at, _)| {
        !digit(text[..at].chars().next_back()) && !digit(text[at + 3..].chars().next())
    })
}

#[test]
fn a_port_is_not_a_409() {
    assert!(!says_409("API on https://127.0.0.1:40953 (0.7s)"));
    assert!(!says_409("port 14090"));
    assert!(says_409("Docker responded with status code 409: Conflict"));
    assert!(says_409("409"));
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_down_before_and_after_ups_node_is_created_leaves_no_volume_behind() {
    let Some(t) = E2e::new("downcreate") else {
        return;
    };
    let node = format!("kip-{}", t.name);
    let gate = Gate::open();
    let create = gate.hold("POST", &["/containers/create", &format!("name={node}")]);
    let start = gate.hold("POST", &[&format!("/containers/{node}/start")]);
    let up = t
        .kip(&["up", &t.name])
        .env("DOCKER_HOST", gate.host())
        .spawn();
    assert!(
        gate.holding(create, LIMIT),
        "`kip up` never created its node"
    );
    // Before the node exists: nothing of the cluster may be there yet for
    // `down` to delete (a volume deleted now would come back unlabelled).
    let early = t.kip(&["down", &t.name]).run();
    early.success();
    gate.release(create);
    assert!(
        gate.holding(start, LIMIT),
        "`kip up` never started its node"
    );
    // The node made, not started: `down` deletes it and its volume.
    let late = t.kip(&["down", &t.name]).run();
    late.success()
        .stderr_has(&format!("Deleted cluster {}", t.name));
    gate.release(start);
    let up = finish_by(up, LIMIT, "the `kip up` cut short");
    assert_no_volume_named(&t.name);
    assert_up_says_deleted_by_another(&up, &t.name);
    t.assert_nothing_left(&t.name);
    // The name is free again.
    t.up(&t.name, &["-q"]).success();
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_down_that_finds_no_node_but_an_ups_volume_deletes_that_up_s_node_too() {
    let Some(t) = E2e::new("downinuse") else {
        return;
    };
    let node = format!("kip-{}", t.name);
    let volume = format!("kip-{}-docker", t.name);
    let gate = Gate::open();
    let create = gate.hold("POST", &["/containers/create", &format!("name={node}")]);
    let start = gate.hold("POST", &[&format!("/containers/{node}/start")]);
    let up = t
        .kip(&["up", &t.name])
        .env("DOCKER_HOST", gate.host())
        .spawn();
    assert!(
        gate.holding(create, LIMIT),
        "`kip up` never created its node"
    );
    // `down` has listed no node and looks at the volume ...
    let look = gate.hold("GET", &[&format!("/volumes/{volume}")]);
    let down = t
        .kip(&["down", &t.name])
        .env("DOCKER_HOST", gate.host())
        .spawn();
    assert!(
        gate.holding(look, LIMIT),
        "`kip down` never looked at the volume"
    );
    // ... when the `up` makes its node.
    gate.release(create);
    assert!(
        gate.holding(start, LIMIT),
        "`kip up` never started its node"
    );
    gate.release(look);
    let down = finish_by(down, LIMIT, "the `kip down`");
    down.success()
        .stderr_has(&format!("Deleted cluster {} (node, volume", t.name));
    gate.release(start);
    let up = finish_by(up, LIMIT, "the `kip up` cut short");
    assert_no_volume_named(&t.name);
    assert_up_says_deleted_by_another(&up, &t.name);
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_down_while_kind_creates_the_cluster_says_so_and_the_up_says_who_deleted_it() {
    let Some(t) = E2e::new("downkind") else {
        return;
    };
    let image = holding_node_image();
    let up = t.kip(&["up", &t.name]).env("KIP_IMAGE", image).spawn();
    let waiting = format!("{HOLD}.waiting");
    super::support::until("kind held in the `kip up`", LIMIT, || {
        let held = t.exec(&t.name, &["test", "-e", &waiting]).run();
        (held.code == 0).then_some(()).ok_or(format!("{held}"))
    });
    let down = t.kip(&["down", &t.name]).run();
    down.success()
        .stderr_has("is being created by a `kip up` or a restart")
        .stderr_has(&format!("Deleted cluster {}", t.name));
    let up = finish_by(up, LIMIT, "the `kip up` cut short");
    assert_up_says_deleted_by_another(&up, &t.name);
    assert!(
        docker(&["ps", "-aq", "--filter", &format!("name=^kip-{}$", t.name)])
            .trim()
            .is_empty()
    );
    assert_no_volume_named(&t.name);
    t.assert_nothing_left(&t.name);
}

/// `kip up` (with `extra`) killed (-9) while the kind node image streams
/// into its node (the host's `docker save` held at the gate, the node's
/// `docker load` waiting for it); then a second `kip up` of the name.
fn up_killed_during_the_stream(t: &E2e, image: &str, extra: &[&str]) -> super::support::Run {
    let gate = Gate::open();
    let save = gate.hold("GET", &["/images/get"]);
    // kip's `docker load` may not have begun in the node when kip dies: the
    // node gives up on a stream that never began after this long.
    let mut args = vec![
        "up",
        t.name.as_str(),
        "--image",
        image,
        "--node-env",
        "KIP_STREAM_START_TIMEOUT=20",
    ];
    args.extend_from_slice(extra);
    let mut up = t.kip(&args).env("DOCKER_HOST", gate.host()).spawn();
    assert!(
        gate.holding(save, LIMIT),
        "`kip up` never streamed the image"
    );
    up.kill().unwrap();
    up.wait().unwrap();
    t.up(&t.name, &["--image", image, "--wait", "90s"])
}

/// The second `kip up` tells a node whose stream is gone from one kind is
/// working in, and says what to do.
#[track_caller]
fn assert_says_the_stream_is_lost(second: &super::support::Run, name: &str) {
    second
        .code(6)
        .stderr_has("the `kip up` streaming it is gone")
        .stderr_has(&format!("kip up {name} --recreate"));
    assert!(!second.stderr.contains("kind is creating"), "{second}");
    assert!(!second.stderr.contains("docker start"), "{second}");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kill_9_of_up_while_it_streams_the_image_is_told_from_kind_at_work() {
    let Some(t) = E2e::new("killstream") else {
        return;
    };
    let image = super::seed::TestImage::new(&t, 0);
    let second = up_killed_during_the_stream(&t, &image.name, &["--no-seed"]);
    assert_says_the_stream_is_lost(&second, &t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kill_9_of_up_while_it_seeds_is_told_from_kind_at_work() {
    let Some(t) = E2e::new("killseeding") else {
        return;
    };
    // An image of its own: no seed of it yet, so this node makes it.
    let image = super::seed::TestImage::new(&t, 0);
    let second = up_killed_during_the_stream(&t, &image.name, &[]);
    assert_says_the_stream_is_lost(&second, &t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_load_whose_cluster_a_down_deletes_says_so() {
    let Some(t) = E2e::new("loaddown") else {
        return;
    };
    // An image the node does not have, so that it is streamed.
    let image = holding_node_image();
    t.up(&t.name, &["-q"]).success();
    let gate = Gate::open();
    let save = gate.hold("GET", &["/images/get"]);
    let load = t
        .kip(&["load", &t.name, image])
        .env("DOCKER_HOST", gate.host())
        .spawn();
    assert!(
        gate.holding(save, LIMIT),
        "`kip load` never streamed the image"
    );
    t.kip(&["down", &t.name]).run().success();
    gate.release(save);
    let load = finish_by(load, LIMIT, "the `kip load` whose cluster went");
    load.code(5).stderr_has(&format!(
        "cluster {} was deleted (by a `kip down {}` or `kip gc`) while `kip load`",
        t.name, t.name
    ));
    t.assert_nothing_left(&t.name);
}

/// Cluster `t.name` as a node removed outside kip leaves it (its volume,
/// labelled `selector`), old enough for `kip gc --older-than 1s`; then
/// `args` (a `gc` or `down` of it) through the gate, its removal of the
/// volume held while a `kip up` of the name makes the cluster anew on that
/// volume, then let go. What `args` said, the up made.
fn orphan_taken_by_an_up_while(t: &E2e, selector: &str, args: &[&str]) -> super::support::Run {
    super::data_safety::orphan(t, selector);
    let judged = format!("would delete {} (orphaned", t.name);
    super::support::until("the orphan older than a second", LIMIT, || {
        let dry = t
            .kip(&["gc", "--dry-run", "--older-than", "1s", "-l", selector])
            .run();
        dry.stdout
            .contains(&judged)
            .then_some(())
            .ok_or(format!("{dry}"))
    });
    let gate = Gate::open();
    let remove = gate.hold("DELETE", &[&format!("/volumes/kip-{}-docker", t.name)]);
    let command = t.kip(args).env("DOCKER_HOST", gate.host()).spawn();
    assert!(
        gate.holding(remove, LIMIT),
        "{args:?} never removed the orphan's volume"
    );
    t.up(&t.name, &["-q"]).success();
    gate.release(remove);
    finish_by(command, LIMIT, "the command that found the orphan")
}

/// What a `kip down` that found a cluster's volume without its node, and
/// then a `kip up` of it at work on that volume, says.
#[track_caller]
fn assert_down_left_it(down: &super::support::Run, name: &str) {
    down.code(3)
        .stderr_has(&format!("a `kip up {name}` is making cluster {name} anew"))
        .stderr_has(&format!("`kip down {name}` again deletes that cluster"));
}

/// The cluster the up made is whole: running, answering, in the kubeconfig.
#[track_caller]
fn assert_made_anew(t: &E2e) {
    t.kip(&["status", &t.name]).run().success();
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_leaves_an_orphan_that_an_up_made_a_cluster_of_since_gc_judged_it() {
    let Some(t) = E2e::new("gctaken") else {
        return;
    };
    let selector = format!("kip-test-orphan={}", t.name);
    let args = ["gc", "--older-than", "1s", "-l", &selector];
    let gc = orphan_taken_by_an_up_while(&t, &selector, &args);
    gc.success()
        .stderr_has(&format!("Left cluster {}: a `kip up` made it anew", t.name));
    assert!(!gc.stdout.contains("deleted"), "{gc}");
    assert_made_anew(&t);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn down_of_an_orphan_that_an_up_made_a_cluster_of_since_says_so_and_leaves_it() {
    let Some(t) = E2e::new("downtaken") else {
        return;
    };
    let selector = format!("kip-test-orphan={}", t.name);
    let down = orphan_taken_by_an_up_while(&t, &selector, &["down", &t.name]);
    assert_down_left_it(&down, &t.name);
    assert_made_anew(&t);
}

/// `kip gc` of what it judges an orphan (`selector`, `--older-than 1s`),
/// once it does judge it so.
fn gc_of_an_orphan(t: &E2e, selector: &str) -> super::support::Run {
    let judged = format!("would delete {} (orphaned", t.name);
    super::support::until("gc judging it an orphan", LIMIT, || {
        let dry = t
            .kip(&["gc", "--dry-run", "--older-than", "1s", "-l", selector])
            .run();
        dry.stdout
            .contains(&judged)
            .then_some(())
            .ok_or(format!("{dry}"))
    });
    t.kip(&["gc", "--older-than", "1s", "-l", selector]).run()
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn down_and_gc_leave_the_volume_a_restore_filled_before_its_node_is_made() {
    let Some(t) = E2e::new("restorewin") else {
        return;
    };
    let snaps = super::snapshot::Snapshots::new(&t, &["s"]);
    let source = format!("{}-src", t.name);
    t.up(&source, &["-q"]).success();
    t.kip(&["snapshot", "save", &source, &snaps.0[0]])
        .run()
        .success();
    let selector = format!("kip-test-restore={}", t.name);
    let gate = Gate::open();
    let create = gate.hold(
        "POST",
        &["/containers/create", &format!("name=kip-{}", t.name)],
    );
    let restore = t
        .kip(&["up", &t.name, "--from", &snaps.0[0], "--label", &selector])
        .env("DOCKER_HOST", gate.host())
        .spawn();
    assert!(
        gate.holding(create, LIMIT),
        "the restore never created its node"
    );
    // The volume filled, the node not made: all `down` and `gc` see of the
    // cluster is its volume, a restore's at work.
    assert_down_left_it(&t.kip(&["down", &t.name]).run(), &t.name);
    gc_of_an_orphan(&t, &selector)
        .success()
        .stderr_has(&format!("Left cluster {}: a `kip up` made it anew", t.name));
    gate.release(create);
    finish_by(restore, LIMIT, "the restore")
        .success()
        .stderr_has("Copied snapshot");
    t.kip(&["status", &t.name]).run().success();
    t.readyz(&t.name);
    t.kip(&["down", &t.name, &source]).run().success();
    t.assert_nothing_left(&t.name);
    t.assert_nothing_left(&source);
}

//! Seeds end to end on the real Docker engine with the stand-in kind
//! (fast): the first `kip up` of a kind node image makes the engine's seed
//! of it, later ones mount it; what nodes do to their images leaves the
//! seed and the other nodes alone; interrupted makers leave nothing that is
//! used. Each test makes a kind node image of its own (a new image ID, so a
//! seed no other test shares), and removes it and its seed at the end.
//! The same on the real kind: real_kind.rs.

use super::e2e::{docker, E2e};
use super::support::{until, wait_all, Lines, Run};
use std::process::{Child, Command};
use std::time::Duration;

/// A kind node image of one test: the stand-in's, made unique (and
/// `big_mib` MiB bigger, so that its stream takes a while). Dropped: its
/// clusters, its seed and the image go.
pub struct TestImage {
    pub name: String,
    prefix: String,
}

impl TestImage {
    pub fn new(t: &E2e, big_mib: u32) -> TestImage {
        TestImage::from(super::e2e::STAND_IN_NODE_IMAGE, t, big_mib)
    }

    /// The same of another kind node image (`base`).
    pub fn from(base: &str, t: &E2e, big_mib: u32) -> TestImage {
        let name = format!("kip-test-seed-{}:latest", t.name);
        let dir = tempfile::tempdir().unwrap();
        let mut dockerfile = format!("FROM {base}\nLABEL io.kip.test-seed={}\n", t.name);
        if big_mib > 0 {
            let out = Command::new("head")
                .args(["-c", &format!("{big_mib}M"), "/dev/urandom"])
                .output()
                .unwrap();
            std::fs::write(dir.path().join("big"), out.stdout).unwrap();
            dockerfile.push_str("COPY big /big\n");
        }
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        let build = Command::new("docker")
            .args(["build", "-q", "-t", &name])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        TestImage {
            name,
            prefix: t.name.clone(),
        }
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let kip = |args: &[&str]| {
            super::support::kip(args)
                .env("KIP_DIND_IMAGE", "kip-test-node:latest")
                .run()
        };
        if let Some(seed) = seed_of(&kip(&["seed", "list", "-o", "json"]), &self.name) {
            for cluster in seed["clusters"].as_array().into_iter().flatten() {
                let cluster = cluster.as_str().unwrap_or_default();
                if cluster.starts_with(&self.prefix) {
                    let _ = kip(&["down", cluster]);
                }
            }
            let _ = kip(&["seed", "rm", seed["key"].as_str().unwrap_or_default()]);
        }
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.name])
            .output();
    }
}

/// The seed of `image` in `kip seed list -o json`'s output.
pub fn seed_of(list: &Run, image: &str) -> Option<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(&list.stdout).ok()?;
    doc["items"]
        .as_array()?
        .iter()
        .find(|s| s["image"] == image)
        .cloned()
}

pub fn seed(t: &E2e, image: &str) -> serde_json::Value {
    let list = t.kip(&["seed", "list", "-o", "json"]).run();
    list.success();
    seed_of(&list, image).unwrap_or_else(|| panic!("no seed of {image}: {list}"))
}

/// Every file of the seed's layers with its checksum, read from outside
/// any node (a helper container with the store mounted read-only), or
/// what went wrong.
pub fn seed_files(key: &str) -> Result<String, String> {
    in_store(&format!(
        "cd /s/{key}/layers && find . -type f -print0 | sort -z | xargs -0 sha256sum"
    ))
}

/// `script` in a container with the seed store at /s, read-only: its
/// stdout, or what went wrong. A store that is not there is not made.
fn in_store(script: &str) -> Result<String, String> {
    let inspect = Command::new("docker")
        .args(["volume", "inspect", "kip-seeds"])
        .output()
        .map_err(|e| e.to_string())?;
    if !inspect.status.success() {
        return Err("there is no seed store (volume kip-seeds)".into());
    }
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-v",
            "kip-seeds:/s:ro",
            "kip-test-node:latest",
        ])
        .args(["sh", "-c", script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{script}` in the seed store failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The names in the store that belong to `key` (none without a store).
pub fn store_entries(key: &str) -> Vec<String> {
    match in_store("ls -A /s") {
        Ok(names) => names
            .lines()
            .filter(|n| n.starts_with(key))
            .map(String::from)
            .collect(),
        Err(why) if why.starts_with("there is no seed store") => Vec::new(),
        Err(why) => panic!("{why}"),
    }
}

/// The JSON progress event of a `kip up` that begins to stream the image
/// into the seed its node makes.
pub const SEEDING: &str = r#""message":"Seeding the kind node image"#;

/// Waits (two minutes at most) until `child` says `text` on stderr; the
/// rest of its stderr is read on, so it never blocks on a full pipe.
pub fn stderr_until(child: &mut Child, text: &str) -> Lines {
    let mut lines = Lines::of(child.stderr.take().unwrap());
    if let Err(seen) = lines.wait_for(Duration::from_secs(120), |l| l.contains(text)) {
        panic!("kip never said {text:?}:\n{seen}");
    }
    lines
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn two_ups_at_once_make_the_seed_once_and_both_come_up_from_it() {
    let Some(t) = E2e::new("seedtwo") else { return };
    let image = TestImage::new(&t, 0);
    let names = [format!("{}-a", t.name), format!("{}-b", t.name)];
    let runs = wait_all(
        names
            .iter()
            .map(|n| t.kip(&["up", n, "--image", &image.name]).spawn())
            .collect(),
    );
    for run in &runs {
        run.success();
    }
    let said = |text: &str| runs.iter().filter(|r| r.stderr.contains(text)).count();
    assert_eq!(said("Seed of the kind node image"), 1, "{runs:?}");
    assert_eq!(
        said(&format!("Kind node image {} from seed", image.name)),
        1,
        "{runs:?}"
    );
    for name in &names {
        t.readyz(name);
    }
    let seed = seed(&t, &image.name);
    let mut clusters: Vec<&str> = seed["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    clusters.sort_unstable();
    assert_eq!(clusters, [names[0].as_str(), names[1].as_str()]);
    assert_eq!(seed["state"], "ready");
    assert_eq!(seed["inUse"], true);
    super::schema::assert_valid(
        "seed-list.schema.json",
        &serde_json::from_str(&t.kip(&["seed", "list", "-o", "json"]).run().stdout).unwrap(),
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn rmi_and_prune_in_one_node_touch_neither_the_seed_nor_the_other_nodes() {
    let Some(t) = E2e::new("seedrmi") else { return };
    let image = TestImage::new(&t, 0);
    let [a, b, c] = ["a", "b", "c"].map(|s| format!("{}-{s}", t.name));
    t.kip(&["up", &a, "--image", &image.name]).run().success();
    t.kip(&["up", &b, "--image", &image.name])
        .run()
        .success()
        .stderr_has("from seed");
    let key = seed(&t, &image.name)["key"].as_str().unwrap().to_string();
    let before = seed_files(&key).unwrap();
    assert!(before.contains("/kind-stand-in\n"), "{before}");

    // The node's dockerd removes its copy and unmounts the seed's layer.
    t.exec(&a, &["docker", "rmi", "-f", &image.name])
        .run()
        .success();
    t.exec(&a, &["docker", "system", "prune", "-af"])
        .run()
        .success();
    let left = t.exec(&a, &["docker", "images", "-q", &image.name]).run();
    assert_eq!(left.success().stdout.trim(), "", "{left}");
    assert_eq!(seed_files(&key).unwrap(), before, "the seed is as it was");

    // The other node still reads every byte of the image.
    let save = t
        .exec(
            &b,
            &[
                "sh",
                "-c",
                &format!("docker save {} | tar -t | grep -c layer.tar", image.name),
            ],
        )
        .run();
    assert_eq!(save.success().stdout.trim(), "1", "{save}");
    t.readyz(&b);
    // And a new node still comes up from the seed.
    t.kip(&["up", &c, "--image", &image.name])
        .run()
        .success()
        .stderr_has(&format!("Kind node image {} from seed {key}", image.name));
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_restarted_node_mounts_its_seed_again() {
    let Some(t) = E2e::new("seedrestart") else {
        return;
    };
    let image = TestImage::new(&t, 0);
    t.kip(&["up", &t.name, "--image", &image.name])
        .run()
        .success();
    docker(&["restart", &t.node_id(&t.name)]);
    until(
        "the node comes back from its seed",
        Duration::from_secs(120),
        || {
            let log = t.kip(&["logs", &t.name]).run();
            let back = log.stdout.contains("kip-info: seed=remounted")
                && log.stdout.contains("cluster=restarted");
            back.then_some(()).ok_or(log.stdout)
        },
    );
    let mounts = t
        .exec(
            &t.name,
            &["grep", "-c", "/overlay2/.*/diff", "/proc/self/mountinfo"],
        )
        .run();
    assert_ne!(mounts.success().stdout.trim(), "0", "{mounts}");
    let images = t
        .exec(&t.name, &["docker", "image", "inspect", &image.name])
        .run();
    images.success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn down_keeps_the_seed_and_seed_rm_removes_it_but_never_one_in_use() {
    let Some(t) = E2e::new("seedrm") else { return };
    let image = TestImage::new(&t, 0);
    // The dry run names the seed before it exists: the one `up` makes.
    let dry = t.kip(&[
        "up",
        &t.name,
        "--image",
        &image.name,
        "--dry-run",
        "-o",
        "json",
    ]);
    let planned = dry.run().json()["node"]["labels"]["dev.kip.seed"].clone();
    t.kip(&["up", &t.name, "--image", &image.name])
        .run()
        .success();
    let key = seed(&t, &image.name)["key"].as_str().unwrap().to_string();
    assert_eq!(planned, key.as_str(), "up --dry-run shows the seed up uses");
    let refused = t.kip(&["seed", "rm", &key]).run();
    refused
        .code(3)
        .stderr_has(&format!("seed {key} is in use by cluster(s) {}", t.name));

    t.kip(&["down", &t.name]).run().success();
    let kept = seed(&t, &image.name);
    assert_eq!(kept["inUse"], false, "{kept}");
    assert_eq!(kept["clusters"], serde_json::json!([]));
    assert!(kept["lastUsedAt"].is_string(), "{kept}");

    let rm = t.kip(&["seed", "rm", &key[..8]]).run();
    rm.success()
        .stderr_has(&format!("Removed seed {key} ({}", image.name));
    let list = t.kip(&["seed", "list", "-o", "json"]).run();
    assert!(seed_of(&list, &image.name).is_none(), "{list}");
    assert_eq!(store_entries(&key), Vec::<String>::new());
    t.kip(&["seed", "rm", &key]).run().code(5);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn gc_older_than_would_take_an_unused_seed_and_never_one_in_use() {
    let Some(t) = E2e::new("seedgc") else { return };
    let image = TestImage::new(&t, 0);
    t.kip(&["up", &t.name, "--image", &image.name])
        .run()
        .success();
    let key = seed(&t, &image.name)["key"].as_str().unwrap().to_string();
    // A dry run: gc must not delete other tests' clusters on this engine.
    let dry = |t: &E2e| {
        let run = t
            .kip(&["gc", "--dry-run", "--older-than", "1ms", "-o", "json"])
            .run();
        run.success();
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        super::schema::assert_valid("gc-result.schema.json", &doc);
        doc["seeds"]["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == key.as_str())
    };
    assert!(!dry(&t), "a seed in use is never due");
    t.kip(&["down", &t.name]).run().success();
    assert!(dry(&t), "an unused seed older than --older-than is due");
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kill_9_of_kip_while_it_seeds_leaves_nothing_used_and_the_next_up_makes_the_seed() {
    let Some(t) = E2e::new("seedkillkip") else {
        return;
    };
    let image = TestImage::new(&t, 300);
    let [first, second] = ["a", "b"].map(|s| format!("{}-{s}", t.name));
    let mut child = t
        .kip(&[
            "up",
            &first,
            "--image",
            &image.name,
            "--node-env",
            "KIP_STREAM_START_TIMEOUT=20",
            "--progress",
            "json",
        ])
        .spawn();
    stderr_until(&mut child, SEEDING);
    child.kill().unwrap();
    child.wait().unwrap();

    let next = t.kip(&["up", &second, "--image", &image.name]).run();
    next.success().stderr_has("Seed of the kind node image");
    t.readyz(&second);
    let log = t.kip(&["logs", &first]).run();
    assert!(
        log.stdout.contains("kip-fail: image: ")
            && log
                .stdout
                .contains("was not made (the next kip up makes it)"),
        "the killed kip's node gave its seed up: {log}"
    );
    let key = seed(&t, &image.name)["key"].as_str().unwrap().to_string();
    let entries = store_entries(&key);
    assert!(
        entries
            .iter()
            .all(|e| !e.contains(".making") && !e.contains(".removing")),
        "{entries:?}"
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kill_9_of_the_node_while_it_seeds_leaves_nothing_used_and_the_next_up_makes_the_seed() {
    let Some(t) = E2e::new("seedkillnode") else {
        return;
    };
    let image = TestImage::new(&t, 300);
    let [first, second] = ["a", "b"].map(|s| format!("{}-{s}", t.name));
    let mut child = t
        .kip(&["up", &first, "--image", &image.name, "--progress", "json"])
        .spawn();
    stderr_until(&mut child, SEEDING);
    docker(&["kill", &t.node_id(&first)]);
    let out = child.wait_with_output().unwrap();
    let killed = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::new(),
    };
    assert_ne!(killed.code, 0, "{killed}");

    let next = t.kip(&["up", &second, "--image", &image.name]).run();
    next.success().stderr_has("Seed of the kind node image");
    let log = t.kip(&["logs", &second]).run();
    let key = seed(&t, &image.name)["key"].as_str().unwrap().to_string();
    assert!(
        log.stdout
            .contains(&format!("kip-info: seed-leftover=removed {key}.making")),
        "the next maker removed what the killed one left: {log}"
    );
    t.readyz(&second);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn another_name_of_the_same_image_gets_a_seed_of_its_own() {
    let Some(t) = E2e::new("seedtag") else { return };
    let image = TestImage::new(&t, 0);
    // One image ID, two names: a seed holds the tag kind asks for.
    let other = format!("kip-test-seed-{}:other", t.name);
    docker(&["tag", &image.name, &other]);
    let [a, b] = ["a", "b"].map(|s| format!("{}-{s}", t.name));
    t.kip(&["up", &a, "--image", &image.name]).run().success();
    let up = t.kip(&["up", &b, "--image", &other]).run();
    let _ = Command::new("docker").args(["rmi", &other]).output();
    up.success()
        .stderr_has(&format!("Seed of the kind node image {other} made"));
    let removed = t.kip(&["down", &b]).run();
    removed.success();
    if let Some(seed) = seed_of(&t.kip(&["seed", "list", "-o", "json"]).run(), &other) {
        t.kip(&["seed", "rm", seed["key"].as_str().unwrap()])
            .run()
            .success();
    }
}

//! The hard cases of issue 22, one scenario each: values that reached
//! Docker unchecked, inputs that hung, a kind config kip's node could not
//! carry, and the races of `up`, `down` and `gc` on one name, each driven
//! by controlling the interleaving (the stand-in's hold, a held stream),
//! never by a sleep that happens to hit it.

use super::e2e::{docker, E2e};
use super::support::{finish_by, kip};
use std::path::Path;
use std::time::Duration;

/// Nothing answers here: a command that reaches Docker fails at once.
const NO_ENGINE: &str = "tcp://127.0.0.1:1";

/// `kip up NAME --dry-run` with the config file `text`.
fn dry_run_with_config(dir: &Path, text: &str) -> (super::support::Run, std::path::PathBuf) {
    let config = dir.join("config.yaml");
    std::fs::write(&config, text).unwrap();
    let run = kip(&["up", "cfgcheck", "--dry-run"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", &config)
        .run();
    (run, config)
}

#[test]
fn an_empty_image_in_the_config_file_is_a_usage_error_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [("image: \"\"\n", "image"), ("dindImage: ''\n", "dindImage")] {
        let (run, config) = dry_run_with_config(dir.path(), text);
        run.code(2)
            .stderr_has(config.to_str().unwrap())
            .stderr_has(&format!("`{key}`"))
            .stderr_has("empty");
        assert!(!run.stderr.contains("cannot reach Docker"), "{run}");
    }
}

#[test]
fn an_image_reference_docker_would_refuse_is_a_usage_error_wherever_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["kind node:1", "Kindest/Node:v1", "node:", "node@sha256:12"] {
        let (run, config) = dry_run_with_config(dir.path(), &format!("image: {bad:?}\n"));
        run.code(2)
            .stderr_has(config.to_str().unwrap())
            .stderr_has("`image`")
            .stderr_has("not an image reference");
        let run = kip(&["up", "cfgcheck", "--dry-run", "--dind-image", bad])
            .env("DOCKER_HOST", NO_ENGINE)
            .run();
        run.code(2).stderr_has("not an image reference");
    }
    // What Docker takes, kip takes.
    let (run, _) = dry_run_with_config(
        dir.path(),
        "image: localhost:5000/team/kind-node:v1.35.0\ndindImage: \
         registry.example.com/kip/node@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5\n",
    );
    run.success();
}

/// A FIFO at `path` (no writer ever opens it).
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn an_archive_that_is_not_a_regular_file_is_refused_before_anything() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("images.fifo");
    mkfifo(&fifo);
    for (path, what) in [(dir.path(), "a directory"), (fifo.as_path(), "a FIFO")] {
        let child = kip(&["load", "arch", "--archive", path.to_str().unwrap()])
            .env("DOCKER_HOST", NO_ENGINE)
            .spawn();
        let run = finish_by(child, Duration::from_secs(20), "kip load --archive");
        run.code(2)
            .stderr_has(path.to_str().unwrap())
            .stderr_has(what)
            .stderr_has("docker save");
    }
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn load_of_an_archive_that_cannot_be_read_ends_at_once_with_the_reason() {
    let Some(t) = E2e::new("archive") else { return };
    t.up(&t.name, &["-q"]).success();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("images.fifo");
    mkfifo(&fifo);
    // A regular file whose reads fail: kip's own memory, read from 0.
    let unreadable = Path::new("/proc/self/mem");
    for (path, code, what) in [
        (dir.path(), 2, "a directory"),
        (fifo.as_path(), 2, "a FIFO"),
        (unreadable, 2, "cannot read it"),
    ] {
        let child = t
            .kip(&["load", &t.name, "--archive", path.to_str().unwrap()])
            .spawn();
        let run = finish_by(child, Duration::from_secs(60), "kip load --archive");
        run.code(code).stderr_has(what);
    }
    // Nothing was left loading in the node.
    let ps = t.exec(&t.name, &["ps", "-eo", "args"]).run();
    ps.success();
    // (A process's args, not the bootstrap's text, which names it.)
    assert!(
        !ps.stdout.lines().any(|l| l.starts_with("docker load")),
        "{ps}"
    );
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn an_ipv6_or_dual_stack_kind_config_gets_subnets_of_its_family() {
    let Some(t) = E2e::new("ipfam") else { return };
    for family in ["ipv6", "dual"] {
        let name = format!("{}-{family}", t.name);
        let config = t.dir.path().join(format!("{family}.yaml"));
        std::fs::write(&config, format!("networking:\n  ipFamily: {family}\n")).unwrap();
        t.up(&name, &["-q", "--kind-config", config.to_str().unwrap()])
            .success();
        let kind = t.exec(&name, &["cat", "/etc/kip/kind.yaml"]).run();
        kind.success()
            .stdout_has(&format!("ipFamily: {family}"))
            .stdout_has("podSubnet: ")
            .stdout_has("fd00:10:245::/56");
        t.kip(&["down", &name]).run().success();
    }
    // A subnet of the other family is refused before anything is made.
    let config = t.dir.path().join("mixed.yaml");
    std::fs::write(
        &config,
        "networking:\n  ipFamily: ipv6\n  serviceSubnet: 10.96.0.0/16\n",
    )
    .unwrap();
    t.up(&t.name, &["-q", "--kind-config", config.to_str().unwrap()])
        .code(2)
        .stderr_has("networking.serviceSubnet is \"10.96.0.0/16\"")
        .stderr_has("one IPv6 CIDR");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_kind_config_over_128_kib_makes_a_cluster() {
    let Some(t) = E2e::new("bigcfg") else { return };
    // One environment variable or argument may hold at most 128 KiB: this
    // config is twice that once kip has merged it.
    let mut config = String::from("nodes:\n- role: control-plane\n  labels:\n");
    for i in 0..4000 {
        config.push_str(&format!(
            "    kip.test/label-{i:05}: value-{i:05}-{}\n",
            "x".repeat(40)
        ));
    }
    assert!(config.len() > 256 * 1024, "{}", config.len());
    let path = t.dir.path().join("big.yaml");
    std::fs::write(&path, &config).unwrap();
    t.up(&t.name, &["-q", "--kind-config", path.to_str().unwrap()])
        .success();
    let in_node = t.exec(&t.name, &["cat", "/etc/kip/kind.yaml"]).run();
    in_node
        .success()
        .stdout_has("kip.test/label-03999: value-03999-");
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_node_whose_init_cannot_start_its_bootstrap_says_so() {
    let Some(t) = E2e::new("noinit") else { return };
    // An image without a shell: the node's init cannot run the bootstrap.
    let run = t.up(&t.name, &["--dind-image", super::e2e::STAND_IN_NODE_IMAGE]);
    run.code(6)
        .stderr_has("the node's init could not start its bootstrap")
        .stderr_has("exec sh failed: No such file or directory");
    assert!(!run.stderr.contains("API port was not published"), "{run}");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn the_readme_restart_recipe_waits_for_the_restarted_node() {
    let Some(t) = E2e::new("restart") else { return };
    t.up(&t.name, &["-q"]).success();
    let node = format!("kip-{}", t.name);
    // Stopped: `docker start` is the way back, named before --recreate
    // (which throws the cluster away).
    docker(&["stop", "-t", "5", &node]);
    let stopped = t.up(&t.name, &["--wait", "90s"]);
    stopped.code(6).stderr_has(&format!("docker start {node}"));
    let start_at = stopped.stderr.find("docker start").unwrap();
    assert!(
        stopped
            .stderr
            .find("--recreate")
            .is_none_or(|r| r > start_at),
        "{stopped}"
    );
    // README's recipe: started again, `kip up` waits for it.
    docker(&["start", &node]);
    let up = t.up(&t.name, &["--wait", "90s"]);
    up.success();
    assert!(!up.stderr.contains("--recreate"), "{up}");
    t.readyz(&t.name);
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the real kind test images and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn the_real_kinds_own_error_comes_first_streamed_or_seeded() {
    let Some(t) = super::real_kind::RealKind::new("kindrejects") else {
        return;
    };
    // kind refuses an unknown field at once, while (streamed) kip may still
    // be finishing the image's stream: the node's failure breaks it.
    let config = t.e2e.dir.path().join("kind.yaml");
    std::fs::write(&config, "nodes:\n- role: control-plane\n  notAField: 1\n").unwrap();
    let config = config.to_str().unwrap();
    for (how, extra) in [("streamed", "--no-seed"), ("seeded", "--wait=8m")] {
        let run = t
            .e2e
            .kip(&[
                "up",
                &t.e2e.name,
                "--image",
                &t.node_image,
                "--kind-config",
                config,
                extra,
            ])
            .run();
        assert_eq!(run.code, 6, "{how}: {run}");
        assert!(
            run.stderr.contains("kind could not create the cluster"),
            "{how}: {run}"
        );
        assert!(
            run.stderr.contains("notAField"),
            "{how}: kind's own words: {run}"
        );
        assert!(!run.stderr.contains("cannot stream"), "{how}: {run}");
        t.e2e.assert_nothing_left(&t.e2e.name);
    }
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn extra_mounts_of_a_kind_config_see_the_host_path_through_kips_node() {
    let Some(t) = E2e::new("mounts") else { return };
    let shared = t.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("hello.txt"), "from the host\n").unwrap();
    let shared = shared.to_str().unwrap();
    let config = t.dir.path().join("kind.yaml");
    let write_config = |host_path: &str| {
        std::fs::write(
            &config,
            format!(
                "nodes:\n- role: control-plane\n  extraMounts:\n  - hostPath: {host_path}\n    containerPath: /shared\n    readOnly: true\n"
            ),
        )
        .unwrap();
    };
    // A host path that is not there is refused before anything is made
    // (the engine would make an empty folder of it).
    let missing = format!("{shared}-missing");
    write_config(&missing);
    let refused = t.up(&t.name, &["--kind-config", config.to_str().unwrap()]);
    refused
        .code(2)
        .stderr_has("nodes[0].extraMounts[0].hostPath")
        .stderr_has(&missing);
    t.assert_nothing_left(&t.name);
    // kind mounts paths of kip's node: the host path is there, the same.
    write_config(shared);
    t.up(&t.name, &["-q", "--kind-config", config.to_str().unwrap()])
        .success();
    let in_node = t
        .exec(&t.name, &["cat", &format!("{shared}/hello.txt")])
        .run();
    in_node.success().stdout_has("from the host");
    let write = t
        .exec(&t.name, &["touch", &format!("{shared}/written")])
        .run();
    assert_ne!(write.code, 0, "readOnly: true is kept: {write}");
    t.kip(&["down", &t.name]).run().success();
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn status_and_list_say_the_kind_node_inside_is_stopped_and_how_to_start_it() {
    let Some(t) = E2e::new("kindstop") else {
        return;
    };
    t.up(&t.name, &["-q"]).success();
    let kind_node = format!("{}-control-plane", t.name);
    t.exec(&t.name, &["docker", "kill", &kind_node])
        .run()
        .success();
    let status = t.kip(&["status", &t.name]).run();
    let start = format!("kip exec {} -- docker start {kind_node}", t.name);
    status
        .code(6)
        .stderr_has(&format!("the kind node {kind_node} inside"))
        .stderr_has(&start);
    // `kip list` agrees, in its table and its JSON.
    let list = t.kip(&["list"]).run();
    list.success().stderr_has(&start);
    let row = list
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(t.name.as_str()))
        .unwrap_or_else(|| panic!("{} not listed\n{list}", t.name));
    assert_eq!(
        row.split_whitespace().nth(1),
        Some("kind-stopped"),
        "{list}"
    );
    let json = t.kip(&["list", "-o", "json"]).run();
    json.success();
    let doc = json.json();
    super::schema::assert_valid("cluster-list.schema.json", &doc);
    let item = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == t.name.as_str())
        .unwrap_or_else(|| panic!("{} not listed\n{json}", t.name));
    assert!(
        item["status"]
            .as_str()
            .unwrap()
            .ends_with(&format!("; kind node {kind_node} stopped inside")),
        "{json}"
    );
    // `kip up` says the same, not "--recreate".
    let up = t.up(&t.name, &[]);
    up.code(6).stderr_has(&start);
    assert!(!up.stderr.contains("--recreate"), "{up}");
    // What it says brings the cluster back.
    t.exec(&t.name, &["docker", "start", &kind_node])
        .run()
        .success();
    super::support::until(
        "the cluster answers again",
        Duration::from_secs(120),
        || {
            let status = t.kip(&["status", &t.name]).run();
            (status.code == 0).then_some(()).ok_or(format!("{status}"))
        },
    );
    let list = t.kip(&["list", "-o", "json"]).run();
    let item = list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == t.name.as_str())
        .cloned();
    assert!(
        item.is_some_and(|i| !i["status"].as_str().unwrap().contains("stopped inside")),
        "{list}"
    );
    t.kip(&["down", &t.name]).run().success();
}

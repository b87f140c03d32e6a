//! End-to-end: warm pools on the stand-in (cheap members, so the races are
//! run for real): concurrent claims each get a different member or a fresh
//! cluster, a claimed member is an ordinary cluster, the pool refills in
//! the background, a claimer killed with SIGKILL at each step of its claim
//! leaves the pool whole and nothing leaked, and bad input is refused.

use super::e2e::{docker, E2e};
use super::support::{until, wait_all, Kip, Run};
use std::path::PathBuf;
use std::time::Duration;

/// How long a member of the stand-in may take to be made on this shared
/// machine (seconds when idle).
const MEMBER_LIMIT: Duration = Duration::from_secs(180);

/// A pool of the test's own name, its fillers' state in the test's folder.
struct PoolTest {
    t: E2e,
    pool: String,
}

impl PoolTest {
    fn new(test: &str) -> Option<PoolTest> {
        let t = E2e::new(test)?;
        Some(PoolTest {
            pool: t.name.clone(),
            t,
        })
    }

    fn state(&self) -> PathBuf {
        self.t.dir.path().join("state")
    }

    fn kip(&self, args: &[&str]) -> Kip {
        self.t
            .kip(args)
            .env("KIP_STATE_DIR", self.state())
            .env("KIP_ACCEPT_WARNINGS", "inotify,disk,cgroup")
    }

    /// `kip pool list POOL -o json`'s one item.
    fn summary(&self) -> serde_json::Value {
        let run = self.kip(&["pool", "list", &self.pool, "-o", "json"]).run();
        run.success();
        let list = run.json();
        super::schema::assert_valid("pool-list.schema.json", &list);
        list["items"][0].clone()
    }

    /// Waits until the pool keeps `ready` ready members, none being made
    /// or taken.
    #[track_caller]
    fn until_whole(&self, ready: u64) {
        until(
            &format!("pool {} whole with {ready} ready members", self.pool),
            MEMBER_LIMIT,
            || {
                let s = self.summary();
                (s["ready"] == ready && s["creating"] == 0 && s["taken"] == 0)
                    .then_some(())
                    .ok_or(format!("{s}"))
            },
        );
    }

    /// The names of the pool's containers (members and claimed clusters).
    fn containers(&self) -> Vec<String> {
        let label = format!("label=dev.kip.pool={}", self.pool);
        docker(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"])
            .lines()
            .map(String::from)
            .collect()
    }

    fn volumes(&self) -> Vec<String> {
        let label = format!("label=dev.kip.pool={}", self.pool);
        docker(&["volume", "ls", "-q", "--filter", &label])
            .lines()
            .map(String::from)
            .collect()
    }

    /// Waits for the pool's fillers to end (the lock a filler holds, and
    /// the one a waiting filler holds).
    fn until_fillers_end(&self) {
        let lock = self
            .state()
            .join(format!("pools/{}@default.lock", self.pool));
        for path in [lock.with_extension("lock.next"), lock] {
            if !path.exists() {
                continue;
            }
            let waited = std::process::Command::new("flock")
                .args(["-w", "300"])
                .arg(&path)
                .arg("true")
                .status()
                .expect("flock runs");
            assert!(waited.success(), "a filler of {} kept working", self.pool);
        }
    }

    /// The pool removed: once its fillers end, no container and no volume
    /// of the pool is left (every cluster claimed from it is down).
    #[track_caller]
    fn remove_and_check_nothing_left(&self) {
        self.kip(&["pool", "rm", &self.pool]).run().success();
        self.assert_nothing_left();
    }

    #[track_caller]
    fn assert_nothing_left(&self) {
        self.until_fillers_end();
        assert_eq!(self.containers(), Vec::<String>::new());
        assert_eq!(self.volumes(), Vec::<String>::new());
    }
}

impl Drop for PoolTest {
    fn drop(&mut self) {
        // A failed test leaks nothing: its fillers ended, its pool's
        // containers and volumes removed (E2e's own drop removes the
        // clusters made fresh under its name).
        let _ = self.kip(&["pool", "rm", &self.pool]).run();
        if !std::thread::panicking() {
            return;
        }
        let lock = self
            .state()
            .join(format!("pools/{}@default.lock", self.pool));
        for path in [lock.with_extension("lock.next"), lock] {
            let _ = std::process::Command::new("flock")
                .args(["-w", "300"])
                .arg(&path)
                .arg("true")
                .status();
        }
        for name in self.containers() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", "-v", &name])
                .output();
        }
        for volume in self.volumes() {
            let _ = std::process::Command::new("docker")
                .args(["volume", "rm", &volume])
                .output();
        }
    }
}

/// A pool of 2 and 6 claimers at once: exactly 2 get a member, each a
/// different one, the 4 others are made fresh and say so; a claimed member
/// is an ordinary cluster (list, status, kubeconfig, exec, kubectl); the
/// pool refills to 2 behind the claimers; `pool rm` leaves the claimed
/// clusters; nothing is left once they are down.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn six_claimers_share_a_pool_of_two_and_it_refills() {
    let Some(p) = PoolTest::new("pool6") else {
        return;
    };
    p.kip(&["pool", "create", &p.pool, "--size", "2"])
        .run()
        .success()
        .stderr_has(&format!("Pool {} defined (size 2)", p.pool));
    p.until_whole(2);
    let members_before = p.containers();

    let names: Vec<String> = (1..=6).map(|i| format!("{}-{i}", p.pool)).collect();
    let claims = names
        .iter()
        .map(|n| p.kip(&["up", n, "--pool", &p.pool, "-o", "json"]).spawn())
        .collect();
    let runs = wait_all(claims);
    let mut members = Vec::new();
    for (name, run) in names.iter().zip(&runs) {
        run.success();
        let result = run.json();
        super::schema::assert_valid("up-result.schema.json", &result);
        assert_eq!(result["name"], name.as_str(), "{run}");
        match result["member"].as_str() {
            Some(member) => {
                run.stderr_has(&format!("of pool {} as cluster {name}", p.pool));
                members.push((name.clone(), member.to_string()));
            }
            None => {
                run.stderr_has(&format!("making cluster {name} fresh from the pool's plan"));
            }
        }
    }
    assert_eq!(members.len(), 2, "two claimers get members: {runs:#?}");
    assert_ne!(members[0].1, members[1].1, "each member is handed out once");
    for (_, member) in &members {
        assert!(
            members_before.contains(&format!("kip-{member}.ready")),
            "{member} was one of the ready members {members_before:?}"
        );
    }

    let list = p.kip(&["list", "-o", "json"]).run();
    list.success();
    let listed: Vec<String> = list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    for name in &names {
        assert!(listed.contains(name), "{name} listed: {list}");
    }
    assert!(
        !listed.iter().any(|n| n.starts_with("pool.")),
        "no member is listed as a cluster: {listed:?}"
    );
    for (name, _) in &members {
        p.t.readyz(name);
        p.kip(&["status", name]).run().success();
        p.kip(&["kubeconfig", name])
            .run()
            .success()
            .stdout_has(&format!("kip-{name}"));
        p.kip(&["exec", name, "--", "true"]).run().success();
    }

    // The claimers did not wait for the refill; it happens behind them.
    p.until_whole(2);
    assert_eq!(p.summary()["claimed"], 2);

    // `pool rm` takes the idle members, never the claimed clusters.
    p.kip(&["pool", "rm", &p.pool]).run().success();
    p.until_fillers_end();
    for (name, _) in &members {
        p.kip(&["status", name]).run().success();
    }
    let left = p.containers();
    assert_eq!(left.len(), 2, "only the claimed clusters stay: {left:?}");
    p.kip(&["pool", "list", &p.pool]).run().code(5);

    for name in &names {
        p.kip(&["down", name]).run().success();
        p.t.assert_nothing_left(name);
    }
    p.assert_nothing_left();
}

/// Where `KIP_TEST_CLAIM_STOP` makes a claimer stop itself (SIGSTOP), so
/// that the test kills it there with SIGKILL: after listing the members,
/// after taking one, after it became the cluster, after the handover.
const CLAIM_STEPS: [&str; 4] = ["listed", "taken", "claimed", "handed-over"];

/// A claimer killed with SIGKILL at each step of its claim: the pool is
/// whole again afterwards (a member taken by the dead claimer is deleted
/// by the next kip that looks, within a minute), no member is ever claimed
/// by no one, and nothing is leaked.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_claimer_killed_at_any_step_leaves_the_pool_whole() {
    let Some(p) = PoolTest::new("poolkill") else {
        return;
    };
    p.kip(&["pool", "create", &p.pool, "--size", "1"])
        .run()
        .success();
    p.until_whole(1);

    for step in CLAIM_STEPS {
        let name = format!("{}-{step}", p.pool);
        let before = p.containers();
        killed_at(
            p.kip(&["up", &name, "--pool", &p.pool])
                .env("KIP_TEST_CLAIM_STOP", step),
            step,
            MEMBER_LIMIT,
        );
        match step {
            // Nothing was taken: the member is still ready.
            "listed" => {
                assert_eq!(p.containers(), before, "after {step}");
                assert_eq!(p.summary()["ready"], 1, "after {step}");
            }
            // The member was taken and its claimer is gone: it is neither
            // ready nor a cluster, and the next kip that looks deletes it
            // once it has been taken for a minute, then refills.
            "taken" => {
                let s = p.summary();
                assert_eq!(
                    (s["ready"].clone(), s["taken"].clone()),
                    (0.into(), 1.into())
                );
                p.kip(&["status", &name]).run().code(5);
            }
            // The member became the cluster: an ordinary one, which `up`
            // re-exports and `down` deletes.
            _ => {
                p.kip(&["up", &name])
                    .run()
                    .success()
                    .stderr_has("is already running");
                p.t.readyz(&name);
                p.kip(&["down", &name]).run().success();
            }
        }
        p.kip(&["status", &name]).run().code(5);
        p.until_whole(1);
    }
    p.remove_and_check_nothing_left();
}

/// Starts `kip`, waits (at most `limit`) until it stopped itself at `step`,
/// kills it with SIGKILL and reaps it.
pub fn killed_at(kip: Kip, step: &str, limit: Duration) {
    let mut child = kip.spawn();
    let pid = child.id();
    until(&format!("the claimer stopped at {step}"), limit, || {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("it ended first: {status}"));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the parenthesized command name.
        let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
        (state == Some('T')).then_some(()).ok_or(stat)
    });
    child.kill().unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, -1, "killed by a signal: {run}");
}

/// Requests a pool cannot honour, and bad sizes and names, are refused
/// with the flag or value named and the exit code of the table; nothing is
/// made.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn bad_pool_requests_are_refused_naming_the_problem() {
    let Some(p) = PoolTest::new("poolbad") else {
        return;
    };
    let claim = format!("{}-c", p.pool);
    p.kip(&["up", &claim, "--pool", "no-such-pool"])
        .run()
        .code(5)
        .stderr_has("no pool named no-such-pool");
    for size in ["0", "-1", "65", "lots"] {
        p.kip(&["pool", "create", &p.pool, "--size", size])
            .run()
            .code(2)
            .stderr_has("--size");
    }
    p.kip(&[
        "pool",
        "create",
        &p.pool,
        "--size",
        "1",
        "--api-port",
        "6443",
    ])
    .run()
    .code(2)
    .stderr_has("--api-port cannot be used for a pool");
    p.kip(&["pool", "create", &p.pool, "--size", "1", "-p", "18080:80"])
        .run()
        .code(2)
        .stderr_has("-p cannot be used for a pool");
    let mapped = p.t.dir.path().join("ports.yaml");
    std::fs::write(
        &mapped,
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  \
         extraPortMappings:\n  - containerPort: 80\n    hostPort: 18081\n",
    )
    .unwrap();
    let config = mapped.to_str().unwrap();
    p.kip(&[
        "pool",
        "create",
        &p.pool,
        "--size",
        "1",
        "--kind-config",
        config,
    ])
    .run()
    .code(2)
    .stderr_has("--kind-config cannot be used for a pool: its extraPortMappings");
    assert_eq!(p.volumes(), Vec::<String>::new(), "nothing was defined");

    p.kip(&["pool", "create", &p.pool, "--size", "1"])
        .run()
        .success();
    p.kip(&["pool", "create", &p.pool, "--size", "1"])
        .run()
        .code(3)
        .stderr_has(&format!("pool {} exists already", p.pool));
    for flag in [
        &["--image", "kindest/node:v1.30.0"][..],
        &["--api-port", "6443"],
        &["--network", "host"],
    ] {
        let mut args = vec!["up", claim.as_str(), "--pool", p.pool.as_str()];
        args.extend_from_slice(flag);
        p.kip(&args)
            .run()
            .code(2)
            .stderr_has(&format!("{} shapes a new node", flag[0]));
    }
    p.kip(&["status", &claim]).run().code(5);

    // A claim's dry run says what it would do, and claims nothing.
    p.until_whole(1);
    let dry = p.kip(&["up", &claim, "--pool", &p.pool, "--dry-run"]).run();
    dry.success()
        .stderr_has(&format!(
            "would claim one of pool {}'s 1 ready member(s) as {claim}",
            p.pool
        ))
        .stdout_has(&format!("cluster: {claim}"));
    p.kip(&["up", &claim, "--pool", "no-such-pool", "--dry-run"])
        .run()
        .code(5);
    p.kip(&[
        "up",
        &claim,
        "--pool",
        &p.pool,
        "--dry-run",
        "--network",
        "host",
    ])
    .run()
    .code(2)
    .stderr_has("--network shapes a new node");
    assert_eq!(p.summary()["ready"], 1, "a dry run claims nothing");
    p.kip(&["status", &claim]).run().code(5);

    // A pool cannot take a cluster's name.
    p.t.up(&claim, &[]).success();
    p.kip(&["pool", "create", &claim, "--size", "1"])
        .run()
        .code(3)
        .stderr_has(&format!("{claim} is the name of a cluster"));
    p.kip(&["down", &claim]).run().success();
    p.until_whole(1);
    p.remove_and_check_nothing_left();
}

/// `kip pool resize` grows and shrinks a pool (to 0: the definition stays
/// with no member), atomically against a concurrent resize (one of two
/// sizes wins, and the pool follows it); bad sizes and unknown pools are
/// refused.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn resize_grows_and_shrinks_a_pool() {
    let Some(p) = PoolTest::new("poolsize") else {
        return;
    };
    p.kip(&["pool", "create", &p.pool, "--size", "1"])
        .run()
        .success();
    p.until_whole(1);
    p.kip(&["pool", "resize", &p.pool, "2"])
        .run()
        .success()
        .stderr_has(&format!("Pool {} resized from 1 to 2", p.pool));
    p.until_whole(2);
    assert_eq!(p.summary()["size"], 2);

    let both = ["3", "0"].map(|size| p.kip(&["pool", "resize", &p.pool, size]).spawn());
    for run in wait_all(both.into()) {
        run.success();
    }
    let size = p.summary()["size"].as_u64().unwrap();
    assert!(size == 3 || size == 0, "one of the two sizes won: {size}");
    p.until_whole(size);
    p.kip(&["pool", "resize", &p.pool, "0"]).run().success();
    p.until_whole(0);
    p.until_fillers_end();
    let left = p.containers();
    assert_eq!(left, Vec::<String>::new(), "a pool of 0 keeps no member");

    p.kip(&["pool", "resize", &p.pool, "65"])
        .run()
        .code(2)
        .stderr_has("more than kip keeps ready (64)");
    p.kip(&["pool", "resize", "no-such-pool", "1"])
        .run()
        .code(5)
        .stderr_has("no pool named no-such-pool");
    p.remove_and_check_nothing_left();
}

/// `--paused`: the ready member waits frozen (the cgroup freezer: no CPU);
/// a claim thaws it and hands over a cluster that answers, and the refill
/// is frozen in its turn.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_paused_pool_keeps_its_members_frozen_and_a_claim_thaws_one() {
    let Some(p) = PoolTest::new("poolpause") else {
        return;
    };
    let frozen = |container: &str| docker(&["inspect", "-f", "{{.State.Paused}}", container]);
    p.kip(&["pool", "create", &p.pool, "--size", "1", "--paused"])
        .run()
        .success()
        .stderr_has("paused");
    p.until_whole(1);
    assert_eq!(p.summary()["paused"], true);
    let members = p.containers();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(
        frozen(&members[0]).trim(),
        "true",
        "the ready member is frozen"
    );

    let name = format!("{}-c", p.pool);
    let claim = p.kip(&["up", &name, "--pool", &p.pool, "-o", "json"]).run();
    claim.success();
    let member = claim.json()["member"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(member.starts_with(&format!("pool.{}.", p.pool)), "{claim}");
    assert_eq!(
        frozen(&format!("kip-{name}")).trim(),
        "false",
        "claimed, thawed"
    );
    p.t.readyz(&name);
    let config = p
        .kip(&["exec", &name, "--", "cat", "/etc/kip-bootstrap/kind.yaml"])
        .run();
    config.success().stdout_has("nodeStatusUpdateFrequency: 1s");

    p.until_whole(1);
    let refill: Vec<String> = p
        .containers()
        .into_iter()
        .filter(|c| *c != format!("kip-{name}"))
        .collect();
    assert_eq!(refill.len(), 1, "{refill:?}");
    assert_eq!(
        frozen(&refill[0]).trim(),
        "true",
        "the refill is frozen too"
    );
    p.kip(&["down", &name]).run().success();
    p.remove_and_check_nothing_left();
}

/// A pool's registry and cache are its members': a claimed cluster is
/// connected to them as `up --registry/--mirror` connects one, and a
/// claim cannot choose others (the pool's plan decides).
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn members_are_connected_to_the_pools_registry_and_cache() {
    let Some(p) = PoolTest::new("poolreg") else {
        return;
    };
    let Some(image) = super::day_one::registry_image() else {
        return;
    };
    let mut registries = super::day_one::Registries::new(&p.t, image);
    let [local, hub, cache] = ["r", "hub", "m"].map(|s| format!("{}-{s}", p.pool));
    registries.port(&local, &[]);
    let upstream = format!(
        "http://{}:{}",
        super::day_one::gateway(),
        registries.port(&hub, &[])
    );
    registries.port(&cache, &["--proxy", &upstream, "--proxy-for", "docker.io"]);
    p.kip(&[
        "pool",
        "create",
        &p.pool,
        "--size",
        "1",
        "--registry",
        &local,
        "--mirror",
        &cache,
    ])
    .run()
    .success();
    p.until_whole(1);
    let name = format!("{}-c", p.pool);
    p.kip(&["up", &name, "--pool", &p.pool, "--registry", &local])
        .run()
        .code(2)
        .stderr_has("--registry shapes a new node");
    let claim = p.kip(&["up", &name, "--pool", &p.pool, "-o", "json"]).run();
    claim.success();
    assert!(claim.json()["member"].is_string(), "{claim}");
    let status = p.kip(&["status", &name, "-o", "json"]).run();
    status.success();
    let status = status.json();
    assert_eq!(status["registry"], local.as_str(), "{status}");
    assert_eq!(status["mirror"], cache.as_str(), "{status}");
    p.kip(&["down", &name]).run().success();
    p.remove_and_check_nothing_left();
}

/// Real kind: a pool of 1 (two cluster creations in all: the member and
/// its replacement). Soft checks on one claim: the member is claimed and
/// reached by the real kubectl with every node Ready, the kind cluster
/// inside keeps the member's name, the memory an idle member holds is
/// reported, and the pool refills behind the claimer.
#[test]
#[ignore = "end-to-end: needs Docker, the real kind test images and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn real_kind_members_are_claimed_and_refilled() {
    let Some(real) = super::real_kind::RealKind::new("poolreal") else {
        return;
    };
    let p = PoolTest {
        pool: real.e2e.name.clone(),
        t: real.e2e,
    };
    let image = real.node_image.as_str();
    p.kip(&[
        "pool", "create", &p.pool, "--size", "1", "--image", image, "--wait", "8m",
    ])
    .run()
    .success();
    let started = std::time::Instant::now();
    p.until_whole(1);
    eprintln!("the first member was ready in {:.0?}", started.elapsed());

    let mut checks = super::support::Checks::default();
    let idle = p.summary();
    eprintln!(
        "an idle real-kind member holds {} bytes",
        idle["memoryBytes"]
    );
    checks.check(
        "the memory an idle member holds is reported",
        idle["memoryBytes"]
            .as_u64()
            .filter(|b| *b > 100 << 20)
            .map(|_| ())
            .ok_or(format!("{idle}")),
    );

    let name = format!("{}-c", p.pool);
    let claim = p.kip(&["up", &name, "--pool", &p.pool, "-o", "json"]).run();
    claim.success();
    let member = claim.json()["member"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "claimed in {} s:\n{}",
        claim.json()["elapsedSeconds"],
        claim.stderr
    );
    checks.check(
        "a ready member was claimed",
        member
            .starts_with(&format!("pool.{}.", p.pool))
            .then_some(())
            .ok_or(format!("{claim}")),
    );
    checks.run("the real kubectl reaches it and its node is Ready", || {
        p.t.readyz(&name);
        p.t.kubectl(&[
            "--context",
            &format!("kip-{name}"),
            "wait",
            "--for=condition=Ready",
            "node",
            "--all",
            "--timeout=2m",
        ])
        .success();
    });
    checks.run("the kind cluster inside keeps the member's name", || {
        p.kip(&["exec", &name, "--", "kind", "get", "clusters"])
            .run()
            .success()
            .stdout_has(&member);
    });
    let refilled = std::time::Instant::now();
    checks.run("the pool refills behind the claimer", || p.until_whole(1));
    eprintln!(
        "the replacement member was ready in {:.0?}",
        refilled.elapsed()
    );

    checks.run("down deletes the claimed cluster", || {
        p.kip(&["down", &name]).run().success();
        p.t.assert_nothing_left(&name);
    });
    checks.run("pool rm leaves nothing", || {
        p.remove_and_check_nothing_left()
    });
    checks.finish();
}

/// `kip pool create --from SNAPSHOT`: members are restored from the
/// snapshot, so a claimed cluster (and one made fresh when no member is
/// ready) has what the snapshot's source had; the plan records which save
/// of the name it is; `snapshot rm` refuses a snapshot a pool uses; a
/// snapshot gone behind kip's back is said (no refill loops), and one saved
/// again under the name is another plan (`--replace`: members replaced);
/// what a snapshot fixes is refused, an unknown snapshot is exit 5.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_pool_from_a_snapshot_hands_out_clusters_where_it_left_off() {
    let Some(p) = PoolTest::new("poolsnap") else {
        return;
    };
    let snaps = super::snapshot::Snapshots::new(&p.t, &["s"]);
    let snap = snaps.0[0].as_str();
    let source = format!("{}-src", p.pool);
    let marker = "/var/lib/docker/kip-test-pool-marker";
    p.t.up(&source, &["-q"]).success();
    let token = format!("token-{}", std::process::id());
    p.t.exec(&source, &["sh", "-c", &format!("echo {token} >{marker}")])
        .run()
        .success();
    p.kip(&["snapshot", "save", &source, snap]).run().success();
    p.kip(&["down", &source]).run().success();

    let create = |extra: &[&str]| {
        let mut args = vec!["pool", "create", p.pool.as_str(), "--size", "1"];
        args.extend_from_slice(extra);
        p.kip(&args).run()
    };
    create(&["--from", "no-such-snapshot"])
        .code(5)
        .stderr_has("no snapshot \"no-such-snapshot\"");
    for (flag, value) in [("--kind-config", "kind.yaml"), ("--cert-san", "x.example")] {
        create(&["--from", snap, flag, value])
            .code(2)
            .stderr_has(&format!("{flag} cannot be used for a pool"));
    }
    create(&["--from", snap, "--image", "kindest/node:v1.30.0"])
        .code(3)
        .stderr_has("kind node image: the snapshot's cluster runs");
    assert_eq!(p.volumes(), Vec::<String>::new(), "nothing was defined");

    create(&["--from", snap]).success();
    p.until_whole(1);
    let planned = p.summary();
    assert_eq!(planned["plan"]["snapshot"]["name"], snap, "{planned}");
    assert!(planned["problem"].is_null(), "{planned}");
    p.kip(&["snapshot", "rm", snap])
        .run()
        .code(3)
        .stderr_has(&format!("pool(s) {} restore their members from it", p.pool));

    // A claimed member, and a cluster made fresh for a claim when no
    // member is ready, both have what the snapshot had.
    let has_marker = |cluster: &str| {
        p.t.readyz(cluster);
        p.t.exec(cluster, &["cat", marker])
            .run()
            .success()
            .stdout_has(&token);
        let node = format!("kip-{cluster}");
        let label = "{{index .Config.Labels \"dev.kip.kind-cluster\"}}";
        let kind = docker(&["inspect", "-f", label, &node]);
        assert_eq!(
            kind.trim(),
            source,
            "the kind cluster inside is the snapshot's"
        );
    };
    let claimed = format!("{}-c", p.pool);
    let claim = p
        .kip(&["up", &claimed, "--pool", &p.pool, "-o", "json"])
        .run();
    claim.success();
    assert!(claim.json()["member"].is_string(), "{claim}");
    has_marker(&claimed);
    p.until_whole(1);
    p.kip(&["pool", "resize", &p.pool, "0"]).run().success();
    p.until_whole(0);
    let fresh = format!("{}-f", p.pool);
    p.kip(&["up", &fresh, "--pool", &p.pool])
        .run()
        .success()
        .stderr_has("fresh from the pool's plan")
        .stderr_has("Copied snapshot");
    has_marker(&fresh);
    p.kip(&["down", &claimed, &fresh]).run().success();

    // The snapshot removed behind kip's back: said, nothing made.
    p.kip(&["pool", "resize", &p.pool, "1"]).run().success();
    p.until_whole(1);
    let before = p.containers();
    docker(&["volume", "rm", &format!("kip-snap-{snap}")]);
    let list = p.kip(&["pool", "list", &p.pool]).run();
    list.success().stderr_has(&format!(
        "its snapshot {snap} is gone, so no member is made"
    ));
    // Saved again under the name: another plan, and `--replace` replaces
    // the members of the old one.
    p.t.up(&source, &["-q"]).success();
    p.kip(&["snapshot", "save", &source, snap]).run().success();
    p.kip(&["down", &source]).run().success();
    let problem = p.summary()["problem"].clone();
    assert!(
        problem
            .as_str()
            .unwrap_or_default()
            .contains("was saved again"),
        "{problem}"
    );
    create(&["--from", snap, "--replace"]).success();
    until(
        "the member of the old save replaced by one of the new",
        MEMBER_LIMIT,
        || {
            let after = p.containers();
            let s = p.summary();
            let whole = s["ready"] == 1 && s["creating"] == 0 && s["taken"] == 0;
            (whole && !after.iter().any(|c| before.contains(c)))
                .then_some(())
                .ok_or(format!("{before:?} → {after:?}: {s}"))
        },
    );
    assert!(p.summary()["problem"].is_null());
    p.remove_and_check_nothing_left();
    p.kip(&["snapshot", "rm", snap]).run().success();
    p.t.assert_nothing_left(&source);
}

/// A claim takes the member's credentials as the filler that made it kept
/// them (so it does not read them from the node, the slowest part of a
/// claim), once; kept credentials the API server does not answer to
/// (another cluster's CA) or that are no certificate at all are not
/// trusted: the claim reads the node's, and the kubeconfig it writes
/// reaches the cluster.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_claim_trusts_kept_credentials_only_when_the_server_answers_to_them() {
    let Some(p) = PoolTest::new("poolcreds") else {
        return;
    };
    let kept_dir = p.state().join("pools/credentials@default");
    let kept = || -> Vec<PathBuf> {
        let prefix = format!("pool.{}.", p.pool);
        std::fs::read_dir(&kept_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|f| {
                        f.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with(&prefix)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let other_ca = std::process::Command::new("base64")
        .args([
            "-w0",
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/snapshot/test-cert.pem"),
        ])
        .output()
        .expect("base64 runs");
    let other_ca = String::from_utf8(other_ca.stdout).unwrap();
    p.kip(&["pool", "create", &p.pool, "--size", "1"])
        .run()
        .success();
    for (i, ca) in [None, Some(other_ca.as_str()), Some("bm90IGEgY2VydA==")]
        .into_iter()
        .enumerate()
    {
        p.until_whole(1);
        let files = kept();
        assert_eq!(
            files.len(),
            1,
            "the ready member's credentials are kept: {files:?}"
        );
        if let Some(ca) = ca {
            let text = std::fs::read_to_string(&files[0]).unwrap();
            let changed: Vec<String> = text
                .lines()
                .map(
                    |line| match line.split_once("certificate-authority-data:") {
                        Some((indent, _)) => format!("{indent}certificate-authority-data: {ca}"),
                        None => line.to_string(),
                    },
                )
                .collect();
            assert_ne!(changed.join("\n"), text.trim_end(), "{text}");
            std::fs::write(&files[0], changed.join("\n")).unwrap();
        }
        let name = format!("{}-{i}", p.pool);
        let claim = p
            .kip(&[
                "up", &name, "--pool", &p.pool, "-o", "json", "--wait", "90s",
            ])
            .run();
        claim.success();
        assert!(claim.json()["member"].is_string(), "{claim}");
        assert!(!files[0].exists(), "taken by the claim");
        p.t.readyz(&name);
        p.kip(&["down", &name]).run().success();
    }
    p.until_whole(1);
    p.remove_and_check_nothing_left();
    assert_eq!(kept(), Vec::<PathBuf>::new(), "removed with the member");
}

//! Seeds on REAL Kubernetes (the real kind and its 1.48 GB node image, as
//! real_kind.rs): clusters made at once from one seed, what a node does to
//! its images, a restart, `kip down` and `kip seed rm`, and a seeding
//! killed half-way. Each test seeds a kind node image of its own (the test
//! image plus a label: a new image ID, so a seed of its own) and removes
//! it at the end; the clusters are few, each costs about a minute.

use super::real_kind::{ok, pod_running, start_pod, RealKind};
use super::seed::{seed, seed_files, stderr_until, store_entries, TestImage, SEEDING};
use super::support::{eventually, wait_all, Checks, Run};
use std::process::Command;
use std::time::Duration;

/// Polls until every node of cluster `name` is Ready.
fn nodes_ready(t: &RealKind, name: &str) -> Result<(), String> {
    eventually(Duration::from_secs(240), || {
        let out = ok(&t.kubectl(
            name,
            &[
                "get",
                "nodes",
                "-o",
                "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
            ],
        ))?
        .to_string();
        if !out.trim().is_empty() && out.lines().all(|l| l == "True") {
            Ok(())
        } else {
            Err(format!("Ready conditions: {out:?}"))
        }
    })
}

fn success(run: &Run, text: &str) -> Result<(), String> {
    if run.code == 0 && run.stderr.contains(text) {
        Ok(())
    } else {
        Err(format!("expected success saying {text:?}: {run}"))
    }
}

#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn clusters_from_one_seed_on_the_real_kind_share_it_and_nothing_else() {
    let Some(t) = RealKind::new("realseed") else {
        return;
    };
    let image = TestImage::from(&t.node_image, &t.e2e, 0);
    let [a, b, c] = ["a", "b", "c"].map(|s| format!("{}-{s}", t.e2e.name));
    let mut checks = Checks::default();
    let runs = wait_all(
        [&a, &b]
            .iter()
            .map(|n| {
                t.e2e
                    .kip(&["up", n, "--image", &image.name, "--wait", "8m"])
                    .spawn()
            })
            .collect(),
    );
    let made = format!("Seed of the kind node image {} made", image.name);
    let used = format!("Kind node image {} from seed", image.name);
    checks.check(
        "two ups at once: both succeed, one makes the seed, one gets it",
        {
            let said = |text: &str| {
                runs.iter()
                    .filter(|r| r.code == 0 && r.stderr.contains(text))
                    .count()
            };
            if said(&made) == 1 && said(&used) == 1 {
                Ok(())
            } else {
                Err(format!("{runs:?}"))
            }
        },
    );
    let tools = format!("registry.k8s.io/kube-proxy:{}", t.version);
    let sleeper = ["sleep", "infinity"];
    for name in [&a, &b] {
        checks.check(&format!("{name}: every node Ready"), nodes_ready(&t, name));
        checks.check(
            &format!("{name}: a pod runs"),
            start_pod(&t, name, "first", &tools, &sleeper, false),
        );
    }

    let key = seed(&t.e2e, &image.name)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let before = seed_files(&key);
    checks.check("docker rmi and system prune -af in one node succeed", {
        let node_image = image.name.as_str();
        let rmi = t.e2e.exec(&a, &["docker", "rmi", "-f", node_image]).run();
        let prune = t.e2e.exec(&a, &["docker", "system", "prune", "-af"]).run();
        ok(&rmi).and(ok(&prune)).map(|_| ())
    });
    checks.check("the seed is untouched", {
        match (&before, seed_files(&key)) {
            (Ok(before), Ok(after)) if after == *before && after.lines().count() > 1000 => Ok(()),
            (Ok(before), Ok(after)) => Err(format!(
                "{} files before, {} after",
                before.lines().count(),
                after.lines().count()
            )),
            (before, after) => Err(format!("before: {before:?}, after: {after:?}")),
        }
    });
    checks.check(
        "a new pod starts in the other cluster",
        start_pod(&t, &b, "second", &tools, &sleeper, false),
    );
    let third = t
        .e2e
        .kip(&["up", &c, "--image", &image.name, "--wait", "8m"])
        .run();
    checks.check(
        "a third cluster comes up from the seed",
        success(&third, &used),
    );
    checks.check("the third cluster's node is Ready", nodes_ready(&t, &c));

    checks.check(
        "a restarted node is Ready again, from its seed, with its pod",
        {
            let restart = Command::new("docker")
                .args(["restart", &t.e2e.node_id(&b)])
                .output()
                .map(Run::from)
                .map_err(|e| e.to_string());
            restart
                .and_then(|run| ok(&run).map(|_| ()))
                .and_then(|()| nodes_ready(&t, &b))
                .and_then(|()| {
                    eventually(Duration::from_secs(300), || {
                        let log = t.e2e.kip(&["logs", &b]).run();
                        log.stdout
                            .contains("kip-info: seed=remounted")
                            .then_some(())
                            .ok_or(log.stdout)
                    })
                })
                .and_then(|()| pod_running(&t, &b, "first"))
        },
    );

    let down = t.e2e.kip(&["down", &a, &b, &c]).run();
    checks.check("kip down of the clusters", ok(&down).map(|_| ()));
    checks.check("kip down leaves the seed, unused", {
        let kept = seed(&t.e2e, &image.name);
        (kept["inUse"] == false && kept["state"] == "ready")
            .then_some(())
            .ok_or(kept.to_string())
    });
    let rm = t.e2e.kip(&["seed", "rm", &key]).run();
    checks.check(
        "kip seed rm removes it",
        success(&rm, &format!("Removed seed {key}")),
    );
    checks.check("nothing of the seed is left", {
        let left = store_entries(&key);
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
    checks.finish();
}

#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn a_seeding_killed_half_way_is_made_again_by_the_next_up_on_the_real_kind() {
    let Some(t) = RealKind::new("realseedkill") else {
        return;
    };
    let image = TestImage::from(&t.node_image, &t.e2e, 0);
    let [first, second] = ["a", "b"].map(|s| format!("{}-{s}", t.e2e.name));
    let mut checks = Checks::default();
    let mut child = t
        .e2e
        .kip(&["up", &first, "--image", &image.name, "--progress", "json"])
        .spawn();
    stderr_until(&mut child, SEEDING);
    child.kill().unwrap();
    child.wait().unwrap();

    let next = t
        .e2e
        .kip(&[
            "up",
            &second,
            "--image",
            &image.name,
            "--wait",
            "8m",
            "--keep-on-failure",
        ])
        .run();
    if next.code != 0 {
        // What the node said, for a failure kip's own words do not explain.
        let log = t.e2e.kip(&["logs", &second]).run();
        eprintln!(
            "--- the second node's log ---\n{}{}",
            log.stdout, log.stderr
        );
    }
    checks.check(
        "the next up makes the seed and succeeds",
        success(
            &next,
            &format!("Seed of the kind node image {} made", image.name),
        ),
    );
    checks.check("its node is Ready", nodes_ready(&t, &second));
    checks.check("the killed kip's node gave its seed up", {
        let log = t.e2e.kip(&["logs", &first]).run();
        log.stdout
            .contains("was not made (the next kip up makes it)")
            .then_some(())
            .ok_or(log.stdout)
    });
    checks.check("no leftover of the killed maker", {
        let key = seed(&t.e2e, &image.name)["key"]
            .as_str()
            .unwrap()
            .to_string();
        let left: Vec<String> = store_entries(&key)
            .into_iter()
            .filter(|e| e.contains(".making") || e.contains(".removing"))
            .collect();
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
    checks.finish();
}

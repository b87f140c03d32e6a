//! Remote warm pools (issue 20, item 5), as scenarios that run against both
//! shared clusters (the emulator in `remote.rs`, the real cluster of
//! `real_remote.rs`): members are node Pods that become ready by their
//! readiness probe, a claim takes one exclusively (a patch at the Pod's
//! resourceVersion), and the refill is objects only, made before the
//! claimer exits, so the pool fills again with no kip running.

use super::conformance::SharedCluster;
use super::support::{until, wait_all};
use std::collections::BTreeSet;
use std::time::Duration;

/// The member Pods of `pool` not claimed as clusters, as the shared
/// cluster lists them: each with whether it is Ready.
pub fn member_pods(c: &impl SharedCluster, pool: &str) -> Vec<(String, bool)> {
    let run = c.outer(&["get", "pods", "-l", "dev.kip.managed-by=kip", "-o", "json"]);
    run.success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("a Pod list");
    doc["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            let a = &p["metadata"]["annotations"];
            a["dev.kip.pool"] == pool
                && a.get("dev.kip.claimed-as").is_none()
                && p["metadata"].get("deletionTimestamp").is_none()
        })
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ready,
            )
        })
        .collect()
}

/// Waits until `pool` has `size` Ready members on the shared cluster,
/// looking with kubectl only (a `kip pool list` would tend the pool).
#[track_caller]
pub fn until_members_ready(c: &impl SharedCluster, pool: &str, size: usize, limit: Duration) {
    until(
        &format!("pool {pool} with {size} Ready member Pods"),
        limit,
        || {
            let members = member_pods(c, pool);
            let ready = members.iter().filter(|(_, r)| *r).count();
            (members.len() == size && ready == size)
                .then_some(())
                .ok_or(format!("{members:?}"))
        },
    );
}

/// A pool of `size` on the shared cluster, and `claimers` claiming at once
/// with `kip up NAME --pool --ttl 1s` (more claimers than members: the
/// others are made fresh). Exactly `size` get a member, each a different
/// one, and reach it with kubectl; no member is listed as a cluster; the
/// claimers' refill made the pool's objects before they exited, and the
/// pool is whole again with no kip running; `pool rm` deletes the
/// unclaimed members and leaves the claimed clusters; `gc` (a `kip gc
/// --remote` run by `gc`, which returns what it printed) deletes them, past
/// their TTL, with their member Pods; `kip down` then finds nothing left
/// but this machine's side of them, and leaves nothing. `create`: more
/// flags of `pool create` (the members' Pod resources).
pub fn a_remote_pool_hands_out_members_and_refills_without_its_claimer(
    c: &impl SharedCluster,
    (pool, size, create): (&str, usize, &[&str]),
    claimers: &[&str],
    gc: &dyn Fn() -> String,
    limit: Duration,
) {
    let size_text = size.to_string();
    let mut args = vec![
        "pool",
        "create",
        pool,
        "--size",
        &size_text,
        "--dind-image",
        c.dind_image(),
        "--wait",
        c.wait(),
    ];
    args.extend_from_slice(create);
    c.kip(&args)
        .run()
        .success()
        .stderr_has(&format!("Pool {pool} defined"));
    assert_eq!(
        member_pods(c, pool).len(),
        size,
        "pool create made the members' objects before it exited"
    );
    until_members_ready(c, pool, size, limit);
    let listed = c.kip(&["pool", "list", pool, "-o", "json"]).run();
    listed.success();
    let doc = listed.json();
    super::schema::assert_valid("pool-list.schema.json", &doc);
    assert_eq!(doc["items"][0]["ready"], size, "{doc}");
    let before: BTreeSet<String> = member_pods(c, pool).into_iter().map(|(n, _)| n).collect();
    c.kip(&["up", "dry", "--pool", pool, "--dry-run"])
        .run()
        .success()
        .stderr_has(&format!(
            "kip up would claim one of pool {pool}'s {size} ready member(s) as dry"
        ));

    let runs = wait_all(
        claimers
            .iter()
            .map(|name| {
                c.kip(&[
                    "up",
                    name,
                    "--pool",
                    pool,
                    "--ttl",
                    "1s",
                    "-o",
                    "json",
                    "--wait",
                    c.wait(),
                ])
                .spawn()
            })
            .collect(),
    );
    let mut members = BTreeSet::new();
    for (name, run) in claimers.iter().zip(&runs) {
        run.success();
        if let Some(member) = run.json()["member"].as_str() {
            assert!(
                before.contains(&format!("kip-{member}")),
                "{name} got {member}, one of the ready members {before:?}"
            );
            assert!(
                members.insert(member.to_string()),
                "{member} handed out twice"
            );
        } else {
            run.stderr_has(&format!("making cluster {name} fresh from the pool's plan"));
        }
        c.inner(name, &["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
    }
    assert_eq!(members.len(), size.min(claimers.len()), "{runs:#?}");
    // No kip runs now: the claimers made the refill's objects before they
    // exited, and the shared cluster makes them ready on its own.
    let refilled = member_pods(c, pool);
    assert_eq!(
        refilled.len(),
        size,
        "the refill's member Pods: {refilled:?}"
    );
    let list = c.kip(&["list", "-o", "json"]).run();
    list.success();
    let listed: Vec<String> = list.json()["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect();
    for name in claimers {
        assert!(
            listed.iter().any(|l| l == name),
            "{name} is listed: {listed:?}"
        );
    }
    assert!(
        !listed.iter().any(|l| l.starts_with("pool.")),
        "no member is listed as a cluster: {listed:?}"
    );
    until_members_ready(c, pool, size, limit);

    c.kip(&["pool", "rm", pool])
        .run()
        .success()
        .stderr_has(&format!("Pool {pool} removed"));
    until("the pool's members deleted", limit, || {
        let left = member_pods(c, pool);
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
    for name in claimers {
        c.inner(name, &["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
    }
    let collected = gc();
    for name in claimers {
        assert!(
            collected.contains(&format!("deleted {name} ")),
            "gc deleted {name}, past its TTL:\n{collected}"
        );
        let selector = format!("dev.kip.cluster={name}");
        let left = c.outer(&["get", "pods,configmaps", "-l", &selector, "-o", "name"]);
        left.success();
        assert_eq!(left.stdout.trim(), "", "objects of {name} left after gc");
        let forwarder = super::conformance::forwarder_pid(c, name);
        let down = c.kip(&["down", name]).run();
        assert!(down.code == 0 || down.code == 5, "{down}");
        let kubeconfig = super::conformance::kubeconfig_doc(c);
        super::conformance::assert_nothing_left_of(c, name, &kubeconfig, forwarder);
    }
    for member in &members {
        let pod = format!("kip-{member}");
        until(&format!("{pod} deleted with its cluster"), limit, || {
            let run = c.outer(&["get", "pod", &pod, "--ignore-not-found", "-o", "name"]);
            run.success();
            run.stdout
                .trim()
                .is_empty()
                .then_some(())
                .ok_or(run.stdout.clone())
        });
    }
}

/// What a remote pool cannot honour is refused before anything is made
/// (exit 2, naming the flag), and an unknown pool is not found (exit 5).
pub fn remote_pool_refusals(c: &impl SharedCluster) {
    for (flag, extra) in [
        ("--paused", vec!["--paused"]),
        ("--from", vec!["--from", "snap"]),
    ] {
        let mut args = vec![
            "pool",
            "create",
            "refused",
            "--size",
            "1",
            "--dind-image",
            c.dind_image(),
        ];
        args.extend(extra);
        c.kip(&args)
            .run()
            .code(2)
            .stderr_has(&format!("{flag} cannot be used for a pool"));
    }
    c.kip(&["pool", "list", "refused"]).run().code(5);
    c.kip(&["up", "nopool", "--pool", "no-such-pool"])
        .run()
        .code(5)
        .stderr_has("no pool named no-such-pool");
}

/// `examples/pool-gc-cronjob.yaml` applied to the shared cluster's
/// `namespace` as a user would, its image `image` (one with kip in it, on
/// the cluster's nodes already), and a Job made from its CronJob at once:
/// it succeeds with the example's own RBAC. Its log; the example removed.
pub fn the_gc_cronjob_example_runs(c: &impl SharedCluster, namespace: &str, image: &str) -> String {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pool-gc-cronjob.yaml");
    let text = std::fs::read_to_string(&example).unwrap();
    let mine = text.replace(
        "image: ghcr.io/example/kip-runner:latest",
        &format!("image: {image}\n              imagePullPolicy: Never"),
    );
    assert_ne!(mine, text, "the example names its image");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), mine).unwrap();
    let path = file.path().to_str().unwrap();
    c.outer(&["apply", "-n", namespace, "-f", path]).success();
    let job = "kip-gc-now";
    c.outer(&[
        "create",
        "job",
        job,
        "--from=cronjob/kip-gc",
        "-n",
        namespace,
    ])
    .success();
    let done = until(
        "the gc Job from the example's CronJob ended",
        Duration::from_secs(600),
        || {
            let state = c.outer(&[
                "get",
                "job",
                job,
                "-n",
                namespace,
                "-o",
                "jsonpath={.status.succeeded}/{.status.failed}",
            ]);
            match state.stdout.trim() {
                "1/" => Ok(true),
                s if s.ends_with("/1") => Ok(false),
                s => Err(s.to_string()),
            }
        },
    );
    let log = c
        .outer(&["logs", &format!("job/{job}"), "-n", namespace])
        .stdout
        .clone();
    c.outer(&["delete", "job", job, "-n", namespace, "--wait"])
        .success();
    c.outer(&["delete", "-n", namespace, "-f", path, "--wait"])
        .success();
    assert!(done, "the gc Job failed:\n{log}");
    log
}

/// The steps of a claim a test can stop a claimer at (`KIP_TEST_CLAIM_STOP`).
const CLAIM_STEPS: [&str; 4] = ["listed", "taken", "claimed", "handed-over"];

/// A remote claimer killed with SIGKILL at each step of its claim: the
/// pool is whole again afterwards (a member taken by the dead claimer is
/// deleted by the next kip that looks, once held for a minute), no member
/// is ever claimed by no one, and nothing is leaked.
pub fn a_remote_claimer_killed_at_any_step_leaves_the_pool_whole(
    c: &impl SharedCluster,
    pool: &str,
    limit: Duration,
) {
    c.kip(&[
        "pool",
        "create",
        pool,
        "--size",
        "1",
        "--dind-image",
        c.dind_image(),
        "--wait",
        c.wait(),
    ])
    .run()
    .success();
    until_members_ready(c, pool, 1, limit);
    let summary = || {
        let run = c.kip(&["pool", "list", pool, "-o", "json"]).run();
        run.success();
        run.json()["items"][0].clone()
    };
    for step in CLAIM_STEPS {
        let name = format!("{pool}-{step}");
        let claimer = c
            .kip(&["up", &name, "--pool", pool, "--wait", c.wait()])
            .env("KIP_TEST_CLAIM_STOP", step);
        super::pool::killed_at(claimer, step, limit);
        match step {
            "listed" => {
                let members = member_pods(c, pool);
                assert_eq!(members.len(), 1, "after {step}: {members:?}");
                assert!(members[0].1, "the member is still ready after {step}");
                assert_eq!(summary()["ready"], 1, "after {step}");
            }
            "taken" => {
                let s = summary();
                assert_eq!(
                    (s["ready"].clone(), s["taken"].clone()),
                    (0.into(), 1.into()),
                    "{s}"
                );
                c.kip(&["status", &name]).run().code(5);
            }
            _ => {
                c.kip(&["up", &name, "--dind-image", c.dind_image()])
                    .run()
                    .success()
                    .stderr_has("is already running");
                c.inner(&name, &["get", "--raw", "/readyz"])
                    .success()
                    .stdout_has("ok");
                c.kip(&["down", &name]).run().success();
            }
        }
        c.kip(&["status", &name]).run().code(5);
        until(
            &format!("pool {pool} whole after a claimer killed at {step}"),
            limit,
            || {
                let s = summary();
                (s["ready"] == 1 && s["creating"] == 0 && s["taken"] == 0)
                    .then_some(())
                    .ok_or(format!("{s}"))
            },
        );
    }
    c.kip(&["pool", "rm", pool]).run().success();
    until("the pool's members deleted", limit, || {
        let left = member_pods(c, pool);
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    });
    let left = c.outer(&[
        "get",
        "configmaps",
        "-l",
        "dev.kip.managed-by=kip",
        "-o",
        "name",
    ]);
    left.success();
    assert!(
        !left.stdout.contains(pool),
        "no ConfigMap of the pool or its claims is left: {}",
        left.stdout
    );
}

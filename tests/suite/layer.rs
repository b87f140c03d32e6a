//! What the cluster layer decides once for every command: "not found" for
//! both providers, in one wording and with exit 5; and the messages that
//! name the flag to fix.

use super::e2e::E2e;
use super::support::{exit_by, kip, Kip, Run};
use kip_test_kube_emulator::Emulator;
use std::time::Duration;

/// The API emulator with no pods (no Docker needed) and a kubeconfig that
/// reaches it: a shared cluster with no kip cluster on it.
struct EmptyCluster {
    dir: tempfile::TempDir,
    emulator: Option<Emulator>,
    runtime: tokio::runtime::Runtime,
}

impl EmptyCluster {
    fn start() -> EmptyCluster {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime.block_on(Emulator::start()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), emulator.kubeconfig()).unwrap();
        EmptyCluster {
            dir,
            emulator: Some(emulator),
            runtime,
        }
    }

    /// `kip ARGS… --remote` against the emulator, with a state folder of
    /// its own.
    fn kip(&self, args: &[&str]) -> Kip {
        let mut all = args.to_vec();
        all.insert(1, "--remote");
        kip(&all)
            .kubeconfig(&self.dir.path().join("kubeconfig"))
            .env("KIP_STATE_DIR", self.dir.path().join("state"))
    }
}

impl EmptyCluster {
    /// Creates a Pod labelled as kip labels the node of `cluster`, which no
    /// kubelet ever runs (the emulator has no pods runtime here).
    fn idle_node(&self, cluster: &str) {
        let kubeconfig =
            kube::config::Kubeconfig::from_yaml(&self.emulator.as_ref().unwrap().kubeconfig())
                .unwrap();
        let node = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": format!("kip-{cluster}"),
                "labels": {"dev.kip.managed-by": "kip", "dev.kip.cluster": cluster},
                "annotations": {"dev.kip.cluster": cluster},
            },
            "spec": {"containers": [{"name": "node", "image": "kip-layer-absent:idle"}]},
        });
        self.runtime.block_on(async {
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .unwrap();
            let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
                kube::Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
            pods.create(&Default::default(), &serde_json::from_value(node).unwrap())
                .await
                .unwrap();
        });
    }
}

impl Drop for EmptyCluster {
    fn drop(&mut self) {
        let emulator = self.emulator.take();
        self.runtime.block_on(async move { drop(emulator) });
    }
}

const REMOTE_NOT_FOUND: &str =
    "no kip cluster named \"gone\" in namespace default of context kube-emulator (see `kip list --remote`)";

#[test]
fn every_node_command_on_a_missing_remote_cluster_is_not_found() {
    let cluster = EmptyCluster::start();
    let archive = cluster.dir.path().join("images.tar");
    std::fs::write(&archive, "").unwrap();
    let bundle = cluster.dir.path().join("bundle");
    let commands: [&[&str]; 8] = [
        &["logs", "gone"],
        &["logs", "gone", "--dockerd"],
        &["logs", "gone", "--export", bundle.to_str().unwrap()],
        &["exec", "gone", "--", "true"],
        &["kubeconfig", "gone"],
        &["status", "gone"],
        &["connect", "gone"],
        &["load", "gone", "--archive", archive.to_str().unwrap()],
    ];
    let mut wrong = Vec::new();
    for args in commands {
        let run = cluster.kip(args).run();
        if run.code != 5 || !run.stderr.contains(REMOTE_NOT_FOUND) {
            wrong.push(format!("kip {}: {run}", args.join(" ")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// `kip logs -f` of a cluster that is not there says so at once, rather
/// than waiting `--wait` for a Pod no one makes.
#[test]
fn following_the_log_of_a_missing_remote_cluster_is_not_found_at_once() {
    let cluster = EmptyCluster::start();
    let mut child = cluster.kip(&["logs", "gone", "--follow"]).spawn();
    exit_by(
        &mut child,
        Duration::from_secs(60),
        "kip logs --follow of a missing remote cluster still waits",
    );
    Run::from(child.wait_with_output().unwrap())
        .code(5)
        .stderr_has(REMOTE_NOT_FOUND);
}

/// A remote node that does not run is "not running" (exit 6, with where to
/// look), decided before kip tries to exec in it, as for a local node.
#[test]
fn exec_in_a_remote_node_that_does_not_run_is_a_node_failure() {
    let cluster = EmptyCluster::start();
    cluster.idle_node("idle");
    for args in [
        &["exec", "idle", "--", "true"][..],
        &["logs", "idle", "--dockerd"],
    ] {
        cluster
            .kip(args)
            .run()
            .code(6)
            .stderr_has("cluster idle is not running (Pending): see `kip status idle --remote`");
    }
}

/// A logs bundle of a cluster that is not there is "not found", not an
/// empty bundle and success.
#[test]
#[ignore = "end-to-end: needs Docker (KIP_E2E=1 makes its absence a failure)"]
fn a_logs_bundle_of_a_missing_cluster_is_not_found() {
    let Some(t) = E2e::new("layer-bundle") else {
        return;
    };
    let bundle = t.dir.path().join("bundle");
    t.kip(&["logs", &t.name, "--export", bundle.to_str().unwrap()])
        .run()
        .code(5)
        .stderr_has(&format!(
            "no kip cluster named {:?} (see `kip list`)",
            t.name
        ));
    assert!(!bundle.exists(), "a bundle of nothing was written");
}

/// A DinD image the engine neither has nor can pull is named with the flag
/// that sets it (`--dind-image`; `--image` is the kind node image).
#[test]
#[ignore = "end-to-end: needs Docker (KIP_E2E=1 makes its absence a failure)"]
fn a_missing_dind_image_names_the_dind_image_flag() {
    let Some(t) = E2e::new("layer-dind") else {
        return;
    };
    t.kip(&["up", &t.name, "--dind-image", "kip-layer-absent:nope"])
        .run()
        .code(3)
        .stderr_has("the node image kip-layer-absent:nope is not on this Docker engine")
        .stderr_has("or omit --dind-image to use kip's default node image");
    t.kip(&["status", &t.name]).run().code(5);
}

/// A kind node image the host's engine neither has nor can pull: the fix is
/// one readable sentence.
#[test]
#[ignore = "end-to-end: needs Docker (KIP_E2E=1 makes its absence a failure)"]
fn a_missing_kind_image_names_the_image_flag_in_one_sentence() {
    let Some(t) = E2e::new("layer-kind") else {
        return;
    };
    t.kip(&["up", &t.name, "--image", "kip-layer-absent:nope"])
        .run()
        .code(3)
        .stderr_has(
            "Make it available on the host (docker pull kip-layer-absent:nope, or docker load it), \
             or pass --image with a node image the host has",
        );
    t.kip(&["status", &t.name]).run().code(5);
}

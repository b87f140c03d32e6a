//! Remote-mode assertions that run against both shared clusters kip's tests
//! have: the API emulator (`remote.rs`, fast) and a real Kubernetes cluster
//! made by kip itself with the real kind (`real_remote.rs`). Where the two
//! differ, the emulator is what is fixed: these assertions are the contract.

use super::support::{Kip, Run};
use std::path::Path;

/// Everything kip asks of a shared cluster for `kip up --remote`: the
/// resources its SelfSubjectAccessReviews name.
pub const NEEDED: [&str; 9] = [
    "pods",
    "pods/log",
    "pods/exec",
    "pods/portforward",
    "configmaps",
    "services",
    "namespaces",
    "events",
    "selfsubjectaccessreviews",
];

/// A cluster remote mode runs its node Pods on.
pub trait SharedCluster {
    /// `kip ARGS… --remote` against this cluster, with the test's kubeconfig
    /// and state folder (no `--context` in `args`: the cluster's own).
    fn kip(&self, args: &[&str]) -> Kip;
    /// kubectl against the shared cluster itself, as its admin.
    fn outer(&self, args: &[&str]) -> Run;
    /// The Docker-in-Docker image the cluster's nodes have.
    fn dind_image(&self) -> &str;
    /// Flags that make `kip` act as a user who may do all of [`NEEDED`] but
    /// `missing`, in the namespace kip uses.
    fn as_user_without(&self, missing: &str) -> Vec<String>;
    /// Undoes [`SharedCluster::as_user_without`] where it changed the
    /// cluster rather than the flags.
    fn as_admin_again(&self) {}
    /// Nothing of cluster `name` is left on the shared cluster or on this
    /// machine (objects, forwarder, state, kubeconfig entries).
    fn assert_nothing_left(&self, name: &str);
}

/// Runs `up` expecting a refusal: exit `code` (never 4, the --wait
/// deadline), `message` on stderr, and nothing left behind.
#[track_caller]
fn refused(c: &impl SharedCluster, name: &str, extra: &[&str], code: i32, message: &str) {
    let mut args = vec!["up", name, "--dind-image", c.dind_image(), "--wait", "90s"];
    args.extend_from_slice(extra);
    c.kip(&args).run().code(code).stderr_has(message);
    c.assert_nothing_left(name);
}

/// The refusals README promises, each a clear error in the cluster's or
/// kip's words with nothing created: Pod Security `baseline`, RBAC without
/// `pods/exec` (or `pods/portforward`), a selector no node matches, an image
/// that cannot be pulled.
pub fn refusals(c: &impl SharedCluster, name: &str) {
    // Pod Security: a baseline namespace refuses privileged pods.
    let namespace = format!("{name}-strict");
    c.outer(&["create", "namespace", &namespace]).success();
    c.outer(&[
        "label",
        "namespace",
        &namespace,
        "pod-security.kubernetes.io/enforce=baseline",
    ])
    .success();
    refused(
        c,
        name,
        &["-n", &namespace],
        3,
        "enforces the Pod Security level \"baseline\"",
    );
    c.outer(&["delete", "namespace", &namespace, "--wait=false"])
        .success();
    // RBAC: everything but pods/exec, then everything but pods/portforward.
    for missing in ["pods/exec", "pods/portforward"] {
        let user = c.as_user_without(missing);
        let user: Vec<&str> = user.iter().map(String::as_str).collect();
        refused(c, name, &user, 3, &format!("  - create {missing}\n"));
    }
    c.as_admin_again();
    // No node matches the selector: Unschedulable, in the scheduler's words.
    refused(
        c,
        name,
        &["--node-selector", "pool=gpu"],
        6,
        "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector",
    );
    // An image that cannot be pulled: ErrImagePull, in the cluster's words.
    let up = c
        .kip(&[
            "up",
            name,
            "--dind-image",
            "127.0.0.1:1/kip/missing:1",
            "--wait",
            "60s",
        ])
        .run();
    // Exit 6, not 4: the pull error ends `up`, not the 60 s --wait.
    up.code(6).stderr_has("ErrImagePull");
    c.assert_nothing_left(name);
}

/// What is left of remote cluster `name` where any shared cluster keeps it:
/// labelled objects on the cluster, kip's state file and forwarder, the
/// kubeconfig's context.
#[track_caller]
pub fn assert_nothing_left_of(
    c: &impl SharedCluster,
    name: &str,
    state_dir: &Path,
    kubeconfig: &serde_yaml::Value,
    forwarder: Option<u32>,
) {
    let selector = format!("dev.kip.cluster={name}");
    let objects = c.outer(&[
        "get",
        "pods,configmaps,services",
        "-A",
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    objects.success();
    assert_eq!(objects.stdout.trim(), "", "objects left for {name}");
    if let Some(pid) = forwarder {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "the forwarder {pid} still runs"
        );
    }
    assert!(
        !state_dir.join(format!("remote/{name}.json")).exists(),
        "state left for {name}"
    );
    // No forwarder of this cluster runs, recorded or not.
    let forwarders: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(" forwarder ") && c.split(' ').any(|w| w == name))
        .collect();
    assert!(forwarders.is_empty(), "forwarders left: {forwarders:?}");
    let contexts: Vec<&str> = kubeconfig["contexts"]
        .as_sequence()
        .map(|s| s.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !contexts.contains(&format!("kip-{name}").as_str()),
        "{contexts:?}"
    );
}

//! The node contract: the paths and markers that both kip and
//! `bootstrap.sh` rely on, defined once here. The script spells them itself
//! (it runs in the node, not through kip); the test below holds it to these.

/// Where the bootstrap writes its logs in the node (kip reads the files
/// below, never the folder: the test holds the script to it).
#[cfg(test)]
pub const LOG_DIR: &str = "/var/log/kip";
/// The node's dockerd log.
pub const DOCKERD_LOG: &str = "/var/log/kip/dockerd.log";
/// `kind create cluster`'s log.
pub const KIND_LOG: &str = "/var/log/kip/kind.log";
/// Where `kip logs --export` has kind export its own logs in the node
/// before kip copies them out (not under /tmp: the engine cannot copy out
/// of a tmpfs mount).
pub const KIND_EXPORT_DIR: &str = "/var/log/kip/kind";
/// Where the bootstrap keeps the kind config and the kubeconfig kind writes.
#[cfg(test)]
pub const CONF_DIR: &str = "/etc/kip";
/// The cluster's kubeconfig as kind writes it in the node.
pub const KUBECONFIG: &str = "/etc/kip/kubeconfig";
/// Written once the node's cluster is made (or started again): the end of
/// `kind create cluster` and of kip's setup after it.
pub const CLUSTER_CREATED: &str = "/etc/kip/cluster-created";
/// Where the node keeps Docker's state: a volume, never overlay on overlay.
pub const DOCKER_ROOT: &str = "/var/lib/docker";
/// Where the node sees the seed store (`crate::seed`): a volume locally, a
/// hostPath on the outer node remotely, at this same path.
pub const SEED_STORE: &str = "/var/lib/kip/seeds";
/// A certificate SAN the bootstrap replaces with the pod IP (`.invalid`
/// never resolves).
pub const POD_IP_SAN: &str = "kip-pod-ip.invalid";

/// Where kip puts the bootstrap's input files (the kind config, however
/// large) before the node starts: a Pod's ConfigMap, a container's archive.
pub const INPUT_DIR: &str = "/etc/kip-bootstrap";
/// The kind config's file there (the bootstrap's `KIP_KIND_CONFIG_FILE`).
pub const KIND_CONFIG_INPUT: &str = "/etc/kip-bootstrap/kind.yaml";

/// The lines the bootstrap prints for kip to follow (`node::progress`).
pub const PHASE_MARKER: &str = "kip-phase: ";
pub const INFO_MARKER: &str = "kip-info: ";
/// A warning: kip shows it as the script's own output.
#[cfg(test)]
pub const WARN_MARKER: &str = "kip-warn: ";
pub const FAIL_MARKER: &str = "kip-fail: ";
/// The phases the bootstrap reports: `booting` first in every run (a node
/// started again runs it again).
pub const PHASE_BOOTING: &str = "booting";
pub const PHASE_DOCKERD_READY: &str = "dockerd-ready";
pub const PHASE_CLUSTER_CREATED: &str = "cluster-created";
/// The `kip-info:` keys of the kind node image kip streams in: the node
/// waits for it, then has it.
pub const FACT_AWAITING_IMAGE: &str = "awaiting-image";
pub const FACT_NODE_IMAGE: &str = "node-image";
/// The last marker of a node stopped by a signal (`docker stop`, `kip
/// down`), not by a failure of its own.
pub const STOPPED_BY_SIGNAL: &str = "kip-info: stopped=signal";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::BOOTSTRAP_SCRIPT;

    /// `$dir/file` in the script for `DIR/file` here.
    fn in_dir(var: &str, dir: &str, path: &str) -> String {
        let file = path.strip_prefix(dir).expect("the path is in the folder");
        format!("\"${var}{file}\"")
    }

    #[test]
    fn the_bootstrap_script_keeps_the_contract() {
        let script = BOOTSTRAP_SCRIPT;
        let mut expected = vec![
            format!("log_dir={LOG_DIR}\n"),
            format!("conf_dir={CONF_DIR}\n"),
            format!("data_root={DOCKER_ROOT}\n"),
            format!("seed_store={SEED_STORE}\n"),
            in_dir("log_dir", LOG_DIR, DOCKERD_LOG),
            in_dir("log_dir", LOG_DIR, KIND_LOG),
            in_dir("conf_dir", CONF_DIR, KUBECONFIG),
            // A sed pattern: its dots escaped.
            POD_IP_SAN.replace('.', "\\."),
            format!("echo \"{PHASE_MARKER}{PHASE_BOOTING}\""),
            format!("echo \"{PHASE_MARKER}{PHASE_DOCKERD_READY}\""),
            format!("echo \"{PHASE_MARKER}{PHASE_CLUSTER_CREATED}\""),
            format!("echo \"{STOPPED_BY_SIGNAL}\""),
            format!("echo \"{INFO_MARKER}{FACT_AWAITING_IMAGE}="),
            format!("echo \"{INFO_MARKER}{FACT_NODE_IMAGE}="),
        ];
        expected.extend([INFO_MARKER, WARN_MARKER, FAIL_MARKER].map(|m| format!("echo \"{m}")));
        for text in expected {
            assert!(
                script.contains(&text),
                "bootstrap.sh no longer contains {text:?}: change node/contract.rs with it"
            );
        }
    }
}

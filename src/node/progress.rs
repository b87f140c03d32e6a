//! The marker lines the bootstrap script writes on the node's log stream.

pub use super::contract::{
    FACT_AWAITING_IMAGE, FACT_NODE_IMAGE, PHASE_BOOTING, PHASE_CLUSTER_CREATED, PHASE_DOCKERD_READY,
};
use super::contract::{FAIL_MARKER, INFO_MARKER, PHASE_MARKER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// A phase finished inside the node.
    Phase(String),
    /// A decision the node made (`iptables`, `mtu`, `cgroup`, ...).
    Info { key: String, value: String },
    /// The bootstrap failed in `phase`.
    Fail { phase: String, reason: String },
    /// Any other line (kind's and the script's own output).
    Line(String),
}

pub fn parse(line: &str) -> Marker {
    if let Some(phase) = line.strip_prefix(PHASE_MARKER) {
        return Marker::Phase(phase.trim().to_string());
    }
    if let Some(info) = line.strip_prefix(INFO_MARKER) {
        if let Some((key, value)) = info.split_once('=') {
            return Marker::Info {
                key: key.trim().into(),
                value: value.trim().into(),
            };
        }
    }
    if let Some(fail) = line.strip_prefix(FAIL_MARKER) {
        let (phase, reason) = fail.split_once(": ").unwrap_or(("bootstrap", fail));
        return Marker::Fail {
            phase: phase.into(),
            reason: reason.into(),
        };
    }
    Marker::Line(line.to_string())
}

/// What the markers of a log say of the bootstrap's last run (a node
/// started again runs it again): the last phase reached and the facts.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootstrapSummary {
    pub phase: Option<String>,
    pub failure: Option<String>,
    pub facts: std::collections::BTreeMap<String, String>,
    /// The node was started again: this is not its first run.
    #[serde(skip)]
    pub restarted: bool,
}

impl BootstrapSummary {
    pub fn from_log(log: &str) -> Self {
        let mut summary = BootstrapSummary::default();
        for line in log.lines() {
            match parse(line) {
                Marker::Phase(p) if p == PHASE_BOOTING => {
                    let restarted = summary.phase.is_some();
                    summary = BootstrapSummary {
                        phase: Some(p),
                        restarted,
                        ..BootstrapSummary::default()
                    };
                }
                Marker::Phase(p) => summary.phase = Some(p),
                Marker::Info { key, value } => {
                    summary.facts.insert(key, value);
                }
                Marker::Fail { phase, reason } => {
                    summary.failure = Some(format!("{phase}: {reason}"))
                }
                Marker::Line(_) => {}
            }
        }
        summary
    }
}

/// Whether the node's bootstrap ended because it was told to stop (its
/// last marker), not by a failure of its own.
pub fn stopped_by_signal(log: &str) -> bool {
    log.lines()
        .rev()
        .find(|l| l.starts_with("kip-"))
        .is_some_and(|l| l.trim_end() == super::contract::STOPPED_BY_SIGNAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_marker() {
        assert_eq!(
            parse("kip-phase: dockerd-ready"),
            Marker::Phase("dockerd-ready".into())
        );
        assert_eq!(
            parse("kip-info: cgroup-parent=/docker/x/docker"),
            Marker::Info {
                key: "cgroup-parent".into(),
                value: "/docker/x/docker".into()
            }
        );
        assert_eq!(
            parse("kip-fail: dockerd: dockerd exited: bad flag"),
            Marker::Fail {
                phase: "dockerd".into(),
                reason: "dockerd exited: bad flag".into()
            }
        );
        assert_eq!(
            parse(" ✓ Preparing nodes"),
            Marker::Line(" ✓ Preparing nodes".into())
        );
    }

    #[test]
    fn a_node_stopped_from_outside_says_so_last() {
        assert!(stopped_by_signal(
            "kip-phase: dockerd-ready\nkind\nkip-info: stopped=signal\n"
        ));
        assert!(!stopped_by_signal(
            "kip-phase: dockerd-ready\nkip-fail: cluster: kind failed\n"
        ));
        // Stopped once, then started again.
        assert!(!stopped_by_signal(
            "kip-info: stopped=signal\nkip-info: mtu=1500\nkip-phase: dockerd-ready\n"
        ));
    }

    #[test]
    fn summarizes_a_log() {
        let log =
            "kip-info: mtu=1440\nkip-info: iptables=legacy\nkip-phase: dockerd-ready\nnoise\n";
        let s = BootstrapSummary::from_log(log);
        assert_eq!(s.phase.as_deref(), Some("dockerd-ready"));
        assert_eq!(s.facts["mtu"], "1440");
        assert_eq!(s.failure, None);
    }
}

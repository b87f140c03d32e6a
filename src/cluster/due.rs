//! When `kip gc` may delete a cluster: expired (`--ttl`), without a TTL
//! and older than `--older-than`, or what a node removed outside kip left
//! (an orphan) once it cannot be a `kip up` at work; and, just before the
//! deletion, whether that still holds for what is there then.

use super::delete::Scope;
use crate::provider::{Node, NodeInfo, NodeState, Provider};
use anyhow::Result;
use std::time::{Duration, SystemTime};

/// Why an orphan is due.
const ORPHANED: &str = "orphaned: node container gone, volume left";

/// How old an orphaned volume must be before `gc` takes it (or older than
/// `--older-than`, when that is shorter): an older kip's `kip up` made the
/// volume a moment before the node container (kip makes both in one
/// request now), and a young orphan may be that moment.
const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Why a cluster is due, or None if it is not. What a node removed outside
/// kip left is due whatever its TTL, once past [`ORPHAN_GRACE`]: no cluster
/// can use it again (a new node of the name starts it afresh).
pub fn due(node: &NodeInfo, now: SystemTime, older_than: Option<Duration>) -> Option<String> {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    };
    if node.state == NodeState::Orphaned {
        let grace = older_than.map_or(ORPHAN_GRACE, |o| o.min(ORPHAN_GRACE));
        let age = parse(&node.created_at).and_then(|c| now.duration_since(c).ok());
        // No creation time: nothing tells it from a volume made just now.
        return age.is_some_and(|age| age > grace).then(|| ORPHANED.into());
    }
    match parse(&node.expires_at) {
        Some(expires) if expires <= now => Some(format!(
            "expired at {}",
            node.expires_at.as_deref().unwrap_or_default()
        )),
        Some(_) => None,
        None => {
            let older_than = older_than?;
            let created = parse(&node.created_at)?;
            let age = now.duration_since(created).ok()?;
            (age > older_than).then(|| {
                format!(
                    "no TTL and older than {}",
                    humantime::format_duration(older_than)
                )
            })
        }
    }
}

/// How a due cluster is deleted now: an orphan as one (its deletion sees
/// for itself whether a `kip up` took it), a cluster if its node there now
/// is due still; None if it is gone since, or made anew and not due.
pub async fn scope_now(
    cluster: &str,
    reason: &str,
    older_than: Option<Duration>,
    provider: &impl Provider,
) -> Result<Option<Scope>> {
    if reason == ORPHANED {
        return Ok(Some(Scope::Orphan));
    }
    let now = SystemTime::now();
    let node = provider.lookup(cluster).await?;
    let due_now = node.is_some_and(|node| due(node.info(), now, older_than).is_some());
    Ok(due_now.then_some(Scope::Cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(created: &str, expires: Option<&str>) -> NodeInfo {
        NodeInfo {
            cluster: "c".into(),
            inner: "c".into(),
            node: "kip-c".into(),
            state: NodeState::Running,
            status: String::new(),
            exit_code: None,
            created_at: Some(created.into()),
            image: String::new(),
            endpoint: None,
            security: None,
            kip_version: None,
            expires_at: expires.map(String::from),
            ci: None,
            labels: Default::default(),
            problem: None,
        }
    }

    #[test]
    fn due_by_ttl_or_age() {
        let now = humantime::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        let day = Some(Duration::from_secs(86_400));
        assert!(due(
            &node("2026-01-01T00:00:00Z", Some("2026-01-01T12:00:00Z")),
            now,
            None
        )
        .is_some());
        assert!(due(
            &node("2026-01-01T00:00:00Z", Some("2026-01-03T00:00:00Z")),
            now,
            day
        )
        .is_none());
        // Without a TTL: only with --older-than, and only when older.
        assert!(due(&node("2025-12-30T00:00:00Z", None), now, None).is_none());
        assert!(due(&node("2025-12-30T00:00:00Z", None), now, day).is_some());
        assert!(due(&node("2026-01-01T12:00:00Z", None), now, day).is_none());
    }

    #[test]
    fn orphans_are_due_whatever_their_ttl() {
        let now = humantime::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        let orphan = NodeInfo {
            state: NodeState::Orphaned,
            ..node("2026-01-01T23:58:00Z", Some("2026-01-03T00:00:00Z"))
        };
        assert_eq!(due(&orphan, now, None).as_deref(), Some(ORPHANED));
        // A volume made moments ago may be a `kip up` about to start its
        // node: not yet, unless --older-than says it is old enough.
        let young = NodeInfo {
            state: NodeState::Orphaned,
            ..node("2026-01-01T23:59:50Z", None)
        };
        assert_eq!(due(&young, now, None), None);
        let second = Some(Duration::from_secs(1));
        assert_eq!(due(&young, now, second).as_deref(), Some(ORPHANED));
        let unknown = NodeInfo {
            created_at: None,
            ..young
        };
        assert_eq!(due(&unknown, now, second), None);
    }
}

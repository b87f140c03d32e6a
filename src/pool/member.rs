//! A pool's members as kip sees them: their keys (the name a member is
//! made under, never a cluster's name), where each stands, and the claim
//! record that turns one into a cluster. Pure data; the providers read
//! and write it.

use crate::node::labels;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// What a member key starts with: `pool.POOL.ID`. A dot is in no cluster
/// name (a DNS label), so no member is ever taken for a cluster.
const KEY_PREFIX: &str = "pool.";

/// The label that names the pool an object belongs to.
pub const POOL_LABEL: &str = "dev.kip.pool";
/// The hash of the plan a member was made from (`PoolPlan::hash`).
pub const PLAN_LABEL: &str = "dev.kip.pool-plan";
/// On a claim record: the cluster a member became (absent: it was taken
/// to be deleted).
pub const CLAIMED_AS: &str = "dev.kip.claimed-as";
pub const CLAIMED_AT: &str = "dev.kip.claimed-at";
/// How long a member may stay taken by a claim that has not finished (a
/// claimer killed half-way) before the next kip that looks deletes it.
pub const TAKEN_LIMIT: Duration = Duration::from_secs(60);

/// A new member's key: the pool's name and eight random hex digits.
pub fn new_key(pool: &str) -> String {
    use std::io::Read;
    let mut bytes = [0u8; 4];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = (nanos ^ std::process::id().rotate_left(16)).to_be_bytes();
    }
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{pool}.{id}")
}

/// Where a member stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberState {
    /// Being made: its node started, its cluster not yet ready.
    Making,
    /// Ready and never used: a claim may take it.
    Ready,
    /// Taken by a claim (or a deletion) that has not finished since then.
    Taken { since: Option<SystemTime> },
    /// It will not become ready: its node stopped, or its making failed.
    Broken(String),
}

/// One member of a pool, as its provider lists it.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub key: String,
    pub pool: String,
    pub state: MemberState,
    pub created_at: Option<SystemTime>,
    /// The hash of the plan it was made from.
    pub plan: Option<String>,
    /// Frozen (`--paused`).
    pub paused: bool,
    /// The memory it holds now, in bytes, where the engine tells.
    pub memory: Option<u64>,
}

impl MemberInfo {
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        now.duration_since(self.created_at?).ok()
    }

    /// How a deletion of this member must go at `now`.
    pub fn deletion(&self, now: SystemTime) -> Deletion {
        match &self.state {
            MemberState::Taken { since } => {
                let held = since.and_then(|s| now.duration_since(s).ok());
                if held.is_none_or(|held| held > TAKEN_LIMIT) {
                    Deletion::Abandoned
                } else {
                    Deletion::Leave
                }
            }
            _ => Deletion::TakeFirst,
        }
    }
}

/// How a member is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Not at all: a claim under way holds it.
    Leave,
    /// At once: a claimer killed half-way held it past [`TAKEN_LIMIT`].
    Abandoned,
    /// Taken first, as a claim takes it ([`ClaimRecord::deletion`]), so
    /// that a deletion never removes what a claim has just taken.
    TakeFirst,
}

/// What a claim records of the cluster a member became: who claimed it,
/// when, and until when (`--ttl`), with the claimer's labels and CI
/// metadata. Kept as labels (or annotations) on the object whose creation
/// took the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// The cluster; None: taken to be deleted.
    pub cluster: Option<String>,
    pub owner: String,
    pub claimed_at: String,
    pub ttl: Option<String>,
    pub expires_at: Option<String>,
    /// The claimer's `--label`s and CI metadata.
    pub labels: BTreeMap<String, String>,
}

impl ClaimRecord {
    /// The record of a take that deletes the member (no cluster).
    pub fn deletion() -> ClaimRecord {
        ClaimRecord {
            cluster: None,
            owner: String::new(),
            claimed_at: crate::cluster::plan::now_rfc3339(),
            ttl: None,
            expires_at: None,
            labels: BTreeMap::new(),
        }
    }

    pub fn to_labels(&self) -> BTreeMap<String, String> {
        let mut out = self.labels.clone();
        if let Some(cluster) = &self.cluster {
            out.insert(CLAIMED_AS.into(), cluster.clone());
        }
        out.insert(labels::OWNER.into(), self.owner.clone());
        out.insert(CLAIMED_AT.into(), self.claimed_at.clone());
        if let Some(ttl) = &self.ttl {
            out.insert(labels::TTL.into(), ttl.clone());
        }
        if let Some(at) = &self.expires_at {
            out.insert(labels::EXPIRES_AT.into(), at.clone());
        }
        out
    }

    /// The record `to_labels` wrote, among other labels (kip's own, which
    /// are left out of `labels`).
    pub fn from_labels(all: &BTreeMap<String, String>) -> Option<ClaimRecord> {
        let get = |k: &str| all.get(k).cloned();
        let own = [
            CLAIMED_AS,
            CLAIMED_AT,
            labels::OWNER,
            labels::TTL,
            labels::EXPIRES_AT,
        ];
        Some(ClaimRecord {
            claimed_at: get(CLAIMED_AT)?,
            cluster: get(CLAIMED_AS),
            owner: get(labels::OWNER).unwrap_or_default(),
            ttl: get(labels::TTL),
            expires_at: get(labels::EXPIRES_AT),
            labels: all
                .iter()
                .filter(|(k, _)| {
                    !own.contains(&k.as_str())
                        && (!k.starts_with("dev.kip.") || k.starts_with("dev.kip.ci."))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_are_never_cluster_names() {
        let key = new_key("ci");
        assert!(key.starts_with("pool.ci."), "{key}");
        assert_eq!(key.len(), "pool.ci.".len() + 8);
        assert!(crate::names::parse_cluster_name(&key).is_err());
        assert_ne!(new_key("ci"), new_key("ci"));
    }

    #[test]
    fn a_claim_record_round_trips_through_labels() {
        let record = ClaimRecord {
            cluster: Some("job-7".into()),
            owner: "ci@runner".into(),
            claimed_at: "2026-12-01T10:00:00Z".into(),
            ttl: Some("1h".into()),
            expires_at: Some("2026-12-01T11:00:00Z".into()),
            labels: BTreeMap::from([
                ("team".to_string(), "a".to_string()),
                ("dev.kip.ci.github.run-id".to_string(), "42".to_string()),
            ]),
        };
        let mut all = record.to_labels();
        all.insert(labels::MANAGED_BY.into(), labels::MANAGER.into());
        assert_eq!(ClaimRecord::from_labels(&all), Some(record));
        all.remove(CLAIMED_AT);
        assert_eq!(ClaimRecord::from_labels(&all), None);
    }
}

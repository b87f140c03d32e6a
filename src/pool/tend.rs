//! What keeping a pool whole means, decided from a listing of its members
//! alone (pure, so every rule has its test): which members go, and how
//! many are made. Whoever looks at a pool (a claim's refill, `kip pool`,
//! `kip gc`) applies the same rules, so a claimer killed half-way, a
//! member of an older plan or one past `--max-age` is dealt with by the
//! next kip that looks, with no one's laptop needed.

use super::member::{MemberInfo, MemberState, TAKEN_LIMIT};
use super::spec::PoolSpec;
use std::time::{Duration, SystemTime};

/// How long past its plan's `--wait` a member still making is given before
/// it is called abandoned (its maker killed).
const MAKING_GRACE: Duration = Duration::from_secs(60);

/// What to do to a pool now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tending {
    /// Members to delete, each with why.
    pub delete: Vec<(String, String)>,
    /// How many members to make.
    pub make: u32,
}

/// The pool's members as they should be: `spec` None means the pool was
/// removed, and every member not in a claimer's hands goes.
pub fn tend(spec: Option<&PoolSpec>, members: &[MemberInfo], now: SystemTime) -> Tending {
    let mut out = Tending::default();
    let mut live: Vec<&MemberInfo> = Vec::new();
    for member in members {
        match why_delete(spec, member, now) {
            Some(Verdict::Delete(why)) => out.delete.push((member.key.clone(), why)),
            Some(Verdict::Leave) => {}
            None => live.push(member),
        }
    }
    let Some(spec) = spec else {
        return out;
    };
    let size = spec.size as usize;
    if live.len() > size {
        // Beyond the size (a resize down, or two refills at once): members
        // still making go first (least done), then the oldest ready ones.
        live.sort_by_key(|m| (m.state == MemberState::Ready, m.created_at));
        for extra in &live[..live.len() - size] {
            out.delete.push((
                extra.key.clone(),
                format!("beyond the pool's size ({size})"),
            ));
        }
    } else {
        out.make = (size - live.len()) as u32;
    }
    out
}

enum Verdict {
    Delete(String),
    /// Not counted and not touched: a claim under way.
    Leave,
}

/// Why `member` goes (or is left alone); None: it counts toward the size.
fn why_delete(spec: Option<&PoolSpec>, member: &MemberInfo, now: SystemTime) -> Option<Verdict> {
    let age = member.age(now);
    match &member.state {
        MemberState::Taken { since } => {
            let held = since.and_then(|s| now.duration_since(s).ok());
            return Some(if held.is_none_or(|h| h > TAKEN_LIMIT) {
                Verdict::Delete(format!(
                    "taken by a claim that did not finish within {}s (its claimer was killed)",
                    TAKEN_LIMIT.as_secs()
                ))
            } else {
                Verdict::Leave
            });
        }
        MemberState::Broken(why) => return Some(Verdict::Delete(why.clone())),
        MemberState::Making | MemberState::Ready => {}
    }
    let Some(spec) = spec else {
        return Some(Verdict::Delete("its pool was removed".into()));
    };
    if member.state == MemberState::Making {
        let limit = spec
            .plan
            .wait
            .unwrap_or(crate::node::settings::DEFAULT_WAIT)
            + MAKING_GRACE;
        return age.is_some_and(|a| a > limit).then(|| {
            Verdict::Delete(format!(
                "still not ready after {} (its maker was stopped)",
                humantime::format_duration(limit)
            ))
        });
    }
    if member.plan.as_deref() != Some(spec.plan.hash().as_str()) {
        return Some(Verdict::Delete(
            "made from an older plan of the pool".into(),
        ));
    }
    let old = spec.max_age.zip(age).is_some_and(|(max, age)| age > max);
    old.then(|| {
        Verdict::Delete(format!(
            "older than the pool's --max-age ({})",
            humantime::format_duration(spec.max_age.unwrap_or_default())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::spec::tests::spec;

    const MIN: Duration = Duration::from_secs(60);

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-12-01T12:00:00Z").unwrap()
    }

    fn member(key: &str, state: MemberState, age: Duration) -> MemberInfo {
        MemberInfo {
            key: key.into(),
            pool: "ci".into(),
            state,
            created_at: Some(now() - age),
            plan: Some(spec().plan.hash()),
            paused: false,
            memory: None,
        }
    }

    fn deleted(t: &Tending) -> Vec<&str> {
        t.delete.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn an_empty_pool_is_filled_and_a_full_one_left() {
        let spec = spec();
        assert_eq!(tend(Some(&spec), &[], now()).make, 2);
        let full = [
            member("a", MemberState::Ready, MIN),
            member("b", MemberState::Making, MIN),
        ];
        assert_eq!(tend(Some(&spec), &full, now()), Tending::default());
    }

    #[test]
    fn a_claim_under_way_is_left_and_one_killed_half_way_is_deleted() {
        let spec = spec();
        let young = MemberState::Taken {
            since: Some(now() - Duration::from_secs(5)),
        };
        let stale = MemberState::Taken {
            since: Some(now() - 2 * MIN),
        };
        let members = [
            member("young", young, MIN),
            member("stale", stale, MIN),
            member("ready", MemberState::Ready, MIN),
        ];
        let t = tend(Some(&spec), &members, now());
        assert_eq!(deleted(&t), ["stale"]);
        // The taken ones are not counted: the pool makes up for both.
        assert_eq!(t.make, 1);
    }

    #[test]
    fn old_plans_old_members_broken_and_abandoned_ones_are_replaced() {
        let spec = spec();
        let mut older_plan = member("plan", MemberState::Ready, MIN);
        older_plan.plan = Some("000000000000".into());
        let members = [
            older_plan,
            member(
                "aged",
                MemberState::Ready,
                2 * 3600 * Duration::from_secs(1),
            ),
            member(
                "broken",
                MemberState::Broken("its node stopped".into()),
                MIN,
            ),
            member("abandoned", MemberState::Making, 7 * MIN),
            member("making", MemberState::Making, MIN),
        ];
        let t = tend(Some(&spec), &members, now());
        assert_eq!(deleted(&t), ["plan", "aged", "broken", "abandoned"]);
        assert_eq!(t.make, 1);
    }

    #[test]
    fn beyond_the_size_members_still_making_go_first() {
        let mut spec = spec();
        spec.size = 1;
        let members = [
            member("old-ready", MemberState::Ready, 3 * MIN),
            member("new-ready", MemberState::Ready, MIN),
            member("making", MemberState::Making, MIN),
        ];
        let t = tend(Some(&spec), &members, now());
        assert_eq!(deleted(&t), ["making", "old-ready"]);
        assert_eq!(t.make, 0);
    }

    #[test]
    fn a_removed_pool_loses_every_member_but_those_being_claimed() {
        let members = [
            member("ready", MemberState::Ready, MIN),
            member("making", MemberState::Making, MIN),
            member("claiming", MemberState::Taken { since: Some(now()) }, MIN),
        ];
        let t = tend(None, &members, now());
        assert_eq!(deleted(&t), ["ready", "making"]);
        assert_eq!(t.make, 0);
    }
}

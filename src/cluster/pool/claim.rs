//! Taking a ready member for a claim: the candidates (ready, of the pool's
//! current plan, younger than its `--max-age`), tried in a random order so
//! that claimers at the same moment spread over the members, each through
//! the provider's exclusive take.

use crate::cluster::Request;
use crate::node::labels;
use crate::pool::member::{ClaimRecord, MemberInfo, MemberState};
use crate::pool::spec::PoolSpec;
use crate::provider::pool::{Claimed, Pools, Take};
use crate::settings::Environment;
use anyhow::Result;
use std::time::SystemTime;

/// How a claim's take of a member ended.
pub enum Taken<N> {
    /// This claim took `key`: the cluster's node, and when it was thawed
    /// (a member of a `--paused` pool).
    Won {
        node: N,
        key: String,
        thawed: Option<SystemTime>,
    },
    /// The cluster's name was taken meanwhile (another kip made it).
    NameInUse,
    /// No member was ready, or others took every one first.
    Nothing,
}

/// The members of `spec`'s pool a claim may take now.
pub async fn ready_members<P: Pools>(provider: &P, spec: &PoolSpec) -> Result<Vec<MemberInfo>> {
    let now = SystemTime::now();
    let plan = spec.plan.hash();
    Ok(provider
        .members(Some(&spec.name), false)
        .await?
        .into_iter()
        .filter(|m| {
            m.state == MemberState::Ready
                && m.plan.as_deref() == Some(plan.as_str())
                && spec
                    .max_age
                    .zip(m.age(now))
                    .is_none_or(|(max, age)| age <= max)
        })
        .collect())
}

/// Takes one ready member of `spec`'s pool as `request`'s cluster.
pub async fn take_member<P: Pools>(
    provider: &P,
    spec: &PoolSpec,
    request: &Request,
    env: &Environment,
) -> Result<Taken<P::Node>> {
    let mut candidates = ready_members(provider, spec).await?;
    shuffle(&mut candidates);
    let record = claim_record(request, env);
    env.stop_for_test("listed");
    for member in candidates {
        match provider.take(&member, &record).await? {
            Take::Took => {}
            Take::Lost => continue,
        }
        env.stop_for_test("taken");
        match provider.finish_claim(&member, &record).await? {
            Claimed::Won(node) => {
                return Ok(Taken::Won {
                    node,
                    thawed: member.paused.then(SystemTime::now),
                    key: member.key,
                })
            }
            Claimed::NameTaken => return Ok(Taken::NameInUse),
            Claimed::Lost => {}
        }
    }
    Ok(Taken::Nothing)
}

/// What the claim records: the cluster, its claimer, its TTL, the
/// claimer's labels and CI metadata.
fn claim_record(request: &Request, env: &Environment) -> ClaimRecord {
    let now = SystemTime::now();
    let mut claim_labels: std::collections::BTreeMap<String, String> =
        request.cluster.labels.iter().cloned().collect();
    claim_labels.extend(labels::ci_labels(|k| env.ci_var(k), env.in_tekton));
    ClaimRecord {
        cluster: Some(request.name.clone()),
        owner: env.owner(),
        claimed_at: humantime::format_rfc3339_seconds(now).to_string(),
        ttl: request
            .cluster
            .ttl
            .map(|t| humantime::format_duration(t).to_string()),
        expires_at: request
            .cluster
            .ttl
            .map(|t| humantime::format_rfc3339_seconds(now + t).to_string()),
        labels: claim_labels,
    }
}

/// A random order (Fisher–Yates, seeded from /dev/urandom).
fn shuffle<T>(items: &mut [T]) {
    use std::io::Read;
    let mut seed = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .is_err()
    {
        seed = u64::from(std::process::id()).to_be_bytes();
    }
    let mut state = u64::from_be_bytes(seed) | 1;
    for i in (1..items.len()).rev() {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shuffle_keeps_every_item() {
        let mut items: Vec<u32> = (0..20).collect();
        super::shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }
}

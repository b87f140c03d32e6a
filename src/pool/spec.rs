//! A pool's definition: its name, how many ready members it keeps, the
//! plan its members are made from, and how long an idle member may wait.
//! Pure data, stored where the provider keeps it (`provider::pool`) and
//! read back whole; the plan's hash tells members of an older plan apart.

use crate::node::pod_options::PodOptions;
use crate::node::settings::ClusterSettings;
use crate::node::{IptablesMode, SecurityMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The most members a pool keeps: each holds a whole cluster's memory.
pub const MAX_SIZE: u32 = 64;

/// What a pool is, as `kip pool create` defines it and `resize` changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSpec {
    pub name: String,
    /// Ready, never-used members the pool keeps.
    pub size: u32,
    pub plan: PoolPlan,
    /// Idle members older than this are replaced (`--max-age`).
    #[serde(default, with = "duration_text")]
    pub max_age: Option<Duration>,
    /// Ready members are kept frozen (`docker pause`): no CPU, a slower claim.
    #[serde(default)]
    pub paused: bool,
}

/// How a pool's members are made: the flags of `kip up` that shape a node,
/// with the user's kind config by its text (a member made later must not
/// read a file that changed since).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolPlan {
    pub image: Option<String>,
    pub dind_image: Option<String>,
    #[serde(default)]
    pub node_env: Vec<(String, String)>,
    pub security: SecurityMode,
    pub network: Option<String>,
    pub mtu: Option<u32>,
    pub iptables: IptablesMode,
    #[serde(default)]
    pub cert_sans: Vec<String>,
    pub kind_config: Option<String>,
    #[serde(default)]
    pub dockerd_args: Vec<String>,
    /// The user's `--label`s, on every member and every cluster claimed.
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    /// How long making one member may take (`--wait`).
    #[serde(with = "duration_text")]
    pub wait: Option<Duration>,
    /// Remote mode: the member Pods' scheduling and resources.
    pub pod: Option<PodOptions>,
    /// `--registry NAME`: every member connected to the local registry.
    #[serde(default)]
    pub registry: Option<String>,
    /// `--mirror NAME|URL` (or the config file's `mirror:` when the pool
    /// was created): every member pulls through the cache.
    #[serde(default)]
    pub mirror: Option<String>,
    #[serde(default)]
    pub mirror_optional: bool,
    /// `--from SNAPSHOT`: members are restored from this snapshot (the one
    /// saved under that name when the pool was defined) instead of made.
    #[serde(default)]
    pub snapshot: Option<PlanSnapshot>,
    /// Remote mode: the ID of the kind node image on the engine of the kip
    /// that defined the pool, so that members (which nobody streams an
    /// image into) find the outer node's seed of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind_image_id: Option<String>,
}

/// The snapshot a pool's members are restored from: its name, and which
/// save of that name it is (a snapshot removed and saved again under the
/// same name is another plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSnapshot {
    pub name: String,
    /// Twelve hex digits of the snapshot's metadata (its time of saving,
    /// size, images ...): another save of the name has another.
    pub id: String,
    pub created_at: String,
}

impl PlanSnapshot {
    pub fn of(meta: &crate::snapshot::Metadata) -> Self {
        let text = serde_json::to_vec(meta).expect("metadata always serializes");
        PlanSnapshot {
            name: meta.name.clone(),
            id: hex12(&Sha256::digest(text)),
            created_at: meta.created_at.clone(),
        }
    }
}

/// The first six bytes of a digest, in hex.
fn hex12(digest: &[u8]) -> String {
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl PoolPlan {
    /// The plan of `settings` (the kind config's text already read), and
    /// remote mode's Pod options.
    pub fn new(
        settings: &ClusterSettings,
        kind_config: Option<String>,
        pod: Option<PodOptions>,
    ) -> Self {
        PoolPlan {
            image: settings.image.clone(),
            dind_image: settings.dind_image.clone(),
            node_env: settings.node_env.clone(),
            security: settings.security,
            network: settings.network.clone(),
            mtu: settings.mtu,
            iptables: settings.iptables,
            cert_sans: settings.cert_sans.clone(),
            kind_config,
            dockerd_args: settings.dockerd_args.clone(),
            labels: settings.labels.clone(),
            wait: Some(settings.wait),
            pod,
            registry: settings.attach.registry.clone(),
            mirror: settings.attach.mirror.clone(),
            mirror_optional: settings.attach.mirror_optional,
            snapshot: None,
            kind_image_id: None,
        }
    }

    /// Twelve hex digits that change when anything that shapes a member
    /// changes (not `wait`), or kip's version (its bootstrap may have).
    pub fn hash(&self) -> String {
        let shaping = PoolPlan {
            wait: None,
            ..self.clone()
        };
        let mut digest = Sha256::new();
        digest.update(serde_json::to_vec(&shaping).expect("a plan always serializes"));
        digest.update(env!("CARGO_PKG_VERSION").as_bytes());
        hex12(&digest.finalize())
    }

    /// The settings a member (or, with `claim`'s TTL and labels, a cluster
    /// made fresh for a claim) is made with.
    pub fn settings(&self, claim: &ClusterSettings) -> ClusterSettings {
        let mut labels = self.labels.clone();
        labels.extend(claim.labels.iter().cloned());
        ClusterSettings {
            image: self.image.clone(),
            dind_image: self.dind_image.clone(),
            node_env: self.node_env.clone(),
            api_port: None,
            wait: claim.wait,
            ttl: claim.ttl,
            labels,
            keep_on_failure: claim.keep_on_failure,
            logs_dir: claim.logs_dir.clone(),
            security: self.security,
            network: self.network.clone(),
            mtu: self.mtu,
            iptables: self.iptables,
            cert_sans: self.cert_sans.clone(),
            kind_config: None,
            kind_config_text: self.kind_config.clone(),
            dockerd_args: self.dockerd_args.clone(),
            seed: claim.seed,
            given: Vec::new(),
            // Members publish no host port (each would need its own:
            // `kip pool create` refuses them).
            ports: Vec::new(),
            attach: crate::registry::attach::Attach {
                registry: self.registry.clone(),
                mirror: self.mirror.clone(),
                mirror_from_config: false,
                mirror_optional: self.mirror_optional,
            },
        }
    }

    /// The settings a member is made with: the plan's own wait.
    pub fn member_settings(&self) -> ClusterSettings {
        let claim = ClusterSettings {
            wait: self.wait.unwrap_or(crate::node::settings::DEFAULT_WAIT),
            ..ClusterSettings::default()
        };
        self.settings(&claim)
    }
}

/// `--size`: a count of members, 1 to [`MAX_SIZE`] (`resize` also takes
/// 0: the pool stays defined and keeps no member).
pub fn parse_size(text: &str, least: u32) -> Result<u32, String> {
    let size: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of members"))?;
    if size < i64::from(least) {
        return Err(if least == 0 {
            format!("a pool cannot keep {size} members: give 0 to {MAX_SIZE}")
        } else {
            format!(
                "a pool of {size} members keeps nothing ready: give 1 to {MAX_SIZE} \
                 (`kip pool resize POOL 0` empties a pool that exists)"
            )
        });
    }
    if size > i64::from(MAX_SIZE) {
        return Err(format!(
            "{size} members is more than kip keeps ready ({MAX_SIZE}): each holds a whole \
             cluster's memory (see `kip pool list`)"
        ));
    }
    Ok(size as u32)
}

/// Durations kept as text ("1h 30m"), as a person would write them.
mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_duration(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn spec() -> PoolSpec {
        PoolSpec {
            name: "ci".into(),
            size: 2,
            plan: PoolPlan::new(&ClusterSettings::default(), None, None),
            max_age: Some(Duration::from_secs(3600)),
            paused: false,
        }
    }

    #[test]
    fn a_spec_round_trips_through_json() {
        let spec = spec();
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains("\"maxAge\":\"1h\""), "{text}");
        assert_eq!(serde_json::from_str::<PoolSpec>(&text).unwrap(), spec);
    }

    #[test]
    fn the_hash_follows_what_shapes_a_member_not_the_wait() {
        let plan = spec().plan;
        let hash = plan.hash();
        assert_eq!(hash.len(), 12);
        let waited = PoolPlan {
            wait: Some(Duration::from_secs(1)),
            ..plan.clone()
        };
        assert_eq!(waited.hash(), hash);
        let other = PoolPlan {
            image: Some("kindest/node:v1.35.0".into()),
            ..plan
        };
        assert_ne!(other.hash(), hash);
    }

    #[test]
    fn another_save_of_a_snapshot_is_another_plan() {
        let meta = crate::snapshot::sample_metadata();
        let from = |meta: &crate::snapshot::Metadata| PoolPlan {
            snapshot: Some(PlanSnapshot::of(meta)),
            ..spec().plan
        };
        let plan = from(&meta);
        assert_eq!(plan.snapshot.as_ref().unwrap().id.len(), 12);
        assert_eq!(from(&meta).hash(), plan.hash(), "the same save");
        assert_ne!(plan.hash(), spec().plan.hash(), "a snapshot is in the plan");
        let saved_again = crate::snapshot::Metadata {
            created_at: "2026-12-05T09:00:00Z".into(),
            ..meta
        };
        let again = from(&saved_again);
        assert_eq!(again.snapshot.as_ref().unwrap().name, "base");
        assert_ne!(again.hash(), plan.hash(), "saved again under the name");
    }

    #[test]
    fn sizes_are_counted_and_bounded() {
        assert_eq!(parse_size("3", 1), Ok(3));
        assert_eq!(parse_size("0", 0), Ok(0));
        for (bad, words) in [
            ("0", "keeps nothing ready"),
            ("-1", "keeps nothing ready"),
            ("65", "more than kip keeps ready (64)"),
            ("99999999999999999999", "not a whole number"),
            ("two", "not a whole number"),
        ] {
            let err = parse_size(bad, 1).unwrap_err();
            assert!(err.contains(words), "{bad}: {err}");
        }
        assert!(parse_size("-1", 0).unwrap_err().contains("give 0 to 64"));
    }

    #[test]
    fn a_claim_adds_its_ttl_and_labels_to_the_plan() {
        let mut plan = spec().plan;
        plan.labels = vec![("team".into(), "a".into())];
        plan.kind_config = Some("kind: Cluster\n".into());
        let claim = ClusterSettings {
            ttl: Some(Duration::from_secs(60)),
            labels: vec![("job".into(), "7".into())],
            ..ClusterSettings::default()
        };
        let settings = plan.settings(&claim);
        assert_eq!(settings.ttl, claim.ttl);
        assert_eq!(settings.labels.len(), 2);
        assert_eq!(
            settings.kind_config_text.as_deref(),
            Some("kind: Cluster\n")
        );
        assert_eq!(settings.api_port, None);
    }
}

//! Pool definitions on the Docker engine: nothing on the user's machine
//! that could drift, and no daemon. A definition is a volume
//! `kip-pool.POOL.definition.GEN` whose labels hold the spec (as JSON) and
//! a token of the kip that made it. Labels cannot change, so a change is
//! the next generation: the engine answers every `create` of one volume
//! name with the one volume (measured: 4 concurrent creates of one name
//! with 4 tokens, 30 trials, every creator got the winner's token), so
//! the token read back says whether this change won. The definition is the
//! highest generation; older ones are removed once a newer one stands.

use super::errors::is_not_found;
use super::DockerProvider;
use crate::error::Error;
use crate::node::labels;
use crate::pool::member::POOL_LABEL;
use crate::pool::spec::PoolSpec;
use crate::provider::pool::StoredPool;
use anyhow::{Context, Result};
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use std::collections::{BTreeMap, HashMap};

/// The label that holds a definition's generation.
const GENERATION: &str = "dev.kip.pool-generation";
/// The label that holds the spec, as JSON.
const SPEC: &str = "dev.kip.pool-spec";
/// The label that tells whose create made the volume.
const TOKEN: &str = "dev.kip.pool-token";

fn volume_name(pool: &str, generation: u64) -> String {
    format!("kip-pool.{pool}.definition.{generation}")
}

/// One stored generation of a definition.
struct Generation {
    volume: String,
    pool: String,
    generation: u64,
    spec: Option<PoolSpec>,
}

impl DockerProvider {
    /// Every stored generation of the definitions of `pool` (or of all).
    async fn generations(&self, pool: Option<&str>) -> Result<Vec<Generation>> {
        let mut label = vec![
            format!("{}={}", labels::MANAGED_BY, labels::MANAGER),
            GENERATION.to_string(),
        ];
        if let Some(pool) = pool {
            label.push(format!("{POOL_LABEL}={pool}"));
        }
        let volumes = self.labelled_volumes(label).await?;
        Ok(volumes
            .into_iter()
            .filter_map(|v| {
                Some(Generation {
                    pool: v.labels.get(POOL_LABEL)?.clone(),
                    generation: v.labels.get(GENERATION)?.parse().ok()?,
                    spec: v
                        .labels
                        .get(SPEC)
                        .and_then(|s| serde_json::from_str(s).ok()),
                    volume: v.name,
                })
            })
            .collect())
    }

    pub(super) async fn stored_pools(&self, pool: Option<&str>) -> Result<Vec<StoredPool>> {
        let mut newest: BTreeMap<String, Generation> = BTreeMap::new();
        for g in self.generations(pool).await? {
            if newest
                .get(&g.pool)
                .is_none_or(|n| n.generation < g.generation)
            {
                newest.insert(g.pool.clone(), g);
            }
        }
        Ok(newest
            .into_values()
            .filter_map(|g| {
                Some(StoredPool {
                    spec: g.spec?,
                    version: g.generation.to_string(),
                })
            })
            .collect())
    }

    /// Stores `spec` as the generation after `version` (the first, for a
    /// new pool); false when another kip stored that generation first.
    pub(super) async fn store_generation(
        &self,
        spec: &PoolSpec,
        version: Option<&str>,
    ) -> Result<bool> {
        let after: u64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
        let generation = after + 1;
        let token = super::spec::node_run_id();
        let name = volume_name(&spec.name, generation);
        let volume_labels = HashMap::from([
            (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
            (POOL_LABEL.to_string(), spec.name.clone()),
            (GENERATION.to_string(), generation.to_string()),
            (SPEC.to_string(), serde_json::to_string(spec)?),
            (TOKEN.to_string(), token.clone()),
        ]);
        let made = self
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(volume_labels),
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create volume {name}"))?;
        if made.labels.get(TOKEN) != Some(&token) {
            return Ok(false);
        }
        // A new pool's first generation wins only if no other definition
        // of the name stands (one made since the caller looked).
        let others = self.generations(Some(&spec.name)).await?;
        if version.is_none() && others.iter().any(|g| g.generation > generation) {
            self.remove_generation(&name).await?;
            return Ok(false);
        }
        for old in others.iter().filter(|g| g.generation < generation) {
            self.remove_generation(&old.volume).await?;
        }
        Ok(true)
    }

    /// Removes every generation of `pool`'s definition; whether there was one.
    pub(super) async fn remove_generations(&self, pool: &str) -> Result<bool> {
        let all = self.generations(Some(pool)).await?;
        for g in &all {
            self.remove_generation(&g.volume).await?;
        }
        Ok(!all.is_empty())
    }

    async fn remove_generation(&self, volume: &str) -> Result<()> {
        match self
            .docker
            .remove_volume(volume, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Err(e) if !is_not_found(&e) => Err(Error::CannotRemoveVolume {
                volume: volume.to_string(),
                error: e.to_string(),
            }
            .into()),
            _ => Ok(()),
        }
    }
}

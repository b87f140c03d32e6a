//! `kip pool create|list|resize|rm`: warm pools of ready clusters, claimed
//! with `kip up NAME --pool POOL`. Each subcommand is thin: the cluster
//! layer (`cluster::pool`) defines, tends and counts; `pool fill` (hidden)
//! is the detached filler a claim starts.

use crate::cluster::pool::{self as pools, PoolSummary};
use crate::output::{OutputFormat, Printer};
use crate::pool::spec::PoolSpec;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
use crate::settings::Environment;
use anyhow::Result;
use serde::Serialize;

/// What `kip pool` does, resolved from its flags.
#[derive(Debug, Clone)]
pub enum PoolSettings {
    Create {
        spec: Box<PoolSpec>,
        replace: bool,
        /// `--from SNAPSHOT`: members restored from it.
        from: Option<String>,
    },
    List {
        name: Option<String>,
        output: OutputFormat,
    },
    Resize {
        name: String,
        size: u32,
    },
    Rm {
        name: String,
    },
    Fill {
        name: String,
    },
}

/// What `kip pool list -o json` prints.
#[derive(Debug, Serialize)]
struct PoolList {
    items: Vec<PoolSummary>,
    /// What one idle member holds, as measured for kip's documentation
    /// (real kind, Kubernetes v1.35), for engines that do not say.
    #[serde(rename = "memoryPerMemberMeasured")]
    measured: &'static str,
}

impl crate::output::Document for PoolList {
    const KIND: &'static str = "PoolList";
    const SCHEMA: &'static str = "pool-list.schema.json";
}

/// What one idle member of a real kind cluster held when measured (see
/// BENCHMARKS.md, "Warm pools").
pub const MEASURED_MEMBER_MEMORY: &str =
    "about 1.1 GiB (real kind, Kubernetes v1.35, one node, as docker stats counts it)";

pub async fn run<P: Pools>(
    settings: &PoolSettings,
    env: &Environment,
    provider: &P,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<()> {
    match settings {
        PoolSettings::Create {
            spec,
            replace,
            from,
        } => {
            let mut spec = (**spec).clone();
            provider
                .complete_plan(&mut spec, from.is_some(), host)
                .await?;
            let spec = match from {
                Some(snapshot) => pools::from_snapshot(host, spec, snapshot).await?,
                None => spec,
            };
            pools::define(provider, &spec, *replace).await?;
            printer.info(&format!(
                "Pool {} defined (size {}{}); its members are being made: `kip pool list` shows how far, \
                 `kip up NAME --pool {}` claims one",
                spec.name,
                spec.size,
                if spec.paused { ", paused" } else { "" },
                spec.name
            ));
            pools::refill(provider, &spec.name, env, printer).await
        }
        PoolSettings::List { name, output } => {
            list(provider, name.as_deref(), *output, (env, host), printer).await
        }
        PoolSettings::Resize { name, size } => {
            let before = pools::resize(provider, name, *size).await?;
            printer.info(&format!("Pool {name} resized from {before} to {size}"));
            pools::refill(provider, name, env, printer).await
        }
        PoolSettings::Rm { name } => {
            pools::find(provider, name).await?;
            provider.remove_pool(name).await?;
            pools::tend_once(provider, name, env, None, printer).await?;
            printer.info(&format!(
                "Pool {name} removed with its unclaimed members (clusters claimed from it stay)"
            ));
            Ok(())
        }
        PoolSettings::Fill { name } => pools::fill(provider, name, env, host, printer).await,
    }
}

/// The pools as a table or JSON. Looking tends them: what a claimer killed
/// half-way left is deleted, and a pool short of members is refilled.
async fn list<P: Pools>(
    provider: &P,
    name: Option<&str>,
    output: OutputFormat,
    (env, host): (&Environment, Option<&DockerProvider>),
    printer: &Printer,
) -> Result<()> {
    let mut items = pools::summaries(provider, name, host).await?;
    for pool in &items {
        if pool.ready + pool.creating < pool.size as usize || pool.taken > 0 {
            pools::refill(provider, &pool.name, env, printer).await?;
        }
    }
    if items.iter().any(|p| p.taken > 0) {
        items = pools::summaries(provider, name, host).await?;
    }
    match output {
        OutputFormat::Json => crate::output::json(&PoolList {
            items,
            measured: MEASURED_MEMBER_MEMORY,
        }),
        OutputFormat::Table => {
            crate::output::out(table(&items))?;
            for pool in &items {
                if let Some(problem) = &pool.problem {
                    printer.warn(&format!("pool {}: {problem}", pool.name));
                }
            }
            if items.is_empty() {
                printer.info("No pools: `kip pool create POOL --size N` makes one");
            } else {
                printer.notice(&format!(
                    "each idle member is a whole cluster and holds its memory: {MEASURED_MEMBER_MEMORY} \
                     when measured (MEMORY: what the ready members hold now)"
                ));
            }
            Ok(())
        }
    }
}

fn table(items: &[PoolSummary]) -> String {
    let mut rows = vec![[
        "NAME", "SIZE", "READY", "CREATING", "CLAIMED", "MEMORY", "MAX-AGE", "PLAN",
    ]
    .map(String::from)];
    for p in items {
        rows.push([
            p.name.clone(),
            format!("{}{}", p.size, if p.paused { " (paused)" } else { "" }),
            p.ready.to_string(),
            p.creating.to_string(),
            p.claimed.to_string(),
            p.memory_bytes
                .map_or_else(|| "-".into(), |b| format!("{} MiB", b / (1024 * 1024))),
            p.max_age.clone().unwrap_or_else(|| "-".into()),
            format!("{} ({})", plan_source(&p.plan), p.plan_hash),
        ]);
    }
    crate::output::table(&rows)
}

/// Where members come from, in a word: the snapshot, or the image.
fn plan_source(plan: &crate::pool::spec::PoolPlan) -> String {
    match (&plan.snapshot, &plan.image) {
        (Some(s), _) => format!("snapshot {} of {}", s.name, s.created_at),
        (None, Some(image)) => image.clone(),
        (None, None) => "kind's default image".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_matches_its_schema() {
        let spec = crate::pool::spec::tests::spec();
        crate::output::assert_matches_schema(&PoolList {
            items: vec![PoolSummary {
                name: spec.name.clone(),
                size: 2,
                ready: 1,
                creating: 1,
                claimed: 0,
                taken: 0,
                paused: false,
                max_age: Some("1h".into()),
                memory_bytes: Some(1),
                plan_hash: spec.plan.hash(),
                plan: crate::pool::spec::PoolPlan {
                    snapshot: Some(crate::pool::spec::PlanSnapshot::of(
                        &crate::snapshot::sample_metadata(),
                    )),
                    ..spec.plan
                },
                problem: Some("its snapshot base is gone".into()),
            }],
            measured: MEASURED_MEMBER_MEMORY,
        });
    }
}

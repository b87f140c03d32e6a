//! `kip pool create|list|resize|rm`: the command line of warm pools, and
//! its resolution into `PoolSettings` (the pool's definition, with what a
//! pool cannot honour refused, naming the flag).

use super::{parse_duration, ClusterOptions, TargetArgs};
use crate::commands::pool::PoolSettings;
use crate::error::Error;
use crate::node::settings::ClusterSettings;
use crate::output::OutputFormat;
use crate::pool::spec::{PoolPlan, PoolSpec};
use crate::settings::GlobalSettings;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct PoolArgs {
    #[command(subcommand)]
    pub command: PoolCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Define a pool of N ready, never-used clusters of one plan and start making them (returns at once; `kip pool list` shows how far). With --remote the members are node Pods on the shared cluster, made ready by the cluster alone
    Create(Box<PoolCreateArgs>),
    /// List pools: size, ready, creating and claimed members, the memory ready members hold, the plan
    List(PoolListArgs),
    /// Change a pool's size (0 keeps the pool, with no member)
    Resize(PoolResizeArgs),
    /// Delete a pool and its unclaimed members; clusters claimed from it stay
    Rm(PoolNameArgs),
    /// Make the pool whole (started by claims; not for people)
    #[command(hide = true)]
    Fill(PoolNameArgs),
}

#[derive(Debug, Args)]
pub struct PoolCreateArgs {
    /// Pool name: a DNS-1123 label of at most 40 characters (not a cluster's name)
    #[arg(value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// How many ready, never-used members the pool keeps (1 to 64)
    #[arg(long, value_parser = |t: &str| crate::pool::spec::parse_size(t, 1), allow_hyphen_values = true)]
    pub size: u32,

    /// Replace idle members older than this (e.g. 12h); claimed clusters are never touched
    #[arg(long, value_parser = parse_duration)]
    pub max_age: Option<Duration>,

    /// Replace the definition of a pool that exists (its members of the old plan are replaced)
    #[arg(long)]
    pub replace: bool,

    /// Restore every member from this snapshot (`kip snapshot save`) instead of making it: a claimed cluster starts where the snapshot left off. The snapshot fixes the images, the kind config, the registry and cache and the certificate SANs (those flags are refused); `kip snapshot rm` refuses a snapshot a pool uses. Local pools only
    #[arg(long, value_name = "SNAPSHOT", value_parser = crate::snapshot::parse_name)]
    pub from: Option<String>,

    /// Keep ready members frozen (`docker pause`): no CPU while they wait, at the cost of a slower claim (it thaws the member and waits for its kubelet to renew its lease; see BENCHMARKS.md). Local pools only
    #[arg(long)]
    pub paused: bool,

    #[command(flatten)]
    pub cluster: ClusterOptions,

    /// With --remote: the member Pods' scheduling and resources (a claim reaches a member by the claimer's own --endpoint)
    #[command(flatten)]
    pub pod: super::values::PodArgs,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct PoolListArgs {
    /// Only this pool
    #[arg(value_parser = crate::names::parse_cluster_name)]
    pub name: Option<String>,

    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct PoolResizeArgs {
    #[arg(value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// The new size (0 to 64)
    #[arg(value_parser = |t: &str| crate::pool::spec::parse_size(t, 0), allow_hyphen_values = true)]
    pub size: u32,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct PoolNameArgs {
    #[arg(value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    #[command(flatten)]
    pub target: TargetArgs,
}

impl PoolArgs {
    pub(super) fn target(&self) -> &TargetArgs {
        match &self.command {
            PoolCommand::Create(a) => &a.target,
            PoolCommand::List(a) => &a.target,
            PoolCommand::Resize(a) => &a.target,
            PoolCommand::Rm(a) | PoolCommand::Fill(a) => &a.target,
        }
    }

    pub fn settings(&self, global: &GlobalSettings) -> Result<PoolSettings> {
        Ok(match &self.command {
            PoolCommand::Create(a) => PoolSettings::Create {
                spec: Box::new(a.spec(global)?),
                replace: a.replace,
                from: a.from.clone(),
            },
            PoolCommand::List(a) => PoolSettings::List {
                name: a.name.clone(),
                output: a.output,
            },
            PoolCommand::Resize(a) => PoolSettings::Resize {
                name: a.name.clone(),
                size: a.size,
            },
            PoolCommand::Rm(a) => PoolSettings::Rm {
                name: a.name.clone(),
            },
            PoolCommand::Fill(a) => PoolSettings::Fill {
                name: a.name.clone(),
            },
        })
    }
}

impl PoolCreateArgs {
    /// The pool's definition: its members' plan as `up` would make a
    /// cluster, with the user's kind config read now (members made later
    /// must not read a file that changed). What a pool cannot honour is
    /// refused, naming the flag.
    fn spec(&self, global: &GlobalSettings) -> Result<PoolSpec> {
        let mut settings = self.cluster.settings(&global.config);
        if let Some((flag, why)) = refused_flag(&settings, &self.cluster.given) {
            return Err(Error::PoolFlagImpossible { flag, why }.into());
        }
        if self.from.is_some() {
            if let Some(flag) = fixed_by_snapshot(&settings) {
                return Err(Error::PoolFlagImpossible {
                    flag,
                    why: "members --from a snapshot are its cluster as it was saved \
                          (give it to the cluster you save, or make the pool without --from)",
                }
                .into());
            }
            // As `up --from`: the config file's images and cache are for
            // new clusters; flags (and KIP_IMAGE, KIP_DIND_IMAGE) are
            // checked against the snapshot's.
            settings.image = self.cluster.image.clone();
            settings.dind_image = self.cluster.dind_image.clone();
            settings.attach.mirror = None;
        }
        let kind_config =
            match &settings.kind_config {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    Error::KindConfigUnreadable {
                        path: path.clone(),
                        error: e.to_string(),
                    }
                })?),
                None => None,
            };
        if kind_config.as_deref().is_some_and(maps_host_ports) {
            return Err(Error::PoolFlagImpossible {
                flag: "--kind-config",
                why: "its extraPortMappings would need the same host ports in every member \
                      (drop them from the pool's config, or make a cluster with them)",
            }
            .into());
        }
        Ok(PoolSpec {
            name: self.name.clone(),
            size: self.size,
            plan: PoolPlan::new(&settings, kind_config, None),
            max_age: self.max_age,
            paused: self.paused,
        })
    }
}

/// Whether a kind config maps host ports (any node's `extraPortMappings`):
/// two members could not both publish them. A config kip cannot read is
/// left to `kip up`'s own checks.
fn maps_host_ports(kind_config: &str) -> bool {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(kind_config) else {
        return false;
    };
    let nodes = doc.get("nodes").and_then(|n| n.as_sequence());
    nodes.into_iter().flatten().any(|node| {
        node.get("extraPortMappings")
            .and_then(|m| m.as_sequence())
            .is_some_and(|m| !m.is_empty())
    })
}

/// The first flag given that a snapshot fixes (its cluster was made with
/// its own), which `--from` cannot honour; the images are checked against
/// the snapshot's instead, as `up --from` checks them.
fn fixed_by_snapshot(settings: &ClusterSettings) -> Option<&'static str> {
    let attach = &settings.attach;
    [
        (settings.kind_config.is_some(), "--kind-config"),
        (attach.registry.is_some(), "--registry"),
        (
            attach.mirror.is_some() && !attach.mirror_from_config,
            "--mirror",
        ),
        (!settings.cert_sans.is_empty(), "--cert-san"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// The first flag of `settings` a pool cannot honour, and why (`given`:
/// the flags as given, where a TTL from `KIP_TTL` is marked and allowed).
fn refused_flag(
    settings: &ClusterSettings,
    given: &[String],
) -> Option<(&'static str, &'static str)> {
    let refused = [
            (
                settings.api_port.is_some(),
                "--api-port",
                "each member needs a host port of its own (kip picks a free one)",
            ),
            (
                given
                    .iter()
                    .any(|g| g.starts_with("--ttl ") && !g.ends_with("(KIP_TTL)")),
                "--ttl",
                "a TTL is a claimed cluster's: `kip up NAME --pool POOL --ttl 1h`",
            ),
            (
                !settings.ports.is_empty(),
                "-p",
                "each member would need the same host ports (claim a member, or make a cluster with -p)",
            ),
            (
                settings.keep_on_failure,
                "--keep-on-failure",
                "members are made in the background, where no one debugs them",
            ),
            (
                settings.logs_dir.is_some(),
                "--logs-dir",
                "members are made in the background (their filler's log is in kip's state folder)",
            ),
        ];
    refused
        .into_iter()
        .find(|(bad, _, _)| *bad)
        .map(|(_, flag, why)| (flag, why))
}

#[cfg(test)]
mod tests {
    use super::maps_host_ports;

    #[test]
    fn a_kind_config_with_host_ports_is_told() {
        let mapped = "kind: Cluster\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n";
        assert!(maps_host_ports(mapped));
        assert!(!maps_host_ports(
            "kind: Cluster\nnodes:\n- role: control-plane\n- role: worker\n"
        ));
        assert!(!maps_host_ports("kind: Cluster\n"));
        assert!(!maps_host_ports(": not yaml ["));
    }
}

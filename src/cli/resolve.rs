//! The command line turned into settings: each command's flags, plus kip's
//! config file where the command reads it, resolved once into the plain
//! value the command takes. Nothing below this layer sees clap's types.

use super::{
    ClusterOptions, ConnectArgs, DoctorArgs, DownArgs, ExecArgs, GcArgs, KubeconfigArgs, ListArgs,
    LoadArgs, LogsArgs, RunArgs, SeedArgs, SeedCommand, SnapshotArgs, SnapshotCommand, StatusArgs,
    TargetArgs, UpArgs,
};
use crate::cluster::Request;
use crate::commands::connect::ConnectSettings;
use crate::commands::doctor::DoctorSettings;
use crate::commands::down::DownSettings;
use crate::commands::exec::ExecSettings;
use crate::commands::gc::GcSettings;
use crate::commands::kubeconfig::KubeconfigSettings;
use crate::commands::list::ListSettings;
use crate::commands::load::LoadSettings;
use crate::commands::logs::LogsSettings;
use crate::commands::run::RunSettings;
use crate::commands::seed::{SeedAction, SeedSettings};
use crate::commands::snapshot::SnapshotAction;
use crate::commands::status::StatusSettings;
use crate::commands::up::UpSettings;
use crate::config::ConfigFile;
use crate::error::Error;
use crate::kubeconfig::KubeconfigSource;
use crate::node::settings::ClusterSettings;
use crate::settings::{Environment, GlobalSettings};
use crate::snapshot::transfer::Place;
use anyhow::Result;
use std::path::Path;

/// The kubeconfig a command writes, by kubectl's rules: `--kubeconfig`,
/// else `$KUBECONFIG`, else the home folder's.
fn kubeconfig_source(flag: Option<&Path>, env: &Environment) -> KubeconfigSource {
    KubeconfigSource {
        flag: flag.map(Path::to_path_buf),
        env: env.kubeconfig.clone(),
        home: env.home.clone(),
    }
}

impl ClusterOptions {
    /// Flags win over the config file's `image`, `dindImage`, `ttl` and
    /// `mirror`.
    pub(super) fn settings(&self, config: &ConfigFile) -> ClusterSettings {
        ClusterSettings {
            image: self.image.clone().or_else(|| config.image.clone()),
            dind_image: self
                .dind_image
                .clone()
                .or_else(|| config.dind_image.clone()),
            node_env: self.node_env.clone(),
            api_port: self.api_port,
            wait: self.wait,
            ttl: self.ttl.or(config.ttl),
            labels: self.labels.clone(),
            keep_on_failure: self.keep_on_failure,
            logs_dir: self.logs_dir.clone(),
            security: self.security,
            network: self.network.clone(),
            mtu: self.mtu,
            iptables: self.iptables,
            cert_sans: self.cert_sans.clone(),
            kind_config: self.kind_config.clone(),
            kind_config_text: None,
            dockerd_args: self.dockerd_args.clone(),
            seed: !self.no_seed,
            given: self.given.clone(),
            ports: self.ports.clone(),
            attach: crate::registry::attach::Attach {
                registry: self.registry.clone(),
                mirror_from_config: self.mirror.is_none() && config.mirror.is_some(),
                mirror: self.mirror.clone().or_else(|| config.mirror.clone()),
                mirror_optional: self.mirror_optional,
            },
        }
    }
}

impl UpArgs {
    pub fn settings(&self, global: &GlobalSettings) -> UpSettings {
        let mut cluster = self.cluster.settings(&global.config);
        if self.from.is_some() {
            // A restore runs the snapshot's images: only flags can ask
            // for others (and are refused), not the config file.
            cluster.image = self.cluster.image.clone();
            cluster.dind_image = self.cluster.dind_image.clone();
        }
        UpSettings {
            request: Request {
                name: self.name.clone(),
                cluster,
                kubeconfig: kubeconfig_source(
                    self.target.kubeconfig.kubeconfig.as_deref(),
                    &global.env,
                ),
                switch_context: !self.no_switch_context,
                pool: crate::cluster::PoolRole::None,
            },
            recreate: self.recreate,
            pool: self.pool.clone().map(|pool| (pool, self.pool_wait)),
            from: self.from.clone(),
        }
    }
}

impl SnapshotArgs {
    pub fn action(&self) -> SnapshotAction {
        match &self.command {
            SnapshotCommand::Save {
                cluster,
                snapshot,
                stop,
                ..
            } => SnapshotAction::Save(crate::snapshot::save::SaveSettings {
                cluster: cluster.clone(),
                name: snapshot.clone(),
                stop: *stop,
            }),
            SnapshotCommand::List { output } => SnapshotAction::List(*output),
            SnapshotCommand::Rm { snapshots } => SnapshotAction::Remove(snapshots.clone()),
            SnapshotCommand::Export { snapshot, file } => {
                SnapshotAction::Export(snapshot.clone(), Place::parse(file))
            }
            SnapshotCommand::Import { file, snapshot } => {
                SnapshotAction::Import(Place::parse(file), snapshot.clone())
            }
        }
    }
}

impl RunArgs {
    /// `--reuse NAME`, or `--name NAME --reuse`: the cluster to use and leave.
    pub fn settings(&self, global: &GlobalSettings) -> Result<RunSettings> {
        let reuse = match (&self.reuse, &self.name) {
            (None, _) => None,
            (Some(Some(reuse)), Some(name)) if reuse != name => {
                return Err(Error::ReuseNamesDiffer {
                    name: name.clone(),
                    reuse: reuse.clone(),
                }
                .into())
            }
            (Some(Some(name)), _) | (Some(None), Some(name)) => Some(name.clone()),
            (Some(None), None) => return Err(Error::ReuseWithoutName.into()),
        };
        Ok(RunSettings {
            name: self.name.clone(),
            reuse,
            keep: self.keep,
            timeout: self.timeout,
            cluster: self.cluster.settings(&global.config),
            command: self.command.clone(),
            pool: self.pool.clone().map(|pool| (pool, self.pool_wait)),
            from: self.from.clone(),
        })
    }
}

impl DownArgs {
    /// The clusters named, else `kip`, as every other command defaults to
    /// (none with `--all`).
    pub(super) fn names(&self) -> Vec<&str> {
        match (self.names.is_empty(), self.all) {
            (_, true) => Vec::new(),
            (true, false) => vec![crate::names::DEFAULT_CLUSTER],
            (false, false) => self.names.iter().map(String::as_str).collect(),
        }
    }

    pub fn settings(&self, env: &Environment) -> DownSettings {
        DownSettings {
            names: self.names().into_iter().map(String::from).collect(),
            all: self.all,
            kubeconfig: kubeconfig_source(self.target.kubeconfig.kubeconfig.as_deref(), env),
        }
    }
}

impl ListArgs {
    pub fn settings(&self) -> ListSettings {
        ListSettings {
            output: self.output,
        }
    }
}

impl StatusArgs {
    pub fn settings(&self) -> StatusSettings {
        StatusSettings {
            name: self.name.clone(),
            output: self.output,
        }
    }
}

impl KubeconfigArgs {
    pub fn settings(&self) -> KubeconfigSettings {
        KubeconfigSettings {
            name: self.name.clone(),
            output: self.output.clone(),
            format: self.format,
        }
    }
}

impl LogsArgs {
    pub fn settings(&self) -> LogsSettings {
        LogsSettings {
            name: self.name.clone(),
            follow: self.follow,
            dockerd: self.dockerd,
            export: self.export.clone(),
        }
    }
}

impl ExecArgs {
    pub fn settings(&self) -> ExecSettings {
        ExecSettings {
            name: self.name.clone(),
            command: self.command.clone(),
            interactive: self.interactive,
        }
    }
}

impl ConnectArgs {
    pub fn settings(&self, env: &Environment) -> ConnectSettings {
        ConnectSettings {
            name: self.name.clone(),
            kubeconfig: kubeconfig_source(self.target.kubeconfig.kubeconfig.as_deref(), env),
        }
    }
}

impl DoctorArgs {
    /// The flag wins over the config file's `dindImage`, as for `up`.
    pub fn settings(&self, config: &ConfigFile) -> DoctorSettings {
        DoctorSettings {
            image: self
                .dind_image
                .clone()
                .or_else(|| config.dind_image.clone()),
            output: self.output,
        }
    }
}

impl GcArgs {
    pub fn settings(&self, env: &Environment) -> GcSettings {
        GcSettings {
            dry_run: self.dry_run,
            older_than: self.older_than,
            snapshots: self.snapshots,
            selector: self.selector.clone(),
            output: self.output,
            kubeconfig: kubeconfig_source(self.target.kubeconfig.kubeconfig.as_deref(), env),
        }
    }
}

impl SeedArgs {
    pub(super) fn target(&self) -> &TargetArgs {
        match &self.command {
            SeedCommand::List { target, .. } | SeedCommand::Rm { target, .. } => target,
        }
    }

    pub fn settings(&self) -> SeedSettings {
        SeedSettings {
            action: match &self.command {
                SeedCommand::List { output, .. } => SeedAction::List(*output),
                SeedCommand::Rm { keys, all, .. } => SeedAction::Remove {
                    keys: keys.clone(),
                    all: *all,
                },
            },
            dind_image: self.dind_image.clone(),
        }
    }
}

impl LoadArgs {
    pub fn settings(&self) -> LoadSettings {
        LoadSettings {
            name: self.name.clone(),
            images: self.images.clone(),
            archive: self.archive.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn down(args: &[&str]) -> DownSettings {
        let cli = Cli::try_parse_from(["kip", "down"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Down(args) => args.settings(&Environment::default()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn down_without_a_name_means_kip() {
        assert_eq!(down(&[]).names, ["kip"]);
        assert_eq!(down(&["a", "b"]).names, ["a", "b"]);
        let all = down(&["--all"]);
        assert!(all.all && all.names.is_empty());
        assert!(Cli::try_parse_from(["kip", "down", "a", "--all"]).is_err());
    }
}

//! What spans commands, resolved from the command line once before any
//! command runs: how kip reports, the settings every command runs with
//! (the environment and kip's config file), and whether remote mode puts
//! the nodes on a Kubernetes cluster, and which.

use super::{Cli, Command, PoolArgs, PoolCommand, SnapshotArgs, SnapshotCommand, TargetArgs};
use crate::config::ConfigFile;
use crate::output::OutputSettings;
use crate::provider::kube::{KubeOptions, KubeTarget};
use crate::settings::{Environment, GlobalSettings};
use anyhow::Result;

impl Cli {
    /// How kip reports, from `-q`, `--progress` and `NO_COLOR`.
    pub fn output_settings(&self, env: &Environment) -> OutputSettings {
        OutputSettings {
            quiet: self.quiet,
            progress: self.progress,
            color: !env.no_color,
        }
    }

    /// The settings every command runs with: the environment and kip's
    /// config file (read once, for the commands that read it).
    pub fn global_settings(&self, env: Environment) -> Result<GlobalSettings> {
        Ok(GlobalSettings {
            config: self.command.config_file(&env)?,
            env,
        })
    }
}

impl Command {
    /// kip's config file, read once, for the commands that read it (those
    /// that make clusters or find them): one that does not parse is an
    /// error. The others get the defaults.
    fn config_file(&self, env: &Environment) -> Result<ConfigFile> {
        match self {
            Command::Up(_)
            | Command::Run(_)
            | Command::Pool(PoolArgs {
                command: PoolCommand::Create(_),
            }) => ConfigFile::load(env.config_file.as_deref(), env.config_dir.as_deref()),
            _ if self.target().is_some() => {
                ConfigFile::load(env.config_file.as_deref(), env.config_dir.as_deref())
            }
            _ => Ok(ConfigFile::default()),
        }
    }

    /// The target arguments of a command that has them, and the cluster it
    /// names (for what kip recorded of it).
    fn target(&self) -> Option<(&TargetArgs, Option<&str>)> {
        Some(match self {
            Command::Up(a) => (&a.target, Some(a.name.as_str())),
            Command::Down(a) => (&a.target, a.names().first().copied()),
            Command::List(a) => (&a.target, None),
            Command::Status(a) => (&a.target, Some(a.name.as_str())),
            Command::Kubeconfig(a) => (&a.target, Some(a.name.as_str())),
            Command::Logs(a) => (&a.target, Some(a.name.as_str())),
            Command::Exec(a) => (&a.target, Some(a.name.as_str())),
            Command::Connect(a) => (&a.target, Some(a.name.as_str())),
            Command::Gc(a) => (&a.target, None),
            Command::Load(a) => (&a.target, Some(a.name.as_str())),
            Command::Doctor(a) => (&a.target, None),
            Command::Pool(a) => (a.target(), None),
            Command::Seed(a) => (a.target(), None),
            Command::Snapshot(SnapshotArgs {
                command:
                    SnapshotCommand::Save {
                        target, cluster, ..
                    },
            }) => (target, Some(cluster.as_str())),
            Command::Run(a) => (
                &a.target,
                a.name
                    .as_deref()
                    .or(a.reuse.as_ref().and_then(|r| r.as_deref())),
            ),
            _ => return None,
        })
    }

    /// The Kubernetes cluster this command's nodes are on, and the cluster
    /// it names, when remote mode is on: `--remote`, `--context`,
    /// `--namespace`, KIP_REMOTE, or the config file's `remote: true`
    /// (unless KIP_REMOTE says otherwise: KIP_REMOTE=0 is local).
    pub fn remote_target(&self, global: &GlobalSettings) -> Option<(KubeTarget, Option<&str>)> {
        let (target, cluster) = self.target()?;
        let by_default = || !global.env.remote_var_set && global.config.remote;
        (target.remote.enabled() || by_default()).then(|| (target.kube_target(), cluster))
    }

    /// What the Kubernetes provider makes or shows for this command.
    pub fn kube_options(&self) -> KubeOptions {
        match self {
            Command::Up(a) => KubeOptions {
                pod: a.pod.options(),
                wait: Some(a.cluster.wait),
                all_namespaces: false,
            },
            Command::Run(a) => KubeOptions {
                pod: a.pod.options(),
                wait: Some(a.cluster.wait),
                all_namespaces: false,
            },
            Command::List(a) => KubeOptions {
                all_namespaces: a.all_namespaces,
                ..KubeOptions::default()
            },
            Command::Doctor(a) => KubeOptions {
                pod: a.pod.options(),
                ..KubeOptions::default()
            },
            Command::Pool(a) => match &a.command {
                crate::cli::pool::PoolCommand::Create(c) => KubeOptions {
                    pod: c.pod.options(),
                    ..KubeOptions::default()
                },
                _ => KubeOptions::default(),
            },
            _ => KubeOptions::default(),
        }
    }
}

impl TargetArgs {
    pub fn kube_target(&self) -> KubeTarget {
        KubeTarget {
            context: self.remote.context.clone(),
            namespace: self.remote.namespace.clone(),
            kubeconfig: self.kubeconfig.kubeconfig.clone(),
        }
    }
}

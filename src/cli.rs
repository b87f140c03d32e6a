//! The command line, and nothing else: completions, the man page and `--help`
//! all come from these types. `resolve` turns them into each command's
//! settings; `generate` writes the completion scripts and the man page.
//! Over 400 lines because it is the whole command line, one type per
//! command, kept in one place so `--help` reads as one document.

pub mod generate;
mod global;
mod pool;
mod registry;
mod resolve;
mod values;

use crate::node::ports::HostPort;
use crate::node::{IptablesMode, SecurityMode};
use crate::output::{KubeconfigFormat, OutputFormat, ProgressFormat, StatusFormat};
use clap::{Args, Parser, Subcommand};
pub use pool::{PoolArgs, PoolCommand};
pub use registry::RegistryArgs;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "kip",
    version,
    about = "Throwaway, fully compliant Kubernetes clusters: kind inside a Docker-in-Docker node, in one command",
    propagate_version = true
)]
pub struct Cli {
    /// Print nothing but errors and requested data
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// How progress is shown on stderr: for people, or one JSON object per line
    #[arg(
        long,
        value_enum,
        global = true,
        default_value = "human",
        env = "KIP_PROGRESS"
    )]
    pub progress: ProgressFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a cluster (or re-export the kubeconfig of a running one)
    Up(Box<UpArgs>),
    /// Delete clusters: the node, its volume and its kubeconfig entries
    Down(DownArgs),
    /// List kip clusters
    List(ListArgs),
    /// Show a cluster's phase, age, endpoint, image and versions
    Status(StatusArgs),
    /// Print a cluster's kubeconfig to stdout (or --output FILE)
    Kubeconfig(KubeconfigArgs),
    /// Print the node's bootstrap log (or its dockerd log)
    Logs(LogsArgs),
    /// Run a command inside a cluster's node; its exit code is passed through
    Exec(ExecArgs),
    /// Check this machine and Docker engine (or, with --remote, the shared cluster) for what breaks clusters
    Doctor(DoctorArgs),
    /// Create a cluster, run CMD against it, and always delete the cluster
    Run(Box<RunArgs>),
    /// Delete expired clusters (--ttl), or old ones (--older-than), and unused seeds; snapshots only with --snapshots --older-than (never otherwise)
    Gc(GcArgs),
    /// Load images from the host into a cluster
    Load(LoadArgs),
    /// Registries on this Docker engine for clusters to pull from: a local one, or a pull-through cache
    Registry(RegistryArgs),
    /// List or remove seeds: kind node images unpacked once per engine, which new nodes get in about a second
    Seed(SeedArgs),
    /// Save a running cluster whole (objects, images, volumes) and list or remove snapshots; `kip up NEW --from SNAPSHOT` restores one
    Snapshot(SnapshotArgs),
    /// Restart the port-forward of a remote cluster (forwarded endpoint)
    Connect(ConnectArgs),
    /// Warm pools of ready clusters: `kip up NAME --pool POOL` claims one in well under a second
    Pool(PoolArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Serve a remote cluster's port-forward (started by up and connect)
    #[command(hide = true)]
    Forwarder(ForwarderArgs),
    /// Print the man page (roff)
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Clone, Default, Args)]
pub struct KubeconfigFileArg {
    /// The kubeconfig file to update (default: kubectl's rules: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// Where remote nodes run: a Kubernetes cluster picked the way kubectl picks
/// one. `--context` or `--namespace` imply `--remote`.
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Work with nodes that run as Pods on a Kubernetes cluster (remote mode)
    #[arg(long, env = "KIP_REMOTE", value_parser = clap::builder::FalseyValueParser::new())]
    pub remote: bool,

    /// The kubeconfig context of the cluster that runs remote nodes (default: the one this cluster was made with, else the current one)
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,

    /// The namespace of remote nodes (default: the one this cluster was made with, else the context's, else "default")
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

impl RemoteArgs {
    pub fn enabled(&self) -> bool {
        self.remote || self.context.is_some() || self.namespace.is_some()
    }
}

/// Where a command finds its clusters: the kubeconfig it updates (or, in
/// remote mode, reads the target from) and the remote-mode options.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub kubeconfig: KubeconfigFileArg,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Cluster name: a DNS-1123 label of at most 40 characters
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Delete an existing cluster of this name first
    #[arg(long)]
    pub recreate: bool,

    /// Print the node plan as YAML (JSON with -o json) and change nothing; with --from, also run the restore's checks and say what it would copy where
    #[arg(long)]
    pub dry_run: bool,

    /// Make the cluster from a snapshot (`kip snapshot save`): where it left off, with no network. With --remote the snapshot (on the local engine) is streamed into the node Pod whole, which is slower than a fresh `kip up --remote` on an outer node with a seed (the stream alone took longer than a whole fresh up: BENCHMARKS.md)
    #[arg(long, value_name = "SNAPSHOT", value_parser = crate::snapshot::parse_name, conflicts_with_all = ["recreate", "pool"])]
    pub from: Option<String>,

    /// Do not make the new context the current one
    #[arg(long)]
    pub no_switch_context: bool,

    /// Print the result as JSON on stdout
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    /// Claim a ready member of this warm pool (`kip pool`) as the cluster; with none ready, make it fresh from the pool's plan (or wait: --pool-wait). Flags that shape a node (--image, --api-port, --network, --kind-config, ...) are refused with --pool: the pool's plan decides them; --ttl and --label are the claim's
    #[arg(long, value_name = "POOL", value_parser = crate::names::parse_cluster_name)]
    pub pool: Option<String>,

    /// With --pool: wait (within --wait) for a ready member instead of making the cluster fresh
    #[arg(long, requires = "pool")]
    pub pool_wait: bool,

    #[command(flatten)]
    pub cluster: ClusterOptions,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten, next_help_heading = "Remote node Pod (--remote)")]
    pub pod: values::PodArgs,
}

/// How a cluster is made: shared by `up` and `run`.
#[derive(Debug, Clone, Args)]
pub struct ClusterOptions {
    /// kind node image: the Kubernetes the cluster runs, as kind's --image (default: kind v0.32.0's kindest/node:v1.36.1, pinned by digest)
    #[arg(long, env = "KIP_IMAGE", value_parser = parse_image)]
    pub image: Option<String>,

    /// Docker-in-Docker image the node runs (default: kip's node image, built locally on first use)
    #[arg(long, env = "KIP_DIND_IMAGE", value_parser = parse_image)]
    pub dind_image: Option<String>,

    /// Environment for the node's bootstrap, KEY=VALUE (repeatable; for debugging, e.g. KIP_KMSG_CREATE=false)
    #[arg(long = "node-env", value_name = "KEY=VALUE", value_parser = parse_node_env, hide = true)]
    pub node_env: Vec<(String, String)>,

    /// Host port for the API server on 127.0.0.1 (default: a free port)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub api_port: Option<u16>,

    /// How long to wait for the API server to answer /readyz
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub wait: Duration,

    /// Delete the cluster after this long, with `kip gc` (e.g. 2h)
    #[arg(long, env = "KIP_TTL", value_parser = crate::config::parse_ttl)]
    pub ttl: Option<Duration>,

    /// An extra label for the node and its volume, KEY=VALUE (repeatable; see `kip gc --selector`)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Leave the node in place when `up` fails or is interrupted, for debugging
    #[arg(long)]
    pub keep_on_failure: bool,

    /// On failure, collect the logs bundle into DIR before cleaning up
    #[arg(long, value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,

    /// How the node container gets its privileges
    #[arg(long, value_enum, default_value = "auto", env = "KIP_SECURITY")]
    pub security: SecurityMode,

    /// Docker network for the node (default: the engine's default bridge)
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,

    /// MTU of the node's inner Docker bridge (default: the node's own interface MTU)
    #[arg(long, value_parser = clap::value_parser!(u32).range(576..=65535))]
    pub mtu: Option<u32>,

    /// iptables backend for the node's inner Docker
    #[arg(long, value_enum, default_value = "auto")]
    pub iptables: IptablesMode,

    /// Extra name or IP for the API server certificate (repeatable)
    #[arg(long = "cert-san", value_name = "NAME", value_parser = parse_cert_san)]
    pub cert_sans: Vec<String>,

    /// A kind config of your own to merge with kip's (nodes, feature gates, patches, port mappings)
    #[arg(long, value_name = "FILE")]
    pub kind_config: Option<PathBuf>,

    /// Extra argument for the node's dockerd (repeatable)
    #[arg(long = "dockerd-arg", value_name = "ARG", allow_hyphen_values = true, value_parser = parse_dockerd_arg)]
    pub dockerd_args: Vec<String>,

    /// Publish a port of this machine to the control-plane node, as kind's extraPortMappings (repeatable; local only, refused with --remote)
    #[arg(short = 'p', long = "port", value_name = "[ADDRESS:]HOST:CONTAINER[/udp]", value_parser = crate::node::ports::parse_port_flag)]
    pub ports: Vec<HostPort>,

    /// Let pods pull localhost:PORT/… images from this kip registry (`kip registry create NAME`; local only)
    #[arg(long, value_name = "NAME", value_parser = crate::registry::parse_name)]
    pub registry: Option<String>,

    /// Pull docker.io (or the registry a kip cache mirrors) through this pull-through cache: a kip registry's name, or a cache's URL (the only kind with --remote)
    #[arg(long, value_name = "NAME|URL", env = "KIP_MIRROR")]
    pub mirror: Option<String>,

    /// Make the cluster without the cache when the cache's upstream does not answer
    #[arg(long)]
    pub mirror_optional: bool,

    /// Stream the kind node image into the node instead of giving it the engine's seed of that image (made on first use)
    #[arg(long, env = "KIP_NO_SEED", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_seed: bool,

    /// The flags above that shape a new cluster, as given on the command
    /// line (and KIP_TTL): what `up` reports as ignored when the cluster
    /// already exists. Filled by `Cli::parse_given`.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// The `ClusterOptions` that only shape a new cluster (not `--wait`,
/// `--keep-on-failure` or `--logs-dir`, which are about the run).
const SHAPING_ARGS: [&str; 16] = [
    "image",
    "dind_image",
    "node_env",
    "api_port",
    "ttl",
    "labels",
    "security",
    "network",
    "mtu",
    "iptables",
    "cert_sans",
    "kind_config",
    "dockerd_args",
    "ports",
    "registry",
    "mirror",
];

impl Cli {
    /// Parses the command line (exiting on bad usage, as `Cli::parse`
    /// does), noting which cluster-shaping flags `up` and `run` were given.
    pub fn parse_given() -> Cli {
        use clap::CommandFactory;
        Cli::with_given(&Cli::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    fn with_given(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
        use clap::FromArgMatches;
        let mut cli = Cli::from_arg_matches(matches)?;
        let (sub, options) = match &mut cli.command {
            Command::Up(args) => (vec!["up"], &mut args.cluster),
            Command::Run(args) => (vec!["run"], &mut args.cluster),
            Command::Pool(PoolArgs {
                command: PoolCommand::Create(args),
            }) => (vec!["pool", "create"], &mut args.cluster),
            _ => return Ok(cli),
        };
        let matches = sub
            .iter()
            .try_fold(matches, |m, name| m.subcommand_matches(name));
        if let Some(matches) = matches {
            options.given = given_flags(matches);
        }
        Ok(cli)
    }
}

/// `--ttl 1h`, `--mtu 1400`, …: the shaping flags given on the command
/// line, and a TTL from KIP_TTL (CI jobs set it for leak protection).
fn given_flags(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    let mut given = Vec::new();
    for id in SHAPING_ARGS {
        let source = matches.value_source(id);
        let flag = format!("--{}", id.replace('_', "-"));
        let flag = match id {
            "labels" => "--label".to_string(),
            "cert_sans" => "--cert-san".to_string(),
            "dockerd_args" => "--dockerd-arg".to_string(),
            "ports" => "--port".to_string(),
            _ => flag,
        };
        let values = || {
            matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|v| format!("{flag} {}", v.to_string_lossy()))
                .collect::<Vec<_>>()
        };
        match source {
            Some(ValueSource::CommandLine) => given.extend(values()),
            Some(ValueSource::EnvVariable) if id == "ttl" => {
                given.extend(values().into_iter().map(|v| format!("{v} (KIP_TTL)")));
            }
            _ => {}
        }
    }
    given
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Cluster name (default: run-<random>); an existing cluster of this name is refused unless --reuse
    #[arg(long, value_parser = crate::names::parse_cluster_name)]
    pub name: Option<String>,

    /// Use this existing cluster (or --name's) instead of creating one; it is left in place
    #[arg(long, value_name = "NAME", num_args = 0..=1, value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub reuse: Option<Option<String>>,

    /// Keep the cluster after CMD ends
    #[arg(long)]
    pub keep: bool,

    /// Stop CMD and its process group (SIGTERM, then SIGKILL after 10s) when it runs longer than this
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Claim a ready member of this warm pool (`kip pool`) instead of making the cluster; with none ready, make it fresh from the pool's plan (or wait: --pool-wait). Flags that shape a node are refused with --pool: the pool's plan decides them
    #[arg(long, value_name = "POOL", value_parser = crate::names::parse_cluster_name, conflicts_with = "reuse")]
    pub pool: Option<String>,

    /// Make the cluster from a snapshot (`kip snapshot save`, `kip snapshot import`): where it left off, with no network; local engine only
    #[arg(long, value_name = "SNAPSHOT", value_parser = crate::snapshot::parse_name, conflicts_with_all = ["reuse", "pool"])]
    pub from: Option<String>,

    /// With --pool: wait (within --wait) for a ready member instead of making the cluster fresh
    #[arg(long, requires = "pool")]
    pub pool_wait: bool,

    #[command(flatten)]
    pub cluster: ClusterOptions,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten, next_help_heading = "Remote node Pod (--remote)")]
    pub pod: values::PodArgs,

    /// The command to run with KUBECONFIG set, and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// List what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also delete clusters without a TTL that are older than this (e.g. 24h)
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Option<Duration>,

    /// Also delete snapshots older than --older-than (local engine; -l does not apply to them); without this flag gc never deletes a snapshot
    #[arg(long, requires = "older_than")]
    pub snapshots: bool,

    /// Only clusters with this label, KEY=VALUE (repeatable: all must match)
    #[arg(long = "selector", short = 'l', value_name = "KEY=VALUE", value_parser = parse_label)]
    pub selector: Vec<(String, String)>,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Images from the host's Docker engine
    #[arg(value_name = "IMAGE", required_unless_present = "archive")]
    pub images: Vec<String>,

    /// An image archive (`docker save` output) instead of images
    #[arg(long, value_name = "FILE", conflicts_with = "images", value_parser = parse_archive)]
    pub archive: Option<PathBuf>,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(subcommand)]
    pub command: SeedCommand,

    /// Docker-in-Docker image to run the seed store's helper container in (default: the image of the node that made the store, else kip's node image)
    #[arg(long, env = "KIP_DIND_IMAGE", value_parser = parse_image, global = true)]
    pub dind_image: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// List this engine's seeds (with --remote: those on the shared cluster's outer nodes): image, size, last use and the clusters made from each
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value = "table")]
        output: OutputFormat,

        #[command(flatten)]
        target: TargetArgs,
    },
    /// Remove seeds that no cluster uses (`kip down` never does); a node made later makes its seed again
    Rm {
        /// Seeds to remove, by key or a unique prefix of one (see `kip seed list`)
        #[arg(value_name = "KEY", required_unless_present = "all")]
        keys: Vec<String>,

        /// Every seed no cluster uses
        #[arg(long, conflicts_with = "keys")]
        all: bool,

        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Save CLUSTER as SNAPSHOT: the cluster keeps running, frozen only while its node's volume is copied; with --remote, a remote cluster's node streamed out of its Pod into a snapshot on the local engine, frozen for the whole stream (about a minute for a small real-kind cluster: BENCHMARKS.md)
    Save {
        /// The cluster to save
        #[arg(value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
        cluster: String,

        /// The snapshot's name (its volume is kip-snap-SNAPSHOT)
        #[arg(value_parser = crate::snapshot::parse_name)]
        snapshot: String,

        /// Stop the cluster cleanly for the copy (and start it again) instead of freezing it
        #[arg(long)]
        stop: bool,

        #[command(flatten)]
        target: TargetArgs,
    },
    /// List this engine's snapshots: source, Kubernetes version, size, when
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Write SNAPSHOT to FILE as a compressed archive (gzip of a tar; `-`: stdout) to carry it to another engine (a CI cache, an artifact); the seed's image layers it mounts go in too
    Export {
        /// The snapshot to export
        #[arg(value_parser = crate::snapshot::parse_name)]
        snapshot: String,

        /// The archive to write (not overwritten if it exists), or `-` for stdout
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Make SNAPSHOT from an archive `kip snapshot export` wrote (`-`: stdin); a truncated, corrupted or foreign archive is refused with nothing made
    Import {
        /// The archive to read, or `-` for stdin
        #[arg(value_name = "FILE")]
        file: String,

        /// The new snapshot's name (any name: it need not be the exported one's)
        #[arg(value_parser = crate::snapshot::parse_name)]
        snapshot: String,
    },
    /// Remove snapshots (clusters restored from them keep their own copy)
    Rm {
        /// Snapshots to remove
        #[arg(required = true, value_parser = crate::snapshot::parse_name)]
        snapshots: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Clusters to delete (default: kip)
    #[arg(value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub names: Vec<String>,

    /// Delete every kip cluster on this Docker engine
    #[arg(long, conflicts_with = "names")]
    pub all: bool,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,

    /// With --remote: every namespace, not one
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("kubeconfig", |a| a.help("With --remote: the kubeconfig that reaches the cluster running the node")))]
pub struct KubeconfigArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Write to FILE (mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// yaml, or json (kubectl reads both)
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: KubeconfigFormat,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Keep printing new lines
    #[arg(short, long)]
    pub follow: bool,

    /// Print the node's dockerd log instead of the bootstrap log
    #[arg(long, conflicts_with = "export")]
    pub dockerd: bool,

    /// Write the whole logs bundle into DIR instead
    #[arg(long, value_name = "DIR", conflicts_with = "follow")]
    pub export: Option<PathBuf>,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    /// Pass stdin to the command
    #[arg(short, long)]
    pub interactive: bool,

    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name, add = clap_complete::ArgValueCandidates::new(generate::cluster_names))]
    pub name: String,

    #[command(flatten)]
    pub target: TargetArgs,
}

/// The detached port-forward of a remote cluster (started by `up` and
/// `connect`; not for people).
#[derive(Debug, Args)]
pub struct ForwarderArgs {
    pub name: String,
    #[arg(long)]
    pub port: u16,
    /// The node Pod (a cluster claimed from a pool is its member's Pod)
    #[arg(long)]
    pub pod: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("kubeconfig", |a| a.help("With --remote: the kubeconfig that reaches the cluster to check")))]
pub struct DoctorArgs {
    /// Docker-in-Docker image for the privileged-container check, or the node Pod --remote dry-runs (default: kip's node image)
    #[arg(long, env = "KIP_DIND_IMAGE", value_parser = parse_image)]
    pub dind_image: Option<String>,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,

    #[command(flatten)]
    pub target: TargetArgs,

    // The node Pod `up --remote` would make: the dry run's.
    #[command(flatten, next_help_heading = "Remote node Pod (--remote)")]
    pub pod: values::PodArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    #[arg(value_parser = ["bash", "zsh", "fish", "powershell", "elvish"])]
    pub shell: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

/// `--image`, `--dind-image` (and their KIP_IMAGE, KIP_DIND_IMAGE): an
/// empty value would become a Pod or container with no image, and one
/// Docker cannot read would fail only once things are being made.
fn parse_image(text: &str) -> Result<String, String> {
    crate::node::reference::check(text).map_err(|why| {
        if text.trim().is_empty() {
            format!(
                "{why}: give one, or leave the flag and its environment variable unset for kip's default"
            )
        } else {
            why
        }
    })?;
    Ok(text.to_string())
}

/// `--archive`: a regular file, refused before anything else otherwise (a
/// folder or a FIFO would leave `docker load` in the node waiting).
fn parse_archive(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    crate::commands::load::check_archive(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// `--cert-san`: an IP address or a DNS name (a wildcard `*.` allowed), as
/// kubeadm accepts in certSANs; anything else would fail inside the node.
fn parse_cert_san(text: &str) -> Result<String, String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok(text.to_string());
    }
    let name = text.strip_prefix("*.").unwrap_or(text);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !name.is_empty() && text.len() <= 253 && name.split('.').all(label_ok) {
        return Ok(text.to_string());
    }
    Err(format!(
        "{text:?} is neither an IP address nor a DNS name (lowercase letters, digits, '-' and '.', \
         e.g. api.example.com or 10.0.0.5); pass one name per --cert-san"
    ))
}

fn parse_dockerd_arg(arg: &str) -> Result<String, String> {
    if arg.is_empty() || arg.chars().any(char::is_whitespace) {
        return Err(
            "pass one dockerd argument per flag, without spaces (e.g. --dockerd-arg=--debug)"
                .into(),
        );
    }
    Ok(arg.to_string())
}

/// `--node-env`: only the bootstrap's own switches (KIP_*), so it cannot
/// shadow what the node needs (PATH, ...).
fn parse_node_env(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE (e.g. KIP_KMSG_CREATE=false)".to_string())?;
    if !key.starts_with("KIP_")
        || !key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "{key:?} is not one of the bootstrap's KIP_* variables"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE (e.g. team=payments)".to_string())?;
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '=') {
        return Err(format!("{key:?} is not a label key"));
    }
    if key.starts_with("dev.kip.") {
        return Err("keys under dev.kip. are kip's own".into());
    }
    Ok((key.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(args: &[&str]) -> Vec<String> {
        use clap::CommandFactory;
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        match Cli::with_given(&matches).unwrap().command {
            Command::Up(up) => up.cluster.given,
            Command::Run(run) => run.cluster.given,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_shaping_flags_are_noted_as_typed() {
        assert_eq!(
            given(&[
                "kip",
                "up",
                "x",
                "--label",
                "a=b",
                "--label",
                "c=d",
                "--api-port",
                "7000",
                "--wait",
                "1m",
                "--security",
                "caps",
                "--cert-san",
                "x.example.com",
            ]),
            [
                "--api-port 7000",
                "--label a=b",
                "--label c=d",
                "--security caps",
                "--cert-san x.example.com",
            ]
        );
        // Defaults (--security auto, --iptables auto) and run-only flags are not given.
        assert!(given(&["kip", "up", "x", "--keep-on-failure"]).is_empty());
        assert_eq!(
            given(&["kip", "run", "--reuse", "x", "--ttl", "1h", "--", "true"]),
            ["--ttl 1h"]
        );
    }

    #[test]
    fn cert_sans_are_names_or_addresses() {
        for ok in [
            "api.example.com",
            "localhost",
            "*.example.com",
            "10.0.0.5",
            "::1",
            "a-1.b",
        ] {
            assert_eq!(parse_cert_san(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "a b",
            "",
            " ",
            "API.example.com",
            "-a.com",
            "a..b",
            "a_b",
            "x.",
            "*.",
        ] {
            let err = parse_cert_san(bad).unwrap_err();
            assert!(
                err.contains("neither an IP address nor a DNS name"),
                "{bad}: {err}"
            );
        }
    }
}

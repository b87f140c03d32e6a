//! The command line, and nothing else: completions, the man page and `--help`
//! all come from these types.

use clap::{Args, Parser, Subcommand, ValueEnum};
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

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a cluster (or re-export the kubeconfig of a running one)
    Up(UpArgs),
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
    /// Check this machine and Docker engine for what breaks clusters
    Doctor(DoctorArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    /// Try privileged; if the engine refuses it, fall back to `caps`
    Auto,
    /// A privileged container
    Privileged,
    /// All capabilities but SYS_RESOURCE, unconfined seccomp/AppArmor, all devices
    Caps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IptablesMode {
    /// Legacy when legacy tables already hold rules or nft is unusable, else nft
    Auto,
    Legacy,
    Nft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct KubeconfigFileArg {
    /// The kubeconfig file to update (default: kubectl's rules: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Cluster name: a DNS-1123 label of at most 40 characters
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// Node image (default: kip's node image, built locally on first use)
    #[arg(long, env = "KIP_IMAGE")]
    pub image: Option<String>,

    /// Host port for the API server on 127.0.0.1 (default: a free port)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub api_port: Option<u16>,

    /// How long to wait for the API server to answer /readyz
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub wait: Duration,

    /// Delete an existing cluster of this name first
    #[arg(long)]
    pub recreate: bool,

    /// Print the node plan as YAML and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Leave the node in place when `up` fails or is interrupted, for debugging
    #[arg(long)]
    pub keep_on_failure: bool,

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
    #[arg(long = "cert-san", value_name = "NAME")]
    pub cert_sans: Vec<String>,

    /// A kind config of your own to merge with kip's (nodes, feature gates, patches, port mappings)
    #[arg(long, value_name = "FILE")]
    pub kind_config: Option<PathBuf>,

    /// Extra argument for the node's dockerd (repeatable)
    #[arg(long = "dockerd-arg", value_name = "ARG", allow_hyphen_values = true, value_parser = parse_dockerd_arg)]
    pub dockerd_args: Vec<String>,

    /// Do not make the new context the current one
    #[arg(long)]
    pub no_switch_context: bool,

    #[command(flatten)]
    pub kubeconfig: KubeconfigFileArg,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Clusters to delete
    #[arg(value_parser = crate::names::parse_cluster_name, required_unless_present = "all")]
    pub names: Vec<String>,

    /// Delete every kip cluster on this Docker engine
    #[arg(long, conflicts_with = "names")]
    pub all: bool,

    #[command(flatten)]
    pub kubeconfig: KubeconfigFileArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,
}

#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// Write to FILE (mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(default_value = "kip", value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// Keep printing new lines
    #[arg(short, long)]
    pub follow: bool,

    /// Print the node's dockerd log instead of the bootstrap log
    #[arg(long)]
    pub dockerd: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(value_parser = crate::names::parse_cluster_name)]
    pub name: String,

    /// Pass stdin to the command
    #[arg(short, long)]
    pub interactive: bool,

    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Node image for the privileged-container check (default: kip's node image)
    #[arg(long, env = "KIP_IMAGE")]
    pub image: Option<String>,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 90s, 5m, 1h30m)"))
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

//! How a cluster is made, as `up` and `run` take it from their flags and
//! kip's config file; `Default` is what `kip up NAME` makes with no flags
//! (and what `kip doctor --remote` dry-runs).

use super::ports::HostPort;
use super::{IptablesMode, SecurityMode, DEFAULT_KIND_IMAGE};
use crate::registry::attach::Attach;
use std::path::PathBuf;
use std::time::Duration;

/// How long `up` waits for the API server by default (`--wait`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// How a cluster is made: shared by `up` and `run`. Flags win over the
/// config file's `image`, `dindImage` and `ttl`.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The kind node image; None: kind's default (DEFAULT_KIND_IMAGE).
    pub image: Option<String>,
    /// The Docker-in-Docker image; None: kip's default node image.
    pub dind_image: Option<String>,
    /// Extra environment for the node's bootstrap (debugging).
    pub node_env: Vec<(String, String)>,
    pub api_port: Option<u16>,
    /// How long to wait for the API server to answer /readyz.
    pub wait: Duration,
    pub ttl: Option<Duration>,
    pub labels: Vec<(String, String)>,
    pub keep_on_failure: bool,
    /// Where to collect the logs bundle on failure.
    pub logs_dir: Option<PathBuf>,
    pub security: SecurityMode,
    pub network: Option<String>,
    pub mtu: Option<u32>,
    pub iptables: IptablesMode,
    pub cert_sans: Vec<String>,
    /// A user's kind config to merge with kip's.
    pub kind_config: Option<PathBuf>,
    /// A kind config given by its text (a pool's members: the text the
    /// pool was made with).
    pub kind_config_text: Option<String>,
    pub dockerd_args: Vec<String>,
    /// A local node gets the kind node image from the engine's seed of it
    /// (`crate::seed`); false: streamed into the node alone (`--no-seed`).
    pub seed: bool,
    /// The flags that shape a new cluster, as given (`--ttl 1h`): ignored,
    /// and said to be, when the cluster already exists.
    pub given: Vec<String>,
    /// Host ports from `-p` (a kind config's are read from it).
    pub ports: Vec<HostPort>,
    /// The registries to connect the cluster to (`--registry`, `--mirror`).
    pub attach: Attach,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            image: None,
            dind_image: None,
            node_env: Vec::new(),
            api_port: None,
            wait: DEFAULT_WAIT,
            ttl: None,
            labels: Vec::new(),
            keep_on_failure: false,
            logs_dir: None,
            security: SecurityMode::Auto,
            network: None,
            mtu: None,
            iptables: IptablesMode::Auto,
            cert_sans: Vec::new(),
            kind_config: None,
            kind_config_text: None,
            dockerd_args: Vec::new(),
            seed: true,
            given: Vec::new(),
            ports: Vec::new(),
            attach: Attach::default(),
        }
    }
}

impl ClusterSettings {
    /// The kind node image the cluster is made from.
    pub fn kind_image(&self) -> String {
        kind_image_of(self.image.as_deref())
    }
}

/// The kind node image `--image` names, or kind's default.
pub fn kind_image_of(image: Option<&str>) -> String {
    image.unwrap_or(DEFAULT_KIND_IMAGE).to_string()
}

//! The command line's side of kip's value types: the words each enum takes
//! on the command line (with the help `--help` shows for them), and the
//! remote node Pod's flags. The types themselves know nothing of clap.

use crate::node::pod_options::{EndpointMode, PodOptions, Toleration};
use crate::node::{IptablesMode, SecurityMode};
use crate::output::{KubeconfigFormat, OutputFormat, ProgressFormat, StatusFormat};
use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

/// `impl ValueEnum`: each variant, its word on the command line, and the
/// help shown for it.
macro_rules! value_enum {
    ($ty:ident { $($variant:ident => $word:literal $(, $help:literal)?;)* }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($ty::$variant),*]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($ty::$variant => PossibleValue::new($word)$(.help($help))?,)*
                })
            }
        }
    };
}

value_enum!(SecurityMode {
    Auto => "auto", "Try privileged; if the engine refuses it, fall back to `caps`";
    Privileged => "privileged", "A privileged container";
    Caps => "caps", "All capabilities but SYS_RESOURCE, unconfined seccomp/AppArmor, all devices";
});

value_enum!(IptablesMode {
    Auto => "auto", "Legacy when legacy tables already hold rules or nft is unusable, else nft";
    Legacy => "legacy";
    Nft => "nft";
});

value_enum!(EndpointMode {
    Forwarded => "forwarded",
        "A supervised port-forward on 127.0.0.1 that outlives the command (default outside a cluster)";
    PodIp => "pod-ip", "The Pod's IP, for clients inside the same cluster (default when kip runs in a Pod)";
    Service => "service", "A ClusterIP Service and its DNS name";
});

value_enum!(ProgressFormat {
    Human => "human";
    Json => "json";
});

value_enum!(OutputFormat {
    Table => "table";
    Json => "json";
});

value_enum!(StatusFormat {
    Text => "text";
    Json => "json";
});

value_enum!(KubeconfigFormat {
    Yaml => "yaml";
    Json => "json";
});

/// The remote node Pod's scheduling and resources (`kip up --remote`).
#[derive(Debug, Clone, Args)]
pub struct PodArgs {
    /// How the API server is reached (default: forwarded, or pod-ip inside a cluster)
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointMode>,

    /// Node selector for the node Pod (repeatable)
    #[arg(long = "node-selector", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub node_selectors: Vec<(String, String)>,

    /// Toleration for the node Pod: KEY[=VALUE]:EFFECT, or KEY:EFFECT for Exists (repeatable)
    #[arg(long = "toleration", value_name = "KEY[=VALUE]:EFFECT", value_parser = Toleration::parse)]
    pub tolerations: Vec<Toleration>,

    /// PriorityClass of the node Pod
    #[arg(long, value_name = "NAME")]
    pub priority_class: Option<String>,

    /// Image pull secret for the node image (repeatable)
    #[arg(long = "image-pull-secret", value_name = "NAME")]
    pub image_pull_secrets: Vec<String>,

    /// Extra annotation on the node Pod (repeatable)
    #[arg(long = "pod-annotation", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub annotations: Vec<(String, String)>,

    /// CPU request of the node Pod
    #[arg(long, default_value = "1", value_name = "QUANTITY")]
    pub cpu: String,

    /// Memory request of the node Pod
    #[arg(long, default_value = "2Gi", value_name = "QUANTITY")]
    pub memory: String,

    /// Memory limit of the node Pod (kind's node is OOMKilled beyond it)
    #[arg(long, default_value = "8Gi", value_name = "QUANTITY")]
    pub memory_limit: String,
}

impl PodArgs {
    pub fn options(&self) -> PodOptions {
        PodOptions {
            endpoint: self.endpoint,
            node_selectors: self.node_selectors.clone(),
            tolerations: self.tolerations.clone(),
            priority_class: self.priority_class.clone(),
            image_pull_secrets: self.image_pull_secrets.clone(),
            annotations: self.annotations.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            memory_limit: self.memory_limit.clone(),
        }
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_string())?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    Ok((key.to_string(), value.to_string()))
}

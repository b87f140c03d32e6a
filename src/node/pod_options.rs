//! The remote node Pod's options (`kip up --remote`): how its API server is
//! reached, and its scheduling and resources. The Pod manifest is built from
//! them in `remote.rs`.

use clap::{Args, ValueEnum};

/// How `kip up --remote` makes the API server reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointMode {
    /// A supervised port-forward on 127.0.0.1 that outlives the command (default outside a cluster)
    Forwarded,
    /// The Pod's IP, for clients inside the same cluster (default when kip runs in a Pod)
    PodIp,
    /// A ClusterIP Service and its DNS name
    Service,
}

/// The remote node Pod's scheduling and resources (`kip up --remote`).
#[derive(Debug, Clone, Default, Args)]
pub struct PodOptions {
    /// How the API server is reached (default: forwarded, or pod-ip inside a cluster)
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointMode>,

    /// Node selector for the node Pod (repeatable)
    #[arg(long = "node-selector", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub node_selectors: Vec<(String, String)>,

    /// Toleration for the node Pod: KEY[=VALUE]:EFFECT, or KEY:EFFECT for Exists (repeatable)
    #[arg(long = "toleration", value_name = "KEY[=VALUE]:EFFECT", value_parser = parse_toleration)]
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

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Toleration {
    pub key: String,
    pub operator: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
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

fn parse_toleration(text: &str) -> Result<Toleration, String> {
    let (rest, effect) = text
        .rsplit_once(':')
        .ok_or_else(|| "expected KEY[=VALUE]:EFFECT (e.g. dedicated=ci:NoSchedule)".to_string())?;
    if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        return Err(format!(
            "effect {effect:?} is not NoSchedule, PreferNoSchedule or NoExecute"
        ));
    }
    let (key, value) = match rest.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (rest, None),
    };
    if key.is_empty() {
        return Err("the toleration's key is empty".into());
    }
    Ok(Toleration {
        key: key.into(),
        operator: if value.is_some() { "Equal" } else { "Exists" },
        value,
        effect: effect.into(),
    })
}

//! The remote node Pod's options (`kip up --remote`): how its API server is
//! reached, and its scheduling and resources. The Pod manifest is built from
//! them in `remote.rs`.

/// How `kip up --remote` makes the API server reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointMode {
    /// A supervised port-forward on 127.0.0.1 that outlives the command.
    Forwarded,
    /// The Pod's IP, for clients inside the same cluster.
    PodIp,
    /// A ClusterIP Service and its DNS name.
    Service,
}

/// The remote node Pod's scheduling and resources (`kip up --remote`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodOptions {
    /// None: forwarded, or pod-ip inside a cluster.
    pub endpoint: Option<EndpointMode>,
    pub node_selectors: Vec<(String, String)>,
    pub tolerations: Vec<Toleration>,
    pub priority_class: Option<String>,
    pub image_pull_secrets: Vec<String>,
    pub annotations: Vec<(String, String)>,
    /// CPU and memory requests, memory limit (Kubernetes quantities).
    pub cpu: String,
    pub memory: String,
    pub memory_limit: String,
}

impl Default for PodOptions {
    /// What `kip up --remote` asks for when not told otherwise.
    fn default() -> Self {
        PodOptions {
            endpoint: None,
            node_selectors: Vec::new(),
            tolerations: Vec::new(),
            priority_class: None,
            image_pull_secrets: Vec::new(),
            annotations: Vec::new(),
            cpu: "1".into(),
            memory: "2Gi".into(),
            memory_limit: "8Gi".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Toleration {
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
}

impl Toleration {
    /// `KEY[=VALUE]:EFFECT`, or `KEY:EFFECT` for Exists.
    pub fn parse(text: &str) -> Result<Toleration, String> {
        let (rest, effect) = text.rsplit_once(':').ok_or_else(|| {
            "expected KEY[=VALUE]:EFFECT (e.g. dedicated=ci:NoSchedule)".to_string()
        })?;
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
            operator: if value.is_some() { "Equal" } else { "Exists" }.into(),
            value,
            effect: effect.into(),
        })
    }
}

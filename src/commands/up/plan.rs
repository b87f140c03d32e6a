//! What `kip up` makes: its settings, and the node plan computed from them
//! and the engine's facts; `--dry-run` prints it.

use crate::commands::now_rfc3339;
use crate::error::Error;
use crate::kubeconfig::KubeconfigSource;
use crate::node::image::default_image;
use crate::node::{IptablesMode, NodeOptions, NodePlan, SecurityMode, DEFAULT_KIND_IMAGE};
use crate::output::{Printer, StatusFormat};
use crate::provider::{EngineFacts, Provider};
use crate::settings::Environment;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What `kip up` makes, resolved from its flags and kip's config file.
#[derive(Debug, Clone)]
pub struct UpSettings {
    pub name: String,
    /// Delete an existing cluster of this name first.
    pub recreate: bool,
    /// Refuse an existing cluster of this name instead of reusing it
    /// (`kip run` deletes what it ran against, so it must have made it).
    pub only_new: bool,
    /// Make the new context the current one.
    pub switch_context: bool,
    /// The kubeconfig file to update, by kubectl's rules.
    pub kubeconfig: KubeconfigSource,
    pub cluster: ClusterSettings,
}

/// How a cluster is made: shared by `up` and `run`. Flags win over the
/// config file's `image` and `ttl`.
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
    pub dockerd_args: Vec<String>,
    /// A local node gets the kind node image from a seed (`crate::seed`);
    /// false: streamed into the node alone (`--no-seed`).
    pub seed: bool,
    /// The flags that shape a new cluster, as given (`--ttl 1h`): ignored,
    /// and said to be, when the cluster already exists.
    pub given: Vec<String>,
}

/// `kip up --dry-run`: prints the node plan and touches nothing. It works
/// without a reachable engine too (the plan then assumes defaults).
pub async fn dry_run(
    settings: &UpSettings,
    env: &Environment,
    format: StatusFormat,
    backend: Result<&impl Provider, &anyhow::Error>,
    printer: &Printer,
) -> Result<()> {
    let facts = match backend {
        Ok(backend) => backend.facts().await,
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    let facts = facts.unwrap_or_else(|e| {
        printer.warn(&format!(
            "{e:#}\n(the plan below assumes a local cgroup v1 engine with no networks)"
        ));
        EngineFacts {
            local: true,
            ..EngineFacts::default()
        }
    });
    let plan = plan(settings, env, &facts, facts.local)?;
    let yaml = backend.map_or_else(|_| plan.to_yaml(), |b| b.manifest(&plan));
    match format {
        StatusFormat::Text => crate::output::out(yaml)?,
        StatusFormat::Json => crate::output::out(yaml_to_json(&yaml)? + "\n")?,
    }
    Ok(())
}

/// `-o json` of what is otherwise printed as YAML: one document as itself,
/// several (a remote node's objects) as a `List`, as `kubectl -o json` does.
fn yaml_to_json(yaml: &str) -> Result<String> {
    use serde::Deserialize;
    let mut docs = serde_yaml::Deserializer::from_str(yaml)
        .map(serde_json::Value::deserialize)
        .collect::<Result<Vec<_>, _>>()?;
    docs.retain(|d| !d.is_null());
    let value = if docs.len() == 1 {
        docs.remove(0)
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs})
    };
    Ok(serde_json::to_string_pretty(&value)?)
}

/// `stream_kind_image`: kip brings the kind node image from the host's
/// engine (the node waits for it instead of letting kind pull it).
pub(super) fn plan(
    settings: &UpSettings,
    env: &Environment,
    facts: &EngineFacts,
    stream_kind_image: bool,
) -> Result<NodePlan> {
    let user_kind_config = match &settings.cluster.kind_config {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|e| Error::KindConfigUnreadable {
                    path: path.clone(),
                    error: e.to_string(),
                })?,
            )
        }
        None => None,
    };
    NodePlan::new(&NodeOptions {
        cluster: settings.name.clone(),
        image: settings
            .cluster
            .dind_image
            .clone()
            .unwrap_or_else(default_image),
        // kind's own default needs no --image unless kip streams it in.
        kind_image: (stream_kind_image || settings.cluster.image.is_some())
            .then(|| super::node_image::name_in_node(&kind_image(settings))),
        stream_kind_image,
        node_env: settings.cluster.node_env.clone(),
        security: settings.cluster.security,
        api_port: settings.cluster.api_port,
        network: settings.cluster.network.clone(),
        mtu: settings.cluster.mtu,
        iptables: settings.cluster.iptables,
        cert_sans: settings.cluster.cert_sans.clone(),
        dockerd_args: settings.cluster.dockerd_args.clone(),
        created_at: now_rfc3339(),
        owner: env.owner(),
        // A remote node mounts the cluster node's /lib/modules (a node
        // without it is a FailedMount, reported as such).
        has_lib_modules: facts.remote_namespace.is_some()
            || (facts.local && crate::commands::doctor::Host::new(env).has_lib_modules()),
        taken_subnets: facts.subnets.clone(),
        user_kind_config,
        extra_labels: extra_labels(&settings.cluster, env),
        remote_namespace: facts.remote_namespace.clone(),
    })
    .map_err(|error| {
        Error::KindConfigInvalid {
            path: settings.cluster.kind_config.clone().unwrap_or_default(),
            error,
        }
        .into()
    })
}

/// The node `kip up NAME` makes with its defaults but the node image, on
/// the engine `facts` describe: what `kip doctor --remote` dry-runs.
pub fn default_plan(
    name: &str,
    dind_image: Option<String>,
    facts: &EngineFacts,
    env: &Environment,
) -> Result<NodePlan> {
    let settings = UpSettings {
        name: name.to_string(),
        recreate: false,
        only_new: false,
        switch_context: false,
        kubeconfig: KubeconfigSource::default(),
        cluster: ClusterSettings {
            image: None,
            dind_image,
            node_env: Vec::new(),
            api_port: None,
            wait: Duration::from_secs(300),
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
            dockerd_args: Vec::new(),
            seed: true,
            given: Vec::new(),
        },
    };
    plan(&settings, env, facts, false)
}

/// The kind node image `up` makes the cluster from.
pub(super) fn kind_image(settings: &UpSettings) -> String {
    settings
        .cluster
        .image
        .clone()
        .unwrap_or_else(|| DEFAULT_KIND_IMAGE.to_string())
}

/// TTL and CI metadata labels.
pub(super) fn extra_labels(
    options: &ClusterSettings,
    env: &Environment,
) -> BTreeMap<String, String> {
    use crate::node::labels;
    let mut extra: BTreeMap<String, String> = options.labels.iter().cloned().collect();
    extra.extend(labels::ci_labels(|k| env.ci_var(k), env.in_tekton));
    if let Some(ttl) = options.ttl {
        let expires = std::time::SystemTime::now() + ttl;
        extra.insert(
            labels::TTL.into(),
            humantime::format_duration(ttl).to_string(),
        );
        extra.insert(
            labels::EXPIRES_AT.into(),
            humantime::format_rfc3339_seconds(expires).to_string(),
        );
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::yaml_to_json;

    #[test]
    fn json_of_one_document_and_of_several() {
        let one: serde_json::Value =
            serde_json::from_str(&yaml_to_json("a: 1\nb: [x]\n").unwrap()).unwrap();
        assert_eq!(one, serde_json::json!({"a": 1, "b": ["x"]}));
        let list: serde_json::Value =
            serde_json::from_str(&yaml_to_json("kind: Pod\n---\nkind: Service\n").unwrap())
                .unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][1]["kind"], "Service");
    }
}

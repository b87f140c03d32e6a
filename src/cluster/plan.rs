//! The node plan of a cluster: its settings, what this machine adds (the
//! owner, CI metadata, the host's /lib/modules, the user's kind config
//! file) and the engine's facts, turned into the pure `NodePlan` both
//! providers render. `up --dry-run` prints it; `doctor --remote` dry-runs
//! the default one.

use crate::error::Error;
use crate::node::image::default_image;
use crate::node::ports::PortError;
use crate::node::settings::ClusterSettings;
use crate::node::{labels, NodeOptions, NodePlan};
use crate::provider::{EngineFacts, Provider};
use crate::registry::wiring::RegistryWiring;
use crate::settings::Environment;
use anyhow::Result;
use std::collections::BTreeMap;

/// The options the plan of cluster `name` is made from. `stream_kind_image`:
/// kip brings the kind node image from the host's engine (the node waits
/// for it instead of letting kind pull it).
pub fn options(
    name: &str,
    settings: &ClusterSettings,
    env: &Environment,
    facts: &EngineFacts,
    stream_kind_image: bool,
) -> Result<NodeOptions> {
    let user_kind_config = match &settings.kind_config {
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
    Ok(NodeOptions {
        cluster: name.to_string(),
        image: settings.dind_image.clone().unwrap_or_else(default_image),
        // kind's own default needs no --image unless kip streams it in.
        kind_image: (stream_kind_image || settings.image.is_some())
            .then(|| crate::node::image::name_in_node(&settings.kind_image())),
        stream_kind_image,
        node_env: settings.node_env.clone(),
        security: settings.security,
        api_port: settings.api_port,
        network: settings.network.clone(),
        mtu: settings.mtu,
        iptables: settings.iptables,
        cert_sans: settings.cert_sans.clone(),
        dockerd_args: settings.dockerd_args.clone(),
        created_at: now_rfc3339(),
        owner: env.owner(),
        // A remote node mounts the cluster node's /lib/modules (a node
        // without it is a FailedMount, reported as such).
        has_lib_modules: facts.remote_namespace.is_some()
            || (facts.local && super::preflight::Host::new(env).has_lib_modules()),
        taken_subnets: facts.subnets.clone(),
        user_kind_config,
        extra_labels: extra_labels(settings, env),
        remote_namespace: facts.remote_namespace.clone(),
        ports: settings.ports.clone(),
        registries: RegistryWiring::default(),
    })
}

/// The plan `options` describe; a user's kind config that contradicts
/// kip's (or host ports kip cannot publish) is bad usage, naming the field.
pub fn plan(settings: &ClusterSettings, options: &NodeOptions) -> Result<NodePlan> {
    if options.remote_namespace.is_some() && !settings.ports.is_empty() {
        return Err(PortError::Remote.into());
    }
    NodePlan::new(options).map_err(|error| match &settings.kind_config {
        Some(path) => Error::KindConfigInvalid {
            path: path.clone(),
            error,
        }
        .into(),
        None => PortError::Invalid { error }.into(),
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
    let settings = ClusterSettings {
        dind_image,
        ..ClusterSettings::default()
    };
    plan(&settings, &options(name, &settings, env, facts, false)?)
}

/// `kip up --dry-run`: the node plan, as the provider would make it (YAML),
/// touching nothing. Without an engine to ask (`provider` is why not), the
/// plan assumes a local cgroup v1 engine with no networks, and `warn` says so.
pub async fn dry_run(
    name: &str,
    settings: &ClusterSettings,
    env: &Environment,
    provider: Result<&impl Provider, &anyhow::Error>,
    warn: impl Fn(String),
) -> Result<String> {
    let facts = match provider {
        Ok(provider) => provider.facts().await,
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    let facts = facts.unwrap_or_else(|e| {
        warn(format!(
            "{e:#}\n(the plan below assumes a local cgroup v1 engine with no networks)"
        ));
        EngineFacts {
            local: true,
            ..EngineFacts::default()
        }
    });
    let mut options = options(name, settings, env, &facts, facts.local)?;
    let (registries, note) =
        crate::registry::attach::planned(&settings.attach, facts.remote_namespace.is_some())?;
    options.registries = registries;
    if let Some(note) = note {
        warn(note);
    }
    let plan = plan(settings, &options)?;
    Ok(provider.map_or_else(|_| plan.to_yaml(), |p| p.manifest(&plan)))
}

/// The user's `--label`s, the CI job's metadata and the TTL.
fn extra_labels(settings: &ClusterSettings, env: &Environment) -> BTreeMap<String, String> {
    let mut extra: BTreeMap<String, String> = settings.labels.iter().cloned().collect();
    extra.extend(labels::ci_labels(|k| env.ci_var(k), env.in_tekton));
    if let Some(ttl) = settings.ttl {
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

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

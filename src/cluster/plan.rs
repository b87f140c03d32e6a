//! The node plan of a cluster: its settings, what this machine adds (the
//! owner, CI metadata, the host's /lib/modules, the user's kind config
//! file) and the engine's facts, turned into the pure `NodePlan` both
//! providers render. `up --dry-run` prints it; `doctor --remote` dry-runs
//! the default one.

use crate::error::Error;
use crate::node::image::default_image;
use crate::node::ports::PortError;
use crate::node::settings::ClusterSettings;
use crate::node::{host_mounts, labels, NodeOptions, NodePlan};
use crate::provider::docker::DockerProvider;
use crate::provider::{EngineFacts, Provider};
use crate::registry::wiring::RegistryWiring;
use crate::seed::Seed;
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
        None if settings.kind_config_text.is_some() => settings.kind_config_text.clone(),
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
    let remote = facts.remote_namespace.is_some();
    let host_mounts = user_kind_config
        .as_deref()
        .map(|user| host_mounts::of_config(user, remote, facts.local))
        .transpose()
        .map_err(|error| Error::KindConfigInvalid {
            path: settings.kind_config.clone().unwrap_or_default(),
            error,
        })?
        .unwrap_or_default();
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
        host_mounts,
        extra_labels: extra_labels(settings, env),
        remote_namespace: facts.remote_namespace.clone(),
        ports: settings.ports.clone(),
        registries: RegistryWiring::default(),
        fast_node_status: false,
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
    (provider, host): (
        Result<&impl Provider, &anyhow::Error>,
        Option<&DockerProvider>,
    ),
    warn: impl Fn(String),
) -> Result<String> {
    let facts = match provider {
        Ok(provider) => provider.facts().await,
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    // An engine that did not answer is asked nothing more.
    let host = host.filter(|_| facts.is_ok());
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
    let mut plan = plan(settings, &options)?;
    if let Some(host) = host.filter(|_| settings.seed) {
        with_seed(&mut plan, settings, host, facts.local, &warn).await;
    }
    Ok(provider.map_or_else(|_| plan.to_yaml(), |p| p.manifest(&plan)))
}

/// The seed `kip up` would give the node (`crate::seed`): its key, label
/// and store. A dry run pulls nothing, so without the kind node image on
/// the host the key cannot be known: it says so.
async fn with_seed(
    plan: &mut NodePlan,
    settings: &ClusterSettings,
    host: &DockerProvider,
    local: bool,
    warn: &impl Fn(String),
) {
    let image = settings.kind_image();
    let Ok(Some(id)) = host.host_image_id(&image).await else {
        warn(format!(
            "the kind node image {image} is not on this engine yet: the plan shows no seed \
             (`kip up` pulls it, then uses its seed or makes it)"
        ));
        return;
    };
    let name = crate::node::image::name_in_node(&image);
    let dind_image = plan.node.image.clone();
    let seed = if local {
        Seed::for_node(host, (&name, &id), &dind_image)
            .await
            .ok()
            .flatten()
    } else {
        Some(Seed::for_remote_node((&name, &id), &dind_image))
    };
    if let Some(seed) = seed {
        seed.apply(plan);
    }
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

/// How long ago an RFC 3339 time was (None: no time, or one to come).
pub fn age_of(time: Option<&str>) -> Option<std::time::Duration> {
    let then = humantime::parse_rfc3339_weak(time?).ok()?;
    std::time::SystemTime::now().duration_since(then).ok()
}

//! `up --registry NAME` and `up --mirror NAME|URL`: the registries found on
//! the engine (running, serving, and a cache's upstream answering) turned
//! into the cluster's [`RegistryWiring`], before anything is made.

use super::error::RegistryError;
use super::wiring::RegistryWiring;
use super::{probe, Registry};
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use anyhow::Result;

/// What `up` was asked to connect the cluster to.
#[derive(Debug, Clone, Default)]
pub struct Attach {
    /// `--registry NAME`: a local registry.
    pub registry: Option<String>,
    /// `--mirror NAME|URL`, or the config file's `mirror:`.
    pub mirror: Option<String>,
    /// The mirror came from the config file (not the command line).
    pub mirror_from_config: bool,
    /// `--mirror-optional`: a cache whose upstream does not answer is left
    /// out instead of failing `up`.
    pub mirror_optional: bool,
}

impl Attach {
    pub fn is_empty(&self) -> bool {
        self.registry.is_none() && self.mirror.is_none()
    }
}

/// Where the node runs, as far as registries care.
#[derive(Debug, Clone, Copy)]
pub struct NodeSide<'a> {
    /// Remote mode: the node is a Pod on a shared cluster.
    pub remote: bool,
    /// The engine runs on this machine, so kip can ask a registry on
    /// 127.0.0.1 itself.
    pub local_engine: bool,
    /// The outer network of the node (None: the engine's default bridge).
    pub network: Option<&'a str>,
}

fn is_url(value: &str) -> bool {
    value.contains("://")
}

/// The wiring for `attach`, or why not (exit 2 for what remote mode cannot
/// do, 5 for a registry that does not exist, 3 for one that does not work).
pub async fn wiring(
    attach: &Attach,
    side: NodeSide<'_>,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<RegistryWiring> {
    let mut wiring = RegistryWiring::default();
    if side.remote {
        let (wiring, note) = remote_wiring(attach)?;
        if let Some(note) = note {
            printer.notice(&note);
        }
        return Ok(wiring);
    }
    if attach.is_empty() {
        return Ok(wiring);
    }
    let mirror_url = attach.mirror.as_deref().filter(|m| is_url(m));
    if let Some(url) = mirror_url {
        wiring.add_mirror_url(url)?;
    }
    let needs_engine =
        attach.registry.is_some() || (attach.mirror.is_some() && mirror_url.is_none());
    if !needs_engine {
        return Ok(wiring);
    }
    let host = host.ok_or(RegistryError::NoEngine)?;
    let gateway = host.network_gateway(side.network).await?;
    if let Some(name) = &attach.registry {
        let local = usable(host, name, "--registry", side, &gateway).await?;
        if local.proxy.is_some() {
            return Err(RegistryError::IsCache {
                name: name.clone(),
                upstream: local.proxy.clone().unwrap_or_default(),
            }
            .into());
        }
        wiring.add_local(&local, &gateway);
    }
    if let Some(name) = attach.mirror.as_deref().filter(|m| !is_url(m)) {
        add_cache(&mut wiring, attach, name, side, host, &gateway, printer).await?;
    }
    Ok(wiring)
}

/// `--mirror NAME`: a kip registry in proxy mode whose upstream answers
/// (or, with `--mirror-optional`, none: a warning says why).
async fn add_cache(
    wiring: &mut RegistryWiring,
    attach: &Attach,
    name: &str,
    side: NodeSide<'_>,
    host: &DockerProvider,
    gateway: &str,
    printer: &Printer,
) -> Result<()> {
    let flag = if attach.mirror_from_config {
        "the config file's mirror"
    } else {
        "--mirror"
    };
    let cache = usable(host, name, flag, side, gateway).await?;
    let Some(upstream) = cache.proxy.clone() else {
        return Err(RegistryError::NotCache {
            flag,
            name: name.to_string(),
        }
        .into());
    };
    match upstream_check(&cache, side).await {
        Ok(()) => wiring.add_cache(&cache, gateway),
        Err(why) if attach.mirror_optional => printer.warn(&format!(
            "the pull-through cache {name} cannot reach its upstream {upstream} ({why}); \
             making the cluster without it (--mirror-optional)"
        )),
        Err(why) => {
            return Err(RegistryError::MirrorUpstreamDown {
                name: name.to_string(),
                upstream,
                why,
            }
            .into())
        }
    }
    Ok(())
}

/// What `up --dry-run` shows without asking the engine: a cache given by
/// URL, and remote mode's refusals; kip's registries by name are looked up
/// when the cluster is made. The second part is a note for the user.
pub fn planned(attach: &Attach, remote: bool) -> Result<(RegistryWiring, Option<String>)> {
    if remote {
        return remote_wiring(attach);
    }
    let mut wiring = RegistryWiring::default();
    if let Some(url) = attach.mirror.as_deref().filter(|m| is_url(m)) {
        wiring.add_mirror_url(url)?;
    }
    let by_name = attach.registry.is_some() || attach.mirror.as_deref().is_some_and(|m| !is_url(m));
    let note = by_name.then(|| {
        "kip's registries are looked up when the cluster is made: the plan leaves them out".into()
    });
    Ok((wiring, note))
}

/// Remote nodes run on a shared cluster: a registry on this engine is out
/// of their reach; a cache the shared cluster runs is given by its URL.
fn remote_wiring(attach: &Attach) -> Result<(RegistryWiring, Option<String>)> {
    let mut wiring = RegistryWiring::default();
    if let Some(name) = &attach.registry {
        return Err(RegistryError::RemoteRegistry { name: name.clone() }.into());
    }
    let note = match attach.mirror.as_deref() {
        Some(url) if is_url(url) => {
            wiring.add_mirror_url(url)?;
            None
        }
        Some(name) if attach.mirror_from_config => Some(format!(
            "the config file's mirror {name} is a registry on your Docker engine; \
             remote nodes do not use it (give them a cache with --mirror URL)"
        )),
        Some(name) => {
            return Err(RegistryError::RemoteMirrorName {
                name: name.to_string(),
            }
            .into())
        }
        None => None,
    };
    Ok((wiring, note))
}

/// The registry `name`: it exists (else exit 5), it runs (a stopped one is
/// started), the node's network reaches it, and it answers.
async fn usable(
    host: &DockerProvider,
    name: &str,
    flag: &'static str,
    side: NodeSide<'_>,
    gateway: &str,
) -> Result<Registry> {
    let Some(found) = host.find_registry(name).await? else {
        return Err(RegistryError::NotFound {
            flag: Some(flag),
            name: name.to_string(),
        }
        .into());
    };
    if !found.running() {
        host.start_registry(&found).await?;
    }
    if !found.addresses.iter().any(|a| a == gateway) {
        let network = side.network.unwrap_or("bridge");
        return Err(RegistryError::Unreachable {
            flag,
            name: name.to_string(),
            network: network.to_string(),
            gateway: gateway.to_string(),
            addresses: found.addresses.clone(),
        }
        .into());
    }
    if side.local_engine {
        if let Err(e) = serves_soon(found.port).await {
            let log = host.registry_log_tail(&found).await;
            let lines: Vec<&str> = log.lines().collect();
            return Err(RegistryError::NotServing {
                flag: Some(flag),
                name: name.to_string(),
                port: found.port,
                error: format!("{e:#}"),
                tail: lines[lines.len().saturating_sub(10)..].join("\n"),
            }
            .into());
        }
    }
    Ok(found)
}

/// A registry just started takes a moment to listen.
async fn serves_soon(port: u16) -> Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match probe::serves(port).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

/// Whether the cache's upstream answers it: asked through the cache where
/// the engine is on this machine; otherwise not known, so assumed.
async fn upstream_check(cache: &Registry, side: NodeSide<'_>) -> Result<(), String> {
    if !side.local_engine {
        return Ok(());
    }
    probe::upstream_answers(cache.port)
        .await
        .map_err(|e| format!("{e:#}"))
}

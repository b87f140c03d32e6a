//! `kip registry create|list|rm`: registries on the user's Docker engine
//! for clusters to pull from (see `crate::registry`). They outlive
//! clusters: `kip down` and `kip gc` never remove one.

use crate::cluster::plan::now_rfc3339;
use crate::cluster::status::age;
use crate::output::{OutputFormat, Printer, StatusFormat};
use crate::provider::docker::registry::RegistrySpec;
use crate::provider::docker::DockerProvider;
use crate::provider::Provider;
use crate::registry::error::RegistryError;
use crate::registry::{self, credentials, labels, probe, Registry};
use crate::settings::Environment;
use anyhow::Result;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum RegistrySettings {
    Create(CreateSettings),
    List(OutputFormat),
    Rm(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct CreateSettings {
    pub name: String,
    pub port: Option<u16>,
    pub image: Option<String>,
    /// Pull-through cache: the upstream URL, the registry name it serves
    /// (default: the URL's), and whether to log in with the Docker config's
    /// credentials.
    pub proxy: Option<String>,
    pub proxy_for: Option<String>,
    pub proxy_credentials: bool,
    pub output: StatusFormat,
}

pub async fn run(
    settings: &RegistrySettings,
    env: &Environment,
    docker: &DockerProvider,
    printer: &Printer,
) -> Result<()> {
    match settings {
        RegistrySettings::Create(create_settings) => {
            create(create_settings, env, docker, printer).await
        }
        RegistrySettings::List(format) => list(*format, docker).await,
        RegistrySettings::Rm(names) => remove(names, docker, printer).await,
    }
}

/// What `kip registry create -o json` prints.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct Made(Registry);

impl crate::output::Document for Made {
    const KIND: &'static str = "Registry";
    const SCHEMA: &'static str = "registry.schema.json";
}

/// What `kip registry list -o json` prints.
#[derive(Debug, serde::Serialize)]
struct RegistryList {
    items: Vec<Registry>,
}

impl crate::output::Document for RegistryList {
    const KIND: &'static str = "RegistryList";
    const SCHEMA: &'static str = "registry-list.schema.json";
}

async fn create(
    s: &CreateSettings,
    env: &Environment,
    docker: &DockerProvider,
    printer: &Printer,
) -> Result<()> {
    // `--proxy` was checked when parsed; `--proxy-for` says otherwise.
    let mirror_of = match (&s.proxy, &s.proxy_for) {
        (Some(_), Some(name)) => Some(name.clone()),
        (Some(url), None) => registry::mirror_of(url).ok(),
        (None, _) => None,
    };
    let registry = match docker.find_registry(&s.name).await? {
        Some(existing) => reuse(s, existing, mirror_of.as_deref(), docker, printer).await?,
        None => make(s, mirror_of, env, docker, printer).await?,
    };
    if s.output == StatusFormat::Json {
        crate::output::json(&Made(registry))?;
    }
    Ok(())
}

/// A registry of that name is there: fine if it is what was asked for.
async fn reuse(
    s: &CreateSettings,
    existing: Registry,
    mirror_of: Option<&str>,
    docker: &DockerProvider,
    printer: &Printer,
) -> Result<Registry> {
    let port_differs = s.port.is_some_and(|p| p != existing.port);
    if port_differs || s.proxy != existing.proxy || mirror_of != existing.mirror_of.as_deref() {
        return Err(RegistryError::Exists {
            name: s.name.clone(),
            port: existing.port,
            proxy: existing.proxy,
        }
        .into());
    }
    if !existing.running() {
        docker.start_registry(&existing).await?;
    }
    printer.info(&format!(
        "Registry {} already exists: {}",
        s.name, existing.host
    ));
    Ok(existing)
}

/// `--proxy-credentials`: what the user's Docker config has for the
/// registry the cache serves.
fn upstream_credentials(
    s: &CreateSettings,
    mirror_of: Option<&str>,
    env: &Environment,
) -> Result<Option<(String, String)>> {
    let (Some(_), Some(mirror_of), true) = (&s.proxy, mirror_of, s.proxy_credentials) else {
        return Ok(None);
    };
    let dir = env
        .docker
        .config_dir
        .as_deref()
        .ok_or(RegistryError::NoDockerConfigDir)?;
    Ok(Some(credentials::for_registry(dir, mirror_of)?))
}

async fn make(
    s: &CreateSettings,
    mirror_of: Option<String>,
    env: &Environment,
    docker: &DockerProvider,
    printer: &Printer,
) -> Result<Registry> {
    let credentials = upstream_credentials(s, mirror_of.as_deref(), env)?;
    let local = docker.facts().await?.local;
    let gateway = docker.network_gateway(None).await?;
    let image = s
        .image
        .clone()
        .unwrap_or_else(|| registry::DEFAULT_IMAGE.into());
    docker.ensure_registry_image(&image, printer).await?;
    let step = printer.step("registry-created", &format!("Creating registry {}", s.name));
    let mut spec = RegistrySpec {
        name: s.name.clone(),
        port: s.port.unwrap_or_default(),
        image,
        proxy: s.proxy.clone(),
        mirror_of,
        credentials,
        created_at: now_rfc3339(),
        owner: env.owner(),
    };
    // A port kip picked can be taken between the look and the start (by
    // another `kip registry create`, say): then the next one is tried.
    let mut tried = Vec::new();
    let made = loop {
        if s.port.is_none() {
            spec.port = free_port(docker, local, &gateway, &tried).await?;
        }
        match docker.create_registry(&spec, &gateway).await {
            Err(e) if s.port.is_none() && tried.len() < 5 && port_in_use(&e) => {
                tried.push(spec.port);
            }
            other => break other?,
        }
    };
    if local {
        if let Err(e) = serving(docker, &made).await {
            let tail = docker.registry_log_tail(&made).await;
            let _ = docker.remove_registry(&s.name).await;
            return Err(not_serving(&made, &format!("{e:#}"), &tail));
        }
    }
    step.done(&format!(
        "Registry {} is ready on port {}: {}",
        s.name,
        made.port,
        how_to_use(&made)
    ));
    Ok(made)
}

fn how_to_use(made: &Registry) -> String {
    match &made.mirror_of {
        Some(of) => format!(
            "a pull-through cache of {} for {of}; clusters: kip up --mirror {}",
            made.proxy.as_deref().unwrap_or_default(),
            made.name
        ),
        None => format!(
            "docker push {}/IMAGE; clusters: kip up --registry {}",
            made.host, made.name
        ),
    }
}

/// A new registry takes a moment to listen; one that stops meanwhile
/// (a cache whose upstream does not answer exits at once) is not waited for.
async fn serving(docker: &DockerProvider, made: &Registry) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let error = match probe::serves(made.port).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let state = docker.find_registry(&made.name).await?.map(|r| r.state);
        if tokio::time::Instant::now() >= deadline || state.as_deref() != Some("running") {
            return Err(error);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Why a new registry does not serve: a cache's upstream that does not
/// answer (the registry stops at once, saying so in a Go panic), or its log.
fn not_serving(made: &Registry, error: &str, log_tail: &str) -> anyhow::Error {
    let panic = log_tail
        .lines()
        .find_map(|l| l.trim().strip_prefix("panic: "));
    match (&made.proxy, panic) {
        (Some(upstream), Some(why)) => RegistryError::UpstreamDown {
            name: made.name.clone(),
            upstream: upstream.clone(),
            why: why.to_string(),
        }
        .into(),
        _ => {
            let lines: Vec<&str> = log_tail.lines().collect();
            RegistryError::NotServing {
                flag: None,
                name: made.name.clone(),
                port: made.port,
                error: error.to_string(),
                tail: lines[lines.len().saturating_sub(10)..].join("\n"),
            }
            .into()
        }
    }
}

fn port_in_use(e: &anyhow::Error) -> bool {
    crate::error::Error::is(e, |e| {
        matches!(
            e,
            crate::error::Error::Registry(RegistryError::PortInUse { .. })
        )
    })
}

/// The first port from 5001 that no container publishes, that (on this
/// machine) no process holds on 127.0.0.1 or the gateway, and that is not
/// one of `tried`.
async fn free_port(
    docker: &DockerProvider,
    local: bool,
    gateway: &str,
    tried: &[u16],
) -> Result<u16> {
    let published = docker.published_port_numbers().await?;
    let free_here = |port: u16| {
        !local
            || ["127.0.0.1", gateway].iter().all(|address| {
                !matches!(
                    std::net::TcpListener::bind((*address, port)),
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
                )
            })
    };
    let (first, last) = (registry::FIRST_PORT, registry::FIRST_PORT + 99);
    (first..=last)
        .find(|p| !published.contains(p) && !tried.contains(p) && free_here(*p))
        .ok_or_else(|| RegistryError::NoFreePort { first, last }.into())
}

async fn list(format: OutputFormat, docker: &DockerProvider) -> Result<()> {
    let registries = docker.list_registries().await?;
    match format {
        OutputFormat::Json => crate::output::json(&RegistryList { items: registries })?,
        OutputFormat::Table => {
            let mut rows = vec![[
                "NAME".to_string(),
                "HOST".into(),
                "STATE".into(),
                "AGE".into(),
                "CACHE OF".into(),
            ]];
            for r in &registries {
                rows.push([
                    r.name.clone(),
                    r.host.clone(),
                    r.state.clone(),
                    age(r.created_at.as_deref()),
                    match (&r.proxy, &r.mirror_of) {
                        (Some(proxy), Some(of)) => format!("{of} ({proxy})"),
                        _ => "-".into(),
                    },
                ]);
            }
            crate::output::out(crate::output::table(&rows))?;
        }
    }
    Ok(())
}

async fn remove(names: &[String], docker: &DockerProvider, printer: &Printer) -> Result<()> {
    let clusters = docker.list().await.unwrap_or_default();
    for name in names {
        if !docker.remove_registry(name).await? {
            return Err(RegistryError::NotFound {
                flag: None,
                name: name.clone(),
            }
            .into());
        }
        let users: Vec<&str> = clusters
            .iter()
            .filter(|c| {
                [labels::CLUSTER_REGISTRY, labels::CLUSTER_MIRROR]
                    .iter()
                    .any(|l| c.labels.get(*l) == Some(name))
            })
            .map(|c| c.cluster.as_str())
            .collect();
        printer.info(&format!("Deleted registry {name} and its volume"));
        if !users.is_empty() {
            printer.warn(&format!(
                "clusters {} pulled through {name}; their pulls of images not in their nodes now fail",
                users.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Registry {
        Registry {
            name: "hub".into(),
            container: registry::container_name("hub"),
            state: "running".into(),
            host: "localhost:5001".into(),
            port: 5001,
            addresses: vec!["127.0.0.1".into(), "172.17.0.1".into()],
            image: registry::DEFAULT_IMAGE.into(),
            proxy: Some("https://registry-1.docker.io".into()),
            mirror_of: Some("docker.io".into()),
            created_at: None,
        }
    }

    #[test]
    fn the_results_match_their_schemas() {
        crate::output::assert_matches_schema(&Made(sample()));
        crate::output::assert_matches_schema(&RegistryList {
            items: vec![sample()],
        });
    }
}

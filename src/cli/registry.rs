//! `kip registry create|list|rm`: the command line of kip's registries.

use crate::commands::registry::{CreateSettings, RegistrySettings};
use crate::output::{OutputFormat, StatusFormat};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    pub command: RegistryCommand,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Run a registry on this Docker engine (kip's labels, its own volume, kept across clusters); connect clusters with `up --registry NAME` (or, for a cache, `up --mirror NAME`)
    Create(RegistryCreateArgs),
    /// List kip's registries
    List(RegistryListArgs),
    /// Delete registries: the container and its volume, with the images in it
    Rm(RegistryRmArgs),
}

#[derive(Debug, Args)]
pub struct RegistryCreateArgs {
    /// Registry name: a DNS-1123 label (its container is kip-registry-NAME)
    #[arg(default_value = crate::registry::DEFAULT_NAME, value_parser = crate::registry::parse_name)]
    pub name: String,

    /// Port on 127.0.0.1 for `docker push localhost:PORT/…` (default: the first free one from 5001)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Registry image (default: the Distribution project's registry:3.1.1, pinned by digest)
    #[arg(long, env = "KIP_REGISTRY_IMAGE", value_parser = super::parse_image)]
    pub image: Option<String>,

    /// Make a pull-through cache of this upstream, e.g. https://registry-1.docker.io
    #[arg(long, value_name = "URL", value_parser = parse_upstream)]
    pub proxy: Option<String>,

    /// The registry name clusters pull through the cache (default: the upstream's; docker.io for Docker Hub)
    #[arg(long, value_name = "REGISTRY", requires = "proxy")]
    pub proxy_for: Option<String>,

    /// Log in to the upstream with the credentials your Docker config has for it (`docker login`)
    #[arg(long, requires = "proxy")]
    pub proxy_credentials: bool,

    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: StatusFormat,
}

#[derive(Debug, Args)]
pub struct RegistryListArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RegistryRmArgs {
    /// Registries to delete
    #[arg(required = true, value_parser = crate::registry::parse_name)]
    pub names: Vec<String>,
}

impl RegistryArgs {
    pub fn settings(&self) -> RegistrySettings {
        match &self.command {
            RegistryCommand::Create(a) => RegistrySettings::Create(CreateSettings {
                name: a.name.clone(),
                port: a.port,
                image: a.image.clone(),
                proxy: a.proxy.clone(),
                proxy_for: a.proxy_for.clone(),
                proxy_credentials: a.proxy_credentials,
                output: a.output,
            }),
            RegistryCommand::List(a) => RegistrySettings::List(a.output),
            RegistryCommand::Rm(a) => RegistrySettings::Rm(a.names.clone()),
        }
    }
}

/// `--proxy`: a URL with a host, checked before any engine is asked.
fn parse_upstream(url: &str) -> Result<String, String> {
    crate::registry::mirror_of(url)
        .map(|_| url.to_string())
        .map_err(|e| {
            e.trim_start_matches(&format!("--proxy {url}: "))
                .to_string()
        })
}

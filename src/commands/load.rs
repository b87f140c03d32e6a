//! `kip load NAME IMAGE…`: images from the host's engine (or an archive)
//! into the cluster: streamed into the node's inner Docker (no temporary file
//! on the host; a remote node's through `pods/exec`), then `kind load` into
//! the cluster. An image whose ID the node already has is skipped.

use crate::error::Error;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::{Node, Provider};
use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use std::path::PathBuf;

/// What `kip load` loads, and into which cluster.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub name: String,
    /// Images from the host's engine.
    pub images: Vec<String>,
    /// A `docker save` archive instead of images.
    pub archive: Option<PathBuf>,
}

pub async fn run(
    settings: &LoadSettings,
    provider: &impl Provider,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<()> {
    let node = provider.find_running(&settings.name).await?;
    let names = match &settings.archive {
        Some(path) => {
            let step = printer.step(
                "images-loaded",
                &format!("Loading {} into the node", path.display()),
            );
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::ArchiveUnreadable {
                    path: path.clone(),
                    error: e.to_string(),
                })?;
            let stream = tokio_util::io::ReaderStream::new(file).map_err(anyhow::Error::from);
            let loaded = docker_load(&node, Box::pin(stream)).await?;
            step.done(&format!("Loaded {} into the node", loaded.join(", ")));
            loaded
        }
        None => {
            let host = match host {
                Some(host) => {
                    host.check_answers().await?;
                    host
                }
                None => return Err(Error::NoHostEngine.into()),
            };
            let mut missing = Vec::new();
            for image in &settings.images {
                let Some(host_id) = host.host_image_id(image).await? else {
                    return Err(Error::ImageNotOnHost {
                        image: image.clone(),
                    }
                    .into());
                };
                if node_image_id(&node, image).await?.as_deref() == Some(host_id.as_str()) {
                    printer.info(&format!(
                        "{image} is already in the node ({}), skipped",
                        short(&host_id)
                    ));
                } else {
                    missing.push(image.clone());
                }
            }
            if !missing.is_empty() {
                let step = printer.step(
                    "images-loaded",
                    &format!("Streaming {} into the node", missing.join(", ")),
                );
                docker_load(&node, host.save_images(&missing)).await?;
                step.done(&format!("Streamed {} into the node", missing.join(", ")));
            }
            missing
        }
    };
    if names.is_empty() {
        return Ok(());
    }
    let step = printer.step(
        "images-in-cluster",
        "Loading the images into the cluster (kind load)",
    );
    let mut command: Vec<String> = vec!["kind".into(), "load".into(), "docker-image".into()];
    command.extend(names.iter().cloned());
    command.extend(["--name".to_string(), settings.name.clone()]);
    let out = node.exec_capture(&command, None).await?;
    if out.code != 0 {
        return Err(Error::KindLoadFailed {
            output: format!("{}{}", out.stdout, out.stderr),
        }
        .into());
    }
    step.done(&format!(
        "Loaded {} into cluster {}",
        names.join(", "),
        settings.name
    ));
    Ok(())
}

/// `docker load` in the node, fed from `tar`; the names it loaded.
pub(crate) async fn docker_load(
    node: &impl Node,
    tar: futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>,
) -> Result<Vec<String>> {
    let out = node
        .exec_capture(&["docker".into(), "load".into()], Some(tar))
        .await
        .context("cannot stream the images into the node")?;
    if out.code != 0 {
        return Err(Error::DockerLoadFailed {
            error: out.stderr.trim().to_string(),
        }
        .into());
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(String::from)
        .collect())
}

pub(crate) async fn node_image_id(node: &impl Node, image: &str) -> Result<Option<String>> {
    let command: Vec<String> = ["docker", "image", "inspect", "-f", "{{.Id}}", image]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = node.exec_capture(&command, None).await?;
    Ok((out.code == 0).then(|| out.stdout.trim().to_string()))
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

//! `kip load NAME IMAGE…`: images from the host's engine (or an archive)
//! into the cluster: streamed into the node's inner Docker (no temporary file
//! on the host; a remote node's through `pods/exec`), then `kind load` into
//! the cluster. An image whose ID the node already has is skipped.

use crate::backend::docker::DockerBackend;
use crate::backend::Backend;
use crate::error::Failure;
use crate::output::Printer;
use anyhow::{bail, Context, Result};
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
    backend: &impl Backend,
    host: Option<&DockerBackend>,
    printer: &Printer,
) -> Result<()> {
    if backend.find(&settings.name).await?.is_none() {
        return Err(backend.not_found(&settings.name).await);
    }
    let names = match &settings.archive {
        Some(path) => {
            let step = printer.step(
                "images-loaded",
                &format!("Loading {} into the node", path.display()),
            );
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Failure::Usage(format!("--archive {}: {e}", path.display())))?;
            let stream = tokio_util::io::ReaderStream::new(file).map_err(anyhow::Error::from);
            let loaded = docker_load(backend, &settings.name, Box::pin(stream)).await?;
            step.done(&format!("Loaded {} into the node", loaded.join(", ")));
            loaded
        }
        None => {
            let host = match host {
                Some(host) => {
                    host.check_answers().await?;
                    host
                }
                None => {
                    return Err(Failure::Environment(
                        "images come from the local Docker engine, and none is reachable \
                         (DOCKER_HOST); `docker save` them elsewhere and pass --archive FILE"
                            .into(),
                    )
                    .into())
                }
            };
            let mut missing = Vec::new();
            for image in &settings.images {
                let Some(host_id) = host.host_image_id(image).await? else {
                    return Err(Failure::Environment(format!(
                        "{image} is not on the host's Docker engine (docker pull {image}, or docker build it)"
                    ))
                    .into());
                };
                if node_image_id(backend, &settings.name, image)
                    .await?
                    .as_deref()
                    == Some(host_id.as_str())
                {
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
                docker_load(backend, &settings.name, host.save_images(&missing)).await?;
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
    let out = backend.exec_capture(&settings.name, &command, None).await?;
    if out.code != 0 {
        return Err(
            Failure::Node(format!("kind load failed: {}{}", out.stdout, out.stderr)).into(),
        );
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
    backend: &impl Backend,
    cluster: &str,
    tar: futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>,
) -> Result<Vec<String>> {
    let out = backend
        .exec_capture(cluster, &["docker".into(), "load".into()], Some(tar))
        .await
        .context("cannot stream the images into the node")?;
    if out.code != 0 {
        bail!("docker load in the node failed: {}", out.stderr.trim());
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(String::from)
        .collect())
}

pub(crate) async fn node_image_id(
    backend: &impl Backend,
    cluster: &str,
    image: &str,
) -> Result<Option<String>> {
    let command: Vec<String> = ["docker", "image", "inspect", "-f", "{{.Id}}", image]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = backend.exec_capture(cluster, &command, None).await?;
    Ok((out.code == 0).then(|| out.stdout.trim().to_string()))
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

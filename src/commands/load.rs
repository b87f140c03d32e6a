//! `kip load NAME IMAGE…`: images from the host's engine (or an archive)
//! into the cluster: streamed into the node's inner Docker (no temporary file
//! on the host; a remote node's through `pods/exec`), then `kind load` into
//! the cluster. An image whose ID the node already has is skipped.

use crate::cluster::condition::deleted_by_another;
use crate::cluster::images::{docker_load, node_image_id};
use crate::error::Error;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::TryStreamExt;
use std::path::{Path, PathBuf};

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
    // A bad archive is refused before anything is asked of the engine.
    let archive = match &settings.archive {
        Some(path) => Some(open_archive(path).await?),
        None => None,
    };
    let node = provider.find_running(&settings.name).await?;
    match load_into(settings, &node, archive, host, printer).await {
        // A `kip down` at the same time: that, not the broken exec.
        Err(_) if deleted_by_another(provider, &node).await => Err(Error::DeletedWhileLoading {
            name: settings.name.clone(),
        }
        .into()),
        loaded => loaded,
    }
}

/// The images (or the archive) into the node's Docker, then into the
/// cluster (`kind load`).
async fn load_into(
    settings: &LoadSettings,
    node: &impl Node,
    archive: Option<Archive>,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<()> {
    let names = match archive {
        Some(archive) => load_archive(node, archive, printer).await?,
        None => {
            let Some(host) = host else {
                return Err(Error::NoHostEngine.into());
            };
            host.check_answers().await?;
            stream_from_host(node, host, &settings.images, printer).await?
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
    // The kind cluster's own name: a cluster claimed from a pool keeps
    // the member's, a restored one the snapshot's.
    command.extend(["--name".to_string(), node.info().kind_cluster().to_string()]);
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

/// An archive `--archive` names, open: a regular file (a folder or a FIFO
/// would leave `docker load` in the node waiting for input forever).
struct Archive {
    path: PathBuf,
    file: tokio::fs::File,
}

/// Refuses what is not a regular file, naming what it is.
pub fn check_archive(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path)
        .map_err(|e| Error::ArchiveUnreadable {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?
        .file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(Error::ArchiveNotAFile {
        path: path.to_path_buf(),
        what,
    })
}

/// Checked again as it is opened: it may have changed since the command
/// line was read.
async fn open_archive(path: &Path) -> Result<Archive> {
    check_archive(path)?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::ArchiveUnreadable {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
    Ok(Archive {
        path: path.to_path_buf(),
        file,
    })
}

/// `--archive FILE` into the node's Docker; the images it held. A file
/// that fails to read ends the load at once, with the reason.
async fn load_archive(
    node: &impl Node,
    archive: Archive,
    printer: &Printer,
) -> Result<Vec<String>> {
    let step = printer.step(
        "images-loaded",
        &format!("Loading {} into the node", archive.path.display()),
    );
    let path = archive.path;
    let stream = tokio_util::io::ReaderStream::new(archive.file).map_err(move |e| {
        Error::ArchiveUnreadable {
            path: path.clone(),
            error: e.to_string(),
        }
        .into()
    });
    let loaded = docker_load(node, Box::pin(stream)).await?;
    step.done(&format!("Loaded {} into the node", loaded.join(", ")));
    Ok(loaded)
}

/// The host engine's `images` into the node's Docker, but those the node
/// has already (the same image ID); the images streamed.
async fn stream_from_host(
    node: &impl Node,
    host: &DockerProvider,
    images: &[String],
    printer: &Printer,
) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for image in images {
        let Some(host_id) = host.host_image_id(image).await? else {
            return Err(Error::ImageNotOnHost {
                image: image.clone(),
            }
            .into());
        };
        if node_image_id(node, image).await?.as_deref() == Some(host_id.as_str()) {
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
        docker_load(node, host.save_images(&missing)).await?;
        step.done(&format!("Streamed {} into the node", missing.join(", ")));
    }
    Ok(missing)
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

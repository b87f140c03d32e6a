//! Images into a node's Docker: `docker load` fed from a stream (an
//! archive, or `docker save` on the host), and the ID of an image the node
//! already has, so that one it has is never streamed again.

use crate::error::Error;
use crate::provider::Node;
use anyhow::{Context, Result};
use futures_util::stream::BoxStream;

/// `docker load` in the node, fed from `tar`; the names it loaded.
pub async fn docker_load(
    node: &impl Node,
    tar: BoxStream<'static, Result<bytes::Bytes>>,
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

/// The ID of `image` in the node's Docker, if it has it.
pub async fn node_image_id(node: &impl Node, image: &str) -> Result<Option<String>> {
    let command: Vec<String> = ["docker", "image", "inspect", "-f", "{{.Id}}", image]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = node.exec_capture(&command, None).await?;
    Ok((out.code == 0).then(|| out.stdout.trim().to_string()))
}

//! One node container, as the Docker provider found or made it: its log
//! (followed line by line), commands run in it (`exec.rs`), files copied
//! out of it, its description, events and API endpoint.

use super::DockerProvider;
use crate::api::ApiEndpoint;
use crate::error::Error;
use crate::provider::{ExecOutput, Node, NodeInfo, Provider};
use anyhow::{Context, Result};
use bollard::query_parameters::{EventsOptionsBuilder, LogsOptionsBuilder};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use std::collections::HashMap;

pub struct DockerNode {
    pub(super) engine: DockerProvider,
    /// The container's ID.
    pub(super) id: String,
    pub(super) info: NodeInfo,
}

impl DockerNode {
    pub(super) fn docker(&self) -> &bollard::Docker {
        &self.engine.docker
    }
}

impl Node for DockerNode {
    fn info(&self) -> &NodeInfo {
        &self.info
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }

    async fn log(&self) -> Result<String> {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let chunks: Vec<_> = self
            .docker()
            .logs(&self.id, Some(options))
            .try_collect()
            .await
            .with_context(|| format!("cannot read the logs of {}", self.id))?;
        Ok(chunks
            .iter()
            .map(|c| String::from_utf8_lossy(c.as_ref()))
            .collect())
    }

    async fn follow_log(&self) -> Result<BoxStream<'static, Result<String>>> {
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let chunks = self.docker().logs(&self.id, Some(options)).map(|chunk| {
            chunk.map(|c| c.into_bytes()).map_err(|e| {
                Error::LogStreamBroke {
                    error: e.to_string(),
                }
                .into()
            })
        });
        Ok(lines(chunks).boxed())
    }

    async fn exec_capture(
        &self,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        self.capture(command, input).await
    }

    async fn exec(&self, command: &[String], interactive: bool) -> Result<i64> {
        self.attached(command, interactive).await
    }

    /// Through the engine's archive API, so it works on a stopped node too
    /// (a failed bootstrap's logs are read after the node has exited).
    async fn read_file(&self, path: &str) -> Result<String> {
        self.read_text(path).await
    }

    async fn download(&self, path: &str, dest: &std::path::Path) -> Result<()> {
        self.unpack(path, dest).await
    }

    async fn inspect(&self) -> Result<serde_json::Value> {
        let inspect = self
            .docker()
            .inspect_container(&self.id, None)
            .await
            .with_context(|| format!("cannot inspect {}", self.id))?;
        Ok(serde_json::to_value(inspect)?)
    }

    async fn events(&self) -> Result<serde_json::Value> {
        let since = self
            .docker()
            .inspect_container(&self.id, None)
            .await?
            .created
            .and_then(|c| humantime::parse_rfc3339_weak(&c).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let until = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let filters = HashMap::from([("container".to_string(), vec![self.id.clone()])]);
        let options = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .until(&until.to_string())
            .filters(&filters)
            .build();
        let events: Vec<_> = self.docker().events(Some(options)).try_collect().await?;
        Ok(serde_json::to_value(events)?)
    }

    /// The port the node publishes now (none once it has stopped).
    async fn endpoint(&self) -> Result<Option<ApiEndpoint>> {
        Ok(self
            .engine
            .lookup(&self.info.cluster)
            .await?
            .and_then(|node| node.info.endpoint))
    }

    /// A local node's API port is published by the engine: nothing of
    /// kip's to restart.
    async fn reconnect(&self) -> Result<Option<ApiEndpoint>> {
        self.endpoint().await
    }
}

/// Splits a byte stream into lines.
fn lines(
    chunks: impl futures_util::Stream<Item = Result<bytes::Bytes>> + Send + 'static,
) -> impl futures_util::Stream<Item = Result<String>> + Send + 'static {
    futures_util::stream::unfold(
        (Box::pin(chunks), Vec::<u8>::new(), false),
        |(mut chunks, mut buf, mut done)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1])
                        .trim_end_matches('\r')
                        .to_string();
                    return Some((Ok(text), (chunks, buf, done)));
                }
                if done {
                    if buf.is_empty() {
                        return None;
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    buf.clear();
                    return Some((Ok(text), (chunks, buf, done)));
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    Some(Err(e)) => return Some((Err(e), (chunks, buf, true))),
                    None => done = true,
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream::TryStreamExt;

    #[tokio::test]
    async fn splits_chunks_into_lines() {
        let chunks = futures_util::stream::iter(
            ["kip-phase: a\nkip-in", "fo: x=1\n\nlast"].map(|s| Ok(bytes::Bytes::from(s))),
        );
        let got: Vec<String> = lines(chunks).try_collect().await.unwrap();
        assert_eq!(got, ["kip-phase: a", "kip-info: x=1", "", "last"]);
    }
}

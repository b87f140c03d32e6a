//! A command's stdout streamed out of the node Pod over `pods/exec`, as it
//! comes, into a writer kip gives (`kip snapshot save --remote`: the
//! node's data root into a local helper's stdin), never held in memory.

use super::node::KubeNode;
use anyhow::{anyhow, Result};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a streamed command left: its exit code, the bytes it wrote to
/// stdout, and its stderr.
#[derive(Debug)]
pub struct Streamed {
    pub code: i64,
    pub bytes: u64,
    pub stderr: String,
}

impl KubeNode {
    /// Runs `command` in the node and copies its stdout into `sink` (shut
    /// down at the end), reading stderr at the same time (the WebSocket
    /// stalls on a full stream).
    pub async fn stream_out(
        &self,
        command: &[String],
        sink: &mut (impl AsyncWrite + Unpin),
    ) -> Result<Streamed> {
        let mut process = self
            .provider
            .exec_attached(&self.cluster, command, false)
            .await?;
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let mut err = Vec::new();
        // A sink that fails ends both at once: the command, blocked on a
        // stdout nobody reads, would never end its stderr.
        let (bytes, _) = tokio::try_join!(
            tokio::io::copy(&mut stdout, sink),
            stderr.read_to_end(&mut err)
        )?;
        sink.shutdown().await.ok();
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        Ok(Streamed {
            code: super::exec::exit_code_of(status),
            bytes,
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }
}

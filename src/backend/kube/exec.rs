//! Commands in the node Pod over `pods/exec`: output collected, or passed
//! through to kip's own stdio; files copied out with `tar`.

use super::KubeBackend;
use crate::error::Failure;
use crate::names;
use crate::node::remote;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use kube::api::AttachParams;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of stdin (and stdout) kip buffers per exec stream.
const STDIN_BUFFER: usize = 1 << 20;

impl KubeBackend {
    /// Runs `command` in the node with stdin from `input`; its exit code,
    /// stdout and stderr.
    pub(super) async fn exec_collect(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let mut process = self
            .exec_attached(cluster, command, input.is_some())
            .await?;
        let feeder = match (input, process.stdin()) {
            (Some(mut input), Some(mut stdin)) => Some(tokio::spawn(async move {
                while let Some(chunk) = input.next().await {
                    stdin.write_all(&chunk?).await?;
                }
                stdin.shutdown().await?;
                anyhow::Ok(())
            })),
            _ => None,
        };
        // Both streams at once, or the WebSocket stalls on a full one.
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a?;
        b?;
        if let Some(feeder) = feeder {
            feeder.await??;
        }
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        Ok((exit_code_of(status), out, err))
    }

    /// Starts `command` in the node's container.
    pub(super) async fn exec_attached(
        &self,
        cluster: &str,
        command: &[String],
        stdin: bool,
    ) -> Result<kube::api::AttachedProcess> {
        self.running_pod(cluster).await?;
        self.pods()
            .exec(
                &names::node_name(cluster),
                command.to_vec(),
                &AttachParams::default()
                    .container(remote::CONTAINER)
                    .stdin(stdin)
                    .stdout(true)
                    .stderr(true)
                    // kube's default of 1 KiB makes every stdin WebSocket
                    // message 1 KiB: a 1.5 GB image in 1.5 million frames.
                    .max_stdin_buf_size(STDIN_BUFFER)
                    .max_stdout_buf_size(STDIN_BUFFER),
            )
            .await
            .map_err(|e| {
                Failure::Environment(format!(
                    "cannot exec in the node Pod {}: {e}",
                    names::node_name(cluster)
                ))
                .into()
            })
    }

    /// Copies `path` out of the node (`tar` through exec) into `dest`.
    pub(super) async fn copy_out(&self, cluster: &str, path: &str, dest: &Path) -> Result<()> {
        let p = Path::new(path);
        let parent = p.parent().map_or("/".into(), |d| d.display().to_string());
        let base = p
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        let command = ["tar", "-C", &parent, "-cf", "-", &base].map(String::from);
        let (code, out, err) = self.exec_collect(cluster, &command, None).await?;
        if code != 0 {
            bail!(
                "cannot copy {path} out of the node: {}",
                String::from_utf8_lossy(&err).trim()
            );
        }
        std::fs::create_dir_all(dest)?;
        tar::Archive::new(out.as_slice())
            .unpack(dest)
            .with_context(|| format!("cannot unpack {path} into {}", dest.display()))
    }

    /// Runs `command` in the node with kip's stdout and stderr (and stdin
    /// when `interactive`); its exit code.
    pub(super) async fn exec_passthrough(
        &self,
        cluster: &str,
        command: &[String],
        interactive: bool,
    ) -> Result<i64> {
        let mut process = self.exec_attached(cluster, command, interactive).await?;
        let feeder = match (interactive, process.stdin()) {
            (true, Some(mut stdin)) => Some(tokio::spawn(async move {
                let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut stdin).await;
                let _ = stdin.shutdown().await;
            })),
            _ => None,
        };
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let mut err = tokio::io::stderr();
        let (a, b) = tokio::join!(
            crate::output::copy_to_stdout(&mut stdout),
            tokio::io::copy(&mut stderr, &mut err)
        );
        a?;
        b?;
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        Ok(exit_code_of(status))
    }
}

pub(super) fn exit_code_of(
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> i64 {
    let Some(status) = status else {
        return -1;
    };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .and_then(|d| d.causes)
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message)
        .and_then(|m| m.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_exit_codes_come_from_the_status() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
        let status = |v: serde_json::Value| Some(serde_json::from_value::<Status>(v).unwrap());
        assert_eq!(
            exit_code_of(status(serde_json::json!({"status": "Success"}))),
            0
        );
        assert_eq!(
            exit_code_of(status(
                serde_json::json!({"status": "Failure", "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}})
            )),
            7
        );
        assert_eq!(
            exit_code_of(status(serde_json::json!({"status": "Failure"}))),
            1
        );
        assert_eq!(exit_code_of(None), -1);
    }
}

//! Running commands in a node and reading from it: exec with collected or
//! attached output (a node that stopped since it was found said to be
//! one), and files through the archive API (which also works on a stopped
//! node).

use super::errors::{is_not_running, short_docker_error};
use super::node::DockerNode;
use crate::error::Error;
use crate::provider::ExecOutput;
use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWrite;

impl DockerNode {
    /// Through the engine's archive API, so it works on a stopped node too
    /// (a failed bootstrap's logs are read after the node has exited).
    pub(super) async fn read_text(&self, path: &str) -> Result<String> {
        use std::io::Read;
        let tar_bytes = self.archive(path).await?;
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut entry = archive
            .entries()?
            .next()
            .with_context(|| format!("{path} in the node came back empty"))??;
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .with_context(|| format!("{path} in the node is not UTF-8 text"))?;
        Ok(text)
    }

    /// An exec of `command` in the node, its output attached (and its stdin
    /// when `stdin`): the exec's ID. A node stopped since it was found is
    /// said to be one.
    async fn create_exec(&self, command: &[String], stdin: bool) -> Result<String> {
        let id = &self.id;
        let exec = self
            .docker()
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                e if is_not_running(&e) => self.not_running(&e),
                e => Error::ExecFailed {
                    node: id.clone(),
                    error: short_docker_error(&e),
                }
                .into(),
            })?;
        Ok(exec.id)
    }

    /// Runs `command` in the node, feeding it `input`, and collects its
    /// output.
    pub(super) async fn capture(
        &self,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        let exec = self.create_exec(command, input.is_some()).await?;
        let StartExecResults::Attached {
            output,
            input: stdin,
        } = self.docker().start_exec(&exec, None).await?
        else {
            return Err(Error::ExecNotAttached {
                node: self.id.clone(),
            }
            .into());
        };
        // Feed stdin and drain stdout/stderr at once, or a full pipe stalls both.
        let (fed, drained) = tokio::join!(feed(input, stdin), drain(output));
        // An input that failed is the failure, whatever the command made
        // of what it got.
        if let Some(e) = fed.source {
            return Err(e);
        }
        let (stdout, stderr) = drained?;
        let code = exit_code(self.docker(), &exec).await?;
        // A command that stopped reading matters only if it did not
        // succeed anyway.
        if let (true, Some(e)) = (code != 0, fed.write) {
            return Err(e);
        }
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Copies `path` out of the node (through the archive API) into `dest`.
    pub(super) async fn unpack(&self, path: &str, dest: &std::path::Path) -> Result<()> {
        let tar_bytes = self.archive(path).await?;
        std::fs::create_dir_all(dest)?;
        tar::Archive::new(tar_bytes.as_slice())
            .unpack(dest)
            .with_context(|| format!("cannot unpack {path} into {}", dest.display()))
    }

    /// Runs `command` in the node with kip's own stdout and stderr (and
    /// stdin when `interactive`); its exit code.
    pub(super) async fn attached(&self, command: &[String], interactive: bool) -> Result<i64> {
        use tokio::io::AsyncWriteExt;
        let exec = self.create_exec(command, interactive).await?;
        let options = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = self.docker().start_exec(&exec, Some(options)).await?
        else {
            return Err(Error::ExecNotAttached {
                node: self.id.clone(),
            }
            .into());
        };
        let feeder = interactive.then(|| {
            tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
                let _ = input.shutdown().await;
            })
        });
        let mut stdout = tokio::io::stdout();
        let mut stderr = tokio::io::stderr();
        while let Some(chunk) = output.next().await {
            match chunk? {
                LogOutput::StdErr { message } => {
                    stderr.write_all(&message).await?;
                }
                other => {
                    stdout
                        .write_all(other.as_ref())
                        .await
                        .map_err(crate::output::stdout_failed)?;
                }
            }
        }
        stdout.flush().await.ok();
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        let code = exit_code(self.docker(), &exec).await?;
        Ok(code)
    }

    /// `path` in the node (file or folder) as a tar archive.
    async fn archive(&self, path: &str) -> Result<Vec<u8>> {
        use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let chunks: Vec<bytes::Bytes> = self
            .docker()
            .download_from_container(&self.id, Some(options))
            .try_collect()
            .await
            .map_err(|e| Error::CopyOut {
                path: path.to_string(),
                error: short_docker_error(&e),
            })?;
        Ok(chunks.concat())
    }
}

/// How feeding an exec's stdin ended: its input failed, or the command
/// stopped reading.
#[derive(Default)]
struct Fed {
    source: Option<anyhow::Error>,
    write: Option<anyhow::Error>,
}

/// Feeds `input`, if there is one, to an exec's stdin, then closes it.
async fn feed(
    input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    mut stdin: Pin<Box<dyn AsyncWrite + Send>>,
) -> Fed {
    use tokio::io::AsyncWriteExt;
    let Some(mut source) = input else {
        return Fed::default();
    };
    let mut fed = Fed::default();
    while let Some(chunk) = source.next().await {
        match chunk {
            Ok(chunk) => {
                if let Err(e) = stdin.write_all(&chunk).await {
                    fed.write = Some(
                        anyhow::Error::from(e).context("the command in the node stopped reading"),
                    );
                    break;
                }
            }
            // The input failed: the command must not wait for the rest of it.
            Err(e) => {
                fed.source = Some(e);
                break;
            }
        }
    }
    stdin.shutdown().await.ok();
    fed
}

/// An exec's output to its end: its stdout and its stderr.
async fn drain(
    mut output: Pin<Box<dyn Stream<Item = Result<LogOutput, DockerError>> + Send>>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(chunk) = output.next().await {
        match chunk? {
            LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
            other => stdout.extend_from_slice(other.as_ref()),
        }
    }
    Ok((stdout, stderr))
}

/// An exec's exit code. The engine may still report it running for a moment
/// after its output has ended, so this waits (2 s at most) for it to finish.
async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64> {
    for _ in 0..100 {
        let inspect = docker.inspect_exec(exec_id).await?;
        if inspect.running != Some(true) {
            if let Some(code) = inspect.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(Error::NoExitCode.into())
}

impl DockerNode {
    /// The engine refused an exec: the node stopped (or was paused) since
    /// it was found.
    pub(super) fn not_running(&self, e: &DockerError) -> anyhow::Error {
        Error::NodeNotRunning {
            cluster: self.info.cluster.clone(),
            status: short_docker_error(e),
            remote: false,
        }
        .into()
    }
}

//! Commands in the node Pod over `pods/exec`: output collected, or passed
//! through to kip's own stdio; files copied out with `tar`.

use super::KubeProvider;
use crate::error::Error;
use crate::node::remote;
use anyhow::{anyhow, Context, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use kube::api::AttachParams;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Bytes of stdin (and stdout) kip buffers per exec stream.
const STDIN_BUFFER: usize = 1 << 20;
/// The most stdin bytes in one exec WebSocket message (kubectl sends 32 KiB).
const STDIN_FRAME: usize = 64 << 10;
/// The exec protocol's channels (`v4`/`v5.channel.k8s.io`), and v5's close.
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;

impl KubeProvider {
    /// Runs `command` in the node with stdin from `input`; its exit code,
    /// stdout and stderr.
    pub(super) async fn exec_collect(
        &self,
        cluster: &str,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        if let Some(input) = input {
            return self.exec_with_input(cluster, command, input).await;
        }
        let mut process = self
            .exec_attached(cluster, command, input.is_some())
            .await?;
        // Both streams at once, or the WebSocket stalls on a full one.
        let mut stdout = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stderr = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a?;
        b?;
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        Ok((exit_code_of(status), out, err))
    }

    /// Runs `command` in the node with `input` on its stdin, speaking the
    /// exec WebSocket protocol itself: kube's `AttachedProcess` sends stdin
    /// in 4 KiB frames, and an image streamed that way went in at 0.63x of
    /// `kubectl exec -i`; frames of [`STDIN_FRAME`] bytes take that cost
    /// away. stdout, stderr and the status are read at the same time.
    async fn exec_with_input(
        &self,
        cluster: &str,
        command: &[String],
        input: BoxStream<'static, Result<bytes::Bytes>>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let pod = super::pod::pod_name(&self.present_pod(cluster).await?);
        let params = AttachParams::default()
            .container(remote::CONTAINER)
            .stdin(true)
            .stdout(true)
            .stderr(true);
        let request = kube::core::Request::new(format!(
            "/api/v1/namespaces/{}/pods",
            self.namespace
        ))
        .exec(&pod, command.to_vec(), &params)?;
        let connection = self
            .client
            .connect(request)
            .await
            .map_err(|e| Error::PodExecFailed {
                pod: pod.clone(),
                error: e.to_string(),
            })?;
        let closes_stdin = connection.supports_stream_close();
        let (sink, stream) = connection.into_stream().split();
        let feeder = tokio::spawn(feed_stdin(sink, input, closes_stdin));
        let reader = read_output(stream);
        // The reader ends at the status: after stdin closed, or when the
        // command ended early, and then what is left of the input is moot.
        let read = reader.await;
        // An input that failed is the failure (the feeder closed stdin, so
        // the command ended), whatever the command made of what it got.
        // With a status, the rest of an input still being fed is moot;
        // without one, the feeder's error, if it had one, says why.
        let has_status = matches!(&read, Ok(read) if read.2.is_some());
        if has_status && !feeder.is_finished() {
            feeder.abort();
        } else {
            match feeder.await {
                Ok(Ok(Some(source))) => return Err(source),
                Ok(Err(sink)) if !has_status => return Err(sink),
                Err(join) if !has_status => return Err(join.into()),
                _ => {}
            }
        }
        let (out, err, status) = read?;
        Ok((exit_code_of(status), out, err))
    }

    /// Starts `command` in the node's container.
    pub(super) async fn exec_attached(
        &self,
        cluster: &str,
        command: &[String],
        stdin: bool,
    ) -> Result<kube::api::AttachedProcess> {
        let pod = super::pod::pod_name(&self.present_pod(cluster).await?);
        self.pods()
            .exec(
                &pod,
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
                Error::PodExecFailed {
                    pod: pod.clone(),
                    error: e.to_string(),
                }
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
            return Err(Error::CopyOut {
                path: path.to_string(),
                error: String::from_utf8_lossy(&err).trim().to_string(),
            }
            .into());
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

/// Sends `input` as the exec's stdin in frames of [`STDIN_FRAME`] bytes,
/// then closes stdin (v5), or the connection (v4 cannot close one stream).
/// An input that fails closes stdin the same way (the command must not
/// wait for the rest of it) and is returned: `Ok(Some(why))`.
async fn feed_stdin<S>(
    mut sink: S,
    mut input: BoxStream<'static, Result<bytes::Bytes>>,
    closes_stdin: bool,
) -> Result<Option<anyhow::Error>>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    use futures_util::SinkExt;
    let mut frame = Vec::with_capacity(STDIN_FRAME + 1);
    frame.push(STDIN);
    let mut failed = None;
    while let Some(chunk) = input.next().await {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        while !chunk.is_empty() {
            let take = chunk.len().min(STDIN_FRAME + 1 - frame.len());
            frame.extend_from_slice(&chunk.split_to(take));
            if frame.len() == STDIN_FRAME + 1 {
                sink.send(Message::binary(std::mem::replace(
                    &mut frame,
                    Vec::with_capacity(STDIN_FRAME + 1),
                )))
                .await?;
                frame.push(STDIN);
            }
        }
    }
    if frame.len() > 1 {
        sink.send(Message::binary(frame)).await?;
    }
    if closes_stdin {
        sink.send(Message::binary(vec![CLOSE, STDIN])).await?;
    } else {
        sink.close().await?;
    }
    Ok(failed)
}

/// The exec's stdout and stderr, until its status.
async fn read_output<S>(
    mut stream: S,
) -> Result<(
    Vec<u8>,
    Vec<u8>,
    Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
)>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
    while let Some(message) = stream.next().await {
        let Message::Binary(data) = message? else {
            continue;
        };
        match data.first() {
            Some(&STDOUT) => out.extend_from_slice(&data[1..]),
            Some(&STDERR) => err.extend_from_slice(&data[1..]),
            Some(&STATUS) => {
                status = serde_json::from_slice(&data[1..]).ok();
                break;
            }
            _ => {}
        }
    }
    Ok((out, err, status))
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

//! The snapshot helpers kip streams to and from (`kip snapshot export`
//! and `import`): attached before they start, so nothing is lost, and
//! waited for and removed by kip (`crate::snapshot::transfer`).

use super::errors::short_docker_error;
use super::snapshots::{helper_body, next, HelperMount};
use super::DockerProvider;
use anyhow::{anyhow, Result};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfigLogConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, KillContainerOptions};

/// A helper container kip streams to and from (`kip snapshot export|import`).
pub struct StreamingHelper {
    pub name: String,
    /// Its stdout and stderr, as Docker multiplexes them.
    pub output: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
    /// Its stdin (closed at once when it was started without).
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// A streaming helper's container: attached on stdin when `stdin`, and
/// with no log driver. Its output goes to kip through the attach only: the
/// engine's default `json-file` driver would also write every byte of a
/// multi-GB tar into the container's log as JSON, which made the stream
/// out of a helper 4x slower than with none (1 GiB in 42.8 s against 11.0 s
/// on this machine) and took that much disk for as long as it ran; a
/// driver that ships logs elsewhere would ship the snapshot (etcd's
/// Secrets with it).
fn streaming_body(
    image: &str,
    mounts: &[HelperMount<'_>],
    (script, args): (&str, &[String]),
    stdin: bool,
) -> ContainerCreateBody {
    let mut body = helper_body(image, mounts, script, args);
    body.open_stdin = Some(stdin);
    body.stdin_once = Some(stdin);
    body.attach_stdin = Some(stdin);
    if let Some(host) = body.host_config.as_mut() {
        host.log_config = Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        });
    }
    body
}

impl DockerProvider {
    /// Creates and starts a helper whose stdout (and stdin, when `stdin`)
    /// kip streams: attached before it starts, so nothing is lost.
    /// [`Self::end_streaming_helper`] waits for it and removes it.
    pub async fn start_streaming_helper(
        &self,
        image: &str,
        mounts: &[HelperMount<'_>],
        (script, args): (&str, &[String]),
        stdin: bool,
    ) -> Result<StreamingHelper> {
        let name = format!("kip-snapshot-helper-{}-{}", std::process::id(), next());
        self.create_helper(&name, streaming_body(image, mounts, (script, args), stdin))
            .await?;
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = match self.docker.attach_container(&name, Some(options)).await {
            Ok(attached) => attached,
            Err(e) => {
                let _ = self.remove_container_by_name(&name).await;
                return Err(anyhow!(
                    "cannot attach to the snapshot helper: {}",
                    short_docker_error(&e)
                ));
            }
        };
        if let Err(e) = self.docker.start_container(&name, None).await {
            let _ = self.remove_container_by_name(&name).await;
            return Err(anyhow!(
                "the snapshot helper did not start: {}",
                short_docker_error(&e)
            ));
        }
        Ok(StreamingHelper {
            name,
            output: attached.output,
            input: attached.input,
        })
    }

    /// Waits for the streaming helper `name` to end (`kill`: ends it first)
    /// and removes it: its exit code. The caller has dropped its attach.
    pub async fn end_streaming_helper(&self, name: &str, kill: bool) -> Result<i64> {
        if kill {
            let _ = self
                .docker
                .kill_container(name, None::<KillContainerOptions>)
                .await;
        }
        let code = self.exit_code_of(name, "snapshot helper").await?;
        self.remove_container_by_name(name).await?;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streaming_helper_logs_nothing_of_what_it_streams() {
        let mounts = [HelperMount {
            volume: "kip-snap-a",
            path: "/s",
            read_only: true,
        }];
        for stdin in [false, true] {
            let body = streaming_body("dind", &mounts, ("exec tar -c .", &[]), stdin);
            let log = body.host_config.and_then(|h| h.log_config);
            assert_eq!(log.and_then(|l| l.typ).as_deref(), Some("none"));
            assert_eq!(body.attach_stdin, Some(stdin));
            assert_eq!(body.open_stdin, Some(stdin));
        }
    }
}

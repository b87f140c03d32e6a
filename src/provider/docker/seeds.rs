//! The seed store on this engine (`crate::seed`): a volume that node
//! containers mount, read and changed from outside a node only by a
//! throwaway helper container (the engine may be remote: kip never sees
//! its file system).

use super::errors::{is_not_found, short_docker_error};
use super::DockerProvider;
use anyhow::{anyhow, bail, Context, Result};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveVolumeOptions,
};
use futures_util::TryStreamExt;
use std::collections::HashMap;

/// The label of the helper containers (not kip's managed-by label: they
/// are no cluster's node, and `kip list` must not show them).
const HELPER_LABEL: &str = "dev.kip.seed-helper";

/// What the helper said: its exit code, stdout and stderr.
pub struct HelperOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl DockerProvider {
    /// Runs `script` with `args` in a container of `image` that has the
    /// store `volume` at `path`, with no network; removes the container.
    pub async fn run_seed_helper(
        &self,
        image: &str,
        (volume, path): (&str, &str),
        script: &str,
        args: &[String],
    ) -> Result<HelperOutput> {
        let name = format!("kip-seed-helper-{}-{}", std::process::id(), helper_number());
        let mut entrypoint = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "kip-seed-store".into(),
        ];
        entrypoint.extend(args.iter().cloned());
        let body = ContainerCreateBody {
            image: Some(image.into()),
            entrypoint: Some(entrypoint),
            env: Some(vec![format!("KIP_SEED_STORE={path}")]),
            labels: Some(HashMap::from([(
                HELPER_LABEL.to_string(),
                "true".to_string(),
            )])),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(volume.into()),
                    target: Some(path.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot create the seed store helper from {image}: {}",
                    short_docker_error(&e)
                )
            })?;
        let ran = self.helper_output(&name, "seed store helper").await;
        self.remove_container_by_name(&name).await?;
        ran
    }

    /// Waits for container `name` (`what` it is, for errors) to end: its
    /// exit code.
    pub(super) async fn exit_code_of(&self, name: &str, what: &str) -> Result<i64> {
        match self
            .docker
            .wait_container(name, None)
            .try_collect::<Vec<_>>()
            .await
        {
            Ok(waits) => Ok(waits.last().map_or(0, |w| w.status_code)),
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => Ok(code),
            Err(e) => bail!("waiting for the {what}: {e}"),
        }
    }

    /// Starts the helper container `name` (`what` it is, for errors) and
    /// collects its exit code and output once it ends.
    pub(super) async fn helper_output(&self, name: &str, what: &str) -> Result<HelperOutput> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| anyhow!("the {what} did not start: {}", short_docker_error(&e)))?;
        let code = self.exit_code_of(name, what).await?;
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let chunks: Vec<LogOutput> = self
            .docker
            .logs(name, Some(options))
            .try_collect()
            .await
            .with_context(|| format!("cannot read the {what}'s output"))?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for chunk in chunks {
            match chunk {
                LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message))
                }
                other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        Ok(HelperOutput {
            code,
            stdout,
            stderr,
        })
    }

    /// Removes the store volume unless a container (a node, running or
    /// stopped) still has it: whether it is gone.
    pub async fn remove_seed_store(&self, volume: &str) -> Result<bool> {
        match self
            .docker
            .remove_volume(volume, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(false),
            Err(e) => Err(anyhow!(
                "cannot remove volume {volume}: {}",
                short_docker_error(&e)
            )),
        }
    }
}

/// Tells apart the helpers of one kip process.
fn helper_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

//! Snapshot volumes on this engine (`crate::snapshot`): made, listed and
//! removed by their labels, filled and read only by a throwaway helper
//! container (the engine may be remote: kip never sees its file system),
//! and the node frozen (`docker pause`) or stopped while one is copied.

use super::errors::{is_not_found, is_not_modified, is_volume_in_use, short_docker_error};
use super::DockerProvider;
use anyhow::{anyhow, Result};
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, MountVolumeOptions, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveVolumeOptions,
};
use std::collections::HashMap;

use super::seeds::HelperOutput;

/// The label of snapshot helpers (no cluster's node: `kip list` skips them).
const HELPER_LABEL: &str = "dev.kip.snapshot-helper";

/// The label of a restore's helper: the cluster whose node volume it fills.
const RESTORING_LABEL: &str = "dev.kip.restoring";

/// The label of a restored node's volume that tells this run's creation of
/// it from another's.
const VOLUME_TOKEN: &str = "dev.kip.volume-token";

/// One volume a helper mounts.
pub struct HelperMount<'a> {
    pub volume: &'a str,
    pub path: &'a str,
    pub read_only: bool,
}

/// A snapshot volume as the engine lists it.
#[derive(Debug, Clone)]
pub struct SnapshotVolume {
    pub name: String,
    pub labels: HashMap<String, String>,
    pub created_at: Option<String>,
}

impl DockerProvider {
    /// The volume's labels, or None if the engine has no such volume.
    pub async fn volume_labels(&self, volume: &str) -> Result<Option<HashMap<String, String>>> {
        match self.docker.inspect_volume(volume).await {
            Ok(v) => Ok(Some(v.labels)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Makes `volume` with `labels`; false (and nothing touched) when one
    /// of that name was there already.
    pub async fn create_new_volume(
        &self,
        volume: &str,
        labels: &HashMap<String, String>,
    ) -> Result<bool> {
        if self.volume_labels(volume).await?.is_some() {
            return Ok(false);
        }
        let request = VolumeCreateRequest {
            name: Some(volume.into()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        let made =
            self.docker.create_volume(request).await.map_err(|e| {
                anyhow!("cannot create volume {volume}: {}", short_docker_error(&e))
            })?;
        // The engine answers with the volume that is there if one appeared
        // since: it is not this run's.
        Ok(made.labels == *labels)
    }

    /// The volumes carrying `label` (any value).
    pub async fn volumes_labelled(&self, label: &str) -> Result<Vec<SnapshotVolume>> {
        let volumes = self.labelled_volumes(vec![label.to_string()]).await?;
        Ok(volumes
            .into_iter()
            .map(|v| SnapshotVolume {
                name: v.name,
                labels: v.labels,
                created_at: v.created_at,
            })
            .collect())
    }

    /// Removes the snapshot volume `volume`: whether it was there. Another
    /// kip's helper may hold it for a moment (every `kip snapshot list`
    /// mounts every snapshot, read-only): an engine that says "in use" is
    /// asked again for a few seconds before that is the answer.
    pub async fn remove_volume(&self, volume: &str) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let removed = loop {
            let removed = self
                .docker
                .remove_volume(volume, Some(RemoveVolumeOptions { force: false }))
                .await;
            match removed {
                Err(e) if is_volume_in_use(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await
                }
                other => break other,
            }
        };
        match removed {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(anyhow!(
                "cannot remove volume {volume}: {}",
                short_docker_error(&e)
            )),
        }
    }

    /// The folder holding this engine's volumes as the engine sees it, if a
    /// helper can bind-mount it to hard-link between two volumes
    /// (`link(2)` fails between two mounts, even of one volume): the
    /// parent of `volume`'s own folder when `volume` is a plain local
    /// volume. None on Docker Desktop (a bind mount's source is looked up
    /// on the user's machine there) and for any other driver or options.
    /// The helper checks that it sees the volumes there before it links.
    pub async fn volumes_folder(&self, volume: &str) -> Result<Option<String>> {
        let info = self.docker.info().await.map_err(|e| self.unreachable(e))?;
        if info
            .operating_system
            .is_some_and(|os| os.contains("Docker Desktop"))
        {
            return Ok(None);
        }
        let found = match self.docker.inspect_volume(volume).await {
            Ok(v) => v,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.unreachable(e)),
        };
        if found.driver != "local" || !found.options.is_empty() {
            return Ok(None);
        }
        Ok(found
            .mountpoint
            .strip_suffix(&format!("/{volume}/_data"))
            .filter(|folder| folder.starts_with('/'))
            .map(str::to_string))
    }

    /// The engine's architecture as `uname -m` names it (`x86_64`).
    pub async fn architecture(&self) -> Result<String> {
        let info = self.docker.info().await.map_err(|e| self.unreachable(e))?;
        Ok(info.architecture.unwrap_or_default())
    }

    /// Freezes every process of the container (the cgroup freezer).
    pub async fn pause(&self, id: &str) -> Result<()> {
        self.docker
            .pause_container(id)
            .await
            .map_err(|e| anyhow!("cannot pause {id}: {}", short_docker_error(&e)))
    }

    /// Thaws what `pause` froze.
    pub async fn unpause(&self, id: &str) -> Result<()> {
        self.docker
            .unpause_container(id)
            .await
            .map_err(|e| anyhow!("cannot unpause {id}: {}", short_docker_error(&e)))
    }

    /// Starts a stopped container (a node stopped for a snapshot).
    pub async fn start_container(&self, id: &str) -> Result<()> {
        match self.docker.start_container(id, None).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_modified(&e) => Ok(()),
            Err(e) => Err(anyhow!("cannot start {id}: {}", short_docker_error(&e))),
        }
    }

    /// Stops the node as `down` does (its bootstrap stops the kind node
    /// cleanly first).
    pub async fn stop_node(&self, cluster: &str, id: &str) -> Result<()> {
        self.stop(cluster, id).await
    }

    /// Runs `script` with `args` in a container of `image` with `mounts`
    /// (see [`DockerProvider::create_volume_helper`]) and removes it.
    /// Callers run it to its end (a signal waits).
    pub async fn run_volume_helper(
        &self,
        image: &str,
        mounts: &[HelperMount<'_>],
        script: &str,
        args: &[String],
    ) -> Result<HelperOutput> {
        let name = self
            .create_volume_helper(image, (mounts, None), script, args)
            .await?;
        self.run_created_helper(&name).await
    }

    /// Creates (not starts) the helper container that runs `script` with
    /// `args` in `image` with `mounts` and no network: its name. Root with
    /// Docker's default capabilities and CAP_SYS_ADMIN: a copy keeps
    /// overlay2's whiteout devices (CAP_MKNOD) and `trusted.overlay.*`
    /// xattrs (CAP_SYS_ADMIN). Not `--privileged`: an engine that withholds
    /// a capability cannot start privileged containers. With `volumes`
    /// ([`Self::volumes_folder`]) it also sees the engine's volumes at
    /// `/vols`.
    pub async fn create_volume_helper(
        &self,
        image: &str,
        (mounts, volumes): (&[HelperMount<'_>], Option<&str>),
        script: &str,
        args: &[String],
    ) -> Result<String> {
        let name = format!("kip-snapshot-helper-{}-{}", std::process::id(), next());
        let mut body = helper_body(image, mounts, script, args);
        mount_volumes_folder(&mut body, volumes);
        self.create_helper(&name, body).await?;
        Ok(name)
    }

    /// Creates (not starts) a restore's helper: `script` in `image` with
    /// the snapshot volume `from` at /from (read-only), and the node volume
    /// `to` of `cluster` at /to made by the same request, with `labels`;
    /// with `volumes`, the engine's volumes at /vols. The script's
    /// arguments are the two volumes' names.
    /// The volume is never there without a container that holds it, so a
    /// `down` or `gc` leaves it as a cluster being made (the engine refuses
    /// to remove it), and `delete` removes the helper with the node. None,
    /// and nothing made, when a volume named `to` was there first.
    pub async fn create_restore_helper(
        &self,
        (image, script): (&str, &str),
        (from, to, volumes): (&str, &str, Option<&str>),
        cluster: &str,
        labels: &HashMap<String, String>,
    ) -> Result<Option<String>> {
        if self.volume_labels(to).await?.is_some() {
            return Ok(None);
        }
        let token = super::spec::node_run_id();
        let mut volume_labels = labels.clone();
        volume_labels.insert(VOLUME_TOKEN.into(), token.clone());
        let mounts = [
            HelperMount {
                volume: from,
                path: "/from",
                read_only: true,
            },
            HelperMount {
                volume: to,
                path: "/to",
                read_only: false,
            },
        ];
        let mut body = helper_body(image, &mounts, script, &[from.into(), to.into()]);
        if let Some(l) = body.labels.as_mut() {
            l.insert(RESTORING_LABEL.into(), cluster.into());
        }
        if let Some(m) = body.host_config.as_mut().and_then(|h| h.mounts.as_mut()) {
            m[1].volume_options = Some(MountVolumeOptions {
                labels: Some(volume_labels),
                ..Default::default()
            });
        }
        mount_volumes_folder(&mut body, volumes);
        let name = format!("kip-snapshot-helper-{}-{}", std::process::id(), next());
        self.create_helper(&name, body).await?;
        // Another run's volume of that name, made between the look and
        // this create, is mounted as it is: not this run's to fill.
        let made = self.volume_labels(to).await?.unwrap_or_default();
        if made.get(VOLUME_TOKEN) != Some(&token) {
            self.remove_container_by_name(&name).await?;
            return Ok(None);
        }
        Ok(Some(name))
    }

    /// Removes the restore helpers filling cluster's node volume (a
    /// `delete` of a cluster a restore is making): whether there were any.
    pub(super) async fn remove_restore_helpers(&self, cluster: &str) -> Result<bool> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{RESTORING_LABEL}={cluster}")],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let helpers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unreachable(e))?;
        for id in helpers.iter().filter_map(|c| c.id.as_deref()) {
            self.remove_container_by_name(id).await?;
        }
        Ok(!helpers.is_empty())
    }

    pub(super) async fn create_helper(&self, name: &str, body: ContainerCreateBody) -> Result<()> {
        let image = body.image.clone().unwrap_or_default();
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot create the snapshot helper from {image}: {}",
                    short_docker_error(&e)
                )
            })?;
        Ok(())
    }

    /// Starts the created helper `name` and waits for it, leaving it (and
    /// what it holds) for [`Self::remove_helper`].
    pub async fn run_created_helper_kept(&self, name: &str) -> Result<HelperOutput> {
        self.helper_output(name, "snapshot helper").await
    }

    /// Starts the created helper `name`, waits for it, collects its output
    /// and removes it.
    pub async fn run_created_helper(&self, name: &str) -> Result<HelperOutput> {
        let ran = self.helper_output(name, "snapshot helper").await;
        self.remove_container_by_name(name).await?;
        ran
    }

    /// Removes a created helper that is not to run.
    pub async fn remove_helper(&self, name: &str) -> Result<()> {
        self.remove_container_by_name(name).await
    }
}

/// A helper that runs `script` with `args` in `image` with `mounts`.
pub(super) fn helper_body(
    image: &str,
    mounts: &[HelperMount<'_>],
    script: &str,
    args: &[String],
) -> ContainerCreateBody {
    let mut entrypoint = vec![
        "sh".into(),
        "-c".into(),
        script.into(),
        "kip-snapshot".into(),
    ];
    entrypoint.extend(args.iter().cloned());
    ContainerCreateBody {
        image: Some(image.into()),
        entrypoint: Some(entrypoint),
        labels: Some(HashMap::from([(HELPER_LABEL.into(), "true".into())])),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            cap_add: Some(vec!["SYS_ADMIN".into()]),
            mounts: Some(
                mounts
                    .iter()
                    .map(|m| Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(m.volume.into()),
                        target: Some(m.path.into()),
                        read_only: Some(m.read_only),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Adds the engine's volumes folder at `/vols` (read-write: a copy links
/// into the volume it fills).
fn mount_volumes_folder(body: &mut ContainerCreateBody, volumes: Option<&str>) {
    let (Some(folder), Some(mounts)) = (
        volumes,
        body.host_config.as_mut().and_then(|h| h.mounts.as_mut()),
    ) else {
        return;
    };
    mounts.push(Mount {
        typ: Some(MountType::BIND),
        source: Some(folder.into()),
        target: Some("/vols".into()),
        read_only: Some(false),
        ..Default::default()
    });
}

/// Tells apart the helpers of one kip process.
pub(super) fn next() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

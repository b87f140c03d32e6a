//! Snapshot volumes on the engine: listed with their metadata, copied into
//! and out of, removed. Everything inside a volume is done by a helper
//! container (`DockerProvider::run_volume_helper`) of the Docker-in-Docker
//! image that wrote the data root.

use super::{name_of, volume_name, Metadata, Summary};
use crate::error::Error;
use crate::provider::docker::{DockerProvider, HelperMount, HelperOutput};
use anyhow::Result;
use std::collections::HashMap;

/// The label naming the image a snapshot's helper runs in.
pub const HELPER_IMAGE_LABEL: &str = "dev.kip.snapshot-helper-image";

/// The copy's functions (`copy_root`): `cp -a`, the measured choice (see
/// the module's DESIGN), but containerd's content store hard-linked where
/// the helper sees the engine's volumes.
const COPY: &str = include_str!("copy.sh");

/// The node's data root, frozen, into `data/` of the snapshot.
const COPY_OUT: &str = r#"
mkdir /to/data
copy_root "$1" "" "$2" /data
"#;

/// What a restore needs besides the data root, then its size in bytes.
const FINISH: &str = r#"set -eu
rm -f /to/data/.kip-restore
printf '%s\n' "$1" >/to/data/.kip-kind-cluster
printf '%s\n' "$2" >/to/data/.kip-kubeconfig
du -sb /to/data | cut -f1
"#;

/// The metadata, written last (by a rename): the save is complete.
const WRITE_METADATA: &str = r#"set -eu
printf '%s\n' "$1" >/to/snapshot.json.tmp
mv /to/snapshot.json.tmp /to/snapshot.json
"#;

/// A complete snapshot's data root into a new node's volume, marked for
/// the node's bootstrap (`restore_data_root`).
const COPY_IN: &str = r#"
[ -s /from/snapshot.json ] || { echo "the snapshot is incomplete" >&2; exit 3; }
copy_root "$1" /data "$2" ""
: >/to/.kip-restore
"#;

/// A copy script: `set -eu`, [`COPY`]'s functions, then `body`.
fn copy_script(body: &str) -> String {
    format!("set -eu\n{COPY}{body}")
}

/// Each mounted snapshot's name and its metadata on one line ("-": none).
const READ_ALL: &str = r#"for dir in /s/*; do
    [ -d "$dir" ] || continue
    printf '%s ' "${dir##*/}"
    if [ -s "$dir/snapshot.json" ]; then tr -d '\n' <"$dir/snapshot.json"; else printf -- -; fi
    echo
done
"#;

fn mount<'a>(volume: &'a str, path: &'a str, read_only: bool) -> HelperMount<'a> {
    HelperMount {
        volume,
        path,
        read_only,
    }
}

async fn helper(
    engine: &DockerProvider,
    image: &str,
    mounts: &[HelperMount<'_>],
    (what, script): (&str, &str),
    args: &[String],
) -> Result<HelperOutput> {
    let out = engine
        .run_volume_helper(image, mounts, script, args)
        .await?;
    checked(what, out)
}

/// The helper's output, or its failure (`what` it was asked).
fn checked(what: &str, out: HelperOutput) -> Result<HelperOutput> {
    if out.code != 0 {
        return Err(Error::SnapshotHelperFailed {
            what: what.to_string(),
            error: format!("exited {}: {}", out.code, out.stderr.trim()),
        }
        .into());
    }
    Ok(out)
}

/// The helper that copies the node volume `from` into the snapshot volume
/// `to`, created (not started): [`run_copy_out`] starts it, so that the
/// node is frozen for the copy only, not for the helper's creation.
pub async fn prepare_copy_out(
    engine: &DockerProvider,
    image: &str,
    from: &str,
    to: &str,
) -> Result<String> {
    let mounts = [mount(from, "/from", true), mount(to, "/to", false)];
    let volumes = engine.volumes_folder(from).await?;
    let args = [from.to_string(), to.to_string()];
    engine
        .create_volume_helper(
            image,
            (&mounts, volumes.as_deref()),
            &copy_script(COPY_OUT),
            &args,
        )
        .await
}

/// Runs the helper [`prepare_copy_out`] made: whether containerd's
/// content store was hard-linked rather than copied.
pub async fn run_copy_out(engine: &DockerProvider, helper: &str) -> Result<bool> {
    let out = engine.run_created_helper(helper).await?;
    checked("copy the node's volume", out).map(|out| linked(&out))
}

/// Writes what a restore needs beside the data root; the snapshot's size.
pub async fn finish(
    engine: &DockerProvider,
    image: &str,
    to: &str,
    (kind_cluster, kubeconfig): (&str, &str),
) -> Result<u64> {
    let args = [kind_cluster.to_string(), kubeconfig.to_string()];
    let out = helper(
        engine,
        image,
        &[mount(to, "/to", false)],
        ("finish the snapshot", FINISH),
        &args,
    )
    .await?;
    Ok(out.stdout.trim().parse().unwrap_or(0))
}

pub async fn write_metadata(engine: &DockerProvider, image: &str, meta: &Metadata) -> Result<()> {
    let volume = volume_name(&meta.name);
    let args = [serde_json::to_string(meta)?];
    let mounts = [mount(&volume, "/to", false)];
    helper(
        engine,
        image,
        &mounts,
        ("write the snapshot's metadata", WRITE_METADATA),
        &args,
    )
    .await?;
    Ok(())
}

/// The helper that fills the new node volume `to` of `cluster` from the
/// snapshot, created (not started) with the volume and its `labels` (see
/// `DockerProvider::create_restore_helper`); None when a volume of that
/// name was there first.
pub async fn prepare_copy_in(
    engine: &DockerProvider,
    meta: &Metadata,
    (to, cluster): (&str, &str),
    labels: &HashMap<String, String>,
) -> Result<Option<String>> {
    let from = volume_name(&meta.name);
    let volumes = engine.volumes_folder(&from).await?;
    let script = copy_script(COPY_IN);
    engine
        .create_restore_helper(
            (&meta.dind_image, &script),
            (&from, to, volumes.as_deref()),
            cluster,
            labels,
        )
        .await
}

/// Runs the helper [`prepare_copy_in`] made, and leaves it holding the
/// volume until the node does (`DockerProvider::remove_helper`): whether
/// containerd's content store was hard-linked rather than copied.
pub async fn run_copy_in(engine: &DockerProvider, helper: &str) -> Result<bool> {
    let out = engine.run_created_helper_kept(helper).await?;
    checked("copy the snapshot", out).map(|out| linked(&out))
}

/// What `save` and `up --from` add to their copy's line when [`COPY`]
/// linked containerd's content store.
pub const LINKED: &str = "its images' content linked, not copied";

/// Whether [`COPY`] said that it linked containerd's content store.
fn linked(out: &HelperOutput) -> bool {
    out.stdout.trim() == "linked"
}

/// Every snapshot volume of kip's on the engine, with its metadata.
pub async fn list(engine: &DockerProvider) -> Result<Vec<Summary>> {
    let volumes = engine.volumes_labelled(super::LABEL).await?;
    let mut found: Vec<_> = volumes
        .into_iter()
        .filter_map(|v| {
            let name = name_of(&v.labels)?.to_string();
            (v.name == volume_name(&name)).then_some((name, v))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = read_all(engine, &found).await?;
    Ok(found
        .into_iter()
        .map(|(name, v)| {
            let meta = metadata.iter().find(|m| m.name == name).cloned();
            Summary {
                volume: v.name.clone(),
                complete: meta.is_some(),
                source: v.labels.get(super::SOURCE_LABEL).cloned(),
                created_at: meta.as_ref().map(|m| m.created_at.clone()).or(v.created_at),
                metadata: meta,
                name,
            }
        })
        .collect())
}

/// The metadata of the snapshots (read by one helper); a snapshot whose
/// save did not finish has none.
async fn read_all(
    engine: &DockerProvider,
    found: &[(String, crate::provider::docker::SnapshotVolume)],
) -> Result<Vec<Metadata>> {
    let mut image = None;
    for (_, v) in found {
        if let Some(candidate) = v.labels.get(HELPER_IMAGE_LABEL) {
            if engine.host_image_id(candidate).await?.is_some() {
                image = Some(candidate.clone());
                break;
            }
        }
    }
    let Some(image) = image else {
        return Ok(Vec::new());
    };
    let paths: Vec<String> = found.iter().map(|(n, _)| format!("/s/{n}")).collect();
    let mounts: Vec<_> = found
        .iter()
        .zip(&paths)
        .map(|((_, v), path)| mount(&v.name, path, true))
        .collect();
    let out = helper(
        engine,
        &image,
        &mounts,
        ("read the snapshots", READ_ALL),
        &[],
    )
    .await?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line.split_once(' ')?.1).ok())
        .collect())
}

/// The complete snapshot `name`: "not found" (exit 5) if there is no such
/// snapshot, refused (exit 3) if its save did not finish.
pub async fn find(engine: &DockerProvider, name: &str) -> Result<Metadata> {
    let summary = list(engine)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| super::not_found(name))?;
    summary.metadata.ok_or_else(|| {
        Error::SnapshotIncomplete {
            name: name.to_string(),
        }
        .into()
    })
}

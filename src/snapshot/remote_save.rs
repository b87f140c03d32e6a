//! `kip snapshot save --remote CLUSTER SNAPSHOT`: a remote cluster's node
//! (a Pod on a shared cluster) streamed out through `pods/exec` into a new
//! snapshot volume on the local engine. The snapshot is then an ordinary
//! local one (list, rm, export, import, `kip up --from`).
//!
//! DESIGN
//! - Freeze: a Pod cannot be paused from outside as a container can, so
//!   the node freezes its kind nodes itself (`docker pause` inside the
//!   Pod; with `--stop`, `docker stop` and `docker start`). The kind nodes
//!   are what writes (etcd, the kubelet, containerd, the workloads); the
//!   node's own dockerd is idle and writes its files atomically. A restore
//!   finds those containers paused (or stopped) with no task and starts
//!   them again, as after a power cut.
//! - What is streamed: a non-recursive bind mount of the node's data root,
//!   so the mounts in it (running containers' `merged` overlays, their
//!   `shm`, a seed's read-only layers) are empty directories, as the local
//!   save's helper sees its volume; then, for a node whose image came
//!   from the outer node's seed, the seed's layers under `layers/`. That is
//!   the tar of a snapshot archive (`super::archive`), and the local
//!   helper unpacks it as an import does (`super::import::TAR_IN`): the
//!   layers go into place and the snapshot mounts no seed.
//! - Thaw, always: the script in the Pod unpauses after its tar, also when
//!   the tar fails (kip gone: a broken pipe); on a failure or a Ctrl-C kip
//!   also runs [`THAW`] (ends the tar, unpauses, unmounts), which is
//!   harmless when there is nothing to thaw.
//! - Not compressed: the stream goes through the API server, where it is
//!   already TLS; gzip -1 in the Pod is CPU the node Pod shares with its
//!   cluster, and slower on one core (~60 MB/s) than the stream itself
//!   (~110 MB/s), though the data root compresses about 3x (measured in
//!   BENCHMARKS.md "Remote snapshots").
//! - The node's DinD image writes the local volume (its dockerd wrote the
//!   data root): it must be on the local engine too, else the save is
//!   refused before anything is made (exit 3).

use super::import::{drain, TAR_IN};
use super::save::{facts, SaveSettings};
use super::transfer::{helper_failed, mount};
use super::volume::HELPER_IMAGE_LABEL;
use super::{volume_labels, volume_name, Metadata};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::node::contract::{DOCKER_ROOT, SEED_STORE};
use crate::output::{size, Printer};
use crate::provider::docker::{DockerProvider, StreamingHelper};
use crate::provider::kube::{KubeNode, KubeProvider, Streamed};
use crate::provider::{Node, Provider};
use anyhow::Result;
use std::time::Instant;

/// In the node Pod: the kind nodes of $1 frozen ($2: pause, or stop), the
/// data root ($3) tarred through a non-recursive bind mount, with the
/// seed's layers (from the store $4) when the data root mounts a seed;
/// the kind nodes thawed whatever the tar did. Exit 3: no kind node; 4:
/// the seed is gone; 5: no GNU tar; 6: cannot freeze.
const FREEZE_OUT: &str = r#"set -u
name=$1 how=$2 root=$3 seeds=$4
view=/run/kip-snapshot-save-$$
tar --version 2>/dev/null | grep -q 'GNU tar' || {
    echo "the node image has no GNU tar, which a remote snapshot needs (overlay2's xattrs)" >&2
    exit 5
}
ids=$(docker ps -q --filter "label=io.x-k8s.kind.cluster=$name")
[ -n "$ids" ] || { echo "no running kind node of cluster $name in the node" >&2; exit 3; }
seed=$(cat "$root/.kip-seed" 2>/dev/null || true)
if [ -n "$seed" ] && [ ! -d "$seeds/$seed/layers" ]; then
    echo "the seed $seed the node's image comes from is gone" >&2
    exit 4
fi
mkdir -p "$view/data"
mount --bind "$root" "$view/data" || { echo "cannot bind-mount the data root $root" >&2; exit 6; }
if [ "$how" = stop ]; then
    # shellcheck disable=SC2086
    docker stop -t 30 $ids >/dev/null
else
    # shellcheck disable=SC2086
    docker pause $ids >/dev/null
fi || {
    umount "$view/data"
    echo "cannot $how the kind nodes $ids" >&2
    exit 6
}
started=$(date +%s%N)
set -- -c -f - --xattrs --xattrs-include='*' --numeric-owner -C "$view" data
[ -z "$seed" ] || set -- "$@" -C "$seeds/$seed" layers
tar "$@"
code=$?
if [ "$how" = stop ]; then
    # shellcheck disable=SC2086
    docker start $ids >/dev/null || code=7
else
    # shellcheck disable=SC2086
    docker unpause $ids >/dev/null || code=7
fi
echo "kip-frozen-ms=$((($(date +%s%N) - started) / 1000000))" >&2
umount "$view/data" 2>/dev/null || umount -l "$view/data"
rmdir "$view/data" "$view" 2>/dev/null || true
exit $code
"#;

/// In the node Pod, after a failed or interrupted save: the save's tar
/// ended, the kind nodes of $1 running again, the bind mounts gone.
const THAW: &str = r#"pkill -f "^tar -c -f - --xattrs --xattrs-include=\* --numeric-owner -C /run/kip-snapshot-save-" || true
kind="label=io.x-k8s.kind.cluster=$1"
ids=$(docker ps -aq --filter status=paused --filter "$kind")
# shellcheck disable=SC2086
[ -z "$ids" ] || docker unpause $ids >/dev/null
ids=$(docker ps -aq --filter status=exited --filter "$kind")
# shellcheck disable=SC2086
[ -z "$ids" ] || docker start $ids >/dev/null
for view in /run/kip-snapshot-save-*; do
    [ -d "$view" ] || continue
    umount "$view/data" 2>/dev/null || umount -l "$view/data" 2>/dev/null || true
    rmdir "$view/data" "$view" 2>/dev/null || true
done
"#;

/// Saves remote cluster `settings.cluster` of `kube` as snapshot
/// `settings.name` on the local `engine`: its metadata.
pub async fn save(
    kube: &KubeProvider,
    engine: &DockerProvider,
    settings: &SaveSettings,
    printer: &Printer,
) -> Result<Metadata> {
    let volume = volume_name(&settings.name);
    if engine.volume_labels(&volume).await?.is_some() {
        return Err(taken(&settings.name));
    }
    let node = kube.find_running(&settings.cluster).await?;
    let (mut meta, kubeconfig) = facts(&node, settings).await?;
    // The seed's layers are streamed with the data root.
    meta.seed = None;
    if engine.host_image_id(&meta.dind_image).await?.is_none() {
        return Err(Error::SnapshotImageMissing {
            name: settings.name.clone(),
            image: meta.dind_image.clone(),
        }
        .into());
    }
    let mut signals = Signals::listen()?;
    let mut labels_ = volume_labels(&settings.name, &settings.cluster, None);
    labels_.insert(HELPER_IMAGE_LABEL.into(), meta.dind_image.clone());
    if !engine.create_new_volume(&volume, &labels_).await? {
        return Err(taken(&settings.name));
    }
    let made = make(engine, &node, meta, &kubeconfig, &mut signals, printer).await;
    if made.is_err() {
        super::save::discard_unfinished(engine, &volume, printer).await;
    }
    made
}

/// The stream, then what completes the snapshot.
async fn make(
    engine: &DockerProvider,
    node: &KubeNode,
    mut meta: Metadata,
    kubeconfig: &str,
    signals: &mut Signals,
    printer: &Printer,
) -> Result<Metadata> {
    let cluster = meta.source.clone();
    let how = if meta.stopped { "stopped" } else { "frozen" };
    let step = printer.step(
        "snapshot-copied",
        &format!("Streaming cluster {cluster}'s node out of its Pod ({how} meanwhile)"),
    );
    let started = Instant::now();
    let streamed = stream(engine, node, &meta, signals).await;
    if streamed.is_err() {
        thaw(node, &meta.kind_cluster, printer).await;
    }
    let streamed = streamed?;
    meta.frozen_ms = frozen_ms(&streamed.stderr)
        .unwrap_or_else(|| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    step.done(&format!(
        "Streamed {} in {:.1}s; cluster {cluster} was {how} for {:.1}s",
        size(streamed.bytes),
        started.elapsed().as_secs_f64(),
        meta.frozen_ms as f64 / 1000.0
    ));
    let source = format!("remote cluster {cluster}");
    super::save::complete(engine, meta, kubeconfig, signals, printer, &source).await
}

/// The Pod's tar into a local helper that unpacks it into the snapshot
/// volume; a Ctrl-C ends both (the error [`Error::Interrupted`]).
async fn stream(
    engine: &DockerProvider,
    node: &KubeNode,
    meta: &Metadata,
    signals: &mut Signals,
) -> Result<Streamed> {
    let volume = volume_name(&meta.name);
    let StreamingHelper {
        name,
        output,
        mut input,
    } = engine
        .start_streaming_helper(
            &meta.dind_image,
            &[mount(&volume, "/to")],
            (TAR_IN, &[]),
            true,
        )
        .await?;
    let how = if meta.stopped { "stop" } else { "pause" };
    let command: Vec<String> = [
        "sh",
        "-c",
        FREEZE_OUT,
        "kip-snapshot-save",
        &meta.kind_cluster,
        how,
        DOCKER_ROOT,
        SEED_STORE,
    ]
    .map(String::from)
    .to_vec();
    let both = async { tokio::join!(node.stream_out(&command, &mut input), drain(output)) };
    let done = tokio::select! {
        done = both => Some(done),
        () = signals.received() => None,
    };
    drop(input);
    let code = engine.end_streaming_helper(&name, done.is_none()).await;
    let Some((streamed, (_, stderr))) = done else {
        return Err(Error::Interrupted.into());
    };
    let streamed = streamed?;
    if streamed.code != 0 {
        return Err(helper_failed(
            "stream the node's data root out of its Pod",
            streamed.code,
            &said(&streamed.stderr),
        ));
    }
    match code? {
        0 => Ok(streamed),
        code => Err(helper_failed("unpack the node's stream", code, &stderr)),
    }
}

/// The kind nodes running again after a failed or interrupted stream (a
/// failure to is said, not raised: the stream's error is the one to see).
async fn thaw(node: &KubeNode, kind_cluster: &str, printer: &Printer) {
    let command: Vec<String> = ["sh", "-c", THAW, "kip-snapshot-thaw", kind_cluster]
        .map(String::from)
        .to_vec();
    match node.exec_capture(&command, None).await {
        Ok(out) if out.code == 0 => {}
        Ok(out) => printer.warn(&format!(
            "cannot thaw the kind nodes of {kind_cluster} (exit {}: {}); `docker unpause` them in the node",
            out.code,
            out.stderr.trim()
        )),
        Err(e) => printer.warn(&format!(
            "cannot thaw the kind nodes of {kind_cluster} ({e:#}); `docker unpause` them in the node"
        )),
    }
}

/// How long the Pod's script kept the kind nodes frozen, as it said.
fn frozen_ms(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("kip-frozen-ms="))
        .and_then(|ms| ms.trim().parse().ok())
}

/// The Pod script's words, without its timing line.
fn said(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("kip-frozen-ms="))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn taken(name: &str) -> anyhow::Error {
    Error::SnapshotExists {
        name: name.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pods_timing_line_is_read_and_left_out_of_its_words() {
        let stderr = "tar: ./x: socket ignored\nkip-frozen-ms=1234\n";
        assert_eq!(frozen_ms(stderr), Some(1234));
        assert_eq!(said(stderr), "tar: ./x: socket ignored");
        assert_eq!(frozen_ms("nothing"), None);
    }
}

//! A local snapshot streamed into a remote node Pod (`kip up --remote
//! --from SNAPSHOT`, the cluster layer's `restore_remote` recipe).
//!
//! DESIGN
//! - The Pod's data root is an `emptyDir` that only the Pod sees, so the
//!   snapshot goes in through `pods/exec`, as `kip load --remote` brings
//!   images: a local helper tars the snapshot out exactly as `kip snapshot
//!   export` does ([`super::export::TAR_OUT`]: the data root, and the
//!   seed's layers it mounts, so the Pod needs no seed), and
//!   [`RESTORE_IN`] unpacks it in the Pod, puts the layers in place, moves
//!   it into the data root and marks it `.kip-restore`. The node's
//!   bootstrap waits for that mark before its dockerd starts
//!   (`await_restore`), then goes on as a local restore does.
//! - Not compressed, as the remote save (`super::remote_save`): it would
//!   shrink about 3x, but deflate on one core (~60 MB/s) is slower than
//!   the stream itself next to the API server (~110 MB/s; BENCHMARKS.md).

use super::export::{STORE, TAR_OUT};
use super::transfer::{helper_failed, mount};
use super::{volume_name, Metadata};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::node::contract::DOCKER_ROOT;
use crate::provider::docker::{DockerProvider, StreamingHelper};
use crate::provider::Node;
use anyhow::Result;
use bollard::container::LogOutput;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};

/// The process name the node's bootstrap knows the stream by (its `$0`).
pub const RESTORE_PROCESS: &str = "kip-snapshot-restore";

/// In the node Pod ($0: [`RESTORE_PROCESS`]): the snapshot's tar (`data/`,
/// and the seed's `layers/`) into the data root $1, marked `.kip-restore`
/// at the end. Exit 3: not a snapshot's stream.
pub const RESTORE_IN: &str = concat!(
    r#"set -eu
root=$1
in=$root/.kip-restore-in
mkdir "$in"
cd "$in"
tar -x -f - --xattrs --xattrs-include='*' --numeric-owner
[ -d data ] || { echo "the stream holds no data/" >&2; exit 3; }
"#,
    super::import::place_seed_layers!(),
    r#"rm -f data/.kip-seed data/.kip-restore
for entry in data/* data/.[!.]* data/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    mv "$entry" "$root/"
done
cd /
rmdir "$in/data" "$in"
: >"$root/.kip-restore"
"#
);

/// Streams snapshot `meta` from the local `engine` into `node`'s data
/// root. A Ctrl-C ends it (the helper killed): [`Error::Interrupted`].
pub async fn stream_into(
    engine: &DockerProvider,
    meta: &Metadata,
    node: &impl Node,
    signals: &mut Signals,
) -> Result<()> {
    let (name, tar, stderr) = start_tar(engine, meta).await?;
    let command: Vec<String> = ["sh", "-c", RESTORE_IN, RESTORE_PROCESS, DOCKER_ROOT]
        .map(String::from)
        .to_vec();
    let unpacked = tokio::select! {
        out = node.exec_capture(&command, Some(tar)) => Some(out),
        () = signals.received() => None,
    };
    let code = engine.end_streaming_helper(&name, unpacked.is_none()).await;
    let Some(out) = unpacked else {
        return Err(Error::Interrupted.into());
    };
    let out = out?;
    let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
    match code? {
        0 => {}
        4 => {
            return Err(Error::SnapshotSeedGone {
                name: meta.name.clone(),
                seed: meta.seed.clone().unwrap_or_default(),
            }
            .into())
        }
        code => return Err(helper_failed("tar the snapshot", code, &stderr)),
    }
    if out.code != 0 {
        // Its last lines: a full disk makes tar say so for every file.
        return Err(helper_failed(
            "unpack the snapshot in the node Pod",
            out.code,
            &out.stderr,
        ));
    }
    Ok(())
}

/// The helper's tar, as [`super::export`] makes it: its name, its stdout
/// (the tar), and what it says on stderr as it comes.
async fn start_tar(
    engine: &DockerProvider,
    meta: &Metadata,
) -> Result<(
    String,
    BoxStream<'static, Result<Bytes>>,
    Arc<Mutex<String>>,
)> {
    let seed = meta.seed.clone().unwrap_or_default();
    let volume = volume_name(&meta.name);
    let mut mounts = vec![mount(&volume, "/s")];
    if !seed.is_empty() {
        mounts.push(mount(STORE, "/seeds"));
    }
    let StreamingHelper {
        name,
        output,
        input,
    } = engine
        .start_streaming_helper(
            &meta.dind_image,
            &mounts,
            (TAR_OUT, std::slice::from_ref(&seed)),
            false,
        )
        .await?;
    // Its stdin is not used (see `super::export`).
    drop(input);
    let stderr = Arc::new(Mutex::new(String::new()));
    let said = stderr.clone();
    let tar = output
        .filter_map(move |item| {
            let chunk = match item {
                Ok(LogOutput::StdOut { message }) => Some(Ok(message)),
                Ok(LogOutput::StdErr { message }) => {
                    if let Ok(mut said) = said.lock() {
                        said.push_str(&String::from_utf8_lossy(&message));
                    }
                    None
                }
                Ok(_) => None,
                Err(e) => Some(Err(anyhow::anyhow!("the snapshot helper's output: {e}"))),
            };
            std::future::ready(chunk)
        })
        .boxed();
    Ok((name, tar, stderr))
}

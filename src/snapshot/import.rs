//! `kip snapshot import FILE|- SNAPSHOT` (see [`super::transfer`]).

use super::archive::{self, Header, Refused};
use super::transfer::{helper_failed, mount, Place};
use super::volume::HELPER_IMAGE_LABEL;
use super::{volume_labels, volume_name, Metadata};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::output::{size, Printer};
use crate::provider::docker::DockerProvider;
use anyhow::Result;
use bollard::container::LogOutput;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Read;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Shell, in the folder a snapshot's tar was unpacked into: the seed's
/// layers it carries (`layers/ID`) put where the node mounted them
/// (`data/overlay2/ID/diff`), so the data root mounts no seed. The same
/// for an imported archive and a remote restore's stream.
macro_rules! place_seed_layers {
    () => {
        r#"if [ -d layers ]; then
    for layer in layers/*; do
        [ -e "$layer" ] || continue
        id=${layer#layers/}
        [ -d "data/overlay2/$id" ] || { echo "seed layer $id has no place in the data root" >&2; exit 3; }
        rm -rf "data/overlay2/$id/diff"
        mv "$layer" "data/overlay2/$id/diff"
    done
    rmdir layers
    rm -f data/.kip-seed
fi
"#
    };
}
pub(super) use place_seed_layers;

/// The archive's tar (after kip's entry) into a new snapshot volume: the
/// seed's layers (if carried) put where the node mounted them, so the
/// imported snapshot mounts no seed; then its size.
pub(super) const TAR_IN: &str = concat!(
    r#"set -eu
tar --version 2>/dev/null | grep -q 'GNU tar' || {
    echo "the node image has no GNU tar, which a snapshot archive needs (overlay2's xattrs): export and import do not work with this node image yet" >&2
    exit 5
}
cd /to
tar -x -f - --xattrs --xattrs-include='*' --numeric-owner
[ -d data ] || { echo "the archive holds no data/" >&2; exit 3; }
"#,
    place_seed_layers!(),
    r#"du -sb data | cut -f1
"#
);

/// Makes snapshot `name` from the archive at `from`: its metadata. The
/// header is read and checked before anything is made.
pub async fn import(
    engine: &DockerProvider,
    from: &Place,
    name: &str,
    printer: &Printer,
) -> Result<Metadata> {
    let volume = volume_name(name);
    if engine.volume_labels(&volume).await?.is_some() {
        return Err(Error::SnapshotExists { name: name.into() }.into());
    }
    let source = from.name("stdin");
    let reader = Reader::spawn(from)?;
    let (header, chunks, verdict) = reader.header().await.map_err(|r| refused(&source, r))?;
    let mut meta = Metadata {
        name: name.to_string(),
        ..header.metadata
    };
    if engine.host_image_id(&meta.dind_image).await?.is_none() {
        return Err(Error::SnapshotImageMissing {
            name: name.into(),
            image: meta.dind_image.clone(),
        }
        .into());
    }
    let mut labels = volume_labels(name, &meta.source, None);
    labels.insert(HELPER_IMAGE_LABEL.into(), meta.dind_image.clone());
    if !engine.create_new_volume(&volume, &labels).await? {
        return Err(Error::SnapshotExists { name: name.into() }.into());
    }
    let made = make(
        engine,
        &mut meta,
        (chunks, verdict),
        header.seed_layers,
        printer,
    )
    .await;
    if let Err(e) = made.map_err(|e| match e.downcast::<Refused>() {
        Ok(r) => refused(&source, r),
        Err(e) => e,
    }) {
        if engine.remove_volume(&volume).await.is_ok() {
            printer.info(&format!("Removed what this run created: volume {volume}"));
        }
        return Err(e);
    }
    printer.info(&format!(
        "Imported snapshot {name} (of cluster {}, {}) from {source} (`kip up NEW --from {name}`)",
        meta.source,
        size(meta.size_bytes)
    ));
    Ok(meta)
}

fn refused(source: &str, r: Refused) -> anyhow::Error {
    Error::SnapshotArchiveRefused {
        archive: source.to_string(),
        why: r.0,
    }
    .into()
}

/// The new volume filled, the archive found whole, then the metadata
/// written (last: the snapshot is complete). A refused archive is the
/// error [`Refused`].
async fn make(
    engine: &DockerProvider,
    meta: &mut Metadata,
    (chunks, verdict): (mpsc::Receiver<Bytes>, Verdict),
    seed_layers: bool,
    printer: &Printer,
) -> Result<()> {
    let filled = fill(engine, meta, chunks, printer).await;
    if matches!(&filled, Err(e) if matches!(e.downcast_ref(), Some(Error::Interrupted))) {
        return filled.map(|_| ());
    }
    // The reader's verdict first: a cut archive makes tar fail too.
    match verdict.await {
        Ok(Err(r)) => return Err(r.into()),
        Ok(Ok(())) => {}
        Err(_) => anyhow::bail!("the archive's reader stopped"),
    }
    meta.size_bytes = filled?;
    if seed_layers {
        meta.seed = None;
    }
    super::volume::write_metadata(engine, &meta.dind_image, meta).await
}

/// The archive's tar into the new volume by a helper: the data root's size.
async fn fill(
    engine: &DockerProvider,
    meta: &Metadata,
    chunks: mpsc::Receiver<Bytes>,
    printer: &Printer,
) -> Result<u64> {
    let volume = volume_name(&meta.name);
    let mut signals = Signals::listen()?;
    let step = printer.step(
        "snapshot-imported",
        &format!("Importing snapshot {} into volume {volume}", meta.name),
    );
    let helper = engine
        .start_streaming_helper(
            &meta.dind_image,
            &[mount(&volume, "/to")],
            (TAR_IN, &[]),
            true,
        )
        .await?;
    let feed = feed(chunks, helper.input, &mut signals, &step);
    let (fed, (stdout, stderr)) = tokio::join!(feed, drain(helper.output));
    let code = engine
        .end_streaming_helper(&helper.name, fed.is_err())
        .await?;
    fed?;
    if code != 0 {
        return Err(helper_failed("unpack the archive", code, &stderr));
    }
    let size_bytes = stdout
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .parse()
        .unwrap_or(0);
    step.done(&format!(
        "Imported into volume {volume}: {}",
        size(size_bytes)
    ));
    Ok(size_bytes)
}

/// The chunks into the helper's stdin, closed at the end (or at Ctrl-C,
/// the error).
async fn feed(
    mut chunks: mpsc::Receiver<Bytes>,
    mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    signals: &mut Signals,
    step: &crate::output::Step<'_>,
) -> Result<(), Error> {
    let (mut fed, mut shown) = (0u64, 0u64);
    let outcome = loop {
        let chunk = tokio::select! {
            chunk = chunks.recv() => chunk,
            _ = signals.received() => break Err(Error::Interrupted),
        };
        let Some(chunk) = chunk else { break Ok(()) };
        // A helper that stopped reading has failed or is at the tar's
        // end: its exit code and the reader's verdict say which.
        if input.write_all(&chunk).await.is_err() {
            break Ok(());
        }
        fed += chunk.len() as u64;
        if fed - shown >= 64 << 20 {
            shown = fed;
            step.update(&format!("Importing: {} written", size(fed)));
        }
    };
    // The reader reads on to the archive's end without a taker.
    drop(chunks);
    input.shutdown().await.ok();
    outcome
}

/// The helper's stdout and stderr.
pub(super) async fn drain(
    mut output: impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
) -> (String, String) {
    let (mut stdout, mut stderr) = (String::new(), String::new());
    while let Some(item) = output.next().await {
        match item {
            Ok(LogOutput::StdErr { message }) => {
                stderr.push_str(&String::from_utf8_lossy(&message))
            }
            Ok(other) => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            Err(_) => break,
        }
    }
    (stdout, stderr)
}

/// The reader's last word: the archive whole to its checksum, or why not.
type Verdict = tokio::sync::oneshot::Receiver<Result<(), Refused>>;

/// The archive read and decompressed in a blocking thread: its header
/// first, then the rest as chunks; read to its very end (its checksum) even
/// when nobody takes the chunks any more.
struct Reader {
    header: tokio::sync::oneshot::Receiver<Result<Header, Refused>>,
    chunks: mpsc::Receiver<Bytes>,
    verdict: Verdict,
}

impl Reader {
    fn spawn(from: &Place) -> Result<Reader> {
        let input: Box<dyn Read + Send> =
            match from {
                Place::Std if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    return Err(Error::SnapshotArchiveTerminal { output: false }.into())
                }
                Place::Std => Box::new(std::io::stdin()),
                Place::File(path) => Box::new(std::fs::File::open(path).map_err(|e| {
                    Error::SnapshotArchiveRefused {
                        archive: path.display().to_string(),
                        why: format!("it cannot be read ({e})"),
                    }
                })?),
            };
        let (header_tx, header) = tokio::sync::oneshot::channel();
        let (tx, chunks) = mpsc::channel(32);
        let (verdict_tx, verdict) = tokio::sync::oneshot::channel();
        // A thread of its own, not the runtime's blocking pool: an import
        // that stops early (Ctrl-C) must not wait for a stdin that goes on.
        std::thread::spawn(move || {
            let _ = verdict_tx.send(read_archive(input, header_tx, tx));
        });
        Ok(Reader {
            header,
            chunks,
            verdict,
        })
    }

    async fn header(self) -> Result<(Header, mpsc::Receiver<Bytes>, Verdict), Refused> {
        match self.header.await {
            Ok(Ok(header)) => Ok((header, self.chunks, self.verdict)),
            Ok(Err(refused)) => Err(refused),
            Err(_) => Err(Refused("its reader stopped".into())),
        }
    }
}

fn read_archive(
    input: Box<dyn Read + Send>,
    header_tx: tokio::sync::oneshot::Sender<Result<Header, Refused>>,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), Refused> {
    let mut gz = archive::decoder(std::io::BufReader::with_capacity(1 << 20, input));
    match archive::read_header(&mut gz) {
        Ok(header) => {
            let _ = header_tx.send(Ok(header));
        }
        Err(refused) => {
            let _ = header_tx.send(Err(Refused(refused.0.clone())));
            return Err(refused);
        }
    }
    let mut tx = Some(tx);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = gz
            .read(&mut buffer)
            .map_err(|e| archive::refused_read(&e))?;
        if n == 0 {
            break;
        }
        let chunk = Bytes::copy_from_slice(&buffer[..n]);
        if tx
            .as_ref()
            .is_some_and(|tx| tx.blocking_send(chunk).is_err())
        {
            tx = None;
        }
    }
    archive::nothing_after(gz)
}

//! `kip snapshot export SNAPSHOT FILE|-` (see [`super::transfer`]).

use super::archive::{self, Header, FORMAT};
use super::transfer::{helper_failed, mount, Place};
use super::{volume_name, Metadata};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::output::{size, Printer};
use crate::provider::docker::{DockerProvider, StreamingHelper};
use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// The tar of the snapshot volume, then of its seed's layers ($1: the
/// seed, or empty). Exit 4: the seed is gone; 5: no GNU tar (busybox).
pub(super) const TAR_OUT: &str = r#"set -eu
tar --version 2>/dev/null | grep -q 'GNU tar' || {
    echo "the node image has no GNU tar, which a snapshot archive needs (overlay2's xattrs): export and import do not work with this node image yet" >&2
    exit 5
}
[ -s /s/snapshot.json ] || { echo "the snapshot is incomplete" >&2; exit 3; }
set -- "${1:-}"
if [ -n "$1" ]; then
    [ -d "/seeds/$1/layers" ] || { echo "seed $1 is gone from this engine" >&2; exit 4; }
    exec tar -c -f - --xattrs --xattrs-include='*' --numeric-owner -C /s data -C "/seeds/$1" layers
fi
exec tar -c -f - --xattrs --xattrs-include='*' --numeric-owner -C /s data
"#;

/// Writes snapshot `name` as an archive to `to`: its metadata.
pub async fn export(
    engine: &DockerProvider,
    name: &str,
    to: &Place,
    printer: &Printer,
) -> Result<Metadata> {
    let meta = super::volume::find(engine, name).await?;
    if let Some(seed) = &meta.seed {
        if engine.volume_labels(STORE).await?.is_none() {
            return Err(seed_gone(&meta, seed));
        }
    }
    let sink = Sink::open(to)?;
    let temp = sink.temp();
    // Listening before the step is said: a Ctrl-C from then on is kip's.
    let mut signals = Signals::listen()?;
    let step = printer.step(
        "snapshot-exported",
        &format!("Exporting snapshot {name} to {}", to.name("stdout")),
    );
    match stream(engine, &meta, sink, (&step, &mut signals)).await {
        Ok(bytes) => {
            step.done(&format!(
                "Exported snapshot {name} ({} in the engine) to {}: {}",
                size(meta.size_bytes),
                to.name("stdout"),
                size(bytes)
            ));
            Ok(meta)
        }
        Err(e) => {
            if let Some(temp) = temp {
                let _ = std::fs::remove_file(temp);
            }
            Err(e)
        }
    }
}

/// The seed store the snapshot's seed is in.
pub(super) const STORE: &str = crate::seed::store::VOLUME;

/// kip's entry, then the helper's tar, compressed into the sink, which
/// then holds the archive: its size.
async fn stream(
    engine: &DockerProvider,
    meta: &Metadata,
    sink: Sink,
    (step, signals): (&crate::output::Step<'_>, &mut Signals),
) -> Result<u64> {
    let seed = meta.seed.clone().unwrap_or_default();
    let first = archive::header_entry(&Header {
        format: FORMAT.into(),
        metadata: meta.clone(),
        seed_layers: !seed.is_empty(),
    })?;
    let volume = volume_name(&meta.name);
    let mut mounts = vec![mount(&volume, "/s")];
    if !seed.is_empty() {
        mounts.push(mount(STORE, "/seeds"));
    }
    let args = std::slice::from_ref(&seed);
    let helper = engine
        .start_streaming_helper(&meta.dind_image, &mounts, (TAR_OUT, args), false)
        .await?;
    // Its stdin is not used: that half of the attach goes now, the other
    // with the pump, so that the connection is closed before a kill (an
    // attach left open and unread holds the helper's end in dockerd).
    let StreamingHelper {
        name,
        output,
        input,
    } = helper;
    drop(input);
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let writer = tokio::task::spawn_blocking(move || sink.write(&first, rx));
    let pumped = pump_out(output, tx, signals, step).await;
    let code = engine.end_streaming_helper(&name, pumped.is_err()).await;
    let (sink, written) = writer.await.context("the archive writer failed")?;
    // The writer's failure (a full disk, a closed pipe) is why the pump stopped.
    let stderr = pumped.map_err(|e| {
        written
            .as_ref()
            .err()
            .map_or(e, |w| anyhow::anyhow!("{w:#}"))
    })?;
    written?;
    match code? {
        0 => sink.commit(),
        4 => Err(seed_gone(meta, &seed)),
        code => Err(helper_failed("tar the snapshot", code, &stderr)),
    }
}

/// The helper's stdout to the writer; its stderr.
async fn pump_out(
    mut output: impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
    tx: mpsc::Sender<Bytes>,
    signals: &mut Signals,
    step: &crate::output::Step<'_>,
) -> Result<String> {
    let (mut sent, mut shown, mut stderr) = (0u64, 0u64, String::new());
    loop {
        let item = tokio::select! {
            item = output.next() => item,
            _ = signals.received() => return Err(Error::Interrupted.into()),
        };
        match item {
            None => return Ok(stderr),
            Some(Ok(LogOutput::StdErr { message })) => {
                stderr.push_str(&String::from_utf8_lossy(&message));
            }
            Some(Ok(LogOutput::StdOut { message })) => {
                sent += message.len() as u64;
                if tx.send(message).await.is_err() {
                    anyhow::bail!("the archive writer stopped");
                }
                if sent - shown >= 64 << 20 {
                    shown = sent;
                    step.update(&format!("Exporting: {} read", size(sent)));
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(anyhow::anyhow!("the snapshot helper's output: {e}")),
        }
    }
}

/// Where an export writes: a temporary file beside FILE (renamed to it
/// when the archive is whole), or stdout.
enum Sink {
    File {
        temp: PathBuf,
        dest: PathBuf,
        bytes: u64,
    },
    Stdout {
        bytes: u64,
    },
}

impl Sink {
    fn open(to: &Place) -> Result<Sink> {
        match to {
            Place::Std if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
                Err(Error::SnapshotArchiveTerminal { output: true }.into())
            }
            Place::Std => Ok(Sink::Stdout { bytes: 0 }),
            Place::File(dest) if dest.exists() => Err(Error::SnapshotArchiveFileExists {
                path: dest.display().to_string(),
            }
            .into()),
            Place::File(dest) => {
                let temp = temp_beside(dest);
                std::fs::File::create_new(&temp)
                    .with_context(|| format!("cannot write {}", temp.display()))?;
                Ok(Sink::File {
                    temp,
                    dest: dest.clone(),
                    bytes: 0,
                })
            }
        }
    }

    /// Compresses kip's entry and then every chunk into the sink (in a
    /// blocking thread): the sink, and whether all was written.
    fn write(mut self, first: &[u8], mut rx: mpsc::Receiver<Bytes>) -> (Sink, Result<()>) {
        let out: Box<dyn Write> = match &self {
            Sink::File { temp, .. } => match std::fs::OpenOptions::new().write(true).open(temp) {
                Ok(file) => Box::new(file),
                Err(e) => return (self, Err(e.into())),
            },
            Sink::Stdout { .. } => Box::new(std::io::stdout().lock()),
        };
        let mut counted = Counted {
            inner: out,
            bytes: 0,
        };
        let written = (|| -> std::io::Result<()> {
            let mut gz = archive::encoder(std::io::BufWriter::with_capacity(1 << 20, &mut counted));
            gz.write_all(first)?;
            while let Some(chunk) = rx.blocking_recv() {
                gz.write_all(&chunk)?;
            }
            gz.finish()?.flush()
        })();
        let (Sink::File { bytes, .. } | Sink::Stdout { bytes }) = &mut self;
        *bytes = counted.bytes;
        let written = written.context(match &self {
            Sink::File { temp, .. } => format!("cannot write {}", temp.display()),
            Sink::Stdout { .. } => "cannot write the archive to stdout".into(),
        });
        (self, written)
    }

    /// The archive is whole: FILE is it. Its size.
    fn commit(self) -> Result<u64> {
        match self {
            Sink::Stdout { bytes } => Ok(bytes),
            Sink::File { temp, dest, bytes } => {
                std::fs::File::open(&temp).and_then(|f| f.sync_all())?;
                std::fs::rename(&temp, &dest).with_context(|| {
                    format!("cannot rename {} to {}", temp.display(), dest.display())
                })?;
                Ok(bytes)
            }
        }
    }

    /// The temporary file, which the caller removes if the export fails.
    fn temp(&self) -> Option<PathBuf> {
        match self {
            Sink::File { temp, .. } => Some(temp.clone()),
            Sink::Stdout { .. } => None,
        }
    }
}

fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "archive".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.kip-export-{}", std::process::id()))
}

struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn seed_gone(meta: &Metadata, seed: &str) -> anyhow::Error {
    Error::SnapshotSeedGone {
        name: meta.name.clone(),
        seed: seed.to_string(),
    }
    .into()
}

//! `kip snapshot export SNAPSHOT FILE` ([`super::export`]) and `kip
//! snapshot import FILE SNAPSHOT` ([`super::import`]): a snapshot carried to
//! another engine (a CI cache, an artifact) as the archive of
//! [`super::archive`]. A helper container of the snapshot's node image
//! tars the volume out (or in) while kip (de)compresses on its side of the
//! stream; `-` is stdout or stdin. A failed or interrupted export leaves no
//! file (it writes a temporary file and renames it); a failed, refused or
//! interrupted import leaves no volume.

use crate::error::Error;
use crate::provider::docker::HelperMount;
use std::path::PathBuf;

/// Where an archive goes or comes from: a file, or `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Std,
    File(PathBuf),
}

impl Place {
    pub fn parse(text: &str) -> Place {
        match text {
            "-" => Place::Std,
            path => Place::File(path.into()),
        }
    }

    pub(super) fn name(&self, std: &str) -> String {
        match self {
            Place::Std => std.to_string(),
            Place::File(path) => path.display().to_string(),
        }
    }
}

pub(super) fn mount<'a>(volume: &'a str, path: &'a str) -> HelperMount<'a> {
    HelperMount {
        volume,
        path,
        read_only: path != "/to",
    }
}

/// The helper's failure with the last lines it wrote.
pub(super) fn helper_failed(what: &str, code: i64, stderr: &str) -> anyhow::Error {
    let tail: Vec<&str> = stderr.trim().lines().rev().take(5).collect();
    Error::SnapshotHelperFailed {
        what: what.into(),
        error: format!(
            "exited {code}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
    .into()
}

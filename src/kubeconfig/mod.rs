//! Kubeconfig handling as kubectl users expect it: kubectl's file rules,
//! `kip-NAME` entries, an exclusive lock, atomic writes with mode 0600, every
//! other entry (and every unknown field) kept as it was.

mod lock;
mod merge;
mod target;

pub use merge::{remove_entries, upsert_entries, ClusterCredentials};
pub use target::KubeconfigTarget;

use anyhow::{Context, Result};
use serde_yaml::Value;
use std::io::Write;
use std::path::Path;

/// Reads a kubeconfig; a missing or empty file is an empty config. A file
/// that does not parse is an error, and nothing will overwrite it.
pub fn read(path: &Path) -> Result<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read kubeconfig {}", path.display()))
        }
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| {
        crate::error::Failure::Environment(format!(
            "cannot parse kubeconfig {}: {e}\nkip left it untouched; fix or move it, then run the command again",
            path.display()
        ))
    })?;
    if !doc.is_mapping() && !doc.is_null() {
        return Err(crate::error::Failure::Environment(format!(
            "kubeconfig {} is not a YAML mapping; kip left it untouched",
            path.display()
        ))
        .into());
    }
    Ok(doc)
}

/// Writes `doc` to `path` atomically (temp file in the same folder, fsync,
/// rename) with mode 0600.
pub fn write_atomic(path: &Path, doc: &Value) -> Result<()> {
    let text = serde_yaml::to_string(doc).context("cannot serialize the kubeconfig")?;
    write_text_atomic(path, text.as_bytes())
}

pub fn write_text_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .context("the kubeconfig path has no file name")?;
    let tmp = dir.join(format!(
        ".{}.kip-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write kubeconfig {}", path.display()))
}

/// Reads, changes and writes the kubeconfig under its lock. `change` returns
/// whether it changed anything; an unchanged file is not rewritten.
pub fn update(path: &Path, change: impl FnOnce(&mut Value) -> Result<bool>) -> Result<()> {
    let _lock = lock::Lock::acquire(path)?;
    let mut doc = read(path)?;
    if change(&mut doc)? {
        write_atomic(path, &doc)?;
    }
    Ok(())
}

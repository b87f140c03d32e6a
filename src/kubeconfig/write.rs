//! Writing a kubeconfig as client-go does, and atomically: through symlinks
//! to the real file, a temp file beside it renamed over it, the file's owner
//! and mode kept (0600 for a new file).

use super::{target, yaml};
use anyhow::{Context, Result};
use serde_yaml::Value;
use std::io::Write;
use std::path::Path;

/// Writes `doc` to `path` atomically (see `write_text_atomic`), as YAML that
/// kubectl's YAML 1.1 reader reads as kip meant it.
pub fn write_atomic(path: &Path, doc: &Value) -> Result<()> {
    let text = yaml::to_string(doc).context("cannot serialize the kubeconfig")?;
    write_text_atomic(path, text.as_bytes())
}

/// Writes `bytes` to the regular file `path` names (through symlinks, as
/// client-go does) atomically: a temp file beside the real file, fsync,
/// rename. An existing file keeps its owner and mode; a new one is 0600.
pub fn write_text_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let real = target::real_file(path)?;
    write_real_file(&real, bytes)
        .with_context(|| format!("cannot write kubeconfig {}", path.display()))
}

fn write_real_file(real: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let dir = real
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = real
        .file_name()
        .context("the kubeconfig path has no file name")?;
    let existing = match std::fs::metadata(real) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", real.display())),
    };
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
        if let Some(meta) = &existing {
            let mine = file.metadata()?;
            if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
                std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid())).with_context(
                    || {
                        format!(
                            "cannot keep its owner (uid {}, gid {}); run kip as that user",
                            meta.uid(),
                            meta.gid()
                        )
                    },
                )?;
            }
            // After chown, which clears set-id bits.
            file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, real)
            .with_context(|| format!("cannot replace {}", real.display()))?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::tests::set_current;
    use super::super::{read, update};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_through_a_symlink_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let real = dir.path().join("dotfiles/config");
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("dotfiles/config", &link).unwrap();

        // A dangling link: the file it names is created, 0600.
        update(&link, set_current("a")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(mode(&real), 0o600);
        assert_eq!(read(&link).unwrap()["current-context"].as_str(), Some("a"));

        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        update(&link, set_current("b")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(mode(&real), 0o640);
        assert_eq!(read(&real).unwrap()["current-context"].as_str(), Some("b"));
        // No lock or temp file left, neither beside the link nor the file.
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("dotfiles"))
            .unwrap()
            .chain(std::fs::read_dir(dir.path()).unwrap())
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["config", "config", "dotfiles"]);
    }

    #[test]
    fn keeps_the_owner_of_someone_elses_file() {
        // Changing a file's owner takes root (CI runs as root).
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: cannot give the test file another owner");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "").unwrap();
        std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        update(&path, set_current("a")).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
        assert_eq!(mode(&path), 0o604);
    }
}

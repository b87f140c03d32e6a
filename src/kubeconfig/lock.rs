//! The kubeconfig lock: `<file>.lock` created exclusively, the convention
//! kubectl (client-go) uses, so kip and kubectl never write at once.

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn acquire(target: &Path) -> Result<Lock> {
        Self::acquire_within(target, LOCK_TIMEOUT)
    }

    fn acquire_within(target: &Path, timeout: Duration) -> Result<Lock> {
        let mut path = target.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(Lock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(crate::error::Error::KubeconfigLocked {
                            path: target.to_path_buf(),
                            lock: path,
                            held: timeout,
                        }
                        .into());
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot create the lock file {}", path.display())))
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_a_second_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config");
        let first = Lock::acquire_within(&target, Duration::from_millis(50)).unwrap();
        let err = Lock::acquire_within(&target, Duration::from_millis(50))
            .err()
            .unwrap();
        assert!(err.to_string().contains("config.lock"), "{err}");
        drop(first);
        let again = Lock::acquire_within(&target, Duration::from_millis(50)).unwrap();
        assert!(dir.path().join("config.lock").exists());
        drop(again);
        assert!(!dir.path().join("config.lock").exists());
    }
}

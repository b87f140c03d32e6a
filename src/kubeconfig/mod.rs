//! Kubeconfig handling as kubectl users expect it: kubectl's file rules,
//! `kip-NAME` entries, an exclusive lock, atomic writes through symlinks that
//! keep the file's owner and mode (0600 for a new file), every other entry
//! (and every unknown field) kept as it was.

mod lock;
mod merge;
mod target;
mod write;
mod yaml;

pub use merge::{remove_entries, upsert_entries, ClusterCredentials};
pub use target::{KubeconfigSource, KubeconfigTarget};
pub use write::{write_atomic, write_text_atomic};
pub use yaml::to_string as to_yaml;

use crate::error::Error;
use anyhow::Result;
use serde_yaml::Value;
use std::path::Path;

/// Reads a kubeconfig; a missing or empty file is an empty config. A file
/// that is not a regular file, does not parse, or has a section that is not
/// a list is an error, and nothing will overwrite it.
pub fn read(path: &Path) -> Result<Value> {
    let real = target::real_file(path)?;
    let text = match read_regular(&real) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::KubeconfigUnreadable {
                path: path.display().to_string(),
                error: e.to_string(),
            }
            .into())
        }
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| Error::KubeconfigUnparsable {
        path: path.to_path_buf(),
        error: e.to_string(),
    })?;
    if !doc.is_mapping() && !doc.is_null() {
        return Err(Error::KubeconfigNotMapping {
            path: path.to_path_buf(),
        }
        .into());
    }
    if let Some(problem) = merge::shape_problem(&doc) {
        return Err(Error::KubeconfigMalformed {
            path: path.to_path_buf(),
            problem,
        }
        .into());
    }
    Ok(doc)
}

/// Checks, before anything is created, that kip can merge into the
/// kubeconfig at `path`: it reads (see `read`), and kip may write the file
/// and the folder its temp file goes to. kip would otherwise make a cluster
/// whose credentials it cannot hand over.
pub fn check_writable(path: &Path) -> Result<()> {
    read(path)?;
    let real = target::real_file(path)?;
    let folder = real
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // A missing folder is created in the nearest one that exists.
    let folder = folder
        .ancestors()
        .find(|f| f.exists())
        .unwrap_or(Path::new("."));
    for (what, place) in [("the kubeconfig", real.as_path()), ("its folder", folder)] {
        if !place.exists() {
            continue;
        }
        if let Err(e) = writable(place) {
            return Err(Error::KubeconfigUnwritable {
                path: path.to_path_buf(),
                what,
                place: place.to_path_buf(),
                error: e.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// Whether this process (its effective ids, as `sudo` runs it) may write
/// `path`: permissions, and a read-only file system.
fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: c_path is a valid NUL-terminated string for the whole call.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Reads a file that was a regular file a moment ago without ever blocking:
/// if a FIFO took its place, the non-blocking open returns at once and the
/// type check refuses it.
fn read_regular(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("it is no longer a regular file"));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Reads, changes and writes the kubeconfig under its lock. `change` returns
/// whether it changed anything; an unchanged file is not rewritten.
///
/// The lock is kubectl's, beside the real file; through a symlink kip also
/// takes the link's, which is the one kubectl takes when given the link.
pub fn update(path: &Path, change: impl FnOnce(&mut Value) -> Result<bool>) -> Result<()> {
    let real = target::real_file(path)?;
    let _lock = lock::Lock::acquire(&real)?;
    let _link_lock = if real == path {
        None
    } else {
        Some(lock::Lock::acquire(path)?)
    };
    let mut doc = read(path)?;
    if change(&mut doc)? {
        write_atomic(path, &doc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn set_current(name: &'static str) -> impl FnOnce(&mut Value) -> Result<bool> {
        move |doc| {
            if doc.is_null() {
                *doc = Value::Mapping(Default::default());
            }
            doc["current-context"] = name.into();
            Ok(true)
        }
    }

    #[test]
    fn refuses_a_special_file_before_taking_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        for path in [Path::new("/dev/null"), &link] {
            let err = update(path, set_current("a")).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 3, "{err:#}");
            assert!(format!("{err:#}").contains("a character device"), "{err:#}");
            let err = read(path).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 3, "{err:#}");
        }
        use std::os::unix::fs::FileTypeExt;
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The kubectl CI names in KIP_TEST_KUBECTL (else `kubectl`), or why
    /// there is none: a failure when KIP_TEST_KUBECTL or KIP_E2E=1 is set.
    fn kubectl() -> Option<String> {
        let named = std::env::var("KIP_TEST_KUBECTL").ok();
        let bin = named.clone().unwrap_or_else(|| "kubectl".into());
        let runs = std::process::Command::new(&bin)
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if runs {
            return Some(bin);
        }
        let required = named.is_some() || std::env::var("KIP_E2E").is_ok_and(|v| v == "1");
        assert!(!required, "no kubectl runs at {bin:?}");
        eprintln!("skipping: no kubectl at {bin:?} (set KIP_TEST_KUBECTL)");
        None
    }

    #[test]
    fn kubectl_reads_back_every_string_as_it_was() {
        let Some(kubectl) = kubectl() else { return };
        // kubectl omits empty strings from its output; the YAML tests cover "".
        let values: Vec<&str> = yaml::AMBIGUOUS
            .iter()
            .copied()
            .filter(|v| !v.is_empty())
            .collect();
        let original = ambiguous_kubeconfig(&values);
        // JSON is YAML that both readers read alike: the file as kubectl
        // (which quotes such strings) would have written it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, original.to_string()).unwrap();
        let creds = ClusterCredentials {
            cluster: serde_yaml::from_str("server: https://127.0.0.1:1\n").unwrap(),
            user: serde_yaml::from_str("token: 'yes'\n").unwrap(),
        };
        update(&path, |doc| upsert_entries(doc, "kip-on", &creds, false)).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        for v in &values {
            assert!(
                !text.contains(&format!(": {v}\n")),
                "{v:?} plain in\n{text}"
            );
        }
        let seen = kubectl_view(&kubectl, &path, &text);
        for key in ["clusters", "users", "contexts"] {
            let mut seen = by_name(&seen[key]);
            assert!(seen.remove("kip-on").is_some(), "{key}");
            assert_eq!(seen, by_name(&original[key]), "{key}");
        }
        let kip_user = by_name(&seen["users"]).remove("kip-on").unwrap();
        assert_eq!(kip_user["user"]["token"], "yes");
        assert_eq!(seen["preferences"], original["preferences"]);
        assert_eq!(seen["current-context"], "no");
        // kubectl drops unknown fields; kip keeps them, still strings.
        let back: Value = serde_yaml::from_str(&text).unwrap();
        let unknown: Vec<_> = back["x-unknown"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(unknown, values);
    }

    /// A kubeconfig with each of `values` as every kind of string in it:
    /// names, a token, a namespace, extensions and an unknown field.
    fn ambiguous_kubeconfig(values: &[&str]) -> serde_json::Value {
        use serde_json::json;
        let clusters: Vec<_> = values
            .iter()
            .map(|v| json!({"name": v, "cluster": {"server": "https://x", "extensions": [{"name": v, "extension": v}]}}))
            .collect();
        let users: Vec<_> = values
            .iter()
            .map(|v| json!({"name": v, "user": {"token": v}}))
            .collect();
        let contexts: Vec<_> = values
            .iter()
            .map(|v| {
                json!({"name": v, "context": {"cluster": v, "user": v, "namespace": v,
                "extensions": [{"name": v, "extension": {"value": v, "list": [v]}}]}})
            })
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {"extensions": [{"name": "all", "extension": values}]},
            "clusters": clusters,
            "users": users,
            "contexts": contexts,
            "current-context": "no",
            "x-unknown": values,
        })
    }

    /// The kubeconfig at `path` (whose `text` a failure shows) as kubectl
    /// reads it.
    fn kubectl_view(kubectl: &str, path: &Path, text: &str) -> serde_json::Value {
        let out = std::process::Command::new(kubectl)
            .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "kubectl cannot read it: {stderr}\n{text}"
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// kubectl lists entries by name.
    fn by_name(items: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["name"].as_str().unwrap().to_string(), i.clone()))
            .collect()
    }
}

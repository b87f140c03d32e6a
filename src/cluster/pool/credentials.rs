//! A member's credentials, kept by the filler that made it so that its
//! claimer need not read them from the node: reading a file out of a
//! running container (the engine's archive API, or an exec) took 70-230 ms
//! on this shared engine under load, the largest part of a claim (see
//! BENCHMARKS.md, "Warm pools"). A cache, not a record: a file per member
//! key in kip's state folder (per engine), written before the member is
//! offered, taken (read and removed) by the claim, removed with the member;
//! a claimer that finds none (another state folder, another machine)
//! reads the node as before, and one whose cached CA the API server does
//! not match reads the node too (`steps::ready`).

use crate::kubeconfig::ClusterCredentials;
use crate::pool::member::MemberInfo;
use crate::settings::Environment;
use anyhow::{Context, Result};
use serde_yaml::Value;
use std::path::PathBuf;

/// Where the credentials of the members of this engine are kept.
fn dir(env: &Environment) -> PathBuf {
    super::fill::pools_dir(env).join(format!("credentials@{}", super::fill::engine_tag(env)))
}

fn path(env: &Environment, key: &str) -> PathBuf {
    dir(env).join(format!("{key}.yaml"))
}

/// Keeps member `key`'s credentials for its claimer (owner-only, written
/// whole by a rename).
pub fn remember(env: &Environment, key: &str, creds: &ClusterCredentials) -> Result<()> {
    let dir = dir(env);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("cluster".into(), creds.cluster.clone());
    doc.insert("user".into(), creds.user.clone());
    let text = serde_yaml::to_string(&Value::Mapping(doc))?;
    let final_path = path(env, key);
    let temp = final_path.with_extension(format!("tmp.{}", std::process::id()));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temp)
            .with_context(|| format!("cannot write {}", temp.display()))?;
        file.write_all(text.as_bytes())?;
    }
    std::fs::rename(&temp, &final_path)
        .with_context(|| format!("cannot write {}", final_path.display()))
}

/// Takes member `key`'s kept credentials (the file is removed: a claim is
/// exclusive), pointed at `server`; None when none were kept here.
pub fn take(env: &Environment, key: &str, server: &str) -> Option<ClusterCredentials> {
    let path = path(env, key);
    let text = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    let mut doc: Value = serde_yaml::from_str(&text).ok()?;
    let mut cluster = doc.get_mut("cluster")?.clone();
    cluster
        .as_mapping_mut()?
        .insert("server".into(), server.into());
    Some(ClusterCredentials {
        cluster,
        user: doc.get("user")?.clone(),
    })
}

/// Removes member `key`'s kept credentials, if any.
pub fn forget(env: &Environment, key: &str) {
    // A cache: a file left behind costs nothing but its bytes.
    let _ = std::fs::remove_file(path(env, key));
}

/// Removes the kept credentials of pool `pool`'s members that are gone
/// (deleted by another kip, or claimed by a claimer that read the node).
pub fn prune(env: &Environment, pool: &str, members: &[MemberInfo]) {
    let Ok(entries) = std::fs::read_dir(dir(env)) else {
        return;
    };
    let prefix = format!("pool.{pool}.");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_suffix(".yaml") else {
            continue;
        };
        if key.starts_with(&prefix) && !members.iter().any(|m| m.key == key) {
            forget(env, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_kept_once_for_their_claimer() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment {
            state_dir: dir.path().to_path_buf(),
            ..Environment::default()
        };
        let creds = ClusterCredentials {
            cluster: serde_yaml::from_str(
                "server: https://127.0.0.1:1\ncertificate-authority-data: Q0E=\n",
            )
            .unwrap(),
            user: serde_yaml::from_str("client-key-data: S0VZ\n").unwrap(),
        };
        remember(&env, "pool.ci.0000aaaa", &creds).unwrap();
        let file = path(&env, "pool.ci.0000aaaa");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let taken = take(&env, "pool.ci.0000aaaa", "https://127.0.0.1:2").unwrap();
        assert_eq!(taken.user, creds.user);
        assert_eq!(taken.cluster["server"], "https://127.0.0.1:2");
        assert_eq!(taken.ca_pem().unwrap(), b"CA");
        assert!(take(&env, "pool.ci.0000aaaa", "x").is_none(), "taken once");

        remember(&env, "pool.ci.0000bbbb", &creds).unwrap();
        remember(&env, "pool.other.0000cccc", &creds).unwrap();
        prune(&env, "ci", &[]);
        assert!(!path(&env, "pool.ci.0000bbbb").exists());
        assert!(path(&env, "pool.other.0000cccc").exists(), "another pool's");
    }
}

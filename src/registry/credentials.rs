//! The credentials a user's Docker config holds for an upstream registry
//! (`docker login`), for a pull-through cache that must log in to it:
//! `auths` entries, or the credential helper the config names
//! (`credHelpers`, `credsStore`), as the docker CLI finds them.

use super::error::RegistryError;
use anyhow::{Context, Result};
use base64::Engine;
use std::path::Path;

/// The keys the docker CLI files a registry's credentials under.
fn keys(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        return vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ];
    }
    vec![
        registry.into(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ]
}

/// The user name and password for `registry` (`docker.io`, `quay.io:443`)
/// from the Docker config in `dir` (`DOCKER_CONFIG`, else `~/.docker`).
pub fn for_registry(dir: &Path, registry: &str) -> Result<(String, String)> {
    let path = dir.join("config.json");
    let missing = || -> anyhow::Error {
        RegistryError::NoCredentials {
            path: path.clone(),
            registry: registry.to_string(),
        }
        .into()
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| RegistryError::DockerConfigInvalid {
            path: path.clone(),
            error: e.to_string(),
        })?;
    let keys = keys(registry);
    let helper = keys
        .iter()
        .find_map(|k| config["credHelpers"][k].as_str())
        .or_else(|| config["credsStore"].as_str());
    for key in &keys {
        if let Some(found) = from_auth_entry(&config["auths"][key]) {
            return Ok(found);
        }
    }
    match helper {
        Some(helper) => from_helper(helper, &keys[0]),
        None => Err(missing()),
    }
}

/// An `auths` entry: `auth` (base64 of `user:password`) or the two fields.
fn from_auth_entry(entry: &serde_json::Value) -> Option<(String, String)> {
    if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some((user.into(), password.into()));
    }
    let user = entry["username"].as_str()?;
    let password = entry["password"].as_str()?;
    Some((user.into(), password.into()))
}

/// `docker-credential-HELPER get`, fed the server URL.
fn from_helper(helper: &str, server: &str) -> Result<(String, String)> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let refused = |said: String| -> anyhow::Error {
        RegistryError::HelperRefused {
            program: program.clone(),
            server: server.to_string(),
            said,
        }
        .into()
    };
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| RegistryError::HelperCannotRun {
            helper: helper.to_string(),
            program: program.clone(),
            error: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(server.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(refused(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ));
    }
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{program} did not answer JSON"))?;
    match (answer["Username"].as_str(), answer["Secret"].as_str()) {
        (Some(user), Some(secret)) => Ok((user.into(), secret.into())),
        _ => Err(refused("no Username and Secret in its answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), text).unwrap();
        dir
    }

    #[test]
    fn docker_hub_credentials_from_auths() {
        let auth = base64::engine::general_purpose::STANDARD.encode("me:s3cr:et");
        let dir = config(&format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}}}}}}"#
        ));
        assert_eq!(
            for_registry(dir.path(), "docker.io").unwrap(),
            ("me".to_string(), "s3cr:et".to_string())
        );
    }

    #[test]
    fn other_registries_by_host_and_fields() {
        let dir = config(r#"{"auths": {"quay.io": {"username": "u", "password": "p"}}}"#);
        assert_eq!(
            for_registry(dir.path(), "quay.io").unwrap(),
            ("u".to_string(), "p".to_string())
        );
        let err = for_registry(dir.path(), "ghcr.io").unwrap_err().to_string();
        assert!(err.contains("no credentials for ghcr.io"), "{err}");
        assert!(err.contains("docker login ghcr.io"), "{err}");
    }

    #[test]
    fn a_missing_helper_is_named() {
        let dir = config(r#"{"credsStore": "kip-test-no-such-helper"}"#);
        let err = for_registry(dir.path(), "docker.io")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-kip-test-no-such-helper cannot run"),
            "{err}"
        );
    }

    #[test]
    fn no_config_file_says_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let err = for_registry(dir.path(), "docker.io")
            .unwrap_err()
            .to_string();
        assert!(err.contains("log in first"), "{err}");
    }
}

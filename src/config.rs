//! Defaults from kip's config file, for what a user wants on every `up`:
//! `$KIP_CONFIG`, else `$XDG_CONFIG_HOME/kip/config.yaml`, else
//! `~/.config/kip/config.yaml`. Flags and environment variables win.
//!
//! ```yaml
//! image: kindest/node:v1.35.0               # the kind node image (Kubernetes version)
//! dindImage: registry.example.com/kip-node:v1  # instead of kip's built-in DinD image
//! ttl: 2h                                   # `kip gc` deletes clusters after this
//! remote: true                              # as if every command had --remote
//! mirror: hub                               # every local cluster pulls docker.io through kip's cache `hub`
//! ```

use crate::error::Error;
use anyhow::Result;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest duration kip takes (a TTL, a wait, a timeout): far beyond any
/// use, and an expiry date every clock and RFC 3339 can still write.
/// (100 of humantime's years, 365.25 days each.)
const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// A duration as the command line and the config file take it (`90s`,
/// `1h30m`), at most 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration =
        humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 90s, 5m, 1h30m)"))?;
    if duration > MAX_DURATION {
        return Err(format!("{text} is too long: at most 100 years"));
    }
    Ok(duration)
}

/// A TTL: a duration, and not zero (a cluster that expires as it is made
/// is a mistake, not a request).
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl.is_zero() {
        return Err(format!(
            "a TTL of {text} would let `kip gc` delete the cluster as soon as it is made: \
             give a positive duration (e.g. 2h), or no TTL"
        ));
    }
    Ok(ttl)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The kind node image (`--image`).
    pub image: Option<String>,
    /// The Docker-in-Docker image (`--dind-image`).
    #[serde(rename = "dindImage")]
    pub dind_image: Option<String>,
    #[serde(default, with = "humantime_serde_opt")]
    pub ttl: Option<Duration>,
    /// Remote mode by default (`--remote` on every command that takes it).
    #[serde(default)]
    pub remote: bool,
    /// The pull-through cache every cluster pulls through (`--mirror`): a
    /// kip registry's name, or a cache's URL.
    pub mirror: Option<String>,
}

impl ConfigFile {
    /// The config file, and whether KIP_CONFIG named it (then it must
    /// exist): `named` (KIP_CONFIG), else kip's in `config_dir`.
    fn path(named: Option<&Path>, config_dir: Option<&Path>) -> Option<(PathBuf, bool)> {
        if let Some(path) = named {
            return Some((path.to_path_buf(), true));
        }
        config_dir.map(|d| (d.join("kip").join("config.yaml"), false))
    }

    /// The settings, or the defaults when there is no config file. A file
    /// that does not parse, or that KIP_CONFIG (`named`) names and is
    /// missing, is an error naming it (exit 2), never silently ignored.
    pub fn load(named: Option<&Path>, config_dir: Option<&Path>) -> Result<ConfigFile> {
        let Some((path, named)) = Self::path(named, config_dir) else {
            return Ok(ConfigFile::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && named => {
                return Err(Error::ConfigMissing {
                    path,
                    default: config_dir.map(|d| d.join("kip/config.yaml")),
                }
                .into())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(e) => {
                return Err(Error::ConfigUnreadable {
                    path,
                    error: e.to_string(),
                }
                .into())
            }
        };
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_yaml::from_str(&text).map_err(|e| {
            Error::ConfigInvalid {
                path,
                error: e.to_string(),
            }
            .into()
        })
    }
}

/// `ttl: 2h` in the file, parsed like the command line's durations.
mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| super::parse_ttl(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strictly() {
        let s: ConfigFile = serde_yaml::from_str("image: x:1\nttl: 90m\n").unwrap();
        assert_eq!(s.image.as_deref(), Some("x:1"));
        assert_eq!(s.ttl, Some(Duration::from_secs(5400)));
        assert!(!s.remote);
        let s: ConfigFile = serde_yaml::from_str("remote: true\n").unwrap();
        assert!(s.remote);
        let s: ConfigFile = serde_yaml::from_str("mirror: hub\n").unwrap();
        assert_eq!(s.mirror.as_deref(), Some("hub"));
        assert!(serde_yaml::from_str::<ConfigFile>("imagee: x\n").is_err());
        assert!(serde_yaml::from_str::<ConfigFile>("ttl: soon\n").is_err());
    }

    #[test]
    fn refuses_a_zero_ttl() {
        assert!(parse_ttl("1m").is_ok());
        for zero in ["0s", "0m", "0h"] {
            let err = parse_ttl(zero).unwrap_err();
            assert!(err.contains("positive duration"), "{err}");
        }
        let err = serde_yaml::from_str::<ConfigFile>("ttl: 0s\n").unwrap_err();
        assert!(err.to_string().contains("positive duration"), "{err}");
    }

    #[test]
    fn refuses_durations_beyond_a_century() {
        assert!(parse_duration("100y").is_ok());
        let err = parse_duration("1000000000h").unwrap_err();
        assert!(err.contains("at most 100 years"), "{err}");
        let err = serde_yaml::from_str::<ConfigFile>("ttl: 9000y\n").unwrap_err();
        assert!(err.to_string().contains("at most 100 years"), "{err}");
    }
}

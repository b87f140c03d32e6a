//! Which kubeconfig file kip writes, by kubectl's rules.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigTarget {
    pub path: PathBuf,
}

impl KubeconfigTarget {
    /// `--kubeconfig` if given; else the first existing file in `$KUBECONFIG`
    /// (else its last entry); else `~/.kube/config`.
    pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let env = std::env::var_os("KUBECONFIG");
        let home = dirs::home_dir();
        resolve_from(explicit, env.as_deref(), home.as_deref())
            .map(|path| KubeconfigTarget { path })
    }
}

fn resolve_from(
    explicit: Option<&Path>,
    env: Option<&std::ffi::OsStr>,
    home: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(list) = env {
        let entries: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if let Some(existing) = entries.iter().find(|p| p.exists()) {
            return Ok(existing.clone());
        }
        if let Some(last) = entries.last() {
            return Ok(last.clone());
        }
    }
    home.map(|h| h.join(".kube").join("config")).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot find a home folder for ~/.kube/config: set KUBECONFIG or pass --kubeconfig"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn follows_kubectl_rules() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let home = dir.path().join("home");
        let list = |paths: &[&Path]| std::env::join_paths(paths).unwrap();

        assert_eq!(resolve_from(Some(&a), Some(&list(&[&b])), None).unwrap(), a);
        assert_eq!(
            resolve_from(None, None, Some(&home)).unwrap(),
            home.join(".kube/config")
        );
        // Neither exists: the last entry.
        assert_eq!(resolve_from(None, Some(&list(&[&a, &b])), None).unwrap(), b);
        // The first that exists.
        std::fs::write(&a, "").unwrap();
        assert_eq!(resolve_from(None, Some(&list(&[&b, &a])), None).unwrap(), a);
        // An empty KUBECONFIG falls through to home.
        assert_eq!(
            resolve_from(None, Some(&OsString::new()), Some(&home)).unwrap(),
            home.join(".kube/config")
        );
        assert!(resolve_from(None, None, None).is_err());
    }
}

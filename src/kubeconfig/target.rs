//! Which kubeconfig file kip writes, by kubectl's rules, and the real file
//! behind it: symlinks are followed (as client-go writes through them), and
//! anything but a regular file is refused before kip opens it.

use crate::error::Error;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How many links kip follows before calling it a loop (Linux's own limit).
const MAX_LINKS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigTarget {
    pub path: PathBuf,
}

/// What kubectl's rules pick the kubeconfig from: `--kubeconfig`,
/// `$KUBECONFIG`, the home folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigSource {
    pub flag: Option<PathBuf>,
    pub env: Option<OsString>,
    pub home: Option<PathBuf>,
}

impl KubeconfigSource {
    /// The same without `--kubeconfig`: the file kubectl reads by default.
    pub fn without_flag(&self) -> KubeconfigSource {
        KubeconfigSource {
            flag: None,
            ..self.clone()
        }
    }
}

impl KubeconfigTarget {
    /// `--kubeconfig` if given; else the first existing file in `$KUBECONFIG`
    /// (else its last entry); else `~/.kube/config`.
    pub fn resolve(source: &KubeconfigSource) -> anyhow::Result<Self> {
        resolve_from(
            source.flag.as_deref(),
            source.env.as_deref(),
            source.home.as_deref(),
        )
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
    home.map(|h| h.join(".kube").join("config"))
        .ok_or_else(|| Error::NoHome.into())
}

/// The regular file `path` names, following symlinks (a dangling one names
/// the file to create). An absent file is fine; a directory, device, FIFO or
/// socket is refused (exit 3) without being opened, since opening a FIFO
/// blocks and renaming over /dev/null replaces it.
pub fn real_file(path: &Path) -> anyhow::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => {
                return Err(Error::KubeconfigUnreadable {
                    path: shown(path, &current),
                    error: e.to_string(),
                }
                .into())
            }
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(current);
        }
        if !kind.is_symlink() {
            return Err(Error::KubeconfigNotRegular {
                path: shown(path, &current),
                what: describe(&kind),
            }
            .into());
        }
        let link = std::fs::read_link(&current).map_err(|e| Error::KubeconfigLinkUnreadable {
            link: current.clone(),
            error: e.to_string(),
        })?;
        current = match current.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
    }
    Err(Error::KubeconfigLinkLoop {
        path: path.to_path_buf(),
        max: MAX_LINKS,
    }
    .into())
}

/// The path as given, and where its links led if that is elsewhere.
fn shown(given: &Path, real: &Path) -> String {
    if given == real {
        given.display().to_string()
    } else {
        format!("{} (a link to {})", given.display(), real.display())
    }
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of an unknown kind"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn real_file_follows_links_to_the_file_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/kubeconfig");
        std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let relative = dir.path().join("relative");
        let absolute = dir.path().join("absolute");
        std::os::unix::fs::symlink("dotfiles/kubeconfig", &relative).unwrap();
        std::os::unix::fs::symlink(&relative, &absolute).unwrap();
        // Dangling: the file the link names is the one to create.
        assert_eq!(real_file(&absolute).unwrap(), real);
        std::fs::write(&real, "").unwrap();
        assert_eq!(real_file(&absolute).unwrap(), real);
        assert_eq!(real_file(&real).unwrap(), real);
        let missing = dir.path().join("missing/config");
        assert_eq!(real_file(&missing).unwrap(), missing);
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert!(real_file(&looped).is_err());
    }

    #[test]
    fn real_file_refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let link = dir.path().join("null-link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        for (path, kind) in [
            (Path::new("/dev/null"), "a character device"),
            (&fifo, "a named pipe"),
            (&socket, "a socket"),
            (dir.path(), "a directory"),
            (&link, "a character device"),
        ] {
            let err = real_file(path).unwrap_err();
            let text = err.to_string();
            assert_eq!(crate::error::exit_code(&err), 3, "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(kind), "{text}");
            assert!(text.contains("--kubeconfig FILE"), "{text}");
        }
        assert!(real_file(&link)
            .unwrap_err()
            .to_string()
            .contains("(a link to /dev/null)"));
    }
}

//! The snapshot helpers' copy (src/snapshot/copy.sh), run by `sh` against a
//! prepared tree laid out as the engine's volumes folder: a data root whose
//! kind node volume holds containerd's content store. Where the helper sees
//! both volumes in one folder, the store's blobs are hard links and nothing
//! else is; where it does not, everything is copied. Either way the copy is
//! the source: names, types, modes, times, sizes and contents.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("../../src/snapshot/copy.sh");
const STORE: &str = "lib/containerd/io.containerd.content.v1.content";

/// A volumes folder with the snapshot volume `snap` (its data root under
/// `data/`) and the empty node volume `node`.
struct Volumes {
    dir: tempfile::TempDir,
}

impl Volumes {
    fn new() -> Volumes {
        let volumes = Volumes {
            dir: tempfile::tempdir().unwrap(),
        };
        let root = volumes.path("snap/_data/data");
        let kind_var = root.join("volumes/0a1b/_data");
        let files: &[(&str, &str)] = &[
            ("volumes/metadata.db", "the node engine's volume database"),
            ("volumes/backingFsBlockDev", "not a folder"),
            ("image/overlay2/repositories.json", "{}"),
            ("overlay2/l/ABC", "layer link"),
        ];
        for (path, content) in files {
            write(&root.join(path), content);
        }
        let kind_files: &[(&str, &str)] = &[
            (&format!("{STORE}/blobs/sha256/aaaa"), "a layer blob"),
            (&format!("{STORE}/blobs/sha256/bbbb"), "a manifest blob"),
            (&format!("{STORE}/ingest/cccc/data"), "a pull under way"),
            (
                "lib/containerd/io.containerd.metadata.v1.bolt/meta.db",
                "bolt",
            ),
            ("lib/etcd/member/wal/0.wal", "etcd"),
            (".hidden", "a dotfile"),
            ("lib/kubelet/pods/x", "kubelet"),
        ];
        for (path, content) in kind_files {
            write(&kind_var.join(path), content);
        }
        // Another volume of the node's engine, without a content store.
        write(&root.join("volumes/2c3d/_data/lib/other"), "other");
        // A symbolic link where a pattern matches: copied as a link.
        std::os::unix::fs::symlink("0a1b", root.join("volumes/linked")).unwrap();
        // Modes and times the copy must keep on the folders it walks.
        for (dir, mode) in [
            (kind_var.join("lib/containerd"), 0o711),
            (kind_var.join(STORE), 0o700),
            (kind_var.clone(), 0o755),
        ] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        }
        let touched = Command::new("find")
            .arg(&root)
            .args([
                "-exec",
                "touch",
                "-h",
                "-d",
                "2020-01-02 03:04:05",
                "{}",
                "+",
            ])
            .status()
            .unwrap();
        assert!(touched.success());
        fs::create_dir_all(volumes.path("node/_data")).unwrap();
        volumes
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// `copy_root snap /data node ""` with the volumes folder at `vols`:
    /// what it printed.
    fn copy(&self, vols: &Path) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("set -eu\n{SCRIPT}\ncopy_root snap /data node \"\""))
            .env("vols", vols)
            .env("from", self.path("snap/_data"))
            .env("to", self.path("node/_data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "copy_root failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Every entry below the snapshot's data root and below the node
    /// volume: path, type, mode, time, size; and the paths whose file is
    /// one inode in both.
    fn compare(&self) -> Vec<String> {
        let (from, to) = (self.path("snap/_data/data"), self.path("node/_data"));
        assert_eq!(listing(&from), listing(&to), "the copy differs");
        let mut shared = Vec::new();
        for line in listing(&from).lines() {
            let path = line.split(' ').next().unwrap();
            let (a, b) = (from.join(path), to.join(path));
            let (ma, mb) = (
                fs::symlink_metadata(&a).unwrap(),
                fs::symlink_metadata(&b).unwrap(),
            );
            if ma.file_type().is_file() {
                assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "{path}");
                if ma.ino() == mb.ino() {
                    shared.push(path.to_string());
                }
            }
        }
        shared.sort();
        shared
    }
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn listing(root: &Path) -> String {
    let out = Command::new("find")
        .arg(root)
        .args(["-mindepth", "1", "-printf", "%P %y %m %T@ %s\\n"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut lines: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // A folder's size is the file system's business.
            let fields: Vec<_> = l.split(' ').collect();
            if fields[1] == "d" {
                fields[..4].join(" ")
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn a_copy_that_sees_both_volumes_links_containerds_blobs_and_copies_the_rest() {
    let volumes = Volumes::new();
    assert_eq!(volumes.copy(volumes.dir.path()), "linked");
    assert_eq!(
        volumes.compare(),
        [
            format!("volumes/0a1b/_data/{STORE}/blobs/sha256/aaaa"),
            format!("volumes/0a1b/_data/{STORE}/blobs/sha256/bbbb"),
        ]
    );
}

#[test]
fn a_copy_that_cannot_see_the_volumes_copies_everything() {
    let volumes = Volumes::new();
    // A volumes folder that is not where the two volumes are (Docker
    // Desktop's bind mount of a path on the user's machine, say).
    let elsewhere = tempfile::tempdir().unwrap();
    fs::create_dir_all(elsewhere.path().join("snap/_data")).unwrap();
    fs::create_dir_all(elsewhere.path().join("node/_data")).unwrap();
    assert_eq!(volumes.copy(elsewhere.path()), "copied");
    assert_eq!(volumes.compare(), Vec::<String>::new());
    assert_eq!(volumes.copy(&volumes.path("absent")), "copied");
}

#[test]
fn a_copy_of_a_data_root_without_a_content_store_says_it_copied() {
    let volumes = Volumes::new();
    let store = volumes
        .path("snap/_data/data/volumes/0a1b/_data")
        .join(STORE);
    fs::remove_dir_all(store.join("blobs")).unwrap();
    assert_eq!(volumes.copy(volumes.dir.path()), "copied");
    assert_eq!(volumes.compare(), Vec::<String>::new());
}

#[test]
fn the_copy_after_the_links_never_writes_over_a_file_that_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -eu\n{SCRIPT}\nskip=$(keep)\n[ -n \"$skip\" ]\n\
             echo new >new; echo old >old\ncp -a \"$skip\" new old\ncat old"
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "old");
}

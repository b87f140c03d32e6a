//! A kind config's `extraMounts`: kind mounts `hostPath` into its nodes
//! from where kind runs, which is kip's node, not the user's machine. So
//! each host path is mounted into kip's node at the same path (local mode)
//! and kind's mount works unchanged; a path that is not on the machine is
//! refused (the engine would make an empty folder of it), and so is any in
//! remote mode, whose node cannot see this machine's files. Never an empty
//! folder in silence.

use serde::Serialize;
use serde_yaml::Value;

/// A host path kip's node mounts for kind's `extraMounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostMount {
    pub path: String,
    pub read_only: bool,
}

/// The host paths a user's kind config mounts, checked: absolute, and on
/// this machine when `here` can look (`remote`: refused). Errors name the
/// field and say what to do.
pub fn of_config(user: &str, remote: bool, here: bool) -> Result<Vec<HostMount>, String> {
    let doc: Value = serde_yaml::from_str(user).unwrap_or(Value::Null);
    let nodes = doc.get("nodes").and_then(Value::as_sequence);
    let mut mounts: Vec<HostMount> = Vec::new();
    for (n, node) in nodes.into_iter().flatten().enumerate() {
        let listed = node.get("extraMounts").and_then(Value::as_sequence);
        for (i, mount) in listed.into_iter().flatten().enumerate() {
            let field = format!("nodes[{n}].extraMounts[{i}].hostPath");
            let path = mount
                .get("hostPath")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{field} must be a path"))?;
            if remote {
                return Err(format!(
                    "{field} ({path}): a remote node cannot see this machine's files; remove the \
                     extraMounts or make a local cluster"
                ));
            }
            if !path.starts_with('/') {
                return Err(format!("{field} is {path}: give an absolute path"));
            }
            if here && std::fs::metadata(path).is_err() {
                return Err(format!(
                    "{field}: {path} is not on this machine; create it first (kind would mount an \
                     empty folder)"
                ));
            }
            let read_only = mount.get("readOnly").and_then(Value::as_bool) == Some(true);
            match mounts.iter_mut().find(|m| m.path == path) {
                // Two nodes may mount one path; writable if either writes.
                Some(known) => known.read_only &= read_only,
                None => mounts.push(HostMount {
                    path: path.to_string(),
                    read_only,
                }),
            }
        }
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &str) -> String {
        format!("nodes:\n- role: control-plane\n  extraMounts:\n  - hostPath: {path}\n    containerPath: /x\n    readOnly: true\n- role: worker\n  extraMounts:\n  - hostPath: {path}\n    containerPath: /x\n")
    }

    #[test]
    fn host_paths_are_mounted_once_writable_if_any_node_writes() {
        let mounts = of_config(&config("/tmp"), false, true).unwrap();
        assert_eq!(
            mounts,
            vec![HostMount {
                path: "/tmp".into(),
                read_only: false
            }]
        );
        assert!(of_config("nodes:\n- role: control-plane\n", false, true)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_path_that_cannot_work_is_refused_naming_the_field() {
        let missing = of_config(&config("/no/such/kip/path"), false, true).unwrap_err();
        assert!(
            missing.contains("nodes[0].extraMounts[0].hostPath"),
            "{missing}"
        );
        assert!(missing.contains("/no/such/kip/path"), "{missing}");
        // Where kip cannot look (a remote engine's host), it does not.
        assert!(of_config(&config("/no/such/kip/path"), false, false).is_ok());
        let relative = of_config(&config("data"), false, true).unwrap_err();
        assert!(relative.contains("absolute"), "{relative}");
        let remote = of_config(&config("/tmp"), true, true).unwrap_err();
        assert!(remote.contains("remote node cannot see"), "{remote}");
    }
}

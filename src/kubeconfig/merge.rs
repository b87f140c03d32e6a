//! Merging and removing kip's entries in a kubeconfig document. The document
//! stays a `serde_yaml::Value`, so every entry kip does not own, and every
//! field kip does not know (exec plugins, extensions, preferences), is kept
//! exactly as it was.

use anyhow::{Context, Result};
use serde_yaml::{Mapping, Value};

/// The extension on kip's context that records the context `up` switched
/// away from, so that `down` can switch back (an extension, as minikube
/// keeps its own, so kubectl keeps it too).
const EXTENSION: &str = "kip";
const PREVIOUS_CONTEXT: &str = "previous-context";

const SECTIONS: [(&str, &str); 3] = [
    ("clusters", "cluster"),
    ("users", "user"),
    ("contexts", "context"),
];

/// A cluster's endpoint and credentials, taken from the kubeconfig that kind
/// wrote inside the node.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCredentials {
    /// The `cluster` mapping (server, certificate-authority-data, ...).
    pub cluster: Value,
    /// The `user` mapping (client certificate and key, ...).
    pub user: Value,
}

impl ClusterCredentials {
    /// Takes the current context's cluster and user from a kind kubeconfig
    /// and points the cluster at `server`.
    pub fn from_kind_kubeconfig(text: &str, server: &str) -> Result<Self> {
        let doc: Value = serde_yaml::from_str(text).context("the node's kubeconfig is not YAML")?;
        let current = doc.get("current-context").and_then(Value::as_str);
        let context = find(&doc, "contexts", current)
            .and_then(|c| c.get("context"))
            .context("the node's kubeconfig has no context")?;
        let cluster_name = context.get("cluster").and_then(Value::as_str);
        let user_name = context.get("user").and_then(Value::as_str);
        let mut cluster = find(&doc, "clusters", cluster_name)
            .and_then(|c| c.get("cluster"))
            .cloned()
            .context("the node's kubeconfig has no cluster for its context")?;
        let user = find(&doc, "users", user_name)
            .and_then(|u| u.get("user"))
            .cloned()
            .context("the node's kubeconfig has no user for its context")?;
        match cluster.as_mapping_mut() {
            Some(m) => m.insert("server".into(), server.into()),
            None => return Err(crate::error::Error::NodeKubeconfigNotMapping.into()),
        };
        Ok(ClusterCredentials { cluster, user })
    }

    /// The CA bundle (PEM) the API server certificate must chain to.
    pub fn ca_pem(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let data = self
            .cluster
            .get("certificate-authority-data")
            .and_then(Value::as_str)
            .context("the cluster entry has no certificate-authority-data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .context("certificate-authority-data is not base64")
    }

    /// The client certificate and key (PEM) the user authenticates with.
    pub fn client_pem(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        use base64::Engine;
        let decode = |key: &str| {
            let data = self
                .user
                .get(key)
                .and_then(Value::as_str)
                .with_context(|| format!("the user entry has no {key}"))?;
            base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .with_context(|| format!("{key} is not base64"))
        };
        Ok((
            decode("client-certificate-data")?,
            decode("client-key-data")?,
        ))
    }

    /// A kubeconfig holding only this cluster, as `kip kubeconfig` prints it.
    pub fn standalone(&self, name: &str) -> Value {
        let mut doc = Value::Null;
        upsert_entries(&mut doc, name, self, true).expect("an empty document always merges");
        doc
    }
}

/// What makes `doc` a kubeconfig kubectl cannot read either, if anything:
/// a section that is not a list, or an entry that is not a mapping.
pub fn shape_problem(doc: &Value) -> Option<String> {
    for (key, _) in SECTIONS {
        match doc.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Sequence(items)) => {
                if let Some(i) = items.iter().position(|i| !i.is_mapping()) {
                    return Some(format!(
                        "entry {} of `{key}` is {}, not a mapping",
                        i + 1,
                        kind(&items[i])
                    ));
                }
            }
            Some(other) => return Some(format!("`{key}` is {}, not a list", kind(other))),
        }
    }
    None
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn find<'a>(doc: &'a Value, section: &str, name: Option<&str>) -> Option<&'a Value> {
    let items = doc.get(section)?.as_sequence()?;
    match name {
        Some(name) => items
            .iter()
            .find(|i| i.get("name").and_then(Value::as_str) == Some(name)),
        None => items.first(),
    }
}

fn root_mapping(doc: &mut Value) -> Result<&mut Mapping> {
    if doc.is_null() {
        let mut m = Mapping::new();
        m.insert("apiVersion".into(), "v1".into());
        m.insert("kind".into(), "Config".into());
        m.insert("preferences".into(), Value::Mapping(Mapping::new()));
        *doc = Value::Mapping(m);
    }
    doc.as_mapping_mut()
        .context("the kubeconfig is not a YAML mapping")
}

fn section<'a>(root: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>> {
    let entry = root
        .entry(key.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if entry.is_null() {
        *entry = Value::Sequence(Vec::new());
    }
    entry
        .as_sequence_mut()
        .with_context(|| format!("the kubeconfig's {key} is not a list"))
}

/// Adds (or replaces) the cluster, user and context named `name`.
pub fn upsert_entries(
    doc: &mut Value,
    name: &str,
    creds: &ClusterCredentials,
    set_current: bool,
) -> Result<bool> {
    let root = root_mapping(doc)?;
    let current = root
        .get("current-context")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    // Made current again by `down`: the context before kip's, kept across
    // re-exports while kip's stays current.
    let previous = match current {
        Some(c) if c == name => previous_context(root, name),
        Some(c) if set_current => Some(c.to_string()),
        _ => None,
    };
    let mut context = Mapping::new();
    context.insert("cluster".into(), name.into());
    context.insert("user".into(), name.into());
    if let Some(previous) = previous {
        let mut record = Mapping::new();
        record.insert(PREVIOUS_CONTEXT.into(), previous.into());
        let mut extension = Mapping::new();
        extension.insert("name".into(), EXTENSION.into());
        extension.insert("extension".into(), Value::Mapping(record));
        context.insert(
            "extensions".into(),
            Value::Sequence(vec![Value::Mapping(extension)]),
        );
    }
    let bodies = [
        creds.cluster.clone(),
        creds.user.clone(),
        Value::Mapping(context),
    ];
    for ((key, field), body) in SECTIONS.iter().zip(bodies) {
        let items = section(root, key)?;
        let mut entry = Mapping::new();
        entry.insert("name".into(), name.into());
        entry.insert((*field).into(), body);
        let entry = Value::Mapping(entry);
        items.retain(|i| i.get("name").and_then(Value::as_str) != Some(name));
        items.push(entry);
    }
    if set_current {
        root.insert("current-context".into(), name.into());
    }
    Ok(true)
}

/// The context recorded on kip's context `name` as current before it.
fn previous_context(root: &Mapping, name: &str) -> Option<String> {
    let context = root
        .get("contexts")?
        .as_sequence()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))?
        .get("context")?;
    let extension = context
        .get("extensions")?
        .as_sequence()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(EXTENSION))?;
    let previous = extension
        .get("extension")?
        .get(PREVIOUS_CONTEXT)?
        .as_str()?;
    Some(previous.to_string())
}

fn has_context(root: &Mapping, name: &str) -> bool {
    root.get("contexts")
        .and_then(Value::as_sequence)
        .is_some_and(|items| {
            items
                .iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some(name))
        })
}

/// Removes the cluster, user and context named `name`. If current-context
/// pointed there, the context that was current before `up` switched to it
/// becomes current again (when it still exists), else it is cleared.
/// Returns whether anything changed.
pub fn remove_entries(doc: &mut Value, name: &str) -> Result<bool> {
    let Some(root) = doc.as_mapping_mut() else {
        return Ok(false);
    };
    let previous = previous_context(root, name);
    let mut changed = false;
    for (key, _) in SECTIONS {
        if let Some(items) = root.get_mut(key).and_then(Value::as_sequence_mut) {
            let before = items.len();
            items.retain(|i| i.get("name").and_then(Value::as_str) != Some(name));
            changed |= items.len() != before;
        }
    }
    if root.get("current-context").and_then(Value::as_str) == Some(name) {
        let restored = previous
            .filter(|p| has_context(root, p))
            .unwrap_or_default();
        root.insert("current-context".into(), restored.into());
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests;

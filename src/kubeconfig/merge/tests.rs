//! The merge's tests: kip's entries in, out, and every other entry and field kept.

use super::*;

const KIND_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: kind-x\n\
clusters:\n- name: kind-x\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: Q0E=\n\
users:\n- name: kind-x\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n\
contexts:\n- name: kind-x\n  context:\n    cluster: kind-x\n    user: kind-x\n";

/// A kubeconfig as people have them: several contexts, an exec plugin,
/// extensions, unknown fields and preferences.
const BUSY: &str = include_str!("../../../tests/fixtures/busy-kubeconfig.yaml");

fn creds() -> ClusterCredentials {
    ClusterCredentials::from_kind_kubeconfig(KIND_KUBECONFIG, "https://127.0.0.1:40001").unwrap()
}

#[test]
fn reads_kind_credentials_and_rewrites_the_server() {
    let c = creds();
    assert_eq!(
        c.cluster["server"].as_str(),
        Some("https://127.0.0.1:40001")
    );
    assert_eq!(c.ca_pem().unwrap(), b"CA");
    assert_eq!(
        c.user.get("client-key-data").and_then(Value::as_str),
        Some("S0VZ")
    );
}

#[test]
fn merge_then_remove_preserves_every_other_entry() {
    let original: Value = serde_yaml::from_str(BUSY).unwrap();
    let mut doc = original.clone();
    upsert_entries(&mut doc, "kip-a", &creds(), true).unwrap();
    upsert_entries(&mut doc, "kip-b", &creds(), false).unwrap();
    assert_eq!(doc["current-context"].as_str(), Some("kip-a"));
    for key in ["clusters", "users", "contexts"] {
        let items = doc[key].as_sequence().unwrap();
        let originals = original[key].as_sequence().unwrap();
        // Every original entry is still there, unchanged and in order.
        assert_eq!(&items[..originals.len()], &originals[..], "{key}");
        assert_eq!(items.len(), originals.len() + 2, "{key}");
    }
    // A second merge of the same name replaces instead of duplicating.
    upsert_entries(&mut doc, "kip-a", &creds(), true).unwrap();
    assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 4);

    // Through text, as it goes to disk.
    let text = serde_yaml::to_string(&doc).unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).unwrap();
    assert!(remove_entries(&mut doc, "kip-a").unwrap());
    assert!(remove_entries(&mut doc, "kip-b").unwrap());
    assert!(!remove_entries(&mut doc, "kip-b").unwrap());
    // The context current before `up` is current again.
    assert_eq!(doc, original);
}

#[test]
fn remove_restores_the_context_up_switched_away_from() {
    let original: Value = serde_yaml::from_str(BUSY).unwrap();
    assert_eq!(original["current-context"].as_str(), Some("prod"));
    let mut doc = original.clone();
    upsert_entries(&mut doc, "kip-a", &creds(), true).unwrap();
    // A re-export keeps the first record, not kip-a itself.
    upsert_entries(&mut doc, "kip-a", &creds(), true).unwrap();
    upsert_entries(&mut doc, "kip-b", &creds(), true).unwrap();
    assert_eq!(doc["current-context"].as_str(), Some("kip-b"));
    // Through text, as it goes to disk.
    let mut doc: Value = serde_yaml::from_str(&crate::kubeconfig::to_yaml(&doc).unwrap()).unwrap();
    remove_entries(&mut doc, "kip-b").unwrap();
    assert_eq!(doc["current-context"].as_str(), Some("kip-a"));
    remove_entries(&mut doc, "kip-a").unwrap();
    assert_eq!(doc, original);

    // A previous context that is gone by then is not made current.
    let mut doc = original.clone();
    upsert_entries(&mut doc, "kip-a", &creds(), true).unwrap();
    upsert_entries(&mut doc, "kip-b", &creds(), true).unwrap();
    remove_entries(&mut doc, "kip-a").unwrap();
    remove_entries(&mut doc, "kip-b").unwrap();
    assert_eq!(doc["current-context"].as_str(), Some(""));
}

#[test]
fn remove_keeps_current_context_that_points_elsewhere() {
    let mut doc: Value = serde_yaml::from_str(BUSY).unwrap();
    upsert_entries(&mut doc, "kip-a", &creds(), false).unwrap();
    remove_entries(&mut doc, "kip-a").unwrap();
    assert_eq!(doc, serde_yaml::from_str::<Value>(BUSY).unwrap());
}

#[test]
fn standalone_has_exactly_one_of_each() {
    let doc = creds().standalone("kip-x");
    crate::testing::assert_snapshot(
        "standalone_kubeconfig.yaml",
        &crate::kubeconfig::to_yaml(&doc).unwrap(),
    );
}

#[test]
fn names_a_section_that_is_not_a_list() {
    let shape = |text: &str| shape_problem(&serde_yaml::from_str(text).unwrap());
    assert_eq!(shape(BUSY), None);
    assert_eq!(shape("clusters: ~\nusers: []\n"), None);
    assert_eq!(
        shape("clusters: oops\n").as_deref(),
        Some("`clusters` is a string, not a list")
    );
    assert_eq!(
        shape("contexts: {a: b}\n").as_deref(),
        Some("`contexts` is a mapping, not a list")
    );
    assert_eq!(
        shape("users: [{name: a}, 7]\n").as_deref(),
        Some("entry 2 of `users` is a number, not a mapping")
    );
}

#[test]
fn refuses_a_non_list_section() {
    let mut doc: Value = serde_yaml::from_str("clusters: oops\n").unwrap();
    assert!(upsert_entries(&mut doc, "kip-a", &creds(), true).is_err());
}

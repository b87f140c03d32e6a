//! The container spec's tests: its snapshots and what a user's flags make of it.

use super::*;
use crate::node::tests::options;

fn body_json(profile: SecurityProfile, cgroup_v2: bool) -> String {
    let plan = NodePlan::new(&options()).unwrap();
    let facts = EngineFacts {
        cgroup_v2,
        ..Default::default()
    };
    let mut body = serde_json::to_value(container_body(&plan, &facts, profile)).unwrap();
    // The script and kind config have snapshots of their own.
    body["Entrypoint"][2] = "<bootstrap.sh>".into();
    body["Labels"]["dev.kip.version"] = "VERSION".into();
    sort_json(&mut body);
    serde_json::to_string_pretty(&body).unwrap() + "\n"
}

fn sort_json(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = v {
        let mut entries: Vec<_> = std::mem::take(map).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, mut val) in entries {
            sort_json(&mut val);
            map.insert(k, val);
        }
    }
}

#[test]
fn host_ports_are_published_at_their_own_number() {
    let plan = NodePlan::new(&crate::node::NodeOptions {
        ports: vec![
            crate::node::ports::parse_port_flag("127.0.0.1:8080:80").unwrap(),
            crate::node::ports::parse_port_flag("5353:53/udp").unwrap(),
        ],
        ..options()
    })
    .unwrap();
    let body = container_body(&plan, &EngineFacts::default(), SecurityProfile::Privileged);
    let bindings = body.host_config.unwrap().port_bindings.unwrap();
    let binding = |key: &str| {
        let b = bindings[key].as_ref().unwrap()[0].clone();
        (b.host_ip.unwrap(), b.host_port.unwrap())
    };
    assert_eq!(binding("8080/tcp"), ("127.0.0.1".into(), "8080".into()));
    assert_eq!(binding("5353/udp"), ("0.0.0.0".into(), "5353".into()));
    assert_eq!(binding("6443/tcp").0, "127.0.0.1");
    assert_eq!(
        body.exposed_ports.unwrap(),
        ["5353/udp", "6443/tcp", "8080/tcp"]
    );
}

#[test]
fn a_seeded_node_mounts_the_store_that_its_mount_creates_with_kips_labels() {
    let mut plan = NodePlan::new(&options()).unwrap();
    plan.node.seed_store = Some(crate::node::SeedStoreSpec {
        volume: "kip-seeds".into(),
        mount_path: "/var/lib/kip/seeds",
        labels: [("dev.kip.managed-by".to_string(), "kip".to_string())].into(),
    });
    let body = container_body(
        &plan,
        &EngineFacts::default(),
        SecurityProfile::Capabilities,
    );
    let mounts = body.host_config.unwrap().mounts.unwrap();
    let store = mounts
        .iter()
        .find(|m| m.source.as_deref() == Some("kip-seeds"))
        .expect("the store is mounted");
    assert_eq!(store.target.as_deref(), Some("/var/lib/kip/seeds"));
    assert_ne!(
        store.read_only,
        Some(true),
        "the bootstrap takes its claims there"
    );
    let labels = store
        .volume_options
        .as_ref()
        .and_then(|o| o.labels.as_ref())
        .unwrap();
    assert_eq!(labels["dev.kip.managed-by"], "kip");
}

#[test]
fn node_spec_snapshots() {
    crate::testing::assert_snapshot(
        "docker_node_caps_v1.json",
        &body_json(SecurityProfile::Capabilities, false),
    );
    crate::testing::assert_snapshot(
        "docker_node_privileged_v2.json",
        &body_json(SecurityProfile::Privileged, true),
    );
}

//! Conformance of the emulator, with the real kubectl as the client. Under
//! KIP_E2E=1 (CI) a missing kubectl is a failure; otherwise each test says
//! why it skips.

mod common;

use common::Harness;
use kip_test_kube_emulator::Rule;
use std::process::Stdio;
use std::time::Duration;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  labels: {app: web}\ndata:\n  a: one\n";

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn discovery_and_version() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    let version = h.json(&["version", "-o", "json"]);
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        "v1.36.0-kip-emulator"
    );
    let resources = h.ok(&["api-resources", "--no-headers"]);
    for r in [
        "pods",
        "configmaps",
        "secrets",
        "services",
        "serviceaccounts",
        "events",
        "namespaces",
        "nodes",
        "selfsubjectaccessreviews",
    ] {
        assert!(
            resources.lines().any(|l| l.starts_with(r)),
            "{r} missing:\n{resources}"
        );
    }
    let nodes = h.json(&["get", "nodes", "-o", "json"]);
    assert_eq!(
        nodes["items"][0]["status"]["conditions"][0]["type"],
        "Ready"
    );
    assert_eq!(h.ok(&["get", "--raw", "/readyz"]), "ok");
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn apply_get_patch_delete_with_real_messages() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    let created = h.apply(CM, &[]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("configmap/c1 created"));
    let first = h.json(&["get", "cm", "c1", "-o", "json"]);
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(
            first["metadata"][field]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{field}"
        );
    }
    let changed = h.apply(&CM.replace("a: one", "a: two"), &[]);
    assert!(String::from_utf8_lossy(&changed.stdout).contains("configmap/c1 configured"));
    let second = h.json(&["get", "cm", "c1", "-o", "json"]);
    assert_eq!(second["data"]["a"], "two");
    assert_eq!(second["metadata"]["uid"], first["metadata"]["uid"]);
    assert_ne!(
        second["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );

    let dup = h.with_stdin(&["create"], CM);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("configmaps \"c1\" already exists"));
    assert!(h
        .fails(&["get", "cm", "nope"])
        .contains("configmaps \"nope\" not found"));

    // A Service without a ClusterIP gets one recorded.
    let service = h.apply(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s1\nspec:\n  selector: {app: s1}\n  ports:\n  - {port: 80, targetPort: 8080}\n",
        &[],
    );
    assert!(
        service.status.success(),
        "{}",
        String::from_utf8_lossy(&service.stderr)
    );
    let svc = h.json(&["get", "service", "s1", "-o", "json"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["selector"]["app"], "s1");
    assert!(svc["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));

    // Selectors.
    let other = h.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  x: y\n",
        &[],
    );
    assert!(other.status.success());
    assert_eq!(
        h.ok(&["get", "cm", "-l", "app=web", "-o", "name"]).trim(),
        "configmap/c1"
    );
    assert_eq!(
        h.ok(&[
            "get",
            "cm",
            "--field-selector",
            "metadata.name=other",
            "-o",
            "name"
        ])
        .trim(),
        "configmap/other"
    );

    // A stale resourceVersion is a conflict.
    let mut stale = first.clone();
    stale["data"]["a"] = "three".into();
    let conflict = h.with_stdin(&["replace"], &stale.to_string());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("the object has been modified"));

    // A server-side dry run stores nothing.
    let dry = h.apply(&CM.replace("c1", "dry"), &["--dry-run=server"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(h.fails(&["get", "cm", "dry"]).contains("not found"));

    h.ok(&["delete", "cm", "c1", "--wait"]);
    assert!(h.fails(&["get", "cm", "c1"]).contains("not found"));
}

/// kubectl's typed commands (`create namespace`, `create configmap`, `auth
/// can-i`) send protobuf, which the emulator does not read: it says so,
/// and a manifest does the same.
#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn protobuf_bodies_are_refused_and_deleting_a_namespace_deletes_its_objects() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    let refused = h.fails(&["create", "namespace", "team"]);
    assert!(
        refused.contains("the kube-emulator accepts application/json and application/yaml"),
        "{refused}"
    );
    let team = h.apply(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: team}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, namespace: team}, data: {k: v}}\n",
        &[],
    );
    assert!(
        team.status.success(),
        "{}",
        String::from_utf8_lossy(&team.stderr)
    );
    assert_eq!(
        h.ok(&["get", "cm", "cfg", "-n", "team", "-o", "jsonpath={.data.k}"]),
        "v"
    );
    // Deleting a namespace deletes what is in it.
    h.ok(&["delete", "namespace", "team"]);
    assert!(h
        .fails(&["get", "cm", "cfg", "-n", "team"])
        .contains("not found"));
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn watch_streams_changes_and_expires_old_versions() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    let mut watcher = h
        .cmd(&[
            "get",
            "cm",
            "-w",
            "--output-watch-events",
            "-o",
            "jsonpath={.type} {.object.metadata.name}{\"\\n\"}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The events are read as they come, so the test waits for the last.
    let (lines, seen) = std::sync::mpsc::channel();
    let stdout = watcher.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    common::until("kubectl watches", Duration::from_secs(20), || {
        (h.emulator().open_watches() > 0)
            .then_some(())
            .ok_or_else(String::new)
    });
    assert!(h.apply(CM, &[]).status.success());
    assert!(h
        .apply(&CM.replace("a: one", "a: two"), &[])
        .status
        .success());
    h.ok(&["delete", "cm", "c1"]);
    let mut all = Vec::new();
    while !all.iter().any(|l: &String| l == "DELETED c1") {
        match seen.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => all.push(line),
            Err(_) => panic!("no DELETED event within 20 s: {all:?}"),
        }
    }
    watcher.kill().unwrap();
    let _ = watcher.wait();
    let out = all.join("\n");
    let events: Vec<&str> = out.lines().filter(|l| l.ends_with(" c1")).collect();
    assert_eq!(events, ["ADDED c1", "MODIFIED c1", "DELETED c1"], "{out}");

    let gone = h.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1",
    ]);
    assert!(
        gone.contains("\"type\":\"ERROR\"") && gone.contains("\"code\":410"),
        "{gone}"
    );
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn rbac_refusals_and_access_reviews() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    // A SelfSubjectAccessReview as kip sends it (JSON), through kubectl.
    let can_i = |verb: &str, resource: &str, subresource: &str| {
        let review = format!(
            r#"{{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{{"resourceAttributes":{{"namespace":"default","verb":"{verb}","resource":"{resource}","subresource":"{subresource}"}}}}}}"#
        );
        let out = h.with_stdin(&["create", "-o", "jsonpath={.status.allowed}"], &review);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(can_i("create", "pods", "exec"), "true");
    h.emulator().set_rbac(Some(vec![
        Rule {
            verbs: vec!["*".into()],
            resources: vec!["pods".into(), "configmaps".into()],
            namespaces: vec!["default".into()],
        },
        Rule {
            verbs: vec!["create".into()],
            resources: vec!["selfsubjectaccessreviews".into()],
            namespaces: vec![],
        },
    ]));
    assert_eq!(can_i("create", "pods", "exec"), "false");
    assert_eq!(can_i("list", "pods", ""), "true");
    let forbidden = h.fails(&["get", "secrets"]);
    assert!(
        forbidden.contains("secrets is forbidden: User \"kip-test\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""),
        "{forbidden}"
    );
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn kips_example_pod_manifest_passes_a_server_side_dry_run() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    let manifest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kip-pod.yaml");
    let out = h.run(&[
        "apply",
        "--dry-run=server",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pod/kip-runner created (server dry run)")
    );
    assert!(
        h.fails(&["get", "pod", "kip-runner"]).contains("not found"),
        "a dry run stores nothing"
    );
}

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

    // A Service from kubectl's typed client (protobuf): a ClusterIP is
    // recorded for it.
    h.ok(&["create", "service", "clusterip", "s1", "--tcp=80:8080"]);
    let svc = h.json(&["get", "service", "s1", "-o", "json"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["selector"]["app"], "s1");
    assert!(svc["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));

    // Selectors.
    h.ok(&["create", "configmap", "other", "--from-literal=x=y"]);
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

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn typed_clients_send_protobuf() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    h.ok(&["create", "namespace", "team"]);
    h.ok(&[
        "create",
        "configmap",
        "cfg",
        "-n",
        "team",
        "--from-literal=k=v",
    ]);
    h.ok(&[
        "create",
        "secret",
        "generic",
        "sec",
        "-n",
        "team",
        "--from-literal=token=s3cret",
    ]);
    assert_eq!(
        h.ok(&["get", "cm", "cfg", "-n", "team", "-o", "jsonpath={.data.k}"]),
        "v"
    );
    assert_eq!(
        h.ok(&[
            "get",
            "secret",
            "sec",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.token}"
        ]),
        "czNjcmV0"
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
    std::thread::sleep(Duration::from_millis(700));
    assert!(h.apply(CM, &[]).status.success());
    assert!(h
        .apply(&CM.replace("a: one", "a: two"), &[])
        .status
        .success());
    h.ok(&["delete", "cm", "c1"]);
    std::thread::sleep(Duration::from_millis(500));
    watcher.kill().unwrap();
    let out = String::from_utf8_lossy(&watcher.wait_with_output().unwrap().stdout).into_owned();
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

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: dind\nspec:\n  containers:\n  - name: dind\n    image: docker:dind\n    securityContext: {privileged: true}\n  volumes:\n  - name: modules\n    hostPath: {path: /lib/modules}\n";

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn pod_security_refuses_privileged_pods_in_baseline_namespaces() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    h.ok(&["create", "namespace", "ci"]);
    h.ok(&[
        "label",
        "namespace",
        "ci",
        "pod-security.kubernetes.io/enforce=baseline",
    ]);
    let refused = h.apply(PRIVILEGED_POD, &["-n", "ci"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("pods \"dind\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"dind\" must not set securityContext.privileged=true), hostPath volumes (volume \"modules\")"),
        "{stderr}"
    );
    // The default namespace has no policy.
    assert!(h.apply(PRIVILEGED_POD, &[]).status.success());
    assert_eq!(
        h.ok(&["get", "pod", "dind", "-o", "jsonpath={.status.phase}"]),
        "Pending"
    );
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn rbac_refusals_and_access_reviews() {
    let Some(h) = Harness::start(false) else {
        return;
    };
    assert_eq!(
        h.ok(&["auth", "can-i", "create", "pods", "--subresource=exec"])
            .trim(),
        "yes"
    );
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
    let no = h.run(&["auth", "can-i", "create", "pods", "--subresource=exec"]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    assert_eq!(h.ok(&["auth", "can-i", "list", "pods"]).trim(), "yes");
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

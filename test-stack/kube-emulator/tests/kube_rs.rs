//! The emulator driven by kube-rs, the client kip's remote mode is built on:
//! typed `Api`s, `watcher`, `await_condition`, exec and portforward over
//! WebSocket. Needs Docker, kubectl (for the harness's checks) and the test
//! node image; under KIP_E2E=1 (CI) their absence is a failure.

mod common;

use common::{Harness, IMAGE};
use futures_util::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{AttachParams, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use kube::{Api, Client, Config};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::timeout;

async fn client(p: &Harness) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&p.emulator().kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn echo_pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "echo"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": IMAGE,
                "command": ["kind", "kip-test-tcp-echo", "8080"],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            }],
        },
    }))
    .unwrap()
}

#[test]
#[ignore = "needs kubectl (KIP_E2E=1 makes its absence a failure)"]
fn config_maps_crud_conflicts_and_watch() {
    let Some(p) = Harness::start(false) else {
        return;
    };
    p.block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&p).await, "default");
        // Names in the order the watcher saw them applied, up to "two";
        // objects are created only once its initial list is done.
        let events = watcher(
            api.clone(),
            watcher::Config::default().labels("kip-test=yes"),
        );
        let (listed_tx, listed) = tokio::sync::oneshot::channel();
        let seen = tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            let mut listed_tx = Some(listed_tx);
            let mut names = Vec::new();
            while let Some(event) = events.try_next().await.unwrap() {
                match event {
                    watcher::Event::InitDone => {
                        listed_tx.take().map(|tx| tx.send(()));
                    }
                    watcher::Event::Apply(cm) => {
                        let name = cm.metadata.name.unwrap_or_default();
                        let last = name == "two";
                        names.push(name);
                        if last {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            names
        });
        timeout(Duration::from_secs(10), listed)
            .await
            .expect("the watcher listed")
            .unwrap();
        let mut cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "one", "labels": {"kip-test": "yes"}},
            "data": {"a": "1"},
        }))
        .unwrap();
        let created = api.create(&PostParams::default(), &cm).await.unwrap();
        let rv = created.metadata.resource_version.clone().unwrap();
        assert!(created.metadata.uid.is_some());
        // The same name again: 409 AlreadyExists, as a kube::Error::Api.
        let again = api.create(&PostParams::default(), &cm).await.unwrap_err();
        assert!(
            matches!(&again, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
            "{again:?}"
        );
        // A merge patch bumps the resourceVersion; a replace carrying the old
        // one is a 409 Conflict.
        let patched = api
            .patch(
                "one",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"data": {"b": "2"}})),
            )
            .await
            .unwrap();
        assert_eq!(patched.data.as_ref().unwrap()["b"], "2");
        assert_ne!(patched.metadata.resource_version.as_deref(), Some(&*rv));
        cm.metadata.resource_version = Some(rv);
        let stale = api.replace("one", &PostParams::default(), &cm).await;
        assert!(
            matches!(&stale, Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "Conflict"),
            "{stale:?}"
        );
        cm.metadata.name = Some("two".into());
        cm.metadata.resource_version = None;
        api.create(&PostParams::default(), &cm).await.unwrap();
        let names = timeout(Duration::from_secs(10), seen)
            .await
            .expect("the watcher saw both objects")
            .unwrap();
        // "one" as created and as patched, then "two".
        assert_eq!(names, ["one", "one", "two"]);
        // Label selectors on list, then delete and a 404 after.
        let listed = api
            .list(&kube::api::ListParams::default().labels("kip-test=yes"))
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 2);
        api.delete("one", &DeleteParams::default()).await.unwrap();
        let gone = api.get("one").await.unwrap_err();
        assert!(
            matches!(&gone, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"),
            "{gone:?}"
        );
        assert!(api.get_opt("one").await.unwrap().is_none());
    });
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn pods_wait_exec_portforward_and_delete() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    let peer = p.emulator().port_forward_peer().unwrap();
    p.block_on(async {
        let api: Api<Pod> = Api::namespaced(client(&p).await, "default");
        let pod = api
            .create(&PostParams::default(), &echo_pod("echo"))
            .await
            .unwrap();
        let uid = pod.metadata.uid.clone().unwrap();
        timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), "echo", conditions::is_pod_running()),
        )
        .await
        .expect("Running within 30 s")
        .unwrap();

        // exec: stdout, stderr and the exit code in the status.
        let mut attached = api
            .exec(
                "echo",
                ["sh", "-c", "echo out; echo err >&2; exit 3"],
                &AttachParams::default().stderr(true),
            )
            .await
            .unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        attached
            .stdout()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        attached
            .stderr()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        let status = attached.take_status().unwrap().await.unwrap();
        assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let code = status.details.unwrap().causes.unwrap()[0].message.clone();
        assert_eq!(code.as_deref(), Some("3"));

        // portforward: two forwards at once, bytes both ways.
        let mut forwards = Vec::new();
        for i in 0..2 {
            let api = api.clone();
            forwards.push(tokio::spawn(async move {
                let mut pf = api.portforward("echo", &[8080]).await.unwrap();
                let mut stream = pf.take_stream(8080).unwrap();
                stream
                    .write_all(format!("hello {i}\n").as_bytes())
                    .await
                    .unwrap();
                let mut line = String::new();
                BufReader::new(&mut stream)
                    .read_line(&mut line)
                    .await
                    .unwrap();
                line
            }));
        }
        for (i, f) in forwards.into_iter().enumerate() {
            let line = timeout(Duration::from_secs(10), f).await.unwrap().unwrap();
            assert!(
                line.starts_with(&format!("echo: hello {i} from {peer}\n")),
                "{line}"
            );
        }
        // A port nothing listens on: the error channel says why.
        let mut pf = api.portforward("echo", &[9999]).await.unwrap();
        let error = timeout(Duration::from_secs(10), pf.take_error(9999).unwrap())
            .await
            .unwrap();
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("error forwarding port 9999")),
            "{error:?}"
        );

        // Graceful delete, awaited on the uid.
        api.delete("echo", &DeleteParams::default()).await.unwrap();
        timeout(
            Duration::from_secs(15),
            await_condition(api.clone(), "echo", conditions::is_deleted(&uid)),
        )
        .await
        .expect("deleted within 15 s")
        .unwrap();
    });
}

//! One node Pod, as the Kubernetes provider found or made it: its log
//! (followed once it runs), commands run in it over `pods/exec`
//! (`exec.rs`), files copied out with `tar`, its description, events and
//! API endpoint.

use super::KubeProvider;
use crate::api::ApiEndpoint;
use crate::node::remote;
use crate::provider::{ExecOutput, Node, NodeInfo};
use anyhow::Result;
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, LogParams};
use kube::Api;
use std::path::Path;

pub struct KubeNode {
    pub(super) provider: KubeProvider,
    pub(super) cluster: String,
    pub(super) info: NodeInfo,
}

impl Node for KubeNode {
    fn info(&self) -> &NodeInfo {
        &self.info
    }

    async fn log(&self) -> Result<String> {
        let p = &self.provider;
        p.pods()
            .logs(
                &self.info.node,
                &LogParams {
                    container: Some(remote::CONTAINER.into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| p.unreachable(e))
    }

    async fn follow_log(&self) -> Result<BoxStream<'static, Result<String>>> {
        self.provider.follow_log(&self.cluster).await
    }

    async fn exec_capture(
        &self,
        command: &[String],
        input: Option<BoxStream<'static, Result<bytes::Bytes>>>,
    ) -> Result<ExecOutput> {
        let (code, out, err) = self
            .provider
            .exec_collect(&self.cluster, command, input)
            .await?;
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    async fn exec(&self, command: &[String], interactive: bool) -> Result<i64> {
        self.provider
            .exec_passthrough(&self.cluster, command, interactive)
            .await
    }

    async fn download(&self, path: &str, dest: &Path) -> Result<()> {
        self.provider.copy_out(&self.cluster, path, dest).await
    }

    async fn inspect(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(
            self.provider.present_pod(&self.cluster).await?,
        )?)
    }

    async fn events(&self) -> Result<serde_json::Value> {
        let p = &self.provider;
        let events: Api<Event> = Api::namespaced(p.client.clone(), &p.namespace);
        let list = events
            .list(&ListParams::default().fields(&format!("involvedObject.name={}", self.info.node)))
            .await
            .map_err(|e| p.unreachable(e))?;
        Ok(serde_json::to_value(list.items)?)
    }

    async fn endpoint(&self) -> Result<Option<ApiEndpoint>> {
        let p = &self.provider;
        Ok(p.pod(&self.cluster)
            .await?
            .and_then(|pod| p.endpoint_of(&self.cluster, &pod)))
    }

    /// A forwarded endpoint whose forwarder is gone is started again, on
    /// the port it had when that port is free.
    async fn reconnect(&self) -> Result<Option<ApiEndpoint>> {
        let p = &self.provider;
        let Some(pod) = p.pod(&self.cluster).await? else {
            return Ok(None);
        };
        if let Some(endpoint) = p.endpoint_of(&self.cluster, &pod) {
            return Ok(Some(endpoint));
        }
        let port = p
            .state
            .load(&self.cluster)
            .and_then(|r| r.forwarder)
            .map_or(0, |f| f.port);
        let port = p
            .start_forwarder(&self.cluster, port, &super::pod::pod_name(&pod))
            .await?;
        Ok(Some(ApiEndpoint {
            host: "127.0.0.1".into(),
            port,
        }))
    }
}

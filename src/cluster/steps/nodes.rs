//! Wait for the nodes of a claimed cluster: its API server answers already,
//! but a member that was frozen (`--paused`) comes back with its kubelet's
//! lease stale, and the node may read NotReady until the kubelet renews
//! it. So a claim hands the cluster over once every node is Ready and, for
//! a thawed member, has renewed its lease since it was thawed.

use super::{Context, Flow, Stage, Step};
use crate::api::ApiClient;
use crate::error::Error;
use crate::provider::Provider;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::time::Duration;

const NODES_POLL: Duration = Duration::from_millis(50);

pub struct WaitNodes;

impl<P: Provider> Step<P> for WaitNodes {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let thawed = cx.claimed.as_ref().and_then(|(_, thawed)| *thawed);
            let (creds, endpoint) = cx.ready.as_ref().expect("the wait step runs first");
            let client = ApiClient::with_credentials(endpoint.clone(), creds)?;
            let step = cx.printer.step("nodes-ready", "Waiting for the nodes");
            loop {
                let last = match client.nodes_ready(thawed, Duration::from_secs(2)).await {
                    Ok(None) => break,
                    Ok(Some(why)) => why,
                    Err(e) => format!("{e:#}"),
                };
                if tokio::time::Instant::now() >= cx.deadline {
                    return Err(Error::NodesNotReady {
                        cluster: cx.request.name.clone(),
                        wait: cx.request.cluster.wait,
                        last,
                    }
                    .into());
                }
                tokio::time::sleep(NODES_POLL).await;
            }
            step.done("Nodes ready");
            Ok(Flow::Next)
        })
    }
}

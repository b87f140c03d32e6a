//! Wait: the API server's `/readyz`, through the endpoint the user reaches,
//! verified against the cluster's CA with the name the kubeconfig uses.

use super::bootstrap::tail_of;
use super::{Context, Flow, Stage, Step};
use crate::api::{ApiClient, ApiEndpoint};
use crate::cluster::access::credentials;
use crate::error::Error;
use crate::kubeconfig::ClusterCredentials;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::time::Duration;

const READY_POLL: Duration = Duration::from_millis(50);

pub struct WaitReady;

impl<P: Provider> Step<P> for WaitReady {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let step = cx.printer.step("api-ready", "Waiting for the API server");
            let node = cx.node();
            let endpoint = match &node.info().endpoint {
                Some(endpoint) => endpoint.clone(),
                // A remote node's pod IP, known once it runs.
                None => node.endpoint().await?.ok_or(Error::NodeWithoutEndpoint)?,
            };
            let (mut creds, mut client, mut unverified) = first_client(cx, &endpoint).await?;
            loop {
                let last = match client.ready(Duration::from_secs(2)).await {
                    Ok(true) => break,
                    Ok(false) => "/readyz did not answer ok".to_string(),
                    Err(e) => format!("{e:#}"),
                };
                if std::mem::take(&mut unverified) {
                    // Kept credentials the server does not answer to: the node's.
                    (creds, client) = node_client(node, &endpoint).await?;
                    continue;
                }
                if tokio::time::Instant::now() >= cx.deadline {
                    let tail = node.log().await.unwrap_or_default();
                    return Err(Error::ApiNotReady {
                        server: endpoint.server_url(),
                        wait: cx.request.cluster.wait,
                        last,
                        tail: tail_of(&tail),
                    }
                    .into());
                }
                tokio::time::sleep(READY_POLL).await;
            }
            step.done(&format!("API server ready at {}", endpoint.server_url()));
            cx.ready = Some((creds, endpoint));
            Ok(Flow::Next)
        })
    }
}

/// The credentials to try first and their client: a claimed member's as
/// its filler kept them (reading the node is the slowest part of a claim),
/// unverified (true) until the server answers to them; else the node's.
async fn first_client<P: Provider>(
    cx: &Context<'_, P>,
    endpoint: &ApiEndpoint,
) -> Result<(ClusterCredentials, ApiClient, bool)> {
    let kept = cx.claimed.as_ref().and_then(|(key, _)| {
        crate::cluster::pool::credentials::take(cx.env, key, &endpoint.server_url())
    });
    let kept = kept.and_then(|creds| {
        let client = ApiClient::new(endpoint.clone(), &creds.ca_pem().ok()?).ok()?;
        Some((creds, client, true))
    });
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let (creds, client) = node_client(cx.node(), endpoint).await?;
    Ok((creds, client, false))
}

/// The credentials kind wrote in the node, and their client.
async fn node_client(
    node: &impl Node,
    endpoint: &ApiEndpoint,
) -> Result<(ClusterCredentials, ApiClient)> {
    let creds = credentials(node, endpoint).await?;
    let client = ApiClient::new(endpoint.clone(), &creds.ca_pem()?)?;
    Ok((creds, client))
}

//! Reaching a cluster's API server from where the user is: its credentials
//! (kind's kubeconfig in the node, pointed at the endpoint the user
//! reaches) and whether `/readyz` answers.

use crate::api::{ApiClient, ApiEndpoint};
use crate::kubeconfig::ClusterCredentials;
use crate::provider::Node;
use anyhow::{Context, Result};
use std::time::Duration;

/// The cluster's credentials, pointed at the endpoint the user reaches.
pub async fn credentials(node: &impl Node, endpoint: &ApiEndpoint) -> Result<ClusterCredentials> {
    let text = node
        .read_file(crate::node::contract::KUBECONFIG)
        .await
        .context("the cluster has no kubeconfig yet (is it still being created? see `kip logs`)")?;
    ClusterCredentials::from_kind_kubeconfig(&text, &endpoint.server_url())
}

/// Whether the API server answers `/readyz` through `endpoint` right now.
pub async fn api_ready(creds: &ClusterCredentials, endpoint: &ApiEndpoint) -> Result<bool> {
    let client = ApiClient::new(endpoint.clone(), &creds.ca_pem()?)?;
    client.ready(Duration::from_secs(3)).await
}

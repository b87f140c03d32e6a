//! Which cluster remote nodes run on: the target as the user named it,
//! resolved the way kubectl resolves one (kubeconfig, context, namespace),
//! with what kip recorded of a cluster, and the in-cluster service account.

use crate::error::Error;
use crate::names;
use crate::provider::remote_state::{RemoteRecord, RemoteState};
use anyhow::Result;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;

/// The cluster remote nodes run on, as the user named it (`--context`,
/// `--namespace`, `--kubeconfig`); what is not named comes from kip's
/// record of the cluster, then from the kubeconfig.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

/// A target resolved to a client: where remote nodes of one cluster are.
pub struct ResolvedTarget {
    pub client: Client,
    pub namespace: String,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// The target is the cluster kip runs in, through its service account.
    pub service_account: bool,
    pub server: String,
}

/// A kubeconfig with nothing to use: no current context and no contexts
/// (what `kip down` leaves of a file `up` created in a CI Pod).
fn is_empty(file: &Kubeconfig) -> bool {
    file.current_context.as_deref().unwrap_or("").is_empty() && file.contexts.is_empty()
}

/// Resolves the target cluster like kubectl (`--kubeconfig`, then
/// $KUBECONFIG, then ~/.kube/config, then the in-cluster service account)
/// and the context and namespace: flags, then what this machine recorded
/// for `cluster` in `state`, then the kubeconfig's. `in_cluster`: kip runs
/// in a Pod. Contacts nothing.
pub async fn resolve(
    target: &KubeTarget,
    cluster: Option<&str>,
    state: &RemoteState,
    in_cluster: bool,
) -> Result<ResolvedTarget> {
    let record = cluster.and_then(|c| state.load(c));
    // A cluster made through the service account (a CI job in a Pod)
    // stays there, even once `up` has written a kubeconfig whose current
    // context is the cluster itself.
    let named = target.context.is_some() || target.kubeconfig.is_some();
    let mut choice = Choice {
        context: target
            .context
            .clone()
            .or_else(|| record.as_ref().and_then(|r| r.context.clone())),
        service_account: !named && record.as_ref().is_some_and(|r| r.in_cluster),
        record,
    };
    let kubeconfig_path = target
        .kubeconfig
        .clone()
        .or_else(|| choice.record.as_ref().and_then(|r| r.kubeconfig.clone()));
    let file = choice.kubeconfig(kubeconfig_path.as_ref(), in_cluster)?;
    let file = match file {
        Some(file) if choice.context.is_none() => choice.current_context(file, state)?,
        other => other,
    };
    let config = choice.client_config(file).await?;
    let namespace = target
        .namespace
        .clone()
        .or_else(|| choice.record.as_ref().map(|r| r.namespace.clone()))
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::KubeClient {
        error: e.to_string(),
    })?;
    Ok(ResolvedTarget {
        client,
        namespace,
        context: choice.context,
        kubeconfig: kubeconfig_path,
        service_account: choice.service_account,
        server,
    })
}

/// The target as it is worked out: what kip recorded of the cluster, the
/// context, and whether it is the service account's cluster.
struct Choice {
    record: Option<RemoteRecord>,
    context: Option<String>,
    service_account: bool,
}

impl Choice {
    /// The kubeconfig to read, if any: none for the service account's
    /// cluster; `path` when one is named or recorded; else the default one.
    fn kubeconfig(&self, path: Option<&PathBuf>, in_cluster: bool) -> Result<Option<Kubeconfig>> {
        Ok(match path {
            _ if self.service_account => None,
            Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
                Error::RemoteKubeconfigUnreadable {
                    path: path.clone(),
                    error: e.to_string(),
                }
            })?),
            // Like client-go: a missing or empty default kubeconfig means the
            // in-cluster service account, where there is one.
            None => Kubeconfig::read()
                .ok()
                .filter(|file| !(in_cluster && is_empty(file))),
        })
    }

    /// No context named: the kubeconfig's current one, or (when that is a
    /// kip cluster's, which `up` made current) the cluster kip recorded for
    /// it. The kubeconfig, unless the service account is the way.
    fn current_context(
        &mut self,
        file: Kubeconfig,
        state: &RemoteState,
    ) -> Result<Option<Kubeconfig>> {
        self.context = file.current_context.clone().filter(|c| !c.is_empty());
        if let Some(kip) = self.context.as_deref().and_then(names::cluster_of_context) {
            match state.load(kip) {
                Some(r) if r.context.is_some() => {
                    self.context = r.context.clone();
                    self.record = self.record.take().or(Some(r));
                }
                Some(r) if r.in_cluster => {
                    self.context = None;
                    self.service_account = true;
                    self.record = self.record.take().or(Some(r));
                }
                _ => {
                    return Err(Error::KipContextCurrent {
                        cluster: kip.to_string(),
                    }
                    .into())
                }
            }
        }
        if self.service_account {
            Ok(None)
        } else if self.context.is_none() {
            Err(Error::NoCurrentContext.into())
        } else {
            Ok(Some(file))
        }
    }

    /// The client configuration: the kubeconfig's context, else the
    /// in-cluster service account's.
    async fn client_config(&mut self, file: Option<Kubeconfig>) -> Result<Config> {
        let Some(file) = file else {
            self.service_account = true;
            self.context = None;
            return Ok(Config::incluster().map_err(|e| Error::NoKubeconfig {
                error: e.to_string(),
            })?);
        };
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        Ok(Config::from_custom_kubeconfig(file, &options)
            .await
            .map_err(|e| Error::ContextUnusable {
                context: self.context.clone(),
                error: e.to_string(),
            })?)
    }
}

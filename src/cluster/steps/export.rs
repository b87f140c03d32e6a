//! Export: the ready cluster's kubeconfig entries written where kubectl
//! (or `--kubeconfig`) reads them, and the cluster handed over.

use super::{Context, Flow, Stage, Step};
use crate::cluster::handover::{kubectl_hint, write_kubeconfig, UpOutcome};
use crate::provider::Provider;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct ExportKubeconfig;

impl<P: Provider> Step<P> for ExportKubeconfig {
    fn stage(&self) -> Stage {
        Stage::Report
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let (creds, endpoint) = cx.ready.as_ref().expect("the wait step runs first");
            let request = cx.request;
            let written = write_kubeconfig(request, cx.printer, cx.target(), creds);
            cx.printer.info(&format!(
                "Cluster {} is ready in {:.1}s: API server {}{}",
                request.name,
                cx.started.elapsed().as_secs_f64(),
                endpoint.server_url(),
                if written {
                    kubectl_hint(request, cx.target())
                } else {
                    String::new()
                }
            ));
            let mut outcome =
                UpOutcome::new(request, endpoint, cx.target(), false, written, cx.started);
            outcome.member = cx.claimed.as_ref().map(|(key, _)| key.clone());
            cx.outcome = Some(outcome);
            Ok(Flow::Next)
        })
    }
}

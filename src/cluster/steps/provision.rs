//! Provision: the node the plan describes, created and started by the
//! provider (its volume, its container or Pod, its API endpoint).

use super::{Context, Flow, Stage, Step};
use crate::api::ApiEndpoint;
use crate::error::Error;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct Provision;

impl<P: Provider> Step<P> for Provision {
    fn stage(&self) -> Stage {
        Stage::Make
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let plan = cx.plan();
            let step = cx
                .printer
                .step("node-started", &format!("Starting node {}", plan.node.name));
            let node = match cx.provider.provision(plan, cx.facts(), cx.printer).await {
                Err(e) if Error::is(&e, |e| matches!(e, Error::NameTaken { .. })) => {
                    step.done(&format!(
                        "Node {} is being started by another `kip up {}`",
                        plan.node.name, plan.cluster
                    ));
                    return Err(e);
                }
                other => other?,
            };
            let info = node.info();
            step.done(&format!(
                "Node {} started ({}, API on {})",
                plan.node.name,
                info.security.as_deref().unwrap_or_default(),
                info.endpoint
                    .as_ref()
                    .map_or_else(|| "its pod IP once it runs".into(), ApiEndpoint::server_url)
            ));
            cx.node = Some(node);
            Ok(Flow::Next)
        })
    }
}

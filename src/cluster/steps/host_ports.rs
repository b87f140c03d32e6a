//! Host ports: each port of this machine the node would publish (`-p`, a
//! kind config's `extraPortMappings`) is free, or the run stops before
//! anything is made (exit 3, naming the port and what holds it).

use super::{Context, Flow, Stage, Step};
use crate::provider::Provider;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct HostPorts;

impl<P: Provider> Step<P> for HostPorts {
    fn stage(&self) -> Stage {
        Stage::Look
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            // Remote nodes have none (the plan refused them); a local node's
            // provider is the host's engine.
            if let Some(host) = cx.host {
                host.refuse_taken_ports(&cx.plan().node.ports, cx.facts().local)
                    .await?;
            }
            Ok(Flow::Next)
        })
    }
}

//! Registries: the kip registries `--registry` and `--mirror` name (or the
//! config file's `mirror:`), found on the engine, started if stopped, asked
//! whether they (and a cache's upstream) answer, and the node planned to
//! pull through them, before anything is made.

use super::{Context, Flow, Stage, Step};
use crate::provider::Provider;
use crate::registry::attach::{self, NodeSide};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct ConnectRegistries;

impl<P: Provider> Step<P> for ConnectRegistries {
    /// It may start a registry that is stopped: it runs to its end.
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let settings = &cx.request.cluster;
            if settings.attach.is_empty() {
                return Ok(Flow::Next);
            }
            let side = NodeSide {
                remote: cx.facts().remote_namespace.is_some(),
                local_engine: cx.facts().local,
                network: settings.network.as_deref(),
            };
            cx.registries = attach::wiring(&settings.attach, side, cx.host, cx.printer).await?;
            // As the plan step planned: the engine's preparation plans
            // again if there is no kind node image to stream.
            cx.plan_node(cx.host.is_some())?;
            Ok(Flow::Next)
        })
    }
}

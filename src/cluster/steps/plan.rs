//! Plan: what the engine says of itself, the local checks that are not
//! ok, and the node plan, checked before anything is made (a bad kind
//! config or a missing image fails in seconds).

use super::{Context, Flow, Stage, Step};
use crate::cluster::preflight;
use crate::provider::Provider;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct Plan;

impl<P: Provider> Step<P> for Plan {
    /// The engine's first answer can take up to its limit: a signal ends
    /// the wait at once (nothing is made yet).
    fn stage(&self) -> Stage {
        Stage::Look
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let facts = cx.provider.facts().await?;
            preflight::report_local(&facts, cx.env, cx.printer);
            cx.facts = Some(facts);
            // Planned to stream the kind node image when there is a host
            // engine to bring it from; the engine's preparation plans
            // again if it finds none.
            cx.plan_node(cx.host.is_some())?;
            Ok(Flow::Next)
        })
    }
}

//! A pool's side of the steps: [`MarkReady`] ends the making of a member
//! (its cluster answers: frozen first for a `--paused` pool, then offered
//! to claims), and [`Refill`] ends a claim by getting the pool back to its
//! size without the claimer waiting for it.

use super::{Context, Flow, Stage, Step};
use crate::cluster::pool::{credentials, refill};
use crate::cluster::PoolRole;
use crate::provider::pool::Pools;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct MarkReady;

pub struct Refill;

impl<P: Pools> Step<P> for MarkReady {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let PoolRole::Member { pool, paused, .. } = &cx.request.pool else {
                unreachable!("only a member is marked ready");
            };
            let key = &cx.request.name;
            let step = cx
                .printer
                .step("member-ready", &format!("Offering {key} to pool {pool}"));
            // Kept for the claimer before the member is offered (a cache:
            // a claimer without it reads the node).
            if let Some((creds, _)) = &cx.ready {
                if let Err(e) = credentials::remember(cx.env, key, creds) {
                    cx.printer.warn(&format!(
                        "{key}'s claimer will read its credentials from the node: {e:#}"
                    ));
                }
            }
            if let Err(e) = cx.provider.mark_ready(key, *paused).await {
                credentials::forget(cx.env, key);
                return Err(e);
            }
            step.done(&format!(
                "{key} is ready in pool {pool}{}",
                if *paused { " (paused)" } else { "" }
            ));
            Ok(Flow::Next)
        })
    }
}

impl<P: Pools> Step<P> for Refill {
    /// The cluster is handed over already: a refill that fails is said,
    /// and the next kip that looks at the pool refills it.
    fn stage(&self) -> Stage {
        Stage::Report
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            if let PoolRole::Claim { spec, .. } = &cx.request.pool {
                cx.env.stop_for_test("handed-over");
                if let Err(e) = refill(cx.provider, &spec.name, cx.env, cx.printer).await {
                    cx.printer.warn(&format!(
                        "could not start refilling pool {}: {e:#}; `kip pool list` refills it",
                        spec.name
                    ));
                }
            }
            Ok(Flow::Next)
        })
    }
}

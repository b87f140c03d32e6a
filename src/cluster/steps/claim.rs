//! Claim: a ready member of the pool becomes the cluster. [`AwaitMember`]
//! waits (`--pool-wait`, a signal ends it at once) until one is ready;
//! [`Claim`] takes one, exclusively (the provider's atomic operation), and
//! it is this run's from then on: a failure after it deletes it. With no
//! member ready, the recipe makes the cluster fresh from the pool's plan.

use super::{Context, Flow, Stage, Step};
use crate::cluster::pool::{ready_members, take_member, Taken};
use crate::cluster::PoolRole;
use crate::error::Error;
use crate::pool::spec::PoolSpec;
use crate::provider::pool::Pools;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::time::Duration;

/// How often a claim that waits for a member looks again.
const MEMBER_POLL: Duration = Duration::from_millis(250);

pub struct AwaitMember;

pub struct Claim;

/// The pool a claim is from, and whether it waits for a member.
fn pool_of<'a, P: Pools>(cx: &Context<'a, P>) -> (&'a PoolSpec, bool) {
    match &cx.request.pool {
        PoolRole::Claim {
            spec,
            wait_for_member,
        } => (spec, *wait_for_member),
        _ => unreachable!("a claim recipe is for a claim"),
    }
}

impl<P: Pools> Step<P> for AwaitMember {
    fn stage(&self) -> Stage {
        Stage::Look
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let (spec, wait) = pool_of(cx);
            if !wait || !ready_members(cx.provider, spec).await?.is_empty() {
                return Ok(Flow::Next);
            }
            let step = cx.printer.step(
                "member-ready",
                &format!("Waiting for a ready member of pool {}", spec.name),
            );
            loop {
                tokio::time::sleep(MEMBER_POLL).await;
                if !ready_members(cx.provider, spec).await?.is_empty() {
                    step.done(&format!("A member of pool {} is ready", spec.name));
                    return Ok(Flow::Next);
                }
                if tokio::time::Instant::now() >= cx.deadline {
                    return Err(Error::NoReadyMember {
                        pool: spec.name.clone(),
                        wait: cx.request.cluster.wait,
                    }
                    .into());
                }
            }
        })
    }
}

impl<P: Pools> Step<P> for Claim {
    fn stage(&self) -> Stage {
        Stage::Make
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let (spec, wait) = pool_of(cx);
            let name = &cx.request.name;
            let step = cx.printer.step(
                "member-claimed",
                &format!("Claiming a ready member of pool {}", spec.name),
            );
            match take_member(cx.provider, spec, cx.request, cx.env).await? {
                Taken::Won { node, key, thawed } => {
                    step.done(&format!(
                        "Claimed {key} of pool {} as cluster {name}{}",
                        spec.name,
                        if thawed.is_some() { " (thawed)" } else { "" }
                    ));
                    cx.node = Some(node);
                    cx.claimed = Some((key, thawed));
                    cx.env.stop_for_test("claimed");
                    Ok(Flow::Next)
                }
                Taken::NameInUse => Err(Error::NameTaken {
                    cluster: name.clone(),
                }
                .into()),
                Taken::Nothing if wait => {
                    step.done("Other claims took the ready members first; waiting again");
                    Ok(Flow::WaitAgain)
                }
                Taken::Nothing => {
                    step.done(&format!(
                        "No member of pool {} is ready: making cluster {name} fresh from the pool's plan",
                        spec.name
                    ));
                    Ok(Flow::Fresh)
                }
            }
        })
    }
}

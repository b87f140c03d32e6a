//! Undoing a run that failed (or was interrupted) once its node was made:
//! the logs bundle written if asked for, and what the run made removed
//! unless it is to be kept (`--keep-on-failure`). A node another kip
//! deleted meanwhile is said to be that, and left to it.

use super::condition;
use super::steps::Context;
use crate::error::Error;
use crate::provider::{Node, Provider};

/// After a failure (or a signal) once the node is made: the logs bundle if
/// asked for, and what this run made removed unless it is to be kept.
pub(super) async fn undo<P: Provider>(cx: &Context<'_, P>, err: anyhow::Error) -> anyhow::Error {
    let (request, printer) = (cx.request, cx.printer);
    if Error::is(&err, |e| matches!(e, Error::DeletedWhileMade { .. })) {
        return err;
    }
    if let Some(deleted) = deleted_by_another(cx, &err).await {
        return deleted;
    }
    if Error::is(&err, |e| *e == Error::Interrupted) {
        printer
            .step("interrupted", "Interrupted")
            .failed("Interrupted");
    }
    if let Some(dir) = &request.cluster.logs_dir {
        super::logs::write_bundle(cx.provider, &request.name, dir, printer).await;
    }
    // A claimed member's node was not made by this run's plan.
    let node_name = match (&cx.node, &cx.plan) {
        (Some(node), _) => node.info().node.clone(),
        (None, Some(plan)) => plan.node.name.clone(),
        (None, None) => crate::names::node_name(&request.name),
    };
    let volume_name = cx
        .plan
        .as_ref()
        .map_or_else(|| "of its node".to_string(), |p| p.node.volume.name.clone());
    let name = &request.name;
    if request.cluster.keep_on_failure {
        printer.info(&format!(
            "Kept node {node_name} for debugging (--keep-on-failure): `kip logs {name}`, \
             `kip exec {name} -- sh`, then `kip down {name}`"
        ));
        return err;
    }
    match cx.provider.delete(name).await {
        Ok(deleted) => {
            let mut removed = Vec::new();
            if deleted.node {
                removed.push(format!("node {node_name}"));
            }
            if deleted.volume {
                removed.push(format!("volume {volume_name}"));
            }
            for other in &deleted.other {
                removed.push(format!("{other} {node_name}"));
            }
            if !removed.is_empty() {
                printer.info(&format!(
                    "Removed what this run created: {}",
                    removed.join(" and ")
                ));
            }
        }
        Err(e) => printer.warn(&format!(
            "could not remove what this run created ({e:#}); remove it with `kip down {name}`"
        )),
    }
    err
}

/// A failure of a step once the node was made, because another kip deleted
/// the node meanwhile (a `kip down` or `kip gc` at the same time): said as
/// that, not as the broken stream or exec it caused. Nothing of this run's
/// is left to remove; a node of the name there now is another run's.
async fn deleted_by_another<P: Provider>(
    cx: &Context<'_, P>,
    err: &anyhow::Error,
) -> Option<anyhow::Error> {
    let ours = cx.node.as_ref()?;
    if Error::is(err, |e| *e == Error::Interrupted) {
        return None;
    }
    condition::deleted_by_another(cx.provider, ours)
        .await
        .then(|| {
            Error::DeletedWhileMade {
                name: cx.request.name.clone(),
            }
            .into()
        })
}

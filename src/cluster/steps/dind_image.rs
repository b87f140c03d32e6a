//! The node's own image (the Docker-in-Docker one): built on first use when
//! it is kip's default, pulled when another one is missing.

use super::{Context, Flow, Stage, Step};
use crate::node::image::default_image;
use crate::provider::Provider;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

pub struct DindImage;

impl<P: Provider> Step<P> for DindImage {
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let image = cx.plan().node.image.clone();
            let is_default = image == default_image();
            cx.provider
                .ensure_image(&image, is_default, cx.printer)
                .await?;
            Ok(Flow::Next)
        })
    }
}

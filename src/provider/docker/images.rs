//! Images on the engine: kip's default node image built on first use,
//! another node image pulled, and `kip load`'s image IDs and `docker save`.

use super::errors::is_not_found;
use super::DockerProvider;
use crate::error::Error;
use crate::node::image;
use crate::output::Printer;
use anyhow::Result;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

impl DockerProvider {
    /// Makes sure the node image is on the engine: builds kip's default
    /// image on first use, pulls another image if it is missing.
    pub(super) async fn ensure(
        &self,
        image: &str,
        is_default: bool,
        printer: &Printer,
    ) -> Result<()> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        if is_default {
            let step = printer.step(
                "image-built",
                &format!("Building the node image {image} (first use only)"),
            );
            self.build_default_image(image, printer).await?;
            step.done(&format!("Built the node image {image}"));
            return Ok(());
        }
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let pulled: Result<Vec<_>, _> = self
            .docker
            .create_image(Some(options), None, None)
            .try_collect()
            .await;
        pulled.map_err(|e| Error::NodeImageUnavailable {
            image: image.to_string(),
            error: e.to_string(),
        })?;
        Ok(())
    }

    async fn build_default_image(&self, tag: &str, printer: &Printer) -> Result<(), Error> {
        let context = image::build_context().map_err(|e| Error::NodeImageContext {
            error: e.to_string(),
        })?;
        let options = BuildImageOptionsBuilder::new()
            .t(tag)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::NodeImageBuildBroke {
                image: tag.to_string(),
                error: e.to_string(),
            })?;
            if let Some(line) = info.stream {
                printer.info(line.trim_end());
            }
            if let Some(detail) = info.error_detail {
                return Err(Error::NodeImageBuildFailed {
                    image: tag.to_string(),
                    detail: detail.message.unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// Pulls the kind node image onto the engine (once: later `up`s find
    /// it), with the engine's credentials and mirrors, showing progress.
    pub async fn pull_kind_image(&self, image: &str, printer: &Printer) -> Result<()> {
        let step = printer.step(
            "kind-image-pulled",
            &format!("Pulling the kind node image {image} onto the host's engine (first use only)"),
        );
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        let mut layers_done = 0usize;
        while let Some(progress) = pull.next().await {
            let progress = progress.map_err(|e| Error::KindImageUnavailable {
                image: image.to_string(),
                error: e.to_string(),
            })?;
            if progress.status.as_deref() == Some("Pull complete") {
                layers_done += 1;
                step.update(&format!("Pulling {image}: {layers_done} layer(s) done"));
            }
        }
        step.done(&format!("Pulled the kind node image {image}"));
        Ok(())
    }

    /// The ID of an image on the engine, if it has it.
    pub async fn host_image_id(&self, image: &str) -> Result<Option<String>> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// `docker save` of images on the engine, as a stream. A save that
    /// fails once it has begun ends the stream with an error of its own,
    /// as [`SaveTail`] finds it.
    pub fn save_images(&self, images: &[String]) -> BoxStream<'static, Result<bytes::Bytes>> {
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let chunks = self.docker.export_images(&names).map_err(|e| {
            anyhow::Error::from(Error::HostImagesUnreadable {
                error: e.to_string(),
            })
        });
        let ends = futures_util::stream::once(async { Ok(bytes::Bytes::new()) });
        let mut tail = SaveTail::default();
        chunks
            .chain(ends)
            .map(move |chunk| match chunk {
                Ok(c) if c.is_empty() => match tail.failure() {
                    Some(error) => Err(Error::HostImagesUnreadable { error }.into()),
                    None => Ok(c),
                },
                Ok(c) => {
                    tail.push(&c);
                    Ok(c)
                }
                e => e,
            })
            .boxed()
    }
}

/// The end of a `docker save` stream. The engine's save (moby's
/// `getImagesGet`) that fails after its first bytes went out cannot answer
/// with an error status any more: it writes its error as a JSON message
/// (`{"errorDetail":…}`) after the tar it had begun and ends the response
/// as if all went well. A whole tar ends in NUL padding, never in such a
/// message; without this a failed save reaches `docker load` as a tar cut
/// short ("unexpected EOF"), and the engine's reason is lost.
#[derive(Default)]
struct SaveTail(Vec<u8>);

impl SaveTail {
    /// Enough for the engine's message.
    const KEPT: usize = 16 * 1024;

    fn push(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
        if self.0.len() > 2 * Self::KEPT {
            self.0.drain(..self.0.len() - Self::KEPT);
        }
    }

    /// The engine's error, when the stream ended with one.
    fn failure(&self) -> Option<String> {
        let start = find_last(&self.0, br#"{"errorDetail":"#)?;
        let message: serde_json::Value = serde_json::from_slice(&self.0[start..]).ok()?;
        let error = message["errorDetail"]["message"]
            .as_str()
            .or(message["error"].as_str())?;
        Some(format!(
            "the engine's `docker save` failed part way: {error}"
        ))
    }
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::SaveTail;

    fn tail_of(parts: &[&[u8]]) -> SaveTail {
        let mut tail = SaveTail::default();
        for part in parts {
            tail.push(part);
        }
        tail
    }

    #[test]
    fn a_save_cut_short_by_the_engine_is_told_by_its_message() {
        let tar_begun = vec![b'a'; 40_000];
        let message = br#"{"errorDetail":{"message":"open /var/lib/docker/x: no such file"},"error":"open /var/lib/docker/x: no such file"}
"#;
        let tail = tail_of(&[&tar_begun, &message[..20], &message[20..]]);
        assert_eq!(
            tail.failure().as_deref(),
            Some(
                "the engine's `docker save` failed part way: open /var/lib/docker/x: no such file"
            )
        );
    }

    #[test]
    fn a_whole_tar_is_no_failure_even_if_it_holds_the_words() {
        let mut tar = br#"x {"errorDetail":{"message":"in a file"}} y"#.to_vec();
        tar.extend(vec![0u8; 10_240]);
        assert_eq!(tail_of(&[&tar]).failure(), None);
        assert_eq!(tail_of(&[]).failure(), None);
    }
}

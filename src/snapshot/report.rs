//! `kip doctor`'s word on snapshots: the disk they take on the engine.

use super::Summary;
use crate::cluster::preflight::Check;
use crate::output::size;
use crate::provider::docker::DockerProvider;

/// The snapshots check: how many the engine has and the disk they take
/// (their data roots, as saved or imported), or why they cannot be read (a
/// warning: nothing else depends on them).
pub async fn doctor_check(engine: &DockerProvider) -> Check {
    snapshots_check(super::volume::list(engine).await.map_err(|e| {
        format!("{e:#}")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }))
}

pub fn snapshots_check(found: Result<Vec<Summary>, String>) -> Check {
    const NAME: &str = "snapshots";
    match found {
        Ok(all) if all.is_empty() => Check::ok(NAME, "no snapshot on this engine"),
        Ok(all) => {
            let bytes: u64 = all
                .iter()
                .filter_map(|s| s.metadata.as_ref().map(|m| m.size_bytes))
                .sum();
            let incomplete = all.iter().filter(|s| !s.complete).count();
            let unfinished = match incomplete {
                0 => String::new(),
                n => format!(", {n} of them incomplete (size unknown)"),
            };
            Check::ok(
                NAME,
                format!(
                    "{} snapshot(s) take {}{unfinished} (`kip snapshot list`; `kip gc --snapshots \
                     --older-than 30d` removes old ones, plain `kip gc` never does)",
                    all.len(),
                    size(bytes)
                ),
            )
        }
        Err(why) => Check::warn(
            NAME,
            format!("cannot read the snapshots: {why}"),
            "see `kip snapshot list`",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::preflight::Level;

    fn summary(size_bytes: Option<u64>) -> Summary {
        Summary {
            name: "base".into(),
            volume: "kip-snap-base".into(),
            complete: size_bytes.is_some(),
            source: None,
            created_at: None,
            metadata: size_bytes.map(|size_bytes| super::super::Metadata {
                size_bytes,
                ..super::super::sample_metadata()
            }),
        }
    }

    #[test]
    fn snapshots_report_their_disk() {
        assert_eq!(snapshots_check(Ok(Vec::new())).status, Level::Ok);
        let three = snapshots_check(Ok(vec![
            summary(Some(1 << 30)),
            summary(Some(1 << 29)),
            summary(None),
        ]));
        assert_eq!(three.status, Level::Ok);
        assert!(
            three
                .message
                .starts_with("3 snapshot(s) take 1.5 GiB, 1 of them incomplete"),
            "{}",
            three.message
        );
        assert_eq!(snapshots_check(Err("gone".into())).status, Level::Warn);
    }
}

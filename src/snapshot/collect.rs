//! `kip gc --snapshots --older-than D`: snapshots older than D removed.
//! Plain `kip gc` never removes a snapshot (a snapshot has no TTL and is
//! kept on purpose); a save or import that did not finish is removed too
//! once it is that old (a running one is younger, and its volume in use).

use super::Summary;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// What `kip gc --snapshots` did (`kip gc -o json`'s `snapshots`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    pub deleted: Vec<Due>,
    pub kept: usize,
}

/// A snapshot `gc` removes, and why.
#[derive(Debug, Serialize)]
pub struct Due {
    pub name: String,
    pub reason: String,
}

impl Collected {
    /// The text `kip gc` prints of it, one line each.
    pub fn print(&self, dry_run: bool) -> Result<()> {
        let verb = if dry_run { "would " } else { "" };
        for d in &self.deleted {
            crate::output::out(format!("{verb}delete snapshot {} ({})\n", d.name, d.reason))?;
        }
        Ok(())
    }
}

/// Why snapshot `s` is due, or None.
pub fn due(s: &Summary, now: SystemTime, older_than: Duration) -> Option<String> {
    let created = humantime::parse_rfc3339_weak(s.created_at.as_deref()?).ok()?;
    let age = now.duration_since(created).ok()?;
    let what = if s.complete {
        "older than"
    } else {
        "incomplete and older than"
    };
    (age > older_than).then(|| format!("{what} {}", humantime::format_duration(older_than)))
}

/// Removes (or with `dry_run` lists) the engine's snapshots older than
/// `older_than`. A snapshot a restore is reading is kept, with a warning,
/// and so is one a pool restores its members from.
pub async fn collect(
    engine: &DockerProvider,
    older_than: Duration,
    dry_run: bool,
    printer: &Printer,
) -> Result<Collected> {
    let now = SystemTime::now();
    let all = super::volume::list(engine).await?;
    let mut done = Collected::default();
    for s in &all {
        let Some(reason) = due(s, now, older_than) else {
            done.kept += 1;
            continue;
        };
        let pools = crate::cluster::pool::pools_using(engine, &s.name).await?;
        if !pools.is_empty() {
            printer.info(&format!(
                "snapshot {} kept: pool(s) {} restore their members from it",
                s.name,
                pools.join(", ")
            ));
            done.kept += 1;
            continue;
        }
        if !dry_run {
            if let Err(e) = engine.remove_volume(&s.volume).await {
                printer.warn(&format!("snapshot {} kept: {e:#}", s.name));
                done.kept += 1;
                continue;
            }
        }
        done.deleted.push(Due {
            name: s.name.clone(),
            reason,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(created_at: &str, complete: bool) -> Summary {
        Summary {
            name: "base".into(),
            volume: "kip-snap-base".into(),
            complete,
            source: Some("src".into()),
            created_at: Some(created_at.into()),
            metadata: None,
        }
    }

    #[test]
    fn only_snapshots_older_than_the_limit_are_due() {
        let now = humantime::parse_rfc3339("2026-12-05T12:00:00Z").unwrap();
        let day = Duration::from_secs(24 * 3600);
        let old = summary("2026-12-03T12:00:00Z", true);
        assert_eq!(due(&old, now, day).as_deref(), Some("older than 1day"));
        let young = summary("2026-12-05T11:00:00Z", true);
        assert_eq!(due(&young, now, day), None);
        let cut = summary("2026-12-01T00:00:00Z", false);
        assert!(due(&cut, now, day).unwrap().starts_with("incomplete"));
        let unknown = Summary {
            created_at: None,
            ..old
        };
        assert_eq!(due(&unknown, now, day), None);
    }
}

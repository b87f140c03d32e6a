//! `kip doctor`'s word on seeds: the disk they take on the engine.

use super::inventory;
use crate::cluster::preflight::Check;
use crate::output::size;
use crate::provider::docker::DockerProvider;
use crate::provider::Provider;

/// The seeds check: how many seeds the engine has and the disk they take,
/// or why the store cannot be read (a warning: nothing else depends on it).
pub async fn doctor_check(engine: &DockerProvider, dind_image: Option<&str>) -> Check {
    let sizes = match engine.list().await {
        Ok(nodes) => inventory(engine, &nodes, dind_image)
            .await
            .map(|found| found.map(|(_, seeds)| seeds.iter().map(|s| s.size_bytes).collect())),
        Err(e) => Err(e),
    };
    seeds_check(sizes.map_err(|e| {
        format!("{e:#}")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }))
}

/// The check for the seeds' sizes (None: no seed store).
pub fn seeds_check(sizes: Result<Option<Vec<u64>>, String>) -> Check {
    const NAME: &str = "seeds";
    match sizes {
        Ok(None) => Check::ok(
            NAME,
            "no seed store on this engine yet (the first `kip up` of an image makes its seed)",
        ),
        Ok(Some(sizes)) => Check::ok(
            NAME,
            format!(
                "{} seed(s) take {} in volume {} (`kip seed list`; `kip gc --older-than 7d` removes unused ones)",
                sizes.len(),
                size(sizes.iter().sum()),
                super::store::VOLUME
            ),
        ),
        Err(why) => Check::warn(
            NAME,
            format!("cannot read the seed store: {why}"),
            "see `kip seed list --dind-image IMAGE`",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::preflight::Level;

    #[test]
    fn seeds_report_their_disk() {
        assert_eq!(seeds_check(Ok(None)).status, Level::Ok);
        let two = seeds_check(Ok(Some(vec![1 << 30, 1 << 29])));
        assert_eq!(two.status, Level::Ok);
        assert!(
            two.message
                .starts_with("2 seed(s) take 1.5 GiB in volume kip-seeds"),
            "{}",
            two.message
        );
        assert_eq!(seeds_check(Err("no image".into())).status, Level::Warn);
    }
}

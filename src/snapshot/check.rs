//! Whether a snapshot can be restored here: what differs between the
//! snapshot and the engine (or the flags) that a restored cluster cannot
//! live with, decided before anything is made.

use super::Metadata;
use std::time::{Duration, SystemTime};

/// A restored node's certificates must outlive this: kip does not renew
/// them (yet), so a snapshot whose certificates expire within a day is
/// refused with the reason.
pub const CERTIFICATE_MARGIN: Duration = Duration::from_secs(24 * 3600);

/// What the restore runs on and was asked for.
#[derive(Debug, Clone)]
pub struct Target {
    /// `--image`, when given: the kind node image it names in the node.
    pub kind_image: Option<String>,
    /// `--dind-image`, when given.
    pub dind_image: Option<String>,
    /// The MTU of the network the node would attach to.
    pub mtu: u32,
    pub cgroup_v2: bool,
    /// `--iptables`, when not auto.
    pub iptables: Option<String>,
    /// The engine's architecture, as `uname -m` names it.
    pub arch: String,
    pub now: SystemTime,
    /// The flags given that shape how a kind cluster is made, which a
    /// restored one is not (its kind node is the snapshot's).
    pub making_flags: Vec<&'static str>,
}

/// Each difference that refuses the snapshot, in words naming both sides.
pub fn differences(snapshot: &Metadata, target: &Target) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(image) = target
        .kind_image
        .as_ref()
        .filter(|i| **i != snapshot.kind_image)
    {
        found.push(format!(
            "kind node image: the snapshot's cluster runs {}, --image (or KIP_IMAGE) asks for {image}",
            snapshot.kind_image
        ));
    }
    if let Some(image) = target
        .dind_image
        .as_ref()
        .filter(|i| **i != snapshot.dind_image)
    {
        found.push(format!(
            "node image: the snapshot's Docker store was written by {}, --dind-image (or KIP_DIND_IMAGE) asks for {image}",
            snapshot.dind_image
        ));
    }
    if let Some(mtu) = snapshot.mtu.filter(|m| *m > target.mtu) {
        found.push(format!(
            "MTU: the snapshot's networks use {mtu}, above this engine's {} (packets would be lost)",
            target.mtu
        ));
    }
    let cgroup = if target.cgroup_v2 { "v2" } else { "v1" };
    if let Some(theirs) = snapshot.cgroup.as_deref().filter(|c| *c != cgroup) {
        found.push(format!(
            "cgroup version: the snapshot was taken on cgroup {theirs}, this engine runs cgroup {cgroup}"
        ));
    }
    if let (Some(theirs), Some(asked)) = (snapshot.iptables.as_deref(), &target.iptables) {
        if theirs != asked {
            found.push(format!(
                "iptables mode: the snapshot's node used {theirs}, --iptables asks for {asked}"
            ));
        }
    }
    if normal_arch(&snapshot.arch) != normal_arch(&target.arch) {
        found.push(format!(
            "architecture: the snapshot is {}, this engine runs {}",
            snapshot.arch, target.arch
        ));
    }
    if let Some(why) = expiring(snapshot, target.now) {
        found.push(why);
    }
    for flag in &target.making_flags {
        found.push(format!(
            "{flag}: shapes a new kind cluster, and a restored one is the snapshot's as it was saved \
             (give it to the cluster you save)"
        ));
    }
    found
}

/// What `kip up NEW --from SNAPSHOT --dry-run` says a restore of `meta`
/// into cluster `cluster` would do, once [`differences`] found none: the
/// snapshot, the checks it passed here, the volume it would be copied into.
pub fn restore_summary(meta: &Metadata, cluster: &str, volume: &str) -> String {
    let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "not recorded".into());
    let size = crate::output::size(meta.size_bytes);
    let layers = match &meta.seed {
        Some(seed) => format!("mount the image layers of seed {seed} (not copied)"),
        None => "use the image layers it carries".to_string(),
    };
    [
        format!(
            "kip up would restore {cluster} from snapshot {} ({size}, saved from {} at {}).",
            meta.name, meta.source, meta.created_at
        ),
        format!(
            "Checked on this engine and these flags: node image {} and kind node image {} \
             (Kubernetes {}), MTU {} within this engine's network's, cgroup {}, iptables {}, \
             architecture {}, certificates valid until {} (more than a day).",
            meta.dind_image,
            meta.kind_image,
            or_unknown(meta.kubernetes_version.clone()),
            or_unknown(meta.mtu.map(|m| m.to_string())),
            or_unknown(meta.cgroup.clone()),
            or_unknown(meta.iptables.clone()),
            meta.arch,
            or_unknown(meta.certificates_expire_at.clone()),
        ),
        format!(
            "It would copy the snapshot's data root ({size}) into volume {volume}, {layers}, \
             and start the saved kind cluster {} in a node planned as below, as after a restart.",
            meta.kind_cluster
        ),
    ]
    .join("\n")
}

/// Why the snapshot's certificates cannot be used, if they cannot.
fn expiring(snapshot: &Metadata, now: SystemTime) -> Option<String> {
    let text = snapshot.certificates_expire_at.as_deref()?;
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    if at > now + CERTIFICATE_MARGIN {
        return None;
    }
    let when = if at <= now { "expired" } else { "expire" };
    Some(format!(
        "certificates: the snapshot's cluster certificates {when} at {text} (kubeadm issues them for a \
         year from `kind create`), within a day of now; kip does not renew them: save a snapshot of a \
         newer cluster"
    ))
}

/// Docker says `x86_64`/`aarch64`, Go and OCI `amd64`/`arm64`.
fn normal_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Metadata {
        crate::snapshot::sample_metadata()
    }

    fn here() -> Target {
        Target {
            kind_image: None,
            dind_image: None,
            mtu: 1500,
            cgroup_v2: true,
            iptables: None,
            arch: "amd64".into(),
            now: humantime::parse_rfc3339("2026-12-05T09:00:00Z").unwrap(),
            making_flags: Vec::new(),
        }
    }

    #[test]
    fn a_dry_run_names_the_snapshot_its_checks_and_the_volume() {
        let meta = Metadata {
            seed: Some("abc123".into()),
            size_bytes: 3 * 1024 * 1024 * 1024 / 2,
            ..snapshot()
        };
        assert_eq!(
            restore_summary(&meta, "new", "new-docker"),
            "kip up would restore new from snapshot base (1.5 GiB, saved from src at 2026-12-05T08:00:00Z).\n\
             Checked on this engine and these flags: node image kip-node:1 and kind node image \
             kindest/node:v1.35.4 (Kubernetes v1.35.4), MTU 1500 within this engine's network's, \
             cgroup v2, iptables nft, architecture x86_64, certificates valid until \
             2027-12-05T08:00:00Z (more than a day).\n\
             It would copy the snapshot's data root (1.5 GiB) into volume new-docker, mount the \
             image layers of seed abc123 (not copied), and start the saved kind cluster src in a \
             node planned as below, as after a restart."
        );
        let imported = Metadata {
            seed: None,
            mtu: None,
            ..snapshot()
        };
        let text = restore_summary(&imported, "new", "new-docker");
        assert!(text.contains("MTU not recorded"), "{text}");
        assert!(text.contains("use the image layers it carries"), "{text}");
    }

    #[test]
    fn the_same_engine_restores_it() {
        assert_eq!(differences(&snapshot(), &here()), Vec::<String>::new());
    }

    #[test]
    fn each_difference_is_named_with_both_sides() {
        let target = Target {
            kind_image: Some("kindest/node:v1.36.1".into()),
            dind_image: Some("docker:29-dind".into()),
            mtu: 1440,
            cgroup_v2: false,
            iptables: Some("legacy".into()),
            arch: "aarch64".into(),
            making_flags: vec!["--registry"],
            ..here()
        };
        let found = differences(&snapshot(), &target);
        let expect = [
            ("kind node image", "kindest/node:v1.36.1"),
            ("node image", "docker:29-dind"),
            ("MTU", "1440"),
            ("cgroup version", "cgroup v1"),
            ("iptables mode", "legacy"),
            ("architecture", "aarch64"),
            ("--registry", "restored one"),
        ];
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        for ((what, theirs), line) in expect.iter().zip(&found) {
            assert!(line.starts_with(what) && line.contains(theirs), "{line}");
        }
    }

    #[test]
    fn a_lower_snapshot_mtu_is_fine_a_higher_one_is_not() {
        let low = Metadata {
            mtu: Some(1400),
            ..snapshot()
        };
        assert!(differences(&low, &here()).is_empty());
        let high = Target {
            mtu: 1400,
            ..here()
        };
        assert!(differences(&snapshot(), &high)[0].starts_with("MTU"));
    }

    #[test]
    fn certificates_expiring_within_a_day_are_refused_with_the_reason() {
        let soon = Metadata {
            certificates_expire_at: Some("2026-12-06T08:00:00Z".into()),
            ..snapshot()
        };
        let found = differences(&soon, &here());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("expire at 2026-12-06T08:00:00Z"),
            "{}",
            found[0]
        );
        let gone = Metadata {
            certificates_expire_at: Some("2026-12-01T00:00:00Z".into()),
            ..snapshot()
        };
        assert!(differences(&gone, &here())[0].contains("expired"));
        let later = Metadata {
            certificates_expire_at: Some("2026-12-06T10:00:00Z".into()),
            ..snapshot()
        };
        assert!(differences(&later, &here()).is_empty());
    }
}

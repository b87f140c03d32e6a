//! kip's default node image, built locally on first use from the Dockerfile
//! embedded in the binary (see README "The node image"), and the name the
//! kind node image goes by inside a node.

use sha2::{Digest, Sha256};

pub const DOCKERFILE: &str = include_str!("Dockerfile");

/// `kip-node:kind-v0.32.0-<hash>`: the tag changes whenever the Dockerfile
/// does, so an old local build is never mistaken for the current one.
pub fn default_image() -> String {
    let digest = Sha256::digest(DOCKERFILE.as_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("kip-node:kind-v0.32.0-{short}")
}

/// A tar build context holding just the Dockerfile.
pub fn build_context() -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(DOCKERFILE.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "Dockerfile", DOCKERFILE.as_bytes())?;
    builder.into_inner()
}

/// The name kind is given inside the node. `docker load` keeps tags but not
/// registry digests, so a digest-pinned image (kind's default) is known
/// there by its tag alone; the digest was checked on the host, and kip tags
/// the very image it streamed with this name.
pub fn name_in_node(image: &str) -> String {
    match image.split_once('@') {
        Some((name, _))
            if name
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':')) =>
        {
            name.to_string()
        }
        Some((name, digest)) => {
            let hex = digest.trim_start_matches("sha256:");
            format!("{name}:{}", &hex[..hex.len().min(12)])
        }
        None => image.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_the_pinned_kind_version() {
        assert!(DOCKERFILE.contains("ARG KIND_VERSION=v0.32.0"));
        assert!(default_image().starts_with("kip-node:kind-v0.32.0-"));
        assert_eq!(default_image().len(), "kip-node:kind-v0.32.0-".len() + 12);
    }

    #[test]
    fn build_context_is_a_tar_with_the_dockerfile() {
        let bytes = build_context().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile"]);
    }

    #[test]
    fn a_digest_pinned_image_is_known_in_the_node_by_its_tag() {
        assert_eq!(
            name_in_node("kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a"),
            "kindest/node:v1.36.1"
        );
        assert_eq!(
            name_in_node("localhost:5000/node@sha256:0123456789abcdef0123"),
            "localhost:5000/node:0123456789ab"
        );
        assert_eq!(
            name_in_node("kip-test-kind-node:latest"),
            "kip-test-kind-node:latest"
        );
        assert_eq!(
            name_in_node("registry:5000/node:v1"),
            "registry:5000/node:v1"
        );
    }
}

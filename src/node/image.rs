//! kip's default node image, built locally on first use from the Dockerfile
//! embedded in the binary (see README "The node image").

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
}

//! A seed's key: everything that makes a seed valid for a node. A seed is
//! layer contents in one storage driver's layout, written by one engine,
//! of one image; a node whose engine, driver or image differs gets another
//! key (and so another seed, or a stream).

use sha2::{Digest, Sha256};

/// The storage driver whose layout seeds keep (`overlay2`: Docker's
/// default on every supported engine up to 28; a node whose dockerd cannot
/// use it streams instead, see the bootstrap's `seed_make`).
pub const STORAGE_DRIVER: &str = "overlay2";

/// 20 hex digits of the SHA-256 of the fields, as the store names the seed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeedKey(String);

impl SeedKey {
    /// `kind_image`: the kind node image as the node names it (the name
    /// kind asks the node's Docker for; a seed holds that tag) and the
    /// host's ID of it; `driver`: the node's storage driver;
    /// `dind_image_id`: the ID of the node's Docker-in-Docker image, which
    /// fixes its dockerd and so the on-disk format (an ID, not a version: a
    /// rebuilt image is another engine). A remote node's is `ref:` and the
    /// image's reference: its outer node pulls it, and kip never sees the ID.
    pub fn new(kind_image: (&str, &str), driver: &str, dind_image_id: &str) -> SeedKey {
        let (name, id) = kind_image;
        let fields = format!(
            "kip-seed/1\nkind-image={name}\nkind-image-id={id}\ndriver={driver}\ndind-image-id={dind_image_id}\n"
        );
        let digest = Sha256::digest(fields.as_bytes());
        SeedKey(digest.iter().take(10).map(|b| format!("{b:02x}")).collect())
    }

    /// A key as the store and the labels spell it, or None.
    pub fn parse(text: &str) -> Option<SeedKey> {
        (text.len() == 20
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| SeedKey(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SeedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_key() {
        let image = ("kindest/node:v1", "sha256:aaa");
        let base = SeedKey::new(image, "overlay2", "sha256:ddd");
        assert_eq!(base, SeedKey::new(image, "overlay2", "sha256:ddd"));
        // Another tag of the same image: a seed holds one tag.
        assert_ne!(
            base,
            SeedKey::new(("other/node:v1", "sha256:aaa"), "overlay2", "sha256:ddd")
        );
        assert_ne!(
            base,
            SeedKey::new(("kindest/node:v1", "sha256:aab"), "overlay2", "sha256:ddd")
        );
        assert_ne!(base, SeedKey::new(image, "vfs", "sha256:ddd"));
        assert_ne!(base, SeedKey::new(image, "overlay2", "sha256:dde"));
        assert_eq!(base.as_str().len(), 20);
        assert_eq!(SeedKey::parse(base.as_str()), Some(base.clone()));
    }

    #[test]
    fn only_twenty_lowercase_hex_digits_are_a_key() {
        assert!(SeedKey::parse("0123456789abcdef0123").is_some());
        for bad in [
            "",
            "0123456789abcdef012",
            "0123456789ABCDEF0123",
            "../../../etc/passwd0",
            "0123456789abcdef012g",
        ] {
            assert_eq!(SeedKey::parse(bad), None, "{bad}");
        }
    }
}

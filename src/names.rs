//! Cluster names and the names derived from them.

/// Longest cluster name: the node container is `kip-NAME`, its volume
/// `kip-NAME-docker`, the inner control plane `NAME-control-plane`, and a
/// remote Pod name must stay a DNS-1123 label (63) with room for suffixes.
pub const MAX_NAME_LEN: usize = 40;

/// The cluster a command works on when it names none.
pub const DEFAULT_CLUSTER: &str = "kip";

pub fn parse_cluster_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("the cluster name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{name:?} is {} characters long; cluster names have at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_ends = name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if !valid_chars || !valid_ends {
        return Err(format!(
            "{name:?} is not a DNS-1123 label: use lowercase letters, digits and '-', \
             starting and ending with a letter or digit (e.g. \"ci-1234\")"
        ));
    }
    Ok(name.to_string())
}

pub fn node_name(cluster: &str) -> String {
    format!("kip-{cluster}")
}

pub fn volume_name(cluster: &str) -> String {
    format!("kip-{cluster}-docker")
}

/// The cluster, user and context name in the kubeconfig.
pub fn context_name(cluster: &str) -> String {
    format!("kip-{cluster}")
}

/// The cluster a `kip-NAME` context belongs to.
pub fn cluster_of_context(context: &str) -> Option<&str> {
    context
        .strip_prefix("kip-")
        .filter(|name| parse_cluster_name(name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["kip", "a", "ci-1234", "x1", &"a".repeat(MAX_NAME_LEN)] {
            assert_eq!(parse_cluster_name(ok).as_deref(), Ok(ok));
        }
    }

    #[test]
    fn rejects_everything_else_with_the_reason() {
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "ä",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            let err = parse_cluster_name(bad).unwrap_err();
            assert!(!err.is_empty());
        }
        assert!(parse_cluster_name("Foo").unwrap_err().contains("DNS-1123"));
        assert!(parse_cluster_name(&"a".repeat(41))
            .unwrap_err()
            .contains("at most 40"));
    }
}

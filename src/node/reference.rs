//! Image references as Docker reads them (the distribution project's
//! grammar: `[DOMAIN/]PATH[:TAG][@DIGEST]`), checked where a user gives one
//! (a flag, a variable, kip's config file) so that a bad one is a usage
//! error naming where it came from, never an engine's "invalid reference
//! format" (or worse, a request for an image with no name) once things are
//! being made.

/// Why `text` is not an image reference Docker takes, if it is not.
pub fn check(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("an image reference cannot be empty".into());
    }
    problem(text).map_or(Ok(()), |why| {
        Err(format!(
            "{text:?} is not an image reference: {why} (e.g. kindest/node:v1.35.0, or \
             registry.example.com:5000/team/node@sha256:…)"
        ))
    })
}

fn problem(text: &str) -> Option<String> {
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        if let Some(why) = digest_problem(digest) {
            return Some(why);
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a
    // registry's port).
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_and_tag[..last_slash + i],
            Some(&name_and_tag[last_slash + i + 1..]),
        ),
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        if let Some(why) = tag_problem(tag) {
            return Some(why);
        }
    }
    if name.len() > 255 {
        return Some("the name is longer than 255 characters".into());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        let domain = components.remove(0);
        if let Some(why) = domain_problem(domain) {
            return Some(why);
        }
    }
    components
        .iter()
        .find_map(|component| path_component_problem(component))
}

/// Docker's rule: a first component with a `.` or `:`, `localhost`, or an
/// upper-case letter names a registry.
fn is_domain(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
}

fn domain_problem(domain: &str) -> Option<String> {
    let (host, port) = if domain.starts_with('[') {
        let end = domain.find(']').map_or(domain.len(), |i| i + 1);
        match &domain[end..] {
            "" => (&domain[..end], None),
            rest => (&domain[..end], Some(rest.strip_prefix(':').unwrap_or(rest))),
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("the registry port {port:?} is not a number"));
        }
    }
    if let Some(ipv6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ipv6
            .parse::<std::net::Ipv6Addr>()
            .is_err()
            .then(|| format!("the registry {host:?} is not an IPv6 address"));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    (!host.split('.').all(label_ok)).then(|| format!("the registry {host:?} is not a host name"))
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or any number of `-`.
fn path_component_problem(component: &str) -> Option<String> {
    let bad = || {
        Some(format!(
            "the name part {component:?} must be lower-case letters and digits, joined by '.', '_', \
             '__' or '-'"
        ))
    };
    if component.is_empty() {
        return Some("the name has an empty part (a doubled or trailing '/')".into());
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return bad();
        }
    }
    None
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn tag_problem(tag: &str) -> Option<String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    (!ok).then(|| format!("the tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-'"))
}

/// `ALGORITHM:HEX`, at least 32 hex digits.
fn digest_problem(digest: &str) -> Option<String> {
    let ok = digest.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.'))
            && algorithm.as_bytes()[0].is_ascii_alphabetic()
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    (!ok).then(|| {
        format!("the digest {digest:?} is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)")
    })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn takes_what_docker_takes() {
        for good in [
            "busybox",
            "kindest/node:v1.36.1",
            "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
            "localhost:5000/node",
            "localhost/node:1",
            "registry.example.com:5000/team/sub/node:v1_2.3-rc",
            "Registry.Example.com/node",
            "[::1]:5000/node:x",
            "[::1]/node",
            "a__b/c-d---e/f.g_h:TAG",
            "kip-node:kind-v0.32.0-0123456789ab",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_what_docker_refuses_and_says_why() {
        for (bad, why) in [
            ("", "cannot be empty"),
            ("  ", "cannot be empty"),
            ("kind node:1", "name part \"kind node\""),
            ("Kindest/Node:v1", "name part \"Node\""),
            ("node:", "the tag \"\""),
            ("node:-x", "the tag \"-x\""),
            ("node@sha256:12", "the digest"),
            ("team//node", "empty part"),
            ("node/", "empty part"),
            ("-node", "name part \"-node\""),
            ("a.-b/node", "registry \"a.-b\""),
            ("host:port/node", "registry port \"port\""),
            ("team/no..de", "name part \"no..de\""),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}

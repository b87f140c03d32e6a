//! Per-test policy: RBAC as a list of allow rules (everything is allowed
//! when no rules are set), answering with the real messages. (Pod Security
//! admission is not emulated: kip refuses a namespace by its label before
//! it creates anything, and the real cluster of `real_remote.rs` has the
//! real admission.)

use serde::Deserialize;

/// The user every request is made as.
pub const USER: &str = "kip-test";

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Rule {
    /// `get`, `create`, ... or `*`.
    pub verbs: Vec<String>,
    /// `pods`, `pods/exec`, ... or `*`.
    pub resources: Vec<String>,
    /// Empty: every namespace (and cluster scope).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    /// `pods`, or `pods/exec` for a subresource.
    pub resource: String,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

pub fn allowed(rules: Option<&[Rule]>, a: &Attributes) -> bool {
    let Some(rules) = rules else { return true };
    rules.iter().any(|r| {
        let any = |list: &[String], value: &str| list.iter().any(|x| x == "*" || x == value);
        any(&r.verbs, a.verb)
            && any(&r.resources, &a.resource)
            && (r.namespaces.is_empty()
                || a.namespace
                    .is_some_and(|ns| r.namespaces.iter().any(|x| x == ns)))
    })
}

/// `pods "p" is forbidden: User "kip-test" cannot create resource "pods/exec" in API group "" in the namespace "default"`
pub fn forbidden_message(a: &Attributes) -> String {
    let (base, sub) = a
        .resource
        .split_once('/')
        .map_or((a.resource.as_str(), None), |(b, s)| (b, Some(s)));
    let subject = match a.name {
        Some(name) => format!("{base} \"{name}\""),
        None => base.to_string(),
    };
    let resource = match sub {
        Some(sub) => format!("{base}/{sub}"),
        None => base.to_string(),
    };
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "{subject} is forbidden: User \"{USER}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        a.verb, a.group
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_rules_and_messages() {
        let rules = vec![Rule {
            verbs: vec!["*".into()],
            resources: vec!["pods".into()],
            namespaces: vec!["ci".into()],
        }];
        let a = Attributes {
            verb: "create",
            group: "",
            resource: "pods/exec".into(),
            namespace: Some("ci"),
            name: Some("p"),
        };
        assert!(!allowed(Some(&rules), &a));
        assert!(allowed(None, &a));
        assert_eq!(
            forbidden_message(&a),
            "pods \"p\" is forbidden: User \"kip-test\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"ci\""
        );
        let list = Attributes {
            verb: "list",
            group: "",
            resource: "pods".into(),
            namespace: Some("ci"),
            name: None,
        };
        assert!(allowed(Some(&rules), &list));
    }
}

//! Per-test policy: RBAC as a list of allow rules (everything is allowed
//! when no rules are set) and PodSecurity admission by namespace label, both
//! answering with the real messages.

use serde::Deserialize;
use serde_json::Value;

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

/// The PodSecurity violations of `pod` at `level` (`baseline` or
/// `restricted`), worded as the admission plugin words them.
pub fn pod_security_violations(level: &str, pod: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    if level != "baseline" && level != "restricted" {
        return violations;
    }
    let spec = &pod["spec"];
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
        .collect();
    let names = |pred: &dyn Fn(&Value) -> bool| -> Vec<String> {
        containers
            .iter()
            .filter(|c| pred(c))
            .map(|c| format!("\"{}\"", c["name"].as_str().unwrap_or("")))
            .collect()
    };
    let plural = |names: &[String]| {
        if names.len() == 1 {
            "container"
        } else {
            "containers"
        }
    };

    let host: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .iter()
        .filter(|k| spec[**k] == true)
        .map(|k| format!("{k}=true"))
        .collect();
    if !host.is_empty() {
        violations.push(format!("host namespaces ({})", host.join(", ")));
    }
    let privileged = names(&|c| c["securityContext"]["privileged"] == true);
    if !privileged.is_empty() {
        violations.push(format!(
            "privileged ({} {} must not set securityContext.privileged=true)",
            plural(&privileged),
            privileged.join(", ")
        ));
    }
    let host_paths: Vec<String> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some())
        .map(|v| format!("\"{}\"", v["name"].as_str().unwrap_or("")))
        .collect();
    if !host_paths.is_empty() {
        let word = if host_paths.len() == 1 {
            "volume"
        } else {
            "volumes"
        };
        violations.push(format!(
            "hostPath volumes ({word} {})",
            host_paths.join(", ")
        ));
    }
    if level == "restricted" {
        let escalation = names(&|c| c["securityContext"]["allowPrivilegeEscalation"] != false);
        if !escalation.is_empty() {
            violations.push(format!(
                "allowPrivilegeEscalation != false ({} {} must set securityContext.allowPrivilegeEscalation=false)",
                plural(&escalation),
                escalation.join(", ")
            ));
        }
        let caps = names(&|c| {
            !c["securityContext"]["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "ALL"))
        });
        if !caps.is_empty() {
            violations.push(format!(
                "unrestricted capabilities ({} {} must set securityContext.capabilities.drop=[\"ALL\"])",
                plural(&caps),
                caps.join(", ")
            ));
        }
        let pod_non_root = spec["securityContext"]["runAsNonRoot"] == true;
        let root = names(&|c| !pod_non_root && c["securityContext"]["runAsNonRoot"] != true);
        if !root.is_empty() {
            violations.push(format!(
                "runAsNonRoot != true (pod or {} {} must set securityContext.runAsNonRoot=true)",
                plural(&root),
                root.join(", ")
            ));
        }
        let pod_seccomp = spec["securityContext"]["seccompProfile"]["type"].is_string();
        let seccomp =
            names(&|c| !pod_seccomp && !c["securityContext"]["seccompProfile"]["type"].is_string());
        if !seccomp.is_empty() {
            violations.push(format!(
                "seccompProfile (pod or {} {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
                plural(&seccomp),
                seccomp.join(", ")
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn pod_security_levels() {
        let pod = json!({"spec": {
            "containers": [{"name": "dind", "securityContext": {"privileged": true}}],
            "volumes": [{"name": "modules", "hostPath": {"path": "/lib/modules"}}]
        }});
        assert_eq!(
            pod_security_violations("baseline", &pod),
            [
                "privileged (container \"dind\" must not set securityContext.privileged=true)",
                "hostPath volumes (volume \"modules\")"
            ]
        );
        assert_eq!(pod_security_violations("restricted", &pod).len(), 6);
        assert!(pod_security_violations("privileged", &pod).is_empty());
    }
}

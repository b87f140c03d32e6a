//! `kip status NAME`: phase, age, endpoint, image and versions. Exit code:
//! 0 running and ready, 5 (not found) absent, 6 (node) present but not ready.

use crate::cluster::status::{collect, Status};
use crate::error::Error;
use crate::node::ports::HostPort;
use crate::output::StatusFormat;
use crate::provider::Provider;
use anyhow::Result;

/// Which cluster `kip status` describes, and how.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    pub name: String,
    pub output: StatusFormat,
}

pub async fn run(settings: &StatusSettings, provider: &impl Provider) -> Result<()> {
    let status = collect(provider, &settings.name).await?;
    match settings.output {
        StatusFormat::Json => crate::output::json(&status)?,
        StatusFormat::Text => crate::output::out(text(&status))?,
    }
    if status.ready {
        Ok(())
    } else {
        Err(Error::NotReady {
            cluster: status.name,
            status: status.status,
        }
        .into())
    }
}

fn text(s: &Status) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let facts: Vec<String> = s
        .node_facts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut out = format!(
        "Name:        {}\nState:       {} ({})\nReady:       {}\nPhase:       {}\nAge:         {}\n\
         Endpoint:    {}\nImage:       {}\nNode:        {}\nSecurity:    {}\nKubernetes:  {}\nkip:         {}\n\
         Node facts:  {}\n",
        s.name,
        serde_json::to_value(s.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        s.status,
        if s.ready { "yes" } else { "no" },
        or_dash(&s.phase),
        s.age,
        or_dash(&s.endpoint),
        s.image,
        s.node,
        or_dash(&s.security),
        or_dash(&s.kubernetes_version),
        or_dash(&s.kip_version),
        if facts.is_empty() { "-".into() } else { facts.join(" ") },
    );
    if let Some(expires) = &s.expires_at {
        out.push_str(&format!("Expires:     {expires}\n"));
    }
    if let Some(ci) = &s.ci {
        out.push_str(&format!("CI job:      {ci}\n"));
    }
    if !s.ports.is_empty() {
        let ports: Vec<String> = s.ports.iter().map(HostPort::describe).collect();
        out.push_str(&format!("Ports:       {}\n", ports.join(", ")));
    }
    if let Some(registry) = &s.registry {
        out.push_str(&format!("Registry:    {registry}\n"));
    }
    if let Some(mirror) = &s.mirror {
        out.push_str(&format!("Mirror:      {mirror}\n"));
    }
    if let Some(failure) = &s.failure {
        out.push_str(&format!("Failure:     {failure}\n"));
    }
    out
}

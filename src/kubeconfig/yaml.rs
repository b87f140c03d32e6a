//! Kubeconfig text that means the same to kubectl as to kip. kubectl reads
//! YAML 1.1, where plain `no`, `on`, `y`, `~`, `017`, `1_000` or `1:20` are
//! booleans, nulls or numbers; serde_yaml writes YAML 1.2 and leaves them
//! plain. So kip emits the document itself, in serde_yaml's block layout,
//! and writes a string plain only when both readers see a string; every
//! other string is quoted.

use anyhow::{bail, Result};
use serde_yaml::Value;
use std::fmt::Write;

const INDENT: usize = 2;

/// The document as YAML text that YAML 1.1 and 1.2 readers read alike.
pub fn to_string(doc: &Value) -> Result<String> {
    let mut out = String::new();
    match doc {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0)?,
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0)?,
        other => {
            out.push_str(&inline(other)?);
            out.push('\n');
        }
    }
    Ok(out)
}

fn mapping(out: &mut String, map: &serde_yaml::Mapping, indent: usize) -> Result<()> {
    let mut first = true;
    for (key, value) in map {
        // The first key of a sequence item follows its `- ` on the same line.
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push_str(&key_text(key)?);
        out.push(':');
        child(out, value, indent, true)?;
    }
    Ok(())
}

fn sequence(out: &mut String, items: &[Value], indent: usize) -> Result<()> {
    let mut first = true;
    for item in items {
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push('-');
        child(out, item, indent, false)?;
    }
    Ok(())
}

/// A value after `key:` or `-`: a scalar on this line; a mapping on the
/// next lines under a key (or a tag), else on this line after `- `. As
/// serde_yaml does, a sequence under a key is not indented further.
fn child(out: &mut String, value: &Value, indent: usize, under_key: bool) -> Result<()> {
    let (value, new_line) = match value {
        Value::Tagged(tagged) => {
            write!(out, " {}", tagged.tag).expect("writing to a String");
            (&tagged.value, true)
        }
        other => (other, under_key),
    };
    match value {
        Value::Mapping(m) if !m.is_empty() => {
            start_collection(out, new_line, indent + INDENT);
            mapping(out, m, indent + INDENT)
        }
        Value::Sequence(s) if !s.is_empty() => {
            let inner = if under_key { indent } else { indent + INDENT };
            start_collection(out, new_line, inner);
            sequence(out, s, inner)
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar)?);
            out.push('\n');
            Ok(())
        }
    }
}

fn start_collection(out: &mut String, new_line: bool, indent: usize) {
    if new_line {
        out.push('\n');
        pad(out, indent);
    } else {
        out.push(' ');
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key_text(key: &Value) -> Result<String> {
    match key {
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => {
            Err(crate::error::Error::KubeconfigKeyNotScalar.into())
        }
        scalar => inline(scalar),
    }
}

/// A scalar, or an empty collection, on one line.
fn inline(value: &Value) -> Result<String> {
    Ok(match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, inline(&tagged.value)?),
        Value::Mapping(_) | Value::Sequence(_) => bail!("a collection is not a scalar"),
    })
}

/// A string as plain text when YAML 1.1 and 1.2 both read it as that
/// string; single-quoted when it has no characters that need escapes;
/// double-quoted (with escapes) otherwise.
pub fn string(s: &str) -> String {
    if is_plain_safe(s) {
        return s.to_string();
    }
    if s.chars().all(single_quotable) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if single_quotable(c) => out.push(c),
            c => write!(out, "\\u{:04X}", u32::from(c)).expect("writing to a String"),
        }
    }
    out.push('"');
    out
}

/// Characters a quoted scalar holds as they are: not control characters,
/// and not the line breaks and byte-order mark YAML 1.1 treats specially.
fn single_quotable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Plain only for a conservative shape: starts with a letter or `/`, holds
/// only characters that mean nothing to YAML there, does not end in `:`,
/// and is none of YAML 1.1's boolean or null words. Anything starting with a
/// digit, sign or dot (a possible 1.1 number: `017`, `1_000`, `1:20`, `.inf`)
/// is quoted.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/') || s.ends_with(':') {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._/:@+=~%-".contains(c))
    {
        return false;
    }
    !matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null"
    )
}

/// Strings YAML 1.1 (kubectl's reader) takes for something else when
/// plain, and strings that need quotes anyway.
#[cfg(test)]
pub const AMBIGUOUS: &[&str] = &[
    "no",
    "No",
    "NO",
    "n",
    "N",
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "NULL",
    "~",
    "",
    "0o17",
    "017",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30.15",
    "1e3",
    "1.5",
    "6.8523015e+5",
    ".inf",
    "-.inf",
    ".NaN",
    "+1",
    "-1",
    "0",
    "2001-12-14",
    "-",
    "<<",
    "=",
    "a: b",
    "#x",
    " lead",
    "trail ",
    "it's",
    "\"q\"",
    "multi\nline",
    "tab\tx",
    "ü",
    "a\u{2028}b",
    "x:",
    "@at",
    "*star",
    "&amp",
    "!bang",
    "|pipe",
    ">gt",
    "%pct",
    "`tick",
    "{b}",
    "[s]",
    "?q",
    "a #b",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_strings_are_quoted_and_read_back_as_themselves() {
        for s in AMBIGUOUS {
            let text = string(s);
            assert!(
                text.starts_with('\'') || text.starts_with('"'),
                "{s:?} written as {text}"
            );
            let back: Value = serde_yaml::from_str(&format!("k: {text}\n")).unwrap();
            assert_eq!(back["k"].as_str(), Some(*s), "{text}");
        }
        for s in [
            "kip-demo",
            "https://127.0.0.1:6443",
            "Q0E=",
            "a/b+c=",
            "x~y",
        ] {
            assert_eq!(string(s), *s);
        }
    }

    #[test]
    fn reads_back_as_the_same_document() {
        let busy: Value =
            serde_yaml::from_str(include_str!("../../tests/fixtures/busy-kubeconfig.yaml"))
                .unwrap();
        let nested: Value = serde_yaml::from_str(
            "a: [[1, [x, {}]], {b: [], c: {d: ~}}]\ne: !t {f: [g]}\nh: [!u [1], !v {i: j}, !w k]\n",
        )
        .unwrap();
        for doc in [
            busy,
            nested,
            Value::Null,
            Value::Mapping(Default::default()),
        ] {
            let text = to_string(&doc).unwrap();
            assert_eq!(serde_yaml::from_str::<Value>(&text).unwrap(), doc, "{text}");
        }
    }
}

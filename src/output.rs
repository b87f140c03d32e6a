//! The one place that decides what the user sees on stderr: a spinner and
//! ✓/✗ step lines on a terminal, plain lines otherwise, one JSON object per
//! line with `--progress json`, nothing but errors with `-q`, no colour with
//! `NO_COLOR`. Data goes to stdout, never here.

use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressFormat {
    Human,
    Json,
}

/// How `list` prints its result: a table for people, or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

/// How `status`, `up`, `gc` and `doctor` print their result: text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    Text,
    Json,
}

/// How `kip kubeconfig` prints the kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigFormat {
    Yaml,
    Json,
}

/// Writes data to stdout. kip ignores SIGPIPE (Rust's default), so a peer
/// that goes away mid-write (an API server restarting, a daemon closing an
/// idle connection) is an error kip handles, never its silent death. A
/// closed stdout is the one exception: the reader stopped reading
/// (`kip list | head`), and kip ends the way any Unix tool does, by SIGPIPE.
pub fn out(text: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_ref())
        .and_then(|()| stdout.flush())
        .map_err(stdout_failed)
}

/// An error writing to stdout: a closed pipe ends kip by SIGPIPE, anything
/// else (a full disk under `> file`) is returned as the error it is.
pub fn stdout_failed(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // SAFETY: restoring the default disposition and raising the signal
        // the write would have raised; both are async-signal-safe calls.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
        std::process::exit(141);
    }
    e
}

/// Copies a stream to stdout as it arrives (`kip exec`); only the writes
/// go through [`stdout_failed`], a read error is the stream's own.
pub async fn copy_to_stdout(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stdout = tokio::io::stdout();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stdout.write_all(&buf[..n]).await.map_err(stdout_failed)?;
        stdout.flush().await.map_err(stdout_failed)?;
        total += n as u64;
    }
}

/// A result kip prints with `-o json`: a `kip/v1` object of kind `KIND`,
/// documented by the JSON Schema `docs/schema/SCHEMA`.
pub trait Document: serde::Serialize {
    const KIND: &'static str;
    /// Read by the test that holds each document to its schema.
    #[cfg_attr(not(test), allow(dead_code))]
    const SCHEMA: &'static str;
}

/// The one way a result is printed as JSON: `apiVersion` and `kind` first,
/// then the document's own fields, on stdout.
pub fn json<T: Document>(document: &T) -> anyhow::Result<()> {
    out(json_text(document)?)?;
    Ok(())
}

/// A result as [`json`] prints it (a logs bundle keeps `kip status -o json`).
pub fn json_text<T: Document>(document: &T) -> serde_json::Result<String> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope<'a, T> {
        api_version: &'static str,
        kind: &'static str,
        #[serde(flatten)]
        document: &'a T,
    }
    let envelope = Envelope {
        api_version: API_VERSION,
        kind: T::KIND,
        document,
    };
    Ok(serde_json::to_string_pretty(&envelope)? + "\n")
}

/// The `apiVersion` of every JSON result.
pub const API_VERSION: &str = "kip/v1";

/// One diagnostic line on stderr. A closed or full stderr loses the line
/// but never stops the work under way (a half-made cluster is worse).
/// Rows as aligned columns (`kip list`, `kip seed list`), on stdout's terms.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// A size as people read it: "512 B", "3.8 MiB", "1.5 GiB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn err_line(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// How kip reports: what `Printer` is made from, resolved once with the
/// other global settings.
#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    /// `-q`: nothing but errors and requested data.
    pub quiet: bool,
    pub progress: ProgressFormat,
    /// `NO_COLOR` is not set (colour is still only used on a terminal).
    pub color: bool,
}

pub struct Printer {
    quiet: bool,
    tty: bool,
    json: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

/// A phase under way; `done` or `failed` ends it with its elapsed time. A
/// step dropped unfinished (an error returned early) is reported failed.
pub struct Step<'a> {
    printer: &'a Printer,
    id: &'static str,
    what: String,
    started: Instant,
    finished: bool,
}

impl Step<'_> {
    /// New words for the step under way: the spinner's message on a
    /// terminal; nothing elsewhere (plain and JSON output stay one line a step).
    pub fn update(&self, what: &str) {
        let guard = self
            .printer
            .spinner
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = guard.as_ref() {
            bar.set_message(what.to_string());
        }
    }

    pub fn done(mut self, what: &str) {
        self.finished = true;
        self.printer
            .finish(self.id, "done", what, self.started.elapsed());
    }

    pub fn failed(mut self, what: &str) {
        self.finished = true;
        self.printer
            .finish(self.id, "failed", what, self.started.elapsed());
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.printer
                .finish(self.id, "failed", &self.what, self.started.elapsed());
        }
    }
}

impl Printer {
    pub fn new(settings: OutputSettings) -> Self {
        let tty = console::Term::stderr().is_term();
        console::set_colors_enabled_stderr(tty && settings.color);
        let json = settings.progress == ProgressFormat::Json;
        Printer {
            quiet: settings.quiet,
            tty: tty && !json,
            json,
            spinner: Mutex::new(None),
        }
    }

    /// A phase begins. `id` is the stable name JSON progress carries
    /// (`node-started`, `dockerd-ready`, ...); `what` is for people.
    pub fn step(&self, id: &'static str, what: &str) -> Step<'_> {
        if self.json {
            self.emit(serde_json::json!({"event": "phase", "phase": id, "status": "started", "message": what}));
        } else if !self.quiet && self.tty {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(" {spinner} {msg}").expect("valid template"),
            );
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(80));
            self.replace_spinner(Some(bar));
        }
        Step {
            printer: self,
            id,
            what: what.to_string(),
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish(&self, id: &str, status: &str, what: &str, elapsed: Duration) {
        self.replace_spinner(None);
        if self.json {
            self.emit(serde_json::json!({
                "event": "phase", "phase": id, "status": status, "message": what,
                "elapsedSeconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            }));
            return;
        }
        if status == "done" {
            if !self.quiet {
                let time = style(format!("({:.1}s)", elapsed.as_secs_f64())).dim();
                err_line(format_args!(" {} {what} {time}", style("✓").green()));
            }
        } else {
            err_line(format_args!(" {} {what}", style("✗").red()));
        }
    }

    pub fn info(&self, line: &str) {
        self.message("info", line, self.quiet, |l| err_line(format_args!("{l}")));
    }

    pub fn notice(&self, line: &str) {
        self.message("notice", line, self.quiet, |l| {
            err_line(format_args!("{} {l}", style("note:").yellow().bold()))
        });
    }

    pub fn warn(&self, line: &str) {
        self.message("warning", line, self.quiet, |l| {
            err_line(format_args!("{} {l}", style("warning:").yellow().bold()))
        });
    }

    pub fn error(&self, line: &str) {
        self.replace_spinner(None);
        self.message("error", line, false, |l| {
            err_line(format_args!("{} {l}", style("error:").red().bold()))
        });
    }

    fn message(&self, level: &str, line: &str, hidden: bool, print: impl FnOnce(&str)) {
        if hidden {
            return;
        }
        if self.json {
            self.emit(serde_json::json!({"event": "message", "level": level, "message": line}));
            return;
        }
        let guard = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(bar) => bar.suspend(|| print(line)),
            None => print(line),
        }
    }

    fn emit(&self, value: serde_json::Value) {
        err_line(format_args!("{value}"));
    }

    fn replace_spinner(&self, new: Option<ProgressBar>) {
        let mut guard = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = guard.take() {
            old.finish_and_clear();
        }
        *guard = new;
    }
}

/// Holds a document's sample to its schema in docs/schema: its kind and
/// apiVersion, every required field present, no field the schema lacks
/// (the whole check, with types, runs on real output in tests/suite).
#[cfg(test)]
pub fn assert_matches_schema<T: Document>(sample: &T) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(T::SCHEMA);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json_text(sample).unwrap()).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    assert_eq!(properties["kind"]["const"], T::KIND, "{}", T::SCHEMA);
    assert_eq!(properties["apiVersion"]["const"], API_VERSION);
    for required in schema["required"].as_array().unwrap() {
        let required = required.as_str().unwrap();
        assert!(
            value.get(required).is_some(),
            "{}: no {required} in {value}",
            T::SCHEMA
        );
    }
    for key in value.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "{}: {key} is not in the schema",
            T::SCHEMA
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{size, table};

    #[test]
    fn table_aligns_columns() {
        let rows = [
            ["NAME".to_string(), "AGE".into()],
            ["a-long-name".into(), "3m".into()],
        ];
        assert_eq!(table(&rows), "NAME          AGE\na-long-name   3m\n");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_950_000), "3.8 MiB");
        assert_eq!(size(1_589_000_000), "1.5 GiB");
    }
}

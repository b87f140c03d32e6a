//! The one place that decides what the user sees on stderr: a spinner and
//! ✓/✗ step lines on a terminal, plain lines otherwise, nothing but errors
//! with `-q`, no colour with `NO_COLOR`. Data goes to stdout, never here.

use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

pub struct Printer {
    quiet: bool,
    tty: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        let tty = console::Term::stderr().is_term();
        let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        console::set_colors_enabled_stderr(color);
        Printer {
            quiet,
            tty,
            spinner: Mutex::new(None),
        }
    }

    /// A step begins: a spinner on a terminal, nothing otherwise.
    pub fn start(&self, what: &str) {
        if self.quiet || !self.tty {
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template(" {spinner} {msg}").expect("valid template"));
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(80));
        self.replace_spinner(Some(bar));
    }

    pub fn done(&self, what: &str, elapsed: Duration) {
        self.replace_spinner(None);
        if !self.quiet {
            let time = style(format!("({:.1}s)", elapsed.as_secs_f64())).dim();
            eprintln!(" {} {what} {time}", style("✓").green());
        }
    }

    pub fn failed(&self, what: &str) {
        self.replace_spinner(None);
        eprintln!(" {} {what}", style("✗").red());
    }

    pub fn info(&self, line: &str) {
        if !self.quiet {
            self.suspend(|| eprintln!("{line}"));
        }
    }

    pub fn notice(&self, line: &str) {
        if !self.quiet {
            self.suspend(|| eprintln!("{} {line}", style("note:").yellow().bold()));
        }
    }

    pub fn warn(&self, line: &str) {
        self.suspend(|| eprintln!("{} {line}", style("warning:").yellow().bold()));
    }

    pub fn error(&self, line: &str) {
        self.replace_spinner(None);
        eprintln!("{} {line}", style("error:").red().bold());
    }

    fn suspend(&self, print: impl FnOnce()) {
        let guard = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    fn replace_spinner(&self, new: Option<ProgressBar>) {
        let mut guard = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = guard.take() {
            old.finish_and_clear();
        }
        *guard = new;
    }
}

//! Progress on stderr: bars when stderr is a terminal, one plain line per window otherwise,
//! nothing under `-q`. Bars fit the terminal's width (a 24-column prefix, a bar that shrinks).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use cake_pipeline::{Progress, WindowSummary};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Reporter {
    /// Nothing is printed (`-q`).
    quiet: bool,
    bars: Option<MultiProgress>,
    /// Each report's bar and the rows decoded so far.
    per_report: Mutex<HashMap<String, (ProgressBar, u64)>>,
    /// Each report's windows: planned, and committed so far.
    counts: Mutex<HashMap<String, (usize, usize)>>,
}

impl Reporter {
    pub fn new() -> Reporter {
        let quiet = crate::logging::quiet();
        Reporter {
            quiet,
            bars: (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new),
            per_report: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The line that says where an interrupted report stopped (windows committed, of the
    /// windows planned) and what picks it up.
    pub fn interrupted(&self, report: &str, resumes: &str) -> String {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get(report) {
            Some(&(planned, done)) => format!(
                "interrupted at {done}/{planned}: {done} window(s) committed and kept; {resumes}"
            ),
            None => format!("interrupted before its first window; {resumes}"),
        }
    }
}

/// What picks up an interrupted `pull`: nothing resumes it.
pub const PULL_RESUMES: &str =
    "`pull` pulls every window again, `sync` resumes where a sync stopped";

/// What picks up an interrupted `sync`.
pub const SYNC_RESUMES: &str = "`sync` resumes from there, `pull` would pull them again";

impl Progress for Reporter {
    fn start(&self, report: &str, windows: usize) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(report.to_string(), (windows, 0));
        if let Some(multi) = &self.bars {
            let bar = multi.add(ProgressBar::new(windows as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>20} [{wide_bar}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(report.to_string());
            self.per_report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(report.to_string(), (bar, 0));
        } else if !self.quiet {
            crate::logging::line(
                crate::logging::Line::Progress,
                &format!("{report}: {windows} window(s) to pull"),
            );
        }
    }

    fn page(&self, report: &str, rows: u64, _bytes: u64) {
        if let Some((bar, total)) = self
            .per_report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(report)
        {
            *total += rows;
            bar.set_message(format!("{total} rows"));
        }
    }

    fn window(&self, report: &str, w: &WindowSummary) {
        if let Some((_, done)) = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(report)
        {
            *done += 1;
        }
        if self.quiet {
            return;
        }
        match self
            .per_report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(report)
        {
            Some((bar, _)) => bar.inc(1),
            None => crate::logging::line(
                crate::logging::Line::Progress,
                &format!(
                    "{report}: {} ({} rows, {} requests, {} retries, {:.1} s)",
                    w.path, w.rows, w.requests, w.retries, w.seconds
                ),
            ),
        }
        for warning in &w.warnings {
            crate::logging::line(
                crate::logging::Line::Warning,
                &format!("warning: {report}: {warning}"),
            );
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        for (bar, _) in self
            .per_report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            // A bar stops where its report stopped: an interrupted or failed report's bar
            // does not jump to its end.
            bar.abandon();
        }
    }
}

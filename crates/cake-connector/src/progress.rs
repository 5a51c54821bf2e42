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
}

impl Reporter {
    pub fn new() -> Reporter {
        let quiet = crate::logging::quiet();
        Reporter {
            quiet,
            bars: (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new),
            per_report: Mutex::new(HashMap::new()),
        }
    }
}

impl Progress for Reporter {
    fn start(&self, report: &str, windows: usize) {
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
            bar.finish();
        }
    }
}

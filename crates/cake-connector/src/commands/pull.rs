//! `pull`: one report into Parquet.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::exit::Result;
use cake_core::failure::Class;
use cake_pipeline::{pull, Cancel, Classify, PullOptions, PullSummary, RunStatus};
use cake_sink::{Format, Sink, SinkOptions, WriteMode};
use cake_transport::{Client, ClientOptions, LowSpeed, RetryPolicy};

use crate::cli::{ConnectionArgs, PullArgs};
use crate::exit::UsageError;

pub fn run(args: &PullArgs) -> Result<String> {
    if !args.more_reports.is_empty() {
        return Err(UsageError::new(format!(
            "pull takes one report, and was given {} more ({}); run pull once per report, or \
             list them in a sync config, which pulls several incrementally (docs/sync.md)",
            args.more_reports.len(),
            args.more_reports.join(", ")
        ))
        .into());
    }
    let report = crate::args::report(&args.report)?;
    let plan = crate::args::validated_plan(report, &args.options, &args.plan, chrono::Utc::now())?;
    let plan = match args.shard {
        Some((index, count)) => plan.shard(index, count).map_err(UsageError::from)?,
        None => plan,
    };
    let client = client(&args.connection)?;
    let out = args.output.out.as_deref().ok_or_else(|| {
        UsageError::new(
            "--out is required: a directory or s3://bucket/prefix for the Parquet output",
        )
    })?;
    let mode: WriteMode = args.output.mode.parse().map_err(UsageError::new)?;
    if let Some(table) = &args.output.table {
        if !cake_pipeline::valid_table_name(table) {
            return Err(UsageError::new(format!(
                "--table {table}: use letters, digits, `-` and `_`, not starting with `_` or `.`"
            ))
            .into());
        }
    }
    check_summary_path(args.output.summary_json.as_deref())?;
    let format: Format = args.output.format.parse().map_err(UsageError::new)?;
    // A dry run leaves no directory behind (a real run keeps the one it made: removing it
    // could race another run that is starting into the same new location).
    let _created = args.dry_run.then(|| NewDirectories::before(out));
    let sink = open_sink(out, format)?;
    let cancel = Cancel::new();
    let reporter = Arc::new(crate::progress::Reporter::new());
    let options = PullOptions {
        mode,
        keep_raw: args.output.keep_raw,
        decoder: args.output.decode.options(plan.timezone),
        windows_in_flight: args.connection.concurrency,
        progress: reporter.clone(),
        table: args.output.table.clone(),
        rebuild: args.output.rebuild_table,
        cancel: cancel.clone(),
    };
    if args.dry_run {
        return dry_run(args, &plan, &client, &sink, &options);
    }
    if let Some(days) = plan.clipped {
        crate::logging::line(
            crate::logging::Line::Warning,
            &format!(
                "warning: {days} lies after today in {}: those days have no data yet and are left out",
                plan.timezone
            ),
        );
    }
    let committed = Mutex::new(Vec::new());
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        tokio::spawn(crate::signals::watch(cancel.clone()));
        pull(&client, &plan, &sink, &options, &|w| {
            committed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(w.clone())
        })
        .await
    });
    let summary = match &result {
        Ok(summary) => summary.clone(),
        // What a failed or interrupted pull committed before it stopped.
        Err(_) => PullSummary::of_windows(
            report.id,
            &options.table_for(report),
            sink.store().display(),
            committed.into_inner().unwrap_or_else(|p| p.into_inner()),
            0.0,
        ),
    };
    if let Some(path) = &args.output.summary_json {
        write_summary_json(path, &[&summary], result.as_ref().err())?;
    }
    if result.is_err() && !summary.windows.is_empty() {
        // What stayed committed is said on stdout, as after a run that succeeds; the error
        // follows on stderr.
        crate::logging::print(&format!(
            "{}: stopped; what was committed before:\n{}",
            summary.report,
            render_summary(&summary)
        ));
    }
    if let Err(cake_pipeline::PipelineError::Interrupted) = &result {
        let line = reporter.interrupted(report.id, crate::progress::PULL_RESUMES);
        return Err(crate::exit::Failed::new(
            Class::Interrupted,
            format!("stopped before the end: {line}"),
        )
        .into());
    }
    Ok(render_summary(&result?))
}

/// `--dry-run`: the plan, after every check the real run makes before its first request
/// (the flags, the key, the location's probe, the table's contract, unchanged); a check that
/// fails ends the dry run with the real run's error and exit code, after the plan.
fn dry_run(
    args: &PullArgs,
    plan: &cake_catalog::Plan,
    client: &Client,
    sink: &Sink,
    options: &PullOptions,
) -> Result<String> {
    let protocol = client.protocol();
    let mut dry = super::dryrun::DryRun::new(plan, args, client.instance(), protocol);
    let runtime = crate::runtime()?;
    let checked = runtime.block_on(cake_pipeline::preflight_dry(client, plan, sink, options));
    // Another run holding the table's lock makes the real run wait for it.
    if checked.is_ok() {
        let table = options.table_for(plan.report);
        dry.locked_by = runtime
            .block_on(sink.lock_holder(&table))
            .map_err(cake_pipeline::PipelineError::from)?;
    }
    dry.table_check = checked.as_ref().ok().map(|c| {
        match c {
            cake_sink::ContractCheck::Created => "a new table",
            cake_sink::ContractCheck::Matches => "an existing table; its contract matches",
            cake_sink::ContractCheck::Rebuilt => {
                "rebuilt: its contract differs, and --rebuild-table deletes what it holds"
            }
        }
        .to_string()
    });
    let text = if args.json {
        format!("{}\n", crate::args::json(&dry)?)
    } else {
        dry.render()
    };
    match checked {
        Ok(_) => Ok(text),
        Err(e) => {
            crate::logging::print(&text);
            Err(e.into())
        }
    }
}

/// The summary's folder must exist before anything is sent: a run must not do all its work and
/// then fail to say what it did.
pub fn check_summary_path(path: Option<&std::path::Path>) -> Result<()> {
    let Some(dir) = path.and_then(|p| p.parent()) else {
        return Ok(());
    };
    if !dir.as_os_str().is_empty() && !dir.is_dir() {
        return Err(UsageError::new(format!(
            "--summary-json: the folder {} does not exist; create it or give another path",
            dir.display()
        ))
        .into());
    }
    Ok(())
}

/// The local directories a dry run's checks create for its output location (opening a
/// location creates it): removed again when the dry run ends, if they are still empty.
pub struct NewDirectories(Vec<std::path::PathBuf>);

impl NewDirectories {
    /// The directories of `location` that do not exist yet, deepest first (none for object
    /// storage).
    pub fn before(location: &str) -> NewDirectories {
        let mut missing = Vec::new();
        if !location.contains("://") {
            let mut dir = Some(std::path::Path::new(location));
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
                missing.push(d.to_path_buf());
                dir = d.parent();
            }
        }
        NewDirectories(missing)
    }
}

impl Drop for NewDirectories {
    fn drop(&mut self) {
        // `remove_dir` removes only an empty directory; the first that holds something stops.
        for dir in &self.0 {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

/// Opens the output location, writing tables in `format`; a malformed location is a usage
/// error.
pub fn open_sink(location: &str, format: Format) -> Result<Sink> {
    let options = SinkOptions {
        format,
        ..SinkOptions::default()
    };
    Ok(Sink::open(location, options)?)
}

/// The client for a connection's flags; the key is registered for redaction first.
pub fn client(c: &ConnectionArgs) -> Result<Client> {
    client_with_key(c, c.instance.key.require()?)
}

/// The client for a connection's flags and a key already read (and registered for redaction).
pub fn client_with_key(c: &ConnectionArgs, key: String) -> Result<Client> {
    if c.concurrency == 0 {
        return Err(UsageError::new("--concurrency must be at least 1").into());
    }
    if c.requests_per_minute == Some(0) {
        return Err(UsageError::new(
            "--requests-per-minute must be at least 1 (`requests_per_minute` in a sync \
             config); leave it out for no budget",
        )
        .into());
    }
    let t = &c.transport;
    let options = ClientOptions {
        concurrency: c.concurrency,
        requests_per_minute: c.requests_per_minute,
        idle_timeout: Duration::from_secs(t.idle_timeout.max(1)),
        request_timeout: Duration::from_secs(t.attempt_timeout.max(1)),
        low_speed: LowSpeed {
            limit: t.low_speed_limit,
            time: Duration::from_secs(t.low_speed_time.max(1)),
        },
        allow_repeated_keys: t.allow_repeated_keys,
        accept_rows_outside_window: t.accept_rows_outside_window,
        head_timeout: Duration::from_secs(t.head_timeout.max(1)),
        retry: RetryPolicy {
            max_attempts: c.retry.retries.saturating_add(1),
            base_delay: Duration::from_millis(c.retry.retry_base_ms),
            max_retry_after: Duration::from_secs(t.max_retry_after),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    };
    crate::args::client(&c.instance, key, options)
}

/// Writes the run's status and summary as JSON (atomically: a reader never sees half a file),
/// whether the run succeeded, failed or was interrupted.
pub fn write_summary_json(
    path: &std::path::Path,
    pulls: &[&PullSummary],
    error: Option<&cake_pipeline::PipelineError>,
) -> Result<()> {
    let status = error.map_or(RunStatus::Ok, RunStatus::of_error);
    write_json(
        path,
        &serde_json::json!({
            "status": status,
            "error": error.map(|e| crate::logging::clean(&e.to_string())),
            "class": error.map(|e| e.class().as_str()),
            "reports": pulls,
        }),
    )
}

/// Writes a JSON document, cleaned like every text the binary writes, atomically.
pub fn write_json(path: &std::path::Path, json: &serde_json::Value) -> Result<()> {
    use cake_pipeline::PipelineError;
    let text = serde_json::to_string_pretty(json).map_err(|source| PipelineError::Encode {
        what: "a JSON document",
        source,
    })?;
    let text = crate::logging::clean(&text);
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| PipelineError::Io { path, source }
    };
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text.as_bytes()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

/// Paths of unknown elements named in a summary; the others are counted.
const UNKNOWN_SHOWN: usize = 20;

pub fn render_summary(s: &PullSummary) -> String {
    let mut out = String::new();
    crate::fit::hanging(
        &mut out,
        &format!("{}: ", s.report),
        &format!(
            "{} rows in {} window(s) to {} ({} bytes of Parquet, {} requests, {} retries, {:.1} s)",
            s.rows,
            s.windows.len(),
            s.location,
            s.bytes,
            s.requests,
            s.retries,
            s.seconds
        ),
        30,
        2,
    );
    // `-q`: the one summary line, nothing per partition.
    if crate::logging::quiet() {
        return out;
    }
    for w in &s.windows {
        let _ = writeln!(
            out,
            "  {:<48} {:>10} rows {:>3} file(s)",
            w.path, w.rows, w.files
        );
        for warning in &w.warnings {
            let _ = writeln!(out, "    warning: {warning}");
        }
    }
    if !s.unknown.is_empty() {
        let _ = writeln!(
            out,
            "  note: {} element(s) not in the catalog, kept in _extra: {}",
            s.unknown.total(),
            s.unknown.describe(UNKNOWN_SHOWN)
        );
    }
    for line in rejected_lines(s) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// One warning per column whose values did not fit it, with an example.
pub fn rejected_lines(s: &PullSummary) -> Vec<String> {
    s.rejected
        .iter()
        .map(|(column, r)| {
            format!(
                "warning: {} value(s) of {column} did not fit it (e.g. {:?}: {}): the cells are null, the values kept in _rejected",
                r.count, r.example, r.reason
            )
        })
        .collect()
}

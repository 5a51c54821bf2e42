//! Command-line flags as parsed (the "low" arguments). Nothing here decides anything: the
//! `args` module turns these into validated plans with the libraries' own parsers.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cake-connector",
    version,
    about = "CAKE reports to typed Parquet, locally or on object storage.",
    long_about = "CAKE reports to typed Parquet, locally or on object storage.\n\n\
        Start with `cake-connector reports` to list the 37 reports and \
        `cake-connector describe <report>` to see one report's options and columns.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

/// What goes to stderr. `CAKE_LOG` (a filter such as `info` or `cake_transport=debug`), when
/// set, overrides `-q` and `-v`.
#[derive(Debug, Args, Clone, Copy)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Errors and the final one-line summary only: no warnings, no progress, no line per
    /// partition.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v adds a line per request, -vv every library's debug lines, -vvv
    /// everything (and a backtrace on an internal error).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// `text` (default), or `json`: one JSON object per line, secrets scrubbed, for log
    /// shippers.
    #[arg(long, global = true, default_value = "text", value_name = "text|json")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the reports of the catalog.
    Reports(ReportsArgs),
    /// Show one report: its endpoint, parameters, options and typed columns.
    Describe(DescribeArgs),
    /// Pull one report into Parquet (with --dry-run: print the request plan and send nothing).
    Pull(Box<PullArgs>),
    /// Pull many reports from a config file, incrementally.
    Sync(Box<SyncArgs>),
    /// Run the demo: every report from the embedded sandbox into Parquet.
    Demo(DemoArgs),
    /// Convert saved Cake responses (HTTP GET or SOAP form) to Parquet.
    Convert(Box<ConvertArgs>),
    /// Run the Cake-compatible sandbox server in the foreground.
    Sandbox(Box<SandboxArgs>),
    /// Check a Cake instance and API key with one cheap authenticated call.
    Check(Box<CheckArgs>),
    /// Compare the catalog with the instance's own WSDL documents (method, parameters,
    /// response elements and types of every report); optionally write corrected spec files.
    Verify(Box<VerifyArgs>),
    /// Show what an output location holds: per table, the days committed, the gaps, the rows,
    /// the last run and how fresh the data is.
    Status(StatusArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout: `cake-connector man > cake-connector.1`.
    Man,
    /// The Airbyte source protocol on stdout: spec, check, discover, read
    /// (docs/platforms.md).
    Airbyte(AirbyteArgs),
    /// A Singer tap (tap-cake for Meltano): --discover, or SCHEMA, RECORD and STATE messages
    /// on stdout (docs/platforms.md).
    Singer(SingerArgs),
    /// Sync config files: `config init` (a commented starter file), `config validate FILE`,
    /// `config schema` (its JSON Schema).
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented starter config on stdout: `config init > cake.toml`.
    Init,
    /// Check a config file as `sync` reads it, without sending anything or writing.
    Validate {
        /// The config file (TOML).
        file: std::path::PathBuf,
    },
    /// Print the JSON Schema of a config file on stdout.
    Schema,
}

/// The arguments of the Airbyte protocol, as Airbyte passes them.
#[derive(Debug, Args)]
pub struct AirbyteArgs {
    #[command(subcommand)]
    pub command: AirbyteCommand,
}

#[derive(Debug, Subcommand)]
pub enum AirbyteCommand {
    /// The configuration's JSON schema (a SPEC message).
    Spec,
    /// One cheap authenticated call (a CONNECTION_STATUS message; exit 0 either way).
    Check(AirbyteFiles),
    /// Every report as a stream (a CATALOG message).
    Discover(AirbyteFiles),
    /// The selected streams: RECORD messages, and a STATE after every committed window.
    Read(AirbyteFiles),
}

/// The files Airbyte passes.
#[derive(Debug, Args)]
pub struct AirbyteFiles {
    /// The source configuration (JSON: domain, api_key, start_date, lookback_days, ...).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// The configured catalog (`read`: the selected streams and their sync modes).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<std::path::PathBuf>,
    /// The state of the last read (`read`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
}

/// The arguments of a Singer tap, as Singer runners pass them.
#[derive(Debug, Args)]
pub struct SingerArgs {
    /// The tap's configuration (JSON, the same keys as the Airbyte source's).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// Print the catalog of every stream and exit.
    #[arg(long)]
    pub discover: bool,
    /// The catalog with the selected streams (default: every stream).
    #[arg(long, alias = "properties", value_name = "FILE")]
    pub catalog: Option<std::path::PathBuf>,
    /// The state of the last run (`{"bookmarks": {...}}`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Report the responses belong to (id or display name).
    #[arg(long)]
    pub report: String,
    /// The Cake instance's time zone (IANA name): Cake's datetimes are read in it.
    #[arg(long, env = "CAKE_TIMEZONE", default_value = "UTC", value_name = "TZ")]
    pub timezone: String,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Saved responses: as Cake sent them, or zstd- or gzip-compressed.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
    /// Output: a `.parquet` file, or a directory to write into.
    #[arg(long, value_name = "PATH")]
    pub out: std::path::PathBuf,
    /// Replace output files that exist already.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the synthetic data and of the faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The API key the sandbox accepts.
    #[arg(long, default_value = "sandbox-key")]
    pub api_key: String,
    /// Rows per day of the click and conversion level reports.
    #[arg(long, default_value_t = 200)]
    pub rows_per_day: u32,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered `success=false` `Restricted` (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub restricted_rate: f64,
    /// Share of requests answered HTTP 500 or 503 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of responses whose connection is reset in the middle of the body (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Share of responses whose body is cut short (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub truncate_rate: f64,
    /// Share of text values carrying forbidden control-character references (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub control_char_rate: f64,
    /// Send bodies slowly, in small pieces.
    #[arg(long)]
    pub trickle: bool,
    /// Piece size of slow bodies in bytes (default 1024; implies --trickle).
    #[arg(long, value_name = "BYTES")]
    pub trickle_chunk: Option<usize>,
    /// Pause between the pieces of slow bodies in milliseconds (default 2; implies --trickle).
    #[arg(long, value_name = "MS")]
    pub trickle_pause_ms: Option<u64>,
    /// A hostile behaviour, repeatable: short-middle-page=N, repeat-row, row-count-drift=+N,
    /// empty-pages=N, key-echo=ENCODING@PLACE (or @PLACE*N), control-bytes@PLACE, wrong-endpoint,
    /// wrong-version, other-day=-N, far-timestamp, cake-message=TEXT, row-count-twice=+N,
    /// element-twice=COLUMN, latin1, row-dated=TIMESTAMP, page-of-day-before=N, silent,
    /// retry-after=VALUE, large-head=BYTES, large-row=BYTES, repeat-known=N, unknown-names=N
    /// (docs/sandbox.md)
    #[arg(long = "hostile", value_name = "KIND")]
    pub hostile: Vec<String>,
    /// How many attempts of each request get the hostile behaviours (default: every attempt;
    /// 1: only the first, a retry gets the clean answer).
    #[arg(long, value_name = "N")]
    pub hostile_attempts: Option<u32>,
    /// Answer SOAP calls with the fault of an instance that does not take SOAP (HTTP 500,
    /// soap:Sender); GET requests are answered as usual.
    #[arg(long)]
    pub refuse_soap: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Seconds to wait for the instance before giving up.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// The outcome as one JSON document on stdout (`"ok"`, the instance, or the error's
    /// class and exit code).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The API key is not needed and never sent (an ASMX service's WSDL is public); when given,
    /// it is kept out of every line printed.
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Seconds to wait for the instance (per document) before giving up.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print JSON (the whole comparison, every difference typed) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a corrected spec file (`<DIR>/<report>.toml`) for every report that differs or is
    /// not yet verified; copy the ones you accept to crates/cake-catalog/spec/ and run
    /// `cargo xtask codegen`.
    #[arg(long, value_name = "DIR")]
    pub write_specs: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The output location: a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://bucket/prefix")]
    pub out: String,
    /// Print JSON (every detail, for monitoring) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also show the last N runs of each table (ok, failed, refused or interrupted).
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Mark the tables this sync config no longer lists (and the ones it lists that the
    /// location does not hold yet).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Print JSON (one array of objects) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Report id (`campaigns-summary`) or display name (`"Campaigns Summary"`).
    pub report: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Report id (`clicks`) or display name (`"Campaigns Summary"`).
    pub report: String,
    /// Further reports: refused with a pointer to `sync`, which pulls several.
    #[arg(hide = true)]
    pub more_reports: Vec<String>,
    #[command(flatten)]
    pub options: ReportOptionArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print the plan (windows, the partitions they replace, each window's first request as it
    /// will be sent, API key redacted) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the plan as JSON, with for each window the `pull` arguments that run it
    /// alone (shards for an orchestrator).
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// Pull only share I of N of the plan's windows (0/4 .. 3/4): N processes, each given its
    /// share, together pull every window once into one table, with no coordination. A
    /// window's share follows from its first day.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
}

/// `I/N`, as `--shard` takes it.
fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: give the share as I/N, such as 0/4 (the first of four)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    Ok((
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    ))
}

/// Which Cake instance, with which key, in which form of request: the arguments of every
/// command that talks to Cake, turned into a client in one place (`crate::args::client`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct InstanceArgs {
    /// Cake domain: `mycompany` (for mycompany.cake.com), a host name, or an https:// URL.
    #[arg(long, env = "CAKE_DOMAIN")]
    pub domain: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Allow plain http:// to a host that is not on loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// How requests are sent: soap (SOAP 1.2, the key in the request body; the default) or
    /// get (HTTP GET, the key in the URL, which proxies and access logs write down).
    #[arg(long, env = "CAKE_PROTOCOL", value_name = "soap|get")]
    pub protocol: Option<String>,
}

/// Where the Cake instance is and how hard to press it.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// Most requests started per minute (no limit by default).
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    #[command(flatten)]
    pub transport: TransportArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// Where the API key comes from: the CAKE_API_KEY environment variable, a file (Docker and
/// Kubernetes secrets), or, least safely, the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct KeyArgs {
    /// Cake API key. Prefer the CAKE_API_KEY environment variable or --api-key-file: a flag is
    /// readable by every user of the machine in the process list.
    #[arg(long, env = "CAKE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A file holding the API key (a Docker or Kubernetes secret); surrounding whitespace is
    /// ignored.
    #[arg(long, env = "CAKE_API_KEY_FILE", value_name = "PATH")]
    pub api_key_file: Option<std::path::PathBuf>,
}

/// How long a response may take, and what the window checks accept.
#[derive(Debug, Args, Clone, Copy)]
pub struct TransportArgs {
    /// Seconds without a byte before a response is abandoned (and retried).
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Seconds one attempt at one page may take in all, body included, before it is abandoned
    /// (and retried).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub attempt_timeout: u64,
    /// Slowest body accepted, in bytes per second averaged over --low-speed-time; a slower
    /// body is abandoned and retried (0: no minimum).
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    pub low_speed_limit: u32,
    /// Seconds over which --low-speed-limit is averaged.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub low_speed_time: u64,
    /// Accept a window whose answer repeats a row key (an instance known to do so), keeping the
    /// rows as sent. By default such a window is pulled again, then fails.
    #[arg(long)]
    pub allow_repeated_keys: bool,
    /// Accept rows dated outside the window that asked for them (kept in the window's own
    /// partitions, never another day's). By default such a window is pulled again, then fails.
    #[arg(long)]
    pub accept_rows_outside_window: bool,
    /// Seconds from sending a request to the end of the response's head (status and headers):
    /// a server that accepts and never answers is given up after it (and retried).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub head_timeout: u64,
    /// Longest wait a server may ask for with Retry-After, in seconds; a longer demand fails
    /// the window at once, saying what the server asked.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub max_retry_after: u64,
}

/// How transient failures (throttling, HTTP 5xx, broken bodies) are retried.
#[derive(Debug, Args, Clone, Copy)]
pub struct RetryArgs {
    /// Retries of a request that failed transiently, after the first attempt (0: none).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub retries: u32,
    /// Backoff before the first retry, in milliseconds: a random wait up to this, doubling
    /// per retry (at most 60 s).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub retry_base_ms: u64,
}

/// How responses are read.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Decoding")]
pub struct DecodeArgs {
    /// Refuse elements the catalog does not know, values that do not fit their column and
    /// layouts other than the catalog's, instead of keeping them in _extra and _rejected (and,
    /// for `convert`, a saved response of another API version).
    #[arg(long)]
    pub strict: bool,
    /// Read contact persons' details (names, e-mail addresses, phones, IP addresses): without
    /// it those columns are null, and counted as withheld.
    #[arg(long)]
    pub include_personal_data: bool,
    /// Most bytes of one row's _extra (elements outside the catalog) and repeated values; a
    /// larger row fails its window.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_extra_bytes: usize,
    /// A row whose _extra is larger than --max-extra-bytes keeps what fits, with a truncation
    /// marker and its size in _rejected, instead of failing its window.
    #[arg(long)]
    pub truncate_extra: bool,
    /// Threads that decode one response (0: every available core). Large responses are cut
    /// into blocks of rows decoded side by side; the rows, their order and the errors are the
    /// same on any number.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub decode_threads: usize,
}

impl DecodeArgs {
    /// The decoder's options for an instance in `timezone`.
    pub fn options(&self, timezone: chrono_tz::Tz) -> cake_arrow::DecoderOptions {
        cake_arrow::DecoderOptions {
            timezone,
            strict: self.strict,
            personal_data: self.include_personal_data,
            max_extra_bytes: self.max_extra_bytes,
            truncate_extra: self.truncate_extra,
            threads: self.decode_threads,
            ..cake_arrow::DecoderOptions::default()
        }
    }
}

/// Where and how the Parquet output is written.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output location: a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://bucket/prefix")]
    pub out: Option<String>,
    /// replace: each window's partition holds exactly the new data (re-runs are idempotent);
    /// append: add files to it.
    #[arg(long, default_value = "replace", value_name = "replace|append")]
    pub mode: String,
    /// Keep each raw response, scrubbed of the API key and zstd-compressed, in the output's
    /// _raw/ folder (replayable with `convert`).
    #[arg(long)]
    pub keep_raw: bool,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Write the run's status, and rows, bytes, requests, retries and time per report and
    /// window, as JSON here (also when the run fails or is interrupted).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<std::path::PathBuf>,
    /// The table written, `<out>/<NAME>` (default: the report's id). A pull with other filters
    /// or another time zone than a table was written with needs a table of its own.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Rebuild the table when its contract (filters, time zone, window, instance, schema)
    /// differs from this run's: its partitions are deleted first.
    #[arg(long)]
    pub rebuild_table: bool,
    /// parquet: Parquet files in a hive layout with `_SUCCESS` manifests (what any Parquet
    /// reader reads); delta: a Delta Lake table per report (atomic commits, concurrent
    /// writers, history). See docs/output.md.
    #[arg(long, default_value = "parquet", value_name = "parquet|delta")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The sync config file (see docs/sync.md).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// Ignore saved state: start every dated report from its configured start.
    #[arg(long)]
    pub full_refresh: bool,
    /// The domain, key, protocol and --allow-insecure-http, each overriding the config's.
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The instance's time zone (IANA name), overriding the config's `timezone`.
    #[arg(long, env = "CAKE_TIMEZONE", value_name = "TZ")]
    pub timezone: Option<String>,
    /// Write the run's status, and rows, bytes, requests, retries and time per report and
    /// window, as JSON here (also when the run fails or is interrupted).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<std::path::PathBuf>,
    /// Rebuild every table whose contract differs from the config's: its partitions are
    /// deleted first.
    #[arg(long)]
    pub rebuild_tables: bool,
    /// Stop at the first report that fails (by default every report runs, failures are
    /// reported at the end and the exit code is the highest of theirs).
    #[arg(long)]
    pub fail_fast: bool,
    /// Only this report of the config (its table name, report id or display name); repeat
    /// for several.
    #[arg(long = "report", value_name = "NAME")]
    pub reports: Vec<String>,
    /// Print what each report would pull (the days after its state and lookback, its windows
    /// and first request) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the plan as one JSON document on stdout.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    #[command(flatten)]
    pub transport: TransportArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "./cake-demo")]
    pub out: String,
    /// Days pulled for dated reports (the days before today).
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Clicks and conversions per day in the sandbox.
    #[arg(long, default_value_t = 500)]
    pub rows_per_day: u32,
    /// parquet (hive layout with `_SUCCESS` manifests) or delta (a Delta Lake table per
    /// report).
    #[arg(long, default_value = "parquet", value_name = "parquet|delta")]
    pub format: String,
}

/// How a report's dates are cut and where they resolve.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// The Cake instance's time zone (IANA name). Relative dates resolve against today there,
    /// and Cake's datetimes (which carry no offset) are read in it.
    #[arg(long, env = "CAKE_TIMEZONE", default_value = "UTC", value_name = "TZ")]
    pub timezone: String,
    /// Window per request and per output partition for dated reports.
    #[arg(long, default_value = "day", value_name = "day|month")]
    pub window: String,
    /// Rows per page for paged reports (capped at the report's documented maximum).
    #[arg(long, value_name = "ROWS")]
    pub page_size: Option<u32>,
}

/// The report options as flags, built from the catalog's one table of options
/// ([`cake_catalog::OPTIONS`]: flag, value form, help), each value checked by the catalog's own
/// parser as it is read. Which options a report takes is in `describe <report>`.
#[derive(Debug, Clone, Default)]
pub struct ReportOptionArgs {
    pub options: cake_catalog::Options,
}

const OPTIONS_HEADING: &str = "Report options (see `describe <report>` for the ones it takes)";

impl clap::FromArgMatches for ReportOptionArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ReportOptionArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for spec in &cake_catalog::OPTIONS {
            if let Some(value) = matches.get_one::<String>(spec.key) {
                self.options.set(spec.name, value).map_err(|e| {
                    clap::Error::raw(
                        clap::error::ErrorKind::ValueValidation,
                        format!("invalid value for {}: {e}\n", spec.flag),
                    )
                })?;
            }
        }
        Ok(())
    }
}

impl Args for ReportOptionArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cake_catalog::OPTIONS.iter().fold(cmd, |cmd, spec| {
            let name = spec.name;
            cmd.arg(
                clap::Arg::new(spec.key)
                    .long(spec.flag.trim_start_matches('-'))
                    .value_name(spec.value)
                    .help(spec.help)
                    .help_heading(OPTIONS_HEADING)
                    // `--past-days -3` reaches the catalog's parser, which says what is wrong.
                    .allow_negative_numbers(true)
                    // The catalog's parser checks the value as clap reads it.
                    .value_parser(move |s: &str| {
                        cake_catalog::Options::default()
                            .set(name, s)
                            .map(|()| s.to_string())
                            .map_err(|e| e.to_string())
                    }),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

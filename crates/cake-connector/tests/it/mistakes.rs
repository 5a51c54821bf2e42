//! The mistakes of `docs/mistakes.md`, each run for real: a plausible wrong command line,
//! environment, config file, saved response or output location, with the exit code it must
//! end with and a phrase its message must hold (what was wrong, and what to do). Every run
//! is also held to what any message promises: each line of stdout and stderr fits 80
//! columns, the API key appears in neither, and a failure says so on a line starting
//! `error:`. The page must list every case under its name, with its exit code.

use crate::common;

/// The binary's folding, to fold again a message whose varying part was replaced.
#[allow(dead_code)]
#[path = "../../src/fit.rs"]
mod fit;

use cake_sandbox::SandboxConfig;
use common::*;

const KEY: &str = "mistakes-key-51c0e2a9";

/// A key the sandbox refuses.
const WRONG_KEY: &str = "not-the-key-0000";

/// An instance that never resolves (RFC 6761): a run that gets past the check it is about
/// fails at once instead of asking a real host.
const DOMAIN: &str = "acme.invalid";

/// The environment of most runs: the key, and none of the caller's `CAKE_*` variables.
const WITH_KEY: &[(&str, &str)] = &[("CAKE_API_KEY", KEY)];

struct Mistake {
    /// The heading of the case on the page, `### N. <name>`; unique.
    name: &'static str,
    /// The command line, with `{url}` (the sandbox's address), `{host}` (the same without
    /// `http://`), `{dir}` (a temporary directory of the case's own) and `{out}` (a
    /// directory under it that does not exist yet) filled in.
    args: &'static [&'static str],
    /// Added to an environment without the caller's `CAKE_*` variables.
    env: &'static [(&'static str, &'static str)],
    /// Written before the run as `{dir}/<name>` (folders created); text has the
    /// placeholders of `args` filled in.
    files: &'static [(&'static str, &'static [u8])],
    /// Whether the run needs the sandbox.
    server: bool,
    code: i32,
    /// What stderr must say; any run of whitespace matches any other, since messages wrap.
    phrase: &'static str,
}

/// What a case has unless it says otherwise: the key in the environment, no file, no
/// sandbox, exit 2.
const M: Mistake = Mistake {
    name: "",
    args: &[],
    env: WITH_KEY,
    files: &[],
    server: false,
    code: 2,
    phrase: "",
};

/// A Clicks response as Cake sends it over GET.
const CLICKS_XML: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/responses/clicks/get.xml"
));

/// The key, in a key file.
const KEY_FILE: &[u8] = KEY.as_bytes();

/// A key file holding a line end and nothing else.
const EMPTY_KEY: &[u8] = b"\n";

/// A file of nothing.
const EMPTY: &[u8] = b"";

/// A few bytes of someone else's.
const NOTES: &[u8] = b"notes\n";

/// A config that does not say where the tables go.
const NO_OUTPUT: &[u8] = br#"[instance]
domain = "acme.invalid"

[[report]]
report = "offers"
"#;

/// `window` misspelt under `[output]`.
const MISSPELT_KEY: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"
windwo = "day"

[[report]]
report = "offers"
"#;

/// A report the catalog does not have.
const UNKNOWN_REPORT: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[[report]]
report = "clickz"
"#;

/// The config written in YAML.
const YAML: &[u8] = br#"instance:
  domain: acme.invalid
output:
  location: {dir}/lake
report:
  - report: offers
"#;

/// `[report]` for `[[report]]`.
const SINGLE_BRACKETS: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[report]
report = "offers"
"#;

/// A number written as a string.
const QUOTED_NUMBER: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[defaults]
start = "2026-01-01"
lookback_days = "7"

[[report]]
report = "clicks"
"#;

/// An option Offers does not take.
const OPTION_NOT_TAKEN: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[[report]]
report = "offers"
conversion_type = "all"
"#;

/// Clicks twice (with and without a filter), in one table.
const TWICE: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[defaults]
start = "2026-01-01"

[[report]]
report = "clicks"
offer_id = 12

[[report]]
report = "clicks"
"#;

/// A dated report and no `start` anywhere.
const NO_START: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[[report]]
report = "clicks"
"#;

/// No `[[report]]` at all.
const NO_REPORTS: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"
"#;

/// A table name that is a path.
const TABLE_PATH: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[[report]]
report = "offers"
table = "../x"
"#;

/// Offers alone.
const OFFERS: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[[report]]
report = "offers"
"#;

/// Offers alone, from the sandbox.
const SANDBOX_OFFERS: &[u8] = br#"[instance]
domain = "{url}"

[output]
location = "{dir}/lake"

[[report]]
report = "offers"
"#;

/// Clicks, into `{dir}/lake`.
const CLICKS_SINCE: &[u8] = br#"[instance]
domain = "acme.invalid"

[output]
location = "{dir}/lake"

[defaults]
start = "2026-01-01"

[[report]]
report = "clicks"
"#;

/// The state of Clicks as a run whose clock was far ahead left it.
const FUTURE_STATE: &[u8] = br#"{
  "report": "clicks",
  "committed_through": "2099-01-01",
  "changes_since": null,
  "last_run": "2099-01-01T00:00:00Z",
  "connector_version": "0.1.0"
}
"#;

/// The contract of a Clicks table pulled from the sandbox with `--offer-id 12`.
const OFFER_12: &[u8] = br#"{
  "fields": {
    "endpoint": "/api/12/reports.asmx/Clicks",
    "instance": "127.0.0.1",
    "layout": "window of one day",
    "param.advertiser_id": "0",
    "param.offer_id": "12",
    "report": "clicks",
    "schema": "0e3f1aa219a47296",
    "timezone": "UTC"
  }
}
"#;

/// JSON where a saved response should be.
const JSON_RESPONSE: &[u8] = br#"{"d": {"success": true, "row_count": 0, "clicks": []}}
"#;

/// The login page a proxy answers with.
const HTML_PAGE: &[u8] = br#"<!DOCTYPE html>
<html><head><title>Sign in</title></head><body>Sign in to CAKE</body></html>
"#;

fn mistakes() -> Vec<Mistake> {
    vec![
        Mistake {
            name: "a misspelt report name",
            args: &[
                "pull",
                "click",
                "--past-days",
                "1",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "(did you mean clicks?)",
            ..M
        },
        Mistake {
            name: "two reports in one pull",
            args: &[
                "pull",
                "clicks",
                "conversions",
                "--past-days",
                "1",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "list them in a sync config",
            ..M
        },
        Mistake {
            name: "a misspelt option",
            args: &[
                "pull",
                "clicks",
                "--past-day",
                "3",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "a similar argument exists: '--past-days'",
            ..M
        },
        Mistake {
            name: "a misspelt command",
            args: &[
                "pul",
                "clicks",
                "--past-days",
                "1",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "a similar subcommand exists: 'pull'",
            ..M
        },
        Mistake {
            name: "a misspelt key option",
            args: &[
                "pull", "offers", "--domain", DOMAIN, "--out", "{out}", "--apikey", KEY,
            ],
            phrase: "a similar argument exists: '--api-key'",
            ..M
        },
        Mistake {
            name: "the key where the report goes",
            args: &[
                "pull",
                "clicks",
                KEY,
                "--past-days",
                "1",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "run pull once per report",
            ..M
        },
        Mistake {
            name: "a filter the report does not take",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--conversion-type",
                "events",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "Clicks does not take --conversion-type; it takes",
            ..M
        },
        Mistake {
            name: "an affiliate filter on offers",
            args: &[
                "pull",
                "offers",
                "--affiliate-name",
                "Acme Media",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "Offers does not take --affiliate-name; it takes",
            ..M
        },
        Mistake {
            name: "an unknown conversion type",
            args: &[
                "pull",
                "conversions",
                "--past-days",
                "1",
                "--conversion-type",
                "sales",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "use conversions, events or all",
            ..M
        },
        Mistake {
            name: "an offer id that is not a number",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--offer-id",
                "abc",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "ids are positive whole numbers",
            ..M
        },
        Mistake {
            name: "an unknown output format",
            args: &[
                "pull", "offers", "--domain", DOMAIN, "--out", "{out}", "--format", "csv",
            ],
            phrase: "use parquet or delta",
            ..M
        },
        Mistake {
            name: "an unknown window",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--window",
                "week",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "use day or month",
            ..M
        },
        Mistake {
            name: "an unknown write mode",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--mode",
                "upsert",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "use replace or append",
            ..M
        },
        Mistake {
            name: "a page size of zero",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--page-size",
                "0",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "--page-size must be at least 1",
            ..M
        },
        Mistake {
            name: "--json without --dry-run",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--json",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "required arguments were not provided: --dry-run",
            ..M
        },
        Mistake {
            name: "sync without its config",
            args: &["sync"],
            phrase: "required arguments were not provided: --config <FILE>",
            ..M
        },
        Mistake {
            name: "an unknown log format",
            args: &["--log-format", "xml", "reports"],
            phrase: "[possible values: text, json]",
            ..M
        },
        Mistake {
            name: "Past Days of zero",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "0",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "use --days-back 0 for today",
            ..M
        },
        Mistake {
            name: "negative Past Days",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "-3",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "Past Days must be at least 1",
            ..M
        },
        Mistake {
            name: "Past Days in words",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "thirty",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "write a whole number of days",
            ..M
        },
        Mistake {
            name: "a day February does not have",
            args: &[
                "pull",
                "clicks",
                "--date",
                "2026-02-30",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "February 2026 has 28 days",
            ..M
        },
        Mistake {
            name: "a date written month first",
            args: &[
                "pull",
                "clicks",
                "--date",
                "12/01/2026",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "write it as YYYY-MM-DD",
            ..M
        },
        Mistake {
            name: "a range that ends before it starts",
            args: &[
                "pull",
                "clicks",
                "--start",
                "2026-03-10",
                "--end",
                "2026-03-01",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "swap the two ends",
            ..M
        },
        Mistake {
            name: "a range without its end",
            args: &[
                "pull",
                "clicks",
                "--start",
                "2026-03-01",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "--start needs --end or --end-days-back",
            ..M
        },
        Mistake {
            name: "an end without a start",
            args: &[
                "pull",
                "clicks",
                "--end",
                "2026-03-01",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "--end needs --start or --start-days-back",
            ..M
        },
        Mistake {
            name: "--date and --days-back together",
            args: &[
                "pull",
                "clicks",
                "--days-back",
                "2",
                "--date",
                "2026-01-05",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "--date and --days-back cannot be combined",
            ..M
        },
        Mistake {
            name: "a dated report without dates",
            args: &["pull", "clicks", "--domain", DOMAIN, "--out", "{out}"],
            phrase: "Clicks needs dates: give --past-days N",
            ..M
        },
        Mistake {
            name: "a date on a report without dates",
            args: &[
                "pull",
                "offers",
                "--date",
                "2026-01-05",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "Offers does not take --date",
            ..M
        },
        Mistake {
            name: "a day in the future",
            args: &[
                "pull",
                "clicks",
                "--date",
                "2099-01-01",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "give dates up to today",
            ..M
        },
        Mistake {
            name: "a time zone that is not an IANA name",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--timezone",
                "America/NewYork",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "use an IANA name",
            ..M
        },
        Mistake {
            name: "nonsense in CAKE_TIMEZONE",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            env: &[("CAKE_API_KEY", KEY), ("CAKE_TIMEZONE", "Eastern")],
            phrase: "CAKE_TIMEZONE",
            ..M
        },
        Mistake {
            name: "check with nothing set",
            args: &["check"],
            env: &[],
            phrase: "set CAKE_API_KEY",
            ..M
        },
        Mistake {
            name: "no domain",
            args: &["pull", "offers", "--out", "{out}"],
            phrase: "--domain is required (or CAKE_DOMAIN)",
            ..M
        },
        Mistake {
            name: "a domain with the API path",
            args: &[
                "pull",
                "offers",
                "--domain",
                "https://acme.cake.com/api/12",
                "--out",
                "{out}",
            ],
            phrase: "give only the instance's address",
            ..M
        },
        Mistake {
            name: "a domain with another scheme",
            args: &[
                "pull",
                "offers",
                "--domain",
                "ftp://acme.example.com",
                "--out",
                "{out}",
            ],
            phrase: "Cake answers over https://",
            ..M
        },
        Mistake {
            name: "plain http to a remote host",
            args: &[
                "pull",
                "offers",
                "--domain",
                "http://cake.example.com",
                "--out",
                "{out}",
            ],
            phrase: "or pass --allow-insecure-http",
            ..M
        },
        Mistake {
            name: "an instance that is not running",
            args: &["check", "--domain", "http://127.0.0.1:1"],
            code: 5,
            phrase: "check the domain",
            ..M
        },
        Mistake {
            name: "a key file that is not there",
            args: &[
                "pull",
                "offers",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
                "--api-key-file",
                "{dir}/cake.key",
            ],
            env: &[],
            phrase: "check --api-key-file or CAKE_API_KEY_FILE",
            ..M
        },
        Mistake {
            name: "an empty key file",
            args: &[
                "pull",
                "offers",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
                "--api-key-file",
                "{dir}/cake.key",
            ],
            env: &[],
            files: &[("cake.key", EMPTY_KEY)],
            phrase: "is empty; write the key into it",
            ..M
        },
        Mistake {
            name: "a key file and CAKE_API_KEY together",
            args: &[
                "pull",
                "offers",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
                "--api-key-file",
                "{dir}/cake.key",
            ],
            files: &[("cake.key", KEY_FILE)],
            phrase: "CAKE_API_KEY",
            ..M
        },
        Mistake {
            name: "a wrong API key",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--domain",
                "{url}",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            env: &[("CAKE_API_KEY", WRONG_KEY)],
            server: true,
            code: 3,
            phrase: "check the key configured for this instance",
            ..M
        },
        Mistake {
            name: "a wrong API key for check",
            args: &["check", "--domain", "{url}"],
            env: &[("CAKE_API_KEY", WRONG_KEY)],
            server: true,
            code: 3,
            phrase: "check the key configured for this instance",
            ..M
        },
        Mistake {
            name: "a wrong API key over GET",
            args: &[
                "pull",
                "offers",
                "--protocol",
                "get",
                "--domain",
                "{url}",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            env: &[("CAKE_API_KEY", WRONG_KEY)],
            server: true,
            code: 3,
            phrase: "refused the API key",
            ..M
        },
        Mistake {
            name: "https to a plain http server",
            args: &[
                "pull",
                "offers",
                "--domain",
                "https://{host}",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            server: true,
            code: 6,
            phrase: "this server speaks plain http, not https",
            ..M
        },
        Mistake {
            name: "an address without its scheme",
            args: &[
                "pull",
                "offers",
                "--domain",
                "{host}",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            server: true,
            code: 6,
            phrase: "as the domain if that is what you meant",
            ..M
        },
        Mistake {
            name: "pull without --out",
            args: &["pull", "offers", "--domain", DOMAIN],
            phrase: "--out is required",
            ..M
        },
        Mistake {
            name: "--out at a regular file",
            args: &["pull", "offers", "--domain", DOMAIN, "--out", "{dir}/lake"],
            files: &[("lake", NOTES)],
            phrase: "is a file, not a directory",
            ..M
        },
        Mistake {
            name: "an output on Google Cloud Storage",
            args: &[
                "pull",
                "offers",
                "--domain",
                DOMAIN,
                "--out",
                "gs://bucket/cake",
            ],
            phrase: "the gs:// scheme is not supported",
            ..M
        },
        Mistake {
            name: "s3 with one slash",
            args: &["pull", "offers", "--domain", DOMAIN, "--out", "s3:/bucket"],
            phrase: "write s3://bucket/prefix",
            ..M
        },
        Mistake {
            name: "a summary file in a missing folder",
            args: &[
                "pull",
                "offers",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
                "--summary-json",
                "{dir}/runs/run.json",
            ],
            phrase: "does not exist; create it",
            ..M
        },
        Mistake {
            name: "a table name with a path",
            args: &[
                "pull", "offers", "--domain", DOMAIN, "--out", "{out}", "--table", "../x",
            ],
            phrase: "use letters, digits, `-` and `_`",
            ..M
        },
        Mistake {
            name: "the same table with another filter",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "2",
                "--domain",
                "{url}",
                "--out",
                "{dir}/lake",
            ],
            files: &[("lake/clicks/_table.json", OFFER_12)],
            server: true,
            phrase: "or rebuild the table with --rebuild-table",
            ..M
        },
        Mistake {
            name: "a Delta pull into a Parquet table",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "2",
                "--offer-id",
                "12",
                "--domain",
                "{url}",
                "--out",
                "{dir}/lake",
                "--format",
                "delta",
            ],
            files: &[("lake/clicks/_table.json", OFFER_12)],
            server: true,
            phrase: "format: the table has parquet, this run delta",
            ..M
        },
        Mistake {
            name: "the demo into a folder with other data",
            args: &[
                "demo",
                "--out",
                "{dir}/photos",
                "--days",
                "1",
                "--rows-per-day",
                "5",
            ],
            files: &[("photos/notes.txt", NOTES)],
            phrase: "give another --out",
            ..M
        },
        Mistake {
            name: "a config without [output]",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", NO_OUTPUT)],
            phrase: "at least `[output]`",
            ..M
        },
        Mistake {
            name: "a misspelt config key",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", MISSPELT_KEY)],
            phrase: "line 6: unknown field `windwo`",
            ..M
        },
        Mistake {
            name: "a report the catalog does not have",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", UNKNOWN_REPORT)],
            phrase: "unknown report `clickz` (did you mean clicks?)",
            ..M
        },
        Mistake {
            name: "a config in YAML",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", YAML)],
            phrase: "TOML",
            ..M
        },
        Mistake {
            name: "a config that is not there",
            args: &["sync", "--config", "{dir}/cake.toml"],
            phrase: "check the path",
            ..M
        },
        Mistake {
            name: "one bracket pair around [report]",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", SINGLE_BRACKETS)],
            phrase: "`[[report]]` table (two brackets)",
            ..M
        },
        Mistake {
            name: "a number in quotes",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", QUOTED_NUMBER)],
            phrase: "whole number",
            ..M
        },
        Mistake {
            name: "a config option the report does not take",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", OPTION_NOT_TAKEN)],
            phrase: "it takes",
            ..M
        },
        Mistake {
            name: "one report twice without table names",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", TWICE)],
            phrase: "give one of them `table = \"...\"`",
            ..M
        },
        Mistake {
            name: "a dated report without a start",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", NO_START)],
            phrase: "give `start = \"YYYY-MM-DD\"`",
            ..M
        },
        Mistake {
            name: "a config with no reports",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[("cake.toml", NO_REPORTS)],
            phrase: "add at least one",
            ..M
        },
        Mistake {
            name: "a table name with a path in a config",
            args: &["sync", "--config", "{dir}/cake.toml", "--rebuild-tables"],
            files: &[("cake.toml", TABLE_PATH)],
            phrase: "is not a table name",
            ..M
        },
        Mistake {
            name: "--report not in the config",
            args: &["sync", "--config", "{dir}/cake.toml", "--report", "clicks"],
            files: &[("cake.toml", OFFERS)],
            phrase: "the config has no such report; it has offers",
            ..M
        },
        Mistake {
            name: "a state from the future",
            args: &["sync", "--config", "{dir}/cake.toml"],
            files: &[
                ("cake.toml", CLICKS_SINCE),
                ("lake/_state/clicks.json", FUTURE_STATE),
            ],
            phrase: "Check this machine's clock",
            ..M
        },
        Mistake {
            name: "a dry run over a state from the future",
            args: &["sync", "--config", "{dir}/cake.toml", "--dry-run"],
            files: &[
                ("cake.toml", CLICKS_SINCE),
                ("lake/_state/clicks.json", FUTURE_STATE),
            ],
            phrase: "the real run exits the same way",
            ..M
        },
        Mistake {
            name: "a wrong API key for sync",
            args: &["sync", "--config", "{dir}/cake.toml", "--retries", "0"],
            env: &[("CAKE_API_KEY", WRONG_KEY)],
            files: &[("cake.toml", SANDBOX_OFFERS)],
            server: true,
            code: 3,
            phrase: "check the key configured for this instance",
        },
        Mistake {
            name: "a JSON file",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.json",
            ],
            files: &[("clicks.json", JSON_RESPONSE)],
            code: 8,
            phrase: "is not a Cake XML response: it is a JSON document",
            ..M
        },
        Mistake {
            name: "an empty file",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.xml",
            ],
            files: &[("clicks.xml", EMPTY)],
            code: 8,
            phrase: "is empty",
            ..M
        },
        Mistake {
            name: "an HTML page",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.html",
            ],
            files: &[("clicks.html", HTML_PAGE)],
            code: 8,
            phrase: "HTML",
            ..M
        },
        Mistake {
            name: "a response of another report",
            args: &[
                "convert",
                "--report",
                "conversions",
                "--out",
                "{dir}/conversions.parquet",
                "{dir}/clicks.xml",
            ],
            files: &[("clicks.xml", CLICKS_XML)],
            code: 8,
            phrase: "--report clicks",
            ..M
        },
        Mistake {
            name: "a saved response that is not there",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.xml",
            ],
            phrase: "check the path of the saved response",
            ..M
        },
        Mistake {
            name: "onto an existing output",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.xml",
            ],
            files: &[("clicks.xml", CLICKS_XML), ("clicks.parquet", NOTES)],
            phrase: "or --force to replace it",
            ..M
        },
        Mistake {
            name: "an unknown report for convert",
            args: &[
                "convert",
                "--report",
                "clickz",
                "--out",
                "{dir}/clicks.parquet",
                "{dir}/clicks.xml",
            ],
            files: &[("clicks.xml", CLICKS_XML)],
            phrase: "(did you mean clicks?)",
            ..M
        },
        Mistake {
            name: "into a folder that does not exist",
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "{dir}/nodir/clicks.parquet",
                "{dir}/clicks.xml",
            ],
            files: &[("clicks.xml", CLICKS_XML)],
            phrase: "does not exist: create it first",
            ..M
        },
        Mistake {
            name: "status of a missing location",
            args: &["status", "--out", "{out}"],
            phrase: "it never creates one",
            ..M
        },
        Mistake {
            name: "status history of a missing location",
            args: &["status", "--out", "{out}", "--history", "5"],
            phrase: "check the path",
            ..M
        },
        Mistake {
            name: "status without --out",
            args: &["status"],
            phrase: "required arguments were not provided: --out",
            ..M
        },
        Mistake {
            name: "status with a config that is not there",
            args: &["status", "--out", "{dir}", "--config", "{dir}/cake.toml"],
            phrase: "check the path",
            ..M
        },
        Mistake {
            name: "describe a misspelt report",
            args: &["describe", "clickz"],
            phrase: "(did you mean clicks?)",
            ..M
        },
        Mistake {
            name: "completions for an unknown shell",
            args: &["completions", "tcsh"],
            phrase: "[possible values: bash, elvish, fish, powershell, zsh]",
            ..M
        },
        Mistake {
            name: "a budget of zero requests per minute",
            args: &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--requests-per-minute",
                "0",
                "--domain",
                DOMAIN,
                "--out",
                "{out}",
            ],
            phrase: "leave it out for no budget",
            ..M
        },
    ]
}

/// `text` with every run of whitespace (a line end and the indent of a continuation line
/// included) as one space.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_mistake_says_what_to_do() {
    let cases = mistakes();
    let server = cases.iter().any(|m| m.server).then(|| {
        Server::start(SandboxConfig {
            api_key: KEY.into(),
            rows_per_day: 5,
            seed: 3,
            ..SandboxConfig::default()
        })
    });
    let url = server.as_ref().map(Server::url).unwrap_or_default();
    let host = url.trim_start_matches("http://").to_string();
    let mut failures = Vec::new();
    let mut transcript = String::new();
    for m in &cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let fill = |text: &str| {
            text.replace("{url}", &url)
                .replace("{host}", &host)
                .replace("{dir}", s(dir.path()))
                .replace("{out}", s(&out))
        };
        for (name, contents) in m.files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match std::str::from_utf8(contents) {
                Ok(text) => std::fs::write(&path, fill(text)).unwrap(),
                Err(_) => std::fs::write(&path, contents).unwrap(),
            }
        }
        let args: Vec<String> = m.args.iter().map(|a| fill(a)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Without a terminal, lines wrap at COLUMNS: 80 here, the width every message
        // promises, instead of the wide one `common::command` gives.
        let mut env = vec![("COLUMNS", "80")];
        env.extend_from_slice(m.env);
        let r = run(&args, &env);

        // The messages as printed at 80 columns, snapshot: what changes from run to run
        // (the case's folder, the sandbox's address, today, durations) in fixed words.
        let today = chrono::Utc::now().date_naive().to_string();
        let shown: Vec<&str> = r
            .stderr
            .lines()
            .skip_while(|l| !l.starts_with("error:"))
            .collect();
        let shown = stable_folded(
            &shown
                .join("\n")
                .replace(s(dir.path()), "DIR")
                .replace(&host, "HOST")
                .replace(&today, "TODAY"),
        );
        transcript.push_str(&format!("### {}\nexit {}\n{shown}\n\n", m.name, r.code));

        let mut wrong = Vec::new();
        if r.code != m.code {
            wrong.push(format!("exit {} instead of {}", r.code, m.code));
        }
        if !squeeze(&r.stderr).contains(&squeeze(m.phrase)) {
            wrong.push(format!("stderr does not say {:?}", m.phrase));
        }
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            for line in text.lines().filter(|l| l.chars().count() > 80) {
                wrong.push(format!(
                    "{stream} has a line of {} columns: {line}",
                    line.chars().count()
                ));
            }
        }
        let keys = m
            .env
            .iter()
            .filter(|(k, v)| *k == "CAKE_API_KEY" && !v.is_empty())
            .map(|(_, v)| *v);
        for key in std::iter::once(KEY).chain(keys) {
            if r.stdout.contains(key) || r.stderr.contains(key) {
                wrong.push(format!("the key {key} is shown"));
            }
        }
        if r.code != 0 && !r.stderr.lines().any(|l| l.starts_with("error:")) {
            wrong.push("no line of stderr starts with `error:`".to_string());
        }
        if !wrong.is_empty() {
            let indent = |text: &str| {
                let lines: Vec<String> = text.lines().map(|l| format!("    {l}\n")).collect();
                lines.concat()
            };
            failures.push(format!(
                "{}: {}\n  $ cake-connector {}\n  stdout:\n{}  stderr:\n{}",
                m.name,
                wrong.join("; "),
                args.join(" ").replace(KEY, "$CAKE_API_KEY"),
                indent(&r.stdout),
                indent(&r.stderr)
            ));
        }
    }
    insta::assert_snapshot!("messages-at-80-columns", transcript);
    assert!(
        failures.is_empty(),
        "{} of {} mistakes:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The first line that is not blank after the first ```sh block of a case's section (the
/// lines below its heading, up to the next heading).
fn after_command(section: &[&str]) -> Option<String> {
    let mut lines = section
        .iter()
        .copied()
        .take_while(|l| !l.starts_with("## ") && !l.starts_with("### "))
        .skip_while(|l| *l != "```sh")
        .skip(1)
        .skip_while(|l| *l != "```")
        .skip(1);
    lines.find(|l| !l.trim().is_empty()).map(str::to_string)
}

#[test]
fn the_mistakes_page_lists_every_case() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/mistakes.md"
    ))
    .unwrap();
    let lines: Vec<&str> = page.lines().collect();
    let cases = mistakes();
    let mut problems = Vec::new();

    // The headings `### N. name`, numbered from 1 down the page, with their line.
    let mut headings: Vec<(&str, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(heading) = line.strip_prefix("### ") else {
            continue;
        };
        let numbered = heading
            .split_once(". ")
            .and_then(|(n, name)| Some((n.parse::<usize>().ok()?, name)));
        let Some((n, name)) = numbered else {
            problems.push(format!("line {}: `{line}` is not `### N. <name>`", i + 1));
            continue;
        };
        if n != headings.len() + 1 {
            problems.push(format!(
                "line {}: `{line}` should be number {}",
                i + 1,
                headings.len() + 1
            ));
        }
        headings.push((name, i));
    }
    if headings.len() < 40 {
        problems.push(format!("the page lists {} mistakes", headings.len()));
    }
    if cases.len() < 40 {
        problems.push(format!("{} cases", cases.len()));
    }

    for (i, m) in cases.iter().enumerate() {
        if cases[..i].iter().any(|other| other.name == m.name) {
            problems.push(format!("two cases are named {:?}", m.name));
        }
        let Some(&(_, at)) = headings.iter().find(|(name, _)| *name == m.name) else {
            problems.push(format!("no heading `### N. {}`", m.name));
            continue;
        };
        let want = format!("Exit {}.", m.code);
        let got = after_command(&lines[at + 1..]);
        if got.as_deref() != Some(want.as_str()) {
            problems.push(format!(
                "{}: `{want}` should follow the command, not {got:?}",
                m.name
            ));
        }
    }
    for (name, _) in &headings {
        if !cases.iter().any(|m| m.name == *name) {
            problems.push(format!("`{name}` is on the page but not a case"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `text` with its varying parts in fixed words ([`stable`]); a paragraph (a line and its
/// continuation lines, indented by two) that held one is folded again at 80 columns, since
/// the length of a duration moves its line breaks from run to run.
fn stable_folded(text: &str) -> String {
    let mut paragraphs: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let continuation = line.starts_with("  ")
            && !line.starts_with("   ")
            && !line.trim_start().starts_with("tip:");
        match paragraphs.last_mut() {
            Some(paragraph) if continuation => paragraph.push(line),
            _ => paragraphs.push(vec![line]),
        }
    }
    let mut out = Vec::new();
    for paragraph in paragraphs {
        let joined = paragraph
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ");
        let fixed = stable(&joined);
        if fixed == joined {
            out.push(paragraph.join("\n"));
        } else {
            out.push(fit::fold(&fixed, 80));
        }
    }
    out.join("\n")
}

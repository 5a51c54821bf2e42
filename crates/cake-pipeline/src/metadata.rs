//! The key/value metadata of every file the connector writes: one definition of the `cake.*`
//! keys and of the entries common to `pull` and `convert`, so that readers find the same keys
//! whatever wrote the file.

use cake_catalog::Report;

/// The `cake.*` keys of a file's metadata (and of a Delta commit's operation parameters).
pub mod keys {
    /// The report's id.
    pub const REPORT: &str = "cake.report";
    /// The table written (the report's id unless named otherwise).
    pub const TABLE: &str = "cake.table";
    /// The endpoint's path, `/api/12/reports.asmx/Clicks`.
    pub const ENDPOINT: &str = "cake.endpoint";
    pub const API_VERSION: &str = "cake.api_version";
    /// The instance's host.
    pub const INSTANCE: &str = "cake.instance";
    /// The instance's time zone, in which Cake's datetimes were read.
    pub const TIMEZONE: &str = "cake.timezone";
    /// When the pull ran (UTC, RFC 3339).
    pub const PULLED_AT: &str = "cake.pulled_at";
    pub const CONNECTOR_VERSION: &str = "cake.connector_version";
    /// The table's contract, as JSON.
    pub const CONTRACT: &str = "cake.contract";
    /// The window's first day and the day after its last (instance-local), and the same instants
    /// in UTC.
    pub const WINDOW_START: &str = "cake.window_start";
    pub const WINDOW_END_EXCLUSIVE: &str = "cake.window_end_exclusive";
    pub const WINDOW_START_UTC: &str = "cake.window_start_utc";
    pub const WINDOW_END_UTC: &str = "cake.window_end_utc";
    /// Where a change feed started.
    pub const CHANGES_SINCE: &str = "cake.changes_since";
    /// The saved responses a converted file comes from.
    pub const SOURCE_FILES: &str = "cake.source_files";
}

/// The entries every file of `report` carries: the report, its endpoint and API version, the
/// time zone its datetimes were read in, and the connector's version.
pub fn report_metadata(report: &Report, timezone: &str) -> Vec<(String, String)> {
    vec![
        (keys::REPORT.into(), report.id.into()),
        (keys::ENDPOINT.into(), report.endpoint.path()),
        (
            keys::API_VERSION.into(),
            report.endpoint.version.to_string(),
        ),
        (keys::TIMEZONE.into(), timezone.into()),
        (
            keys::CONNECTOR_VERSION.into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
    ]
}

/// The metadata of a file converted from saved responses (`sources`: their file names).
pub fn convert_metadata(
    report: &Report,
    timezone: &str,
    sources: &[String],
) -> Vec<(String, String)> {
    let mut m = report_metadata(report, timezone);
    m.push((keys::SOURCE_FILES.into(), sources.join(",")));
    m
}

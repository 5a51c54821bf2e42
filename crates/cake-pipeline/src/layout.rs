//! Where things live in an output location, named and parsed in one place: the partition of a
//! day, the record of a table's runs, its sync state, the raw responses a pull keeps.
//!
//! ```text
//! <location>/
//!   clicks/date=2024-03-01/...     a day's partition (`day_partition`)
//!   _state/clicks.json             where the next sync starts (`state_path`)
//!   _runs/clicks.json              how the table's last run ended (`runs_path`)
//!   _runs/clicks/20260301T020000Z-<run>.json   every run, oldest first (`history_entry`)
//!   _raw/clicks/date=2024-03-01/<run>-page-00001.xml.zst    (`raw_path`)
//! ```

use cake_catalog::PARTITION_DAY;
use chrono::NaiveDate;

/// The partition of a day: `date=2024-03-01`.
pub fn day_partition(day: NaiveDate) -> String {
    format!("{PARTITION_DAY}={day}")
}

/// The day of a partition named by [`day_partition`]; `None` for any other name.
pub fn partition_day(partition: &str) -> Option<NaiveDate> {
    partition
        .strip_prefix(PARTITION_DAY)?
        .strip_prefix('=')?
        .parse()
        .ok()
}

/// Where a table's sync state is kept.
pub fn state_path(table: &str) -> String {
    format!("_state/{table}.json")
}

/// Where the record of a table's runs is kept.
pub fn runs_path(table: &str) -> String {
    format!("_runs/{table}.json")
}

/// Where a table's run history is kept: one document per run.
pub fn history_dir(table: &str) -> String {
    format!("_runs/{table}")
}

/// The history entry of the run `run` of `table` that finished at `finished_at` (RFC 3339):
/// named so that names sort as the runs ended.
pub fn history_entry(table: &str, finished_at: &str, run: &str) -> String {
    let stamp: String = finished_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{}/{stamp}-{run}.json", history_dir(table))
}

/// Where a raw response of a pull is kept: by table, by partition (`snapshot` for an
/// unpartitioned table), by run and page (1-based).
pub fn raw_path(table: &str, partition: Option<&str>, run: &str, page: u32) -> String {
    format!(
        "_raw/{table}/{}/{run}-page-{page:05}.xml.zst",
        partition.unwrap_or("snapshot")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(day_partition(day), "date=2024-03-01");
        assert_eq!(partition_day(&day_partition(day)), Some(day));
        assert_eq!(partition_day("date=2024-02-30"), None);
        assert_eq!(partition_day("day=2024-03-01"), None);
        assert_eq!(
            history_entry("clicks", "2026-03-01T02:00:00Z", "r1"),
            "_runs/clicks/20260301T020000Z-r1.json"
        );
        assert_eq!(
            raw_path("clicks", None, "r1", 3),
            "_raw/clicks/snapshot/r1-page-00003.xml.zst"
        );
    }
}

//! A table's contract as this connector writes it: everything that decides which rows a
//! partition holds and how they read. Runs that agree on it may write one table; a run that
//! differs (another filter, time zone, window size, instance or catalog schema) would mix rows
//! that do not belong together, and is refused before its first request.

use cake_catalog::{DateSemantics, Layout, ParamValue, Plan, Report};
use cake_sink::TableContract;
use cake_transport::Client;

/// The contract of the table `plan` writes through `client`; `personal`: the run reads the
/// report's personal columns (contact persons' details), which a table either holds in every
/// row or in none.
pub fn contract_for(client: &Client, plan: &Plan, personal: bool) -> TableContract {
    let report = plan.report;
    let mut fields = vec![
        ("report".to_string(), report.id.to_string()),
        ("endpoint".to_string(), report.endpoint.path()),
        ("schema".to_string(), schema_fingerprint(report)),
        ("instance".to_string(), client.instance().host()),
        ("timezone".to_string(), plan.timezone.to_string()),
        ("layout".to_string(), layout(plan)),
    ];
    if report.has_personal() {
        let kept = if personal { "read" } else { "withheld" };
        fields.push(("personal_data".to_string(), kept.to_string()));
    }
    // Every parameter an option can set, with the value this plan sends (the default when the
    // option is not given): these choose the rows.
    if let Some(request) = plan.requests.first() {
        for p in &request.params {
            let takes_option = report
                .param(p.name)
                .is_some_and(|param| param.menu.is_some());
            if let (true, ParamValue::Value(v)) = (takes_option, &p.value) {
                fields.push((format!("param.{}", p.name), v.clone()));
            }
        }
    }
    TableContract::new(fields)
}

/// How the table's rows are cut into partitions.
fn layout(plan: &Plan) -> String {
    let report = plan.report;
    match (report.dates, report.layout) {
        (DateSemantics::None, _) => "snapshot".to_string(),
        (_, Layout::RowDay(column)) => format!("day of {column}"),
        (DateSemantics::ChangesSince, Layout::Window) => "changes since".to_string(),
        (DateSemantics::Range { .. }, Layout::Window) => format!("window of one {}", plan.window),
    }
}

/// A stable fingerprint of the report's columns: names, types and nullability, in order.
pub fn schema_fingerprint(report: &Report) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in report.columns {
        let text = format!("{}:{}:{};", c.name, c.ty.arrow_name(), c.nullable);
        for b in text.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

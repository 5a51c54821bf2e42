//! Every report of the catalog through the real HTTP server: the document has the catalog's
//! root, envelope, collection and row shape, `row_count`, and the expected number of rows.

use crate::common;

use std::collections::BTreeSet;

use cake_catalog::ColumnType;
use cake_sandbox::{respond, Sandbox};
use common::*;

/// Rows of a typical request (yesterday for dated reports) at 5 rows per day. Lookups are the
/// documented lists; entity reports are the pools (6 advertisers, 10 affiliates, 12 offers,
/// 20 campaigns, 4 buyers; every third affiliate was referred); click- and conversion-level
/// reports have rows_per_day rows a day, lead reports a tenth of it (at least one), Login
/// Export three a day, Daily Summary one a day; Exchange Rates one row per currency pair and
/// month; Caps the offers' caps of the seed.
const EXPECTED: &[(&str, usize)] = &[
    ("accepted-dispositions", 3),
    ("account-status", 3),
    ("advertisers", 6),
    ("advertisers-export", 6),
    ("affiliate-export", 10),
    ("affiliate-referrals", 3),
    ("affiliate-summary", 10),
    ("affiliate-tags", 5),
    ("affiliate-tiers", 3),
    ("affiliates", 10),
    ("billing-cycles", 3),
    ("buyers-export", 4),
    ("campaigns", 20),
    ("campaigns-summary", 20),
    ("cap-intervals", 4),
    ("cap-types", 2),
    ("clicks", 5),
    ("conversions", 5),
    ("conversion-dispositions", 8),
    ("currencies", 2),
    ("daily-summary", 1),
    ("exchange-rates", 2),
    ("languages", 4),
    ("leads-by-affiliate", 1),
    ("leads-by-buyer", 1),
    ("login-export", 3),
    ("offer-types", 3),
    ("offers", 12),
    ("offers-statuses", 4),
    ("payment-settings", 3),
    ("payment-types", 4),
    ("price-formats", 5),
    ("rejected-dispositions", 3),
    ("traffic-export", 20),
    ("verticals", 6),
];

#[tokio::test]
async fn every_report_round_trips_through_the_server() {
    let sandbox = Sandbox::start(config(5)).await.unwrap();
    let client = reqwest::Client::new();
    let mut seen = 0;
    for report in reports() {
        let url = format!("{}{}", sandbox.url(), query(report, KEY));
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", report.id);
        assert_eq!(
            resp.headers()["content-type"],
            "text/xml; charset=utf-8",
            "{}",
            report.id
        );
        let body = resp.bytes().await.unwrap();
        assert_eq!(
            body.as_ref(),
            respond(&config(5), &query(report, KEY)).body.as_slice(),
            "{}: the server and respond() differ",
            report.id
        );
        let shape = &report.response;
        let doc = read(&body, shape.row);
        assert_eq!(doc.root, shape.root, "{}", report.id);
        assert_eq!(
            doc.default_ns.as_deref(),
            Some(report.endpoint.namespace().as_str()),
            "{}",
            report.id
        );
        let rows = doc.rows.len();
        if shape.envelope {
            assert_eq!(doc.success.as_deref(), Some("true"), "{}", report.id);
            assert_eq!(doc.row_count, Some(rows as u64), "{}", report.id);
            assert_eq!(doc.collection.as_deref(), shape.collection, "{}", report.id);
        } else {
            assert_eq!(
                doc.success, None,
                "{}: ArrayOf documents have no envelope",
                report.id
            );
        }
        // Every element below a row is a column path (or a prefix of one, or a struct's field,
        // or inside a JSON column).
        fn paths(
            columns: &[cake_catalog::Column],
            prefix: &[&str],
            known: &mut BTreeSet<String>,
            json: &mut Vec<String>,
        ) {
            for c in columns {
                let mut full = prefix.to_vec();
                full.extend_from_slice(c.path);
                for i in 1..=full.len() {
                    known.insert(full[..i].join("/"));
                }
                if c.ty == ColumnType::Json {
                    json.push(full.join("/"));
                }
                if let Some(fields) = c.fields() {
                    paths(fields, &full, known, json);
                }
            }
        }
        let mut known: BTreeSet<String> = BTreeSet::new();
        let mut json = Vec::new();
        paths(report.columns, &[], &mut known, &mut json);
        for row in &doc.rows {
            for (path, _) in row {
                assert!(
                    known.contains(path) || json.iter().any(|j| path.starts_with(&format!("{j}/"))),
                    "{}: unknown element {path}",
                    report.id
                );
            }
        }
        // Non-nullable scalar columns are in every row.
        for c in report.columns.iter().filter(|c| !c.nullable) {
            if matches!(c.ty, ColumnType::List(_)) {
                continue;
            }
            let values = doc.column(&c.path.join("/"));
            assert_eq!(
                values.len(),
                rows,
                "{}: {} missing in a row",
                report.id,
                c.name
            );
        }
        let expected = EXPECTED
            .iter()
            .find(|(id, _)| *id == report.id)
            .map(|(_, n)| *n);
        match expected {
            Some(n) => assert_eq!(rows, n, "{}", report.id),
            None => assert!(rows > 0, "{}: no rows", report.id),
        }
        seen += 1;
    }
    assert_eq!(seen, 37);
    sandbox.shutdown().await;
}

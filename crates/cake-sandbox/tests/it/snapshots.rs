//! One small response per report, so the shapes are reviewable: one row per day, the first row
//! of paged reports (`row_count` still the total), one entity of summaries that filter by id.

use crate::common;

use cake_catalog::ParamKind;
use cake_sandbox::respond;
use common::*;

#[test]
fn one_small_response_per_report() {
    for report in reports() {
        let mut q = query_with(report, &typical_options(report), KEY, 1, 1);
        // Summaries filter to one entity when they can (the first key column's parameter).
        if !report.is_paged() {
            if let Some(pk) = report.primary_key.first() {
                let filter = report
                    .params
                    .iter()
                    .find(|p| p.kind == ParamKind::Int && p.name == *pk);
                if let Some(p) = filter {
                    let full = read(&respond(&config(1), &q).body, report.response.row);
                    let first = full.column(&report.column(pk).unwrap().path.join("/"));
                    if let Some(id) = first.first() {
                        q = with_param(&q, p.name, id);
                    }
                }
            }
        }
        let r = respond(&config(1), &q);
        assert_eq!(r.status, 200, "{}", report.id);
        let shown = format!(
            "GET {}\nHTTP {} {}\n\n{}",
            q.replace(KEY, "<api_key>"),
            r.status,
            r.content_type,
            r.text().replace("\r\n", "\n")
        );
        insta::assert_snapshot!(report.id, shown);
    }
}

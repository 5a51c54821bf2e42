//! The two forms of requests Cake takes (SOAP 1.2, the default, and HTTP GET) commit the same
//! rows for every report, and only GET puts the key in a URL.

use crate::common;

use cake_catalog::{DateSemantics, Options, REPORTS};
use cake_sink::WriteMode;
use cake_transport::{Protocol, RetryPolicy};
use common::*;

fn options_for(report: &cake_catalog::Report) -> Options {
    match report.dates {
        DateSemantics::None => Options::default(),
        DateSemantics::Range { .. } => range("2024-03-01", "2024-03-03"),
        DateSemantics::ChangesSince => Options {
            date: Some(day("2024-03-01")),
            ..Options::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_commits_the_same_rows_in_both_forms() {
    let sandbox = sandbox().await;
    let soap = client(&sandbox, RetryPolicy::none());
    assert_eq!(soap.protocol(), Protocol::Soap, "SOAP is the default");
    let get = soap.with_protocol(Protocol::Get).unwrap();
    let now = noon(today());
    let options = pull_options(WriteMode::Replace, false);
    let mut compared = 0;
    for report in REPORTS {
        let page = report.is_paged().then_some(7);
        let plan = plan_at(report.id, &options_for(report), now, page);
        let mut rows = Vec::new();
        for (client, protocol) in [(&soap, Protocol::Soap), (&get, Protocol::Get)] {
            let lake = Lake::local();
            let sink = lake.sink();
            sandbox.reset_stats();
            pull(client, &plan, &sink, &options).await;
            for seen in sandbox.request_log() {
                let soap = protocol == Protocol::Soap;
                assert_eq!(seen.method, if soap { "POST" } else { "GET" }, "{seen:?}");
                assert_eq!(seen.key_in_url, !soap, "{}: {seen:?}", report.id);
                if soap {
                    assert_eq!(
                        seen.content_type.as_deref(),
                        Some(cake_transport::SOAP12_CONTENT_TYPE)
                    );
                    assert!(seen.path.ends_with(".asmx"), "{seen:?}");
                }
            }
            rows.push(table_rows(&sink, &lake, report).await);
        }
        assert!(!rows[0].is_empty(), "{}: no rows", report.id);
        assert!(
            rows[0] == rows[1],
            "{}: SOAP and GET rows differ",
            report.id
        );
        compared += 1;
    }
    assert_eq!(compared, 37);
}

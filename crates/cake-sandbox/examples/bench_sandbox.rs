//! Throughput of the sandbox: documents built by `respond` (no network) and served over
//! loopback HTTP. Prints figures; asserts nothing.
//!
//! `cargo run --release -p cake-sandbox --example bench_sandbox [rows_per_day]`

use std::time::Instant;

use cake_sandbox::{respond, Sandbox, SandboxConfig};

fn clicks(day: &str, next: &str, key: &str) -> String {
    format!(
        "/api/12/reports.asmx/Clicks?api_key={key}&start_date={day}&end_date={next}&affiliate_id=0\
         &advertiser_id=0&offer_id=0&campaign_id=0&creative_id=0&price_format_id=0\
         &include_tests=FALSE&start_at_row=1&row_limit=0&include_duplicates=TRUE"
    )
}

fn conversions(day: &str, next: &str, key: &str) -> String {
    format!(
        "/api/17/reports.asmx/EventConversions?api_key={key}&start_date={day}&end_date={next}\
         &event_type=all&event_id=0&source_affiliate_id=0&brand_advertiser_id=0&channel_id=0\
         &site_offer_id=0&site_offer_contract_id=0&source_affiliate_tag_id=0&brand_advertiser_tag_id=0\
         &site_offer_tag_id=0&campaign_id=0&creative_id=0&price_format_id=0&source_type=all\
         &payment_percentage_filter=both&disposition_type=all&disposition_id=0\
         &source_affiliate_billing_status=all&brand_advertiser_billing_status=all&test_filter=both\
         &start_at_row=1&row_limit=0&sort_field=event_conversion_id&sort_descending=FALSE"
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let config = SandboxConfig {
        rows_per_day: rows,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    };
    let key = config.api_key.clone();
    for (name, q) in [
        ("clicks", clicks("2024-03-14", "2024-03-15", &key)),
        ("conversions", conversions("2024-03-14", "2024-03-15", &key)),
    ] {
        let start = Instant::now();
        let r = respond(&config, &q);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "respond {name}: {rows} rows, {:.1} MB in {:.3} s: {:.0} rows/s, {:.1} MB/s",
            r.body.len() as f64 / 1e6,
            secs,
            f64::from(rows) / secs,
            r.body.len() as f64 / 1e6 / secs
        );
    }
    let sandbox = Sandbox::start(config.clone()).await.unwrap();
    let client = reqwest::Client::new();
    let days = [
        "2024-03-10",
        "2024-03-11",
        "2024-03-12",
        "2024-03-13",
        "2024-03-14",
        "2024-03-15",
    ];
    let start = Instant::now();
    let mut bytes = 0usize;
    let tasks: Vec<_> = days
        .windows(2)
        .map(|w| {
            let url = format!("{}{}", sandbox.url(), clicks(w[0], w[1], &key));
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .len()
            })
        })
        .collect();
    for t in tasks {
        bytes += t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "http clicks: {} days x {rows} rows, all at once on 2 workers, {:.1} MB in {:.3} s: {:.1} MB/s",
        days.len() - 1,
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs
    );
    let stats = sandbox.stats();
    println!(
        "requests {}, max in flight {}",
        stats.requests, stats.max_in_flight
    );
    sandbox.shutdown().await;
}

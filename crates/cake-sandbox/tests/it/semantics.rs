//! Cake's semantics: key, parameter binding, dates, the one-month cap, filters, paging, and the
//! synthetic data's promises (joins, scales, escaping, determinism).

use crate::common;

use std::collections::BTreeSet;

use cake_catalog::{find, ColumnType, DateSemantics, Options};
use cake_sandbox::{respond, Response};
use common::*;

fn get(rows_per_day: u32, q: &str) -> Response {
    respond(&config(rows_per_day), q)
}

fn doc(rows_per_day: u32, report: &str, q: &str) -> Doc {
    let r = get(rows_per_day, q);
    assert_eq!(r.status, 200, "{}", r.text());
    read(&r.body, find(report).unwrap().response.row)
}

fn clicks(start: &str, end: &str) -> String {
    let q = query(find("clicks").unwrap(), KEY);
    with_param(&with_param(&q, "start_date", start), "end_date", end)
}

#[test]
fn a_wrong_key_is_http_200_with_success_false() {
    for id in [
        "clicks",
        "account-status",
        "rejected-dispositions",
        "daily-summary",
    ] {
        let report = find(id).unwrap();
        let r = get(5, &query(report, "wrong-key"));
        assert_eq!(r.status, 200, "{id}");
        assert_eq!(r.content_type, "text/xml; charset=utf-8");
        let d = read(&r.body, report.response.row);
        assert_eq!(d.success.as_deref(), Some("false"), "{id}");
        assert_eq!(d.message.as_deref(), Some("Invalid API Key"), "{id}");
        assert_eq!(d.row_count, Some(0), "{id}");
        assert!(d.rows.is_empty(), "{id}");
        if report.response.envelope {
            assert_eq!(d.root, report.response.root);
        } else {
            assert!(d.root.ends_with("_response"), "{id}: {}", d.root);
        }
    }
    let r = get(5, &query(find("rejected-dispositions").unwrap(), "nope"));
    assert!(r.text().contains("<disposition_response "), "{}", r.text());
}

#[test]
fn a_missing_parameter_is_http_500_naming_it() {
    let q = query(find("clicks").unwrap(), KEY);
    for name in [
        "start_date",
        "offer_id",
        "include_duplicates",
        "api_key",
        "row_limit",
    ] {
        let r = get(5, &without_param(&q, name));
        assert_eq!(r.status, 500, "{name}");
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        assert_eq!(r.text(), format!("Missing parameter: {name}.\r\n"));
    }
    // Missing parameters are found before the key is checked, as ASMX binds first.
    let r = get(
        5,
        &without_param(&query(find("clicks").unwrap(), "wrong"), "end_date"),
    );
    assert_eq!(r.status, 500);
}

#[test]
fn a_non_integer_id_is_http_500() {
    let q = query(find("clicks").unwrap(), KEY);
    let r = get(5, &with_param(&q, "offer_id", "abc"));
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "Cannot convert abc to System.Int32.\r\nParameter name: offer_id ---> Input string was not in a correct format.\r\n"
    );
    // An empty id is not 0.
    let r = get(5, &with_param(&q, "offer_id", ""));
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("Cannot convert  to System.Int32."));
    let r = get(5, &with_param(&q, "start_at_row", "1.5"));
    assert_eq!(r.status, 500);
    let r = get(5, &with_param(&q, "offer_id", "99999999999"));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("too large or too small for an Int32"));
    let r = get(5, &with_param(&q, "include_tests", "maybe"));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("System.Boolean"));
    let r = get(5, &with_param(&q, "start_date", "yesterday"));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("System.DateTime"));
    let q = query(find("conversions").unwrap(), KEY);
    let r = get(5, &with_param(&q, "event_type", "bogus"));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("Requested value 'bogus' was not found."));
}

#[test]
fn unknown_paths_are_404() {
    for path in [
        "/",
        "/api/12/reports.asmx/Nope?api_key=x",
        "/api/11/reports.asmx/Clicks?api_key=x",
        "/favicon.ico",
    ] {
        let r = get(5, path);
        assert_eq!(r.status, 404, "{path}");
    }
    // Method names match case-insensitively, as on IIS.
    let q =
        query(find("account-status").unwrap(), KEY).replace("AccountStatuses", "accountstatuses");
    assert_eq!(get(5, &q).status, 200);
}

#[test]
fn summary_reports_refuse_more_than_one_month() {
    for id in ["campaigns-summary", "affiliate-summary"] {
        let report = find(id).unwrap();
        let q = query(report, KEY);
        let month = with_param(
            &with_param(&q, "start_date", "2024-01-15T00:00:00"),
            "end_date",
            "2024-02-15T00:00:00",
        );
        let d = doc(5, id, &month);
        assert_eq!(d.success.as_deref(), Some("true"), "{id}");
        let over = with_param(&month, "end_date", "2024-02-15T00:00:01");
        let d = doc(5, id, &over);
        assert_eq!(d.success.as_deref(), Some("false"), "{id}");
        assert!(d.message.unwrap().contains("one month"), "{id}");
    }
    // Unbounded reports take long windows.
    let d = doc(1, "clicks", &clicks("2024-01-01", "2024-03-01"));
    assert_eq!(d.row_count, Some(60));
}

#[test]
fn an_empty_or_reversed_window_is_success_false() {
    for (s, e) in [("2024-03-10", "2024-03-10"), ("2024-03-11", "2024-03-10")] {
        let d = doc(5, "clicks", &clicks(s, e));
        assert_eq!(d.success.as_deref(), Some("false"));
        assert!(d
            .message
            .unwrap()
            .contains("end_date must be after start_date"));
    }
}

#[test]
fn the_end_date_is_exclusive_and_days_do_not_depend_on_the_window() {
    let day = |s: &str, e: &str| doc(7, "clicks", &clicks(s, e));
    let d10 = day("2024-03-10", "2024-03-11");
    let d11 = day("2024-03-11", "2024-03-12");
    let both = day("2024-03-10", "2024-03-12");
    assert_eq!(d10.rows.len(), 7);
    assert_eq!(both.rows.len(), 14);
    for date in d10.column("click_date") {
        assert!(date.starts_with("2024-03-10T"), "{date}");
    }
    let mut joined = d10.rows.clone();
    joined.extend(d11.rows.clone());
    assert_eq!(
        both.rows, joined,
        "a day's rows are the same whatever the window"
    );
    // Times in a window: from noon on.
    let noon = day("2024-03-10T12:00:00", "2024-03-11");
    assert!(noon.rows.len() < 7);
    for date in noon.column("click_date") {
        assert!(date.as_str() >= "2024-03-10T12:00:00", "{date}");
    }
    // The other date forms Cake takes.
    assert_eq!(day("03/10/2024", "03/11/2024").rows, d10.rows);
    assert_eq!(
        day("2024-03-10 00:00:00", "03/11/2024 00:00:00").rows,
        d10.rows
    );
    // Nothing after today, nothing before the history.
    assert_eq!(day("2024-03-16", "2024-03-20").rows.len(), 0);
    assert_eq!(day("2019-01-01", "2019-01-05").rows.len(), 0);
}

#[test]
fn id_filters_filter_rows() {
    let all = doc(20, "clicks", &clicks("2024-03-10", "2024-03-11"));
    let offer = all.column("site_offer/site_offer_id")[0].clone();
    let q = with_param(&clicks("2024-03-10", "2024-03-11"), "offer_id", &offer);
    let some = doc(20, "clicks", &q);
    assert!(!some.rows.is_empty() && some.rows.len() < all.rows.len());
    assert_eq!(some.row_count, Some(some.rows.len() as u64));
    assert!(some
        .column("site_offer/site_offer_id")
        .iter()
        .all(|o| *o == offer));
    let none = doc(20, "clicks", &with_param(&q, "offer_id", "424242"));
    assert_eq!(none.row_count, Some(0));
    assert!(none.rows.is_empty());
    // Negative and zero ids mean all.
    assert_eq!(
        doc(20, "clicks", &with_param(&q, "offer_id", "-1"))
            .rows
            .len(),
        20
    );
    // Entity exports filter by their own id, and by name.
    let offers = find("offers").unwrap();
    let d = doc(
        5,
        "offers",
        &with_param(&query(offers, KEY), "offer_id", "3002"),
    );
    assert_eq!(d.column("offer_id"), ["3002"]);
    let affiliates = find("affiliates").unwrap();
    let d = doc(
        5,
        "affiliates",
        &with_param(&query(affiliates, KEY), "affiliate_name", "SÖHNE"),
    );
    assert!(!d.rows.is_empty());
    assert!(d
        .column("affiliate_name")
        .iter()
        .all(|n| n.contains("Söhne")));
}

#[test]
fn conversion_types_and_changes() {
    let conversions = find("conversions").unwrap();
    let q = query_with(conversions, &typical_options(conversions), KEY, 1, 0);
    let all = doc(40, "conversions", &q);
    let macro_only = doc(
        40,
        "conversions",
        &with_param(&q, "event_type", "macro_event_conversions"),
    );
    let micro_only = doc(
        40,
        "conversions",
        &with_param(&q, "event_type", "micro_events"),
    );
    assert!(!macro_only.rows.is_empty() && !micro_only.rows.is_empty());
    assert!(macro_only
        .column("event_info/event_id")
        .iter()
        .all(|e| e == "1"));
    assert!(micro_only
        .column("event_info/event_id")
        .iter()
        .all(|e| e != "1"));
    // The default test filter (non_tests) hides test conversions; both shows them.
    let both = doc(40, "conversions", &with_param(&q, "test_filter", "both"));
    assert!(both.rows.len() >= all.rows.len());
    assert!(all.column("test").iter().all(|t| t == "false"));

    let changes = find("conversion-changes").unwrap();
    let since = "2024-03-13T00:00:00";
    let q = with_param(&query(changes, KEY), "changes_since", since);
    let changed = doc(40, "conversion-changes", &q);
    let with_new = doc(
        40,
        "conversion-changes",
        &with_param(&q, "include_new_event_conversions", "TRUE"),
    );
    assert!(!changed.rows.is_empty());
    assert!(with_new.rows.len() > changed.rows.len());
    for row in &changed.rows {
        let get = |p: &str| {
            row.iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let updated = get("last_updated");
        assert!(updated.as_str() >= since, "{updated}");
        assert_ne!(
            updated,
            get("event_conversion_date"),
            "an unchanged conversion"
        );
    }
    let ids: Vec<i64> = with_new
        .column("event_conversion_id")
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");
}

#[test]
fn ids_join_across_reports() {
    let set = |report: &str, path: &str, rows_per_day: u32| -> BTreeSet<String> {
        let r = find(report).unwrap();
        doc(rows_per_day, report, &query(r, KEY))
            .column(path)
            .into_iter()
            .collect()
    };
    let affiliates = set("affiliates", "affiliate_id", 5);
    let advertisers = set("advertisers", "advertiser_id", 5);
    let offers = set("offers", "offer_id", 5);
    let contracts = set(
        "offers",
        "offer_contracts/offer_contract_info/offer_contract_id",
        5,
    );
    let campaigns = set("campaigns", "campaign_id", 5);
    assert_eq!(set("advertisers-export", "advertiser_id", 5), advertisers);
    let clicks = doc(30, "clicks", &clicks("2024-03-13", "2024-03-15"));
    for (path, pool) in [
        ("source_affiliate/source_affiliate_id", &affiliates),
        ("brand_advertiser/brand_advertiser_id", &advertisers),
        ("site_offer/site_offer_id", &offers),
        ("site_offer_contract/site_offer_contract_id", &contracts),
        ("campaign/campaign_id", &campaigns),
    ] {
        for id in clicks.column(path) {
            assert!(pool.contains(&id), "{path} {id}");
        }
    }
    // A campaign's affiliate and offer are the click's.
    let campaign_doc = doc(5, "campaigns", &query(find("campaigns").unwrap(), KEY));
    for row in &clicks.rows {
        let get = |p: &str| {
            row.iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let c = get("campaign/campaign_id");
        let crow = campaign_doc
            .rows
            .iter()
            .find(|r| r.iter().any(|(k, v)| k == "campaign_id" && *v == c))
            .unwrap();
        let cget = |p: &str| {
            crow.iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            cget("affiliate/affiliate_id"),
            get("source_affiliate/source_affiliate_id")
        );
        assert_eq!(cget("offer/offer_id"), get("site_offer/site_offer_id"));
    }
    // Every conversion's click exists, with the same campaign and an earlier date.
    let conversions = find("conversions").unwrap();
    let cq = with_param(&query(conversions, KEY), "start_date", "2024-03-14");
    let cq = with_param(
        &with_param(&cq, "end_date", "2024-03-15"),
        "test_filter",
        "both",
    );
    let conv = doc(30, "conversions", &cq);
    assert_eq!(conv.rows.len(), 30);
    for row in &conv.rows {
        let get = |p: &str| {
            row.iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let click = clicks
            .rows
            .iter()
            .find(|c| {
                c.iter()
                    .any(|(k, v)| k == "click_id" && *v == get("click_id"))
            })
            .unwrap_or_else(|| panic!("click {} not found", get("click_id")));
        let cget = |p: &str| {
            click
                .iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(cget("campaign/campaign_id"), get("campaign/campaign_id"));
        assert_eq!(cget("click_date"), get("click_date"));
        assert_eq!(cget("visitor_id"), get("visitor_id"));
        assert_eq!(cget("request_session_id"), get("click_request_session_id"));
        assert!(get("click_date") < get("event_conversion_date"));
    }
}

#[test]
fn values_have_cake_formats() {
    let mut all_text = String::new();
    for report in reports() {
        let r = get(3, &query(report, KEY));
        let text = r.text().into_owned();
        let d = read(&r.body, report.response.row);
        for c in report.columns {
            let path = c.path.join("/");
            let values = d.column(&path);
            let decimals = match c.ty.leaf() {
                ColumnType::Decimal { scale, .. } => Some(*scale as usize),
                _ => None,
            };
            for v in values.iter().filter(|v| !v.is_empty()) {
                match c.ty.leaf() {
                    ColumnType::Decimal { .. } => {
                        let frac = v.split('.').nth(1).unwrap_or("");
                        assert_eq!(Some(frac.len()), decimals, "{} {path} {v}", report.id);
                    }
                    ColumnType::Timestamp | ColumnType::Date => {
                        assert!(
                            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
                                .is_ok(),
                            "{} {path} {v}",
                            report.id
                        );
                        assert!(!v.ends_with('0') || !v.contains('.'), "trailing zeros: {v}");
                    }
                    ColumnType::Bool => assert!(v == "true" || v == "false", "{v}"),
                    ColumnType::Int32 => {
                        assert!(v.parse::<i32>().is_ok(), "{} {path} {v}", report.id)
                    }
                    ColumnType::Int64 => {
                        assert!(v.parse::<i64>().is_ok(), "{} {path} {v}", report.id)
                    }
                    _ => {}
                }
            }
        }
        all_text.push_str(&text);
    }
    for needle in [
        "&amp;",
        "&lt;",
        "&gt;",
        "€",
        "ü",
        "xsi:nil=\"true\"",
        "<sub_id_2 />",
        " xmlns=\"API:id_name_store\">",
    ] {
        assert!(all_text.contains(needle), "no {needle}");
    }
    let clicks = doc(5, "clicks", &clicks("2024-03-14", "2024-03-15"));
    for ua in clicks.column("user_agent") {
        assert!(ua.contains("%20") && !ua.contains(' '), "{ua}");
    }
    // Money has 4 decimals, percentages 6, rates 10 (checked above by scale); the scales are:
    let scale = |report: &str, column: &str| match find(report).unwrap().column(column).unwrap().ty
    {
        ColumnType::Decimal { scale, .. } => scale,
        _ => -1,
    };
    assert_eq!(scale("conversions", "paid_amount"), 4);
    assert_eq!(scale("conversions", "site_offer_credit_percentage"), 6);
    assert_eq!(scale("exchange-rates", "rate"), 10);
}

#[test]
fn nested_id_name_leaves_carry_the_id_name_store_namespace() {
    let text = get(2, &clicks("2024-03-14", "2024-03-15"))
        .text()
        .into_owned();
    assert!(text.contains("<source_affiliate_id xmlns=\"API:id_name_store\">"));
    assert!(text.contains("<site_offer_name xmlns=\"API:id_name_store\">"));
    // Top-level leaves and the campaign object of a click do not.
    assert!(text.contains("<click_id>"));
    assert!(text.contains("<campaign_id>"));
    assert!(text.contains("<campaign_type_id>"));
    let lookup = get(2, &query(find("account-status").unwrap(), KEY))
        .text()
        .into_owned();
    assert!(lookup.contains("<account_status_id>1</account_status_id>"));
}

#[test]
fn lookups_hold_the_documented_values() {
    let names = |id: &str, path: &str| doc(1, id, &query(find(id).unwrap(), KEY)).column(path);
    assert_eq!(
        names("account-status", "account_status_name"),
        ["Active", "Inactive", "Pending"]
    );
    assert_eq!(
        names("price-formats", "price_format_name"),
        ["CPA", "CPC", "CPM", "Fixed", "RevShare"]
    );
    assert_eq!(names("currencies", "currency_abbr"), ["USD", "EUR"]);
    assert_eq!(names("currencies", "currency_symbol"), ["$", "€"]);
    assert_eq!(
        names("billing-cycles", "billing_cycle_name"),
        ["Weekly", "Bi-Monthly", "Monthly"]
    );
    assert_eq!(
        names("offers-statuses", "offer_status_name"),
        ["Public", "Private", "Apply To Run", "Inactive"]
    );
    assert_eq!(
        names("offer-types", "offer_type_name"),
        ["Hosted", "Host-n-Post", "3rd Party"]
    );
    assert_eq!(names("rejected-dispositions", "disposition_name").len(), 3);
}

#[test]
fn an_affiliates_own_api_key_is_never_emitted() {
    for report in reports() {
        let text = get(2, &query(report, KEY)).text().into_owned();
        assert!(!text.contains(KEY), "{}", report.id);
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let mut other = config(5);
    other.seed = 8;
    for report in reports() {
        let q = query(report, KEY);
        let a = respond(&config(5), &q);
        let b = respond(&config(5), &q);
        assert_eq!(a, b, "{}", report.id);
        let c = respond(&other, &q);
        // Lookups are fixed documented lists; everything else is synthetic.
        let fixed = report.dates == DateSemantics::None
            && !report.is_paged()
            && report.params.len() <= 2
            && !matches!(report.id, "advertisers" | "buyers-export");
        if fixed {
            assert_eq!(a, c, "{}", report.id);
        } else {
            assert_ne!(a, c, "{}: the seed changes nothing", report.id);
        }
    }
}

fn page_ids(rows_per_day: u32, start_at_row: u32, row_limit: u32) -> (Option<u64>, Vec<String>) {
    let report = find("clicks").unwrap();
    let options = Options {
        date: Some("2024-03-14".parse().unwrap()),
        ..Options::default()
    };
    let q = query_with(report, &options, KEY, start_at_row, row_limit);
    let d = doc(rows_per_day, "clicks", &q);
    (d.row_count, d.column("click_id"))
}

#[test]
fn paging_edges() {
    for (total, size) in [(23u32, 5u32), (20, 5), (5, 5), (1, 1), (7, 10)] {
        let (count, all) = page_ids(total, 1, 0);
        assert_eq!(count, Some(u64::from(total)));
        assert_eq!(all.len(), total as usize);
        let mut pages = Vec::new();
        let mut start = 1;
        loop {
            let (count, page) = page_ids(total, start, size);
            assert_eq!(
                count,
                Some(u64::from(total)),
                "row_count is the total, not the page"
            );
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= size as usize);
            pages.extend(page);
            start += size;
        }
        assert_eq!(pages, all, "{total} rows in pages of {size}");
        // The last page holds the remainder, or a full page when the total is a multiple.
        let last_start = (total - 1) / size * size + 1;
        let (_, last_page) = page_ids(total, last_start, size);
        let remainder = total % size;
        let expected = if remainder == 0 { size } else { remainder };
        assert_eq!(last_page.len() as u32, expected, "{total}/{size}");
        assert!(page_ids(total, last_start + size, size).1.is_empty());
    }
    // 0 and 1 both start at the first row.
    assert_eq!(page_ids(23, 0, 5), page_ids(23, 1, 5));
    assert_eq!(page_ids(23, 2, 5).1[0], page_ids(23, 1, 5).1[1]);
    // Past the end: no rows, the total still counted, an empty collection.
    let report = find("clicks").unwrap();
    let options = Options {
        date: Some("2024-03-14".parse().unwrap()),
        ..Options::default()
    };
    let q = query_with(report, &options, KEY, 21, 5);
    let r = get(20, &q);
    assert!(r.text().contains("<row_count>20</row_count>"));
    assert!(r.text().contains("<clicks />"));
    // Descending order reverses the rows.
    let q = with_param(
        &query_with(report, &options, KEY, 1, 0),
        "include_duplicates",
        "TRUE",
    );
    let asc = doc(6, "clicks", &q).column("click_id");
    let desc_q = with_param(
        &query_with(find("conversions").unwrap(), &options, KEY, 1, 0),
        "sort_descending",
        "TRUE",
    );
    let desc = doc(6, "conversions", &desc_q).column("event_conversion_id");
    let mut sorted = desc.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(desc, sorted);
    assert_eq!(asc.len(), 6);
}

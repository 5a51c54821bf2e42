//! Data-driven plan tests: each line of `plan-cases.txt` is validated, and its plan (windows,
//! their UTC bounds, the full GET parameter list) or its error is snapshot.

use std::fmt::Write as _;

use cake_catalog::{find, parse_timezone, plan, Context, Options, Plan, PlannedDates};

/// A case's report, options and context, or the text of its parse error.
fn parse_case(line: &str) -> Result<(&'static cake_catalog::Report, Options, Context), String> {
    let fields: Vec<&str> = line.split('|').map(str::trim).collect();
    let [report, tz, now, options] = fields[..] else {
        panic!("bad case line: {line}");
    };
    let report = find(report).expect("case names a report");
    let mut ctx = Context::new(now.parse().expect("case has an RFC 3339 instant"));
    ctx.timezone = parse_timezone(tz).expect("case has a time zone");
    let mut opts = Options::default();
    for pair in options.split(';').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair.split_once('=').expect("key=value");
        let key = key.trim();
        let result = match key {
            "window" => {
                ctx.window = value.parse().expect("window");
                Ok(())
            }
            "page_size" => {
                ctx.page_size = Some(value.parse().expect("page size"));
                Ok(())
            }
            _ => opts.set_key(key, value),
        };
        if let Err(e) = result {
            return Err(format!("parse error: {e}\n"));
        }
    }
    Ok((report, opts, ctx))
}

/// Every case that plans, with its plan.
fn planned_cases() -> Vec<(String, Plan, Options, Context)> {
    include_str!("plan-cases.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let (report, opts, ctx) = parse_case(line).ok()?;
            let plan = plan(report, &opts, &ctx).ok()?;
            Some((line.to_string(), plan, opts, ctx))
        })
        .collect()
}

fn run_case(line: &str) -> String {
    let (report, opts, ctx) = match parse_case(line) {
        Ok(case) => case,
        Err(e) => return e,
    };
    let plan = match plan(report, &opts, &ctx) {
        Ok(p) => p,
        Err(e) => {
            // Keys for library users and config files; flags for the command line.
            return format!(
                "error: {e}\n  on the command line: {}\n",
                e.message(cake_catalog::Naming::Flags)
            );
        }
    };
    let mut out = String::new();
    match plan.dates {
        PlannedDates::None => out.push_str("dates: none\n"),
        PlannedDates::Range(r) => {
            let days = r.days();
            let s = if days == 1 { "" } else { "s" };
            let _ = writeln!(out, "dates: {r} ({days} day{s}, end_date {})", r.end());
        }
        PlannedDates::ChangesSince(d) => {
            let _ = writeln!(out, "dates: changes since {d}");
        }
    }
    if let Some(size) = plan.page_size {
        let _ = writeln!(out, "page size: {size}");
    }
    for req in &plan.requests {
        if let Some(w) = req.window {
            let _ = writeln!(
                out,
                "window {w}: UTC {} .. {}",
                w.start_utc(plan.timezone).format("%Y-%m-%dT%H:%MZ"),
                w.end_utc(plan.timezone).format("%Y-%m-%dT%H:%MZ"),
            );
        }
        let query: Vec<String> = req
            .params
            .iter()
            .map(|p| format!("{}={}", p.name, p.value))
            .collect();
        let _ = writeln!(out, "  {}", query.join("&"));
    }
    out
}

#[test]
fn plan_cases() {
    let mut out = String::new();
    for line in include_str!("plan-cases.txt").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let _ = write!(out, "> {line}\n{}\n", run_case(line));
    }
    insta::assert_snapshot!("plans", out);
}

/// The options a plan gives for one of its windows plan that window alone, with the same
/// request: what `--dry-run --json` and the Python module's `plan()` hand out as shards.
#[test]
fn a_windows_options_plan_that_window_alone() {
    let cases = planned_cases();
    assert!(cases.len() > 20, "the cases plan");
    for (line, whole, opts, ctx) in cases {
        for request in &whole.requests {
            let alone = whole.window_options(&opts, request.window);
            let mut ctx = ctx;
            ctx.page_size = whole.page_size;
            let one = plan(whole.report, &alone, &ctx)
                .unwrap_or_else(|e| panic!("{line}: window {:?}: {e}", request.window));
            assert_eq!(one.requests.len(), 1, "{line}: {:?}", request.window);
            assert_eq!(one.requests[0].window, request.window, "{line}");
            assert_eq!(one.requests[0].params, request.params, "{line}");
        }
    }
}

/// The shares of a plan hold every window once, whatever the number of shares, and a window's
/// share does not depend on the other windows of the plan.
#[test]
fn shards_hold_every_window_once() {
    for (line, whole, _, _) in planned_cases() {
        for count in 1..=5u32 {
            let mut seen = Vec::new();
            for index in 0..count {
                let share = whole.shard(index, count).expect("a share that exists");
                for request in &share.requests {
                    // The same window in a plan of that window alone lands in the same share.
                    let mut alone = whole.clone();
                    alone.requests = vec![request.clone()];
                    let again = alone.shard(index, count).expect("a share");
                    assert_eq!(again.requests.len(), 1, "{line}");
                    seen.push(request.clone());
                }
            }
            let mut expected = whole.requests.clone();
            let key = |r: &cake_catalog::PlannedRequest| format!("{:?}", r.params);
            seen.sort_by_key(key);
            expected.sort_by_key(key);
            assert_eq!(seen, expected, "{line}: {count} shares");
        }
        assert!(whole.shard(3, 3).is_err() && whole.shard(0, 0).is_err());
    }
}

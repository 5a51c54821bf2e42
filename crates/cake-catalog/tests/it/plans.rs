//! Data-driven plan tests: each line of `plan-cases.txt` is validated, and its plan (windows,
//! their UTC bounds, the full GET parameter list) or its error is snapshot.

use std::fmt::Write as _;

use cake_catalog::{find, parse_timezone, plan, Context, Options, PlannedDates};

fn run_case(line: &str) -> String {
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
            return format!("parse error: {e}\n");
        }
    }
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

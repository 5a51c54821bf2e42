//! The binary as a user runs it: output, messages and exit codes.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .args(args)
        .env_remove("CAKE_TIMEZONE")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reports_json_lists_the_37_reports() {
    let (code, stdout, _) = run(&["reports", "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 37);
    let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Offers Statuses"));
    assert!(names.contains(&"Leads by Affiliate"));
    for r in list {
        for key in [
            "id", "service", "method", "version", "dated", "paged", "verified",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
}

#[test]
fn describe_clicks_json_has_typed_columns() {
    let (code, stdout, _) = run(&["describe", "clicks", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let col = |name: &str| {
        v["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .clone()
    };
    assert_eq!(col("click_id")["type"], "Int64");
    assert_eq!(col("click_id")["nullable"], false);
    assert_eq!(col("site_offer_id")["type"], "Int32");
    assert_eq!(col("click_date")["type"], "Timestamp(µs, \"UTC\")");
    assert_eq!(col("paid_amount")["type"], "Decimal128(28, 10)");
    assert_eq!(col("_extra")["type"], "Utf8");
    assert_eq!(col("_rejected")["nullable"], true);
    assert_eq!(col("sub_id_1")["type"], "Utf8");
    insta::assert_snapshot!("describe-clicks-json", stdout);
}

#[test]
fn describe_accepts_display_names_case_insensitively() {
    let (code, stdout, _) = run(&["describe", "campaigns SUMMARY"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("Campaigns Summary (campaigns-summary)"));
    insta::assert_snapshot!("describe-campaigns-summary", stdout);
}

#[test]
fn user_errors_say_what_to_do_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["describe", "clikcs"],
        &["describe", "campaign summery"],
        &["pull", "offers", "--past-days", "3", "--dry-run"],
        &["pull", "clicks", "--past-days", "30dayz", "--dry-run"],
        &["pull", "clicks", "--dry-run"],
        &[
            "pull",
            "clicks",
            "--start",
            "2024-02-02",
            "--end",
            "2024-02-01",
            "--dry-run",
        ],
        &[
            "pull",
            "clicks",
            "--date",
            "2024-01-01",
            "--timezone",
            "Mars/Base",
            "--dry-run",
        ],
    ];
    let mut out = String::new();
    for args in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        out.push_str(&format!("$ cake-connector {}\n{stderr}\n", args.join(" ")));
    }
    insta::assert_snapshot!("usage-errors", out);
}

#[test]
fn dry_run_prints_the_plan_with_the_key_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    // A dry run makes every check of the real run: a key, a domain, an output location.
    let output = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env_remove("CAKE_TIMEZONE")
        .env_remove("CAKE_DOMAIN")
        .env("CAKE_API_KEY", "cli-dry-run-key-7a1c")
        .args([
            "pull",
            "campaigns-summary",
            "--domain",
            "acme",
            "--out",
            lake,
        ])
        .args([
            "--start",
            "2024-01-30",
            "--end",
            "2024-02-01",
            "--offer-id",
            "12",
            "--conversion-type",
            "conversions",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).replace(lake, "DIR");
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("cli-dry-run-key-7a1c"));
    insta::assert_snapshot!("dry-run-campaigns-summary", stdout);
}

/// `reports` and `describe` of every report fit an 80-column terminal, and nothing of a path,
/// a name or a note is cut to fit.
#[test]
fn catalog_text_fits_80_columns() {
    let (code, stdout, _) = run(&["reports", "--json"]);
    assert_eq!(code, 0);
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let mut outputs = vec![run(&["reports"]).1];
    for r in &list {
        let id = r["id"].as_str().unwrap();
        let (code, text, stderr) = run(&["describe", id]);
        assert_eq!(code, 0, "{stderr}");
        let (_, json, _) = run(&["describe", id, "--json"]);
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        for column in json["columns"].as_array().unwrap() {
            if column["name"].as_str().unwrap().starts_with('_') {
                continue; // `_extra` and `_rejected` have no source path
            }
            let path = column["path"].as_str().unwrap();
            assert!(
                text.contains(path),
                "{id}: the path {path} is not shown whole"
            );
        }
        outputs.push(text);
    }
    for text in outputs {
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "wider than 80: {line}");
            assert!(!line.contains('…'), "cut: {line}");
        }
    }
}

//! `verify` against the sandbox's WSDL documents: the catalog matches the clean ones, each kind
//! of drift is named on the right reports, and the corrected specs load with the very loader of
//! `cargo xtask codegen` (and, without corrections, say what the committed specs say).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cake_sandbox::{wsdl_document, Sandbox, SandboxConfig, WsdlDrift};
use cake_spec::{ColumnSpec, OptionsTable, Spec, Ty};
use cake_transport::{ApiKey, Client, ClientOptions, Instance, RetryPolicy};
use cake_verify::{spec_toml, verify, verify_documents, write_specs, Difference, VerifyReport};

const KEY: &str = "k3y-VERIFY-test-77";

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cake-catalog/spec")
}

/// The specs of `dir`, read and checked as `cargo xtask codegen` reads them.
fn load_specs(dir: &Path) -> Result<Vec<Spec>, cake_spec::SpecError> {
    let text = std::fs::read_to_string(spec_dir().join("../options.toml")).unwrap();
    let options = OptionsTable::parse(&text).unwrap();
    cake_spec::load_specs(dir, &options)
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        api_key: KEY.into(),
        today: "2024-03-10".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn client(sandbox: &Sandbox) -> Client {
    Client::new(
        Instance::parse(&sandbox.url(), false).unwrap(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                ..RetryPolicy::default()
            },
            jitter_seed: Some(1),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

/// The catalog against the sandbox's documents with `drifts`, without a server.
fn offline(drifts: &[WsdlDrift]) -> VerifyReport {
    verify_documents("http://sandbox", |path| {
        let rest = path.strip_prefix("/api/").unwrap();
        let (version, file) = rest.split_once('/').unwrap();
        let service = file.split_once(".asmx").unwrap().0;
        wsdl_document(service, version.parse().unwrap(), drifts)
            .map(String::into_bytes)
            .ok_or_else(|| "HTTP 404".to_string())
    })
}

fn s(x: &str) -> String {
    x.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_matches_the_sandbox() {
    let sandbox = sandbox().await;
    let report = verify(&client(&sandbox)).await.unwrap();
    assert!(report.all_match(), "{report}");
    assert_eq!((report.matching, report.total), (37, 37));
    assert!(report.documents.iter().all(|d| d.error.is_none()));
    assert_eq!(report.documents.len(), 15);
    let text = report.to_string();
    assert!(text.ends_with("37 of 37 reports match\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("ok ")).count(), 37);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_wsdl_is_read_from_the_server() {
    let sandbox = sandbox().await;
    sandbox.set_wsdl_drifts(vec![
        WsdlDrift::RemoveParam {
            report: s("clicks"),
            param: s("include_duplicates"),
        },
        WsdlDrift::NotServed {
            service: s("track"),
            version: 2,
        },
    ]);
    let report = verify(&client(&sandbox)).await.unwrap();
    assert_eq!(report.matching, 35, "{report}");
    let ids: Vec<&str> = report.differing().map(|r| r.id).collect();
    assert_eq!(ids, ["clicks", "conversion-dispositions"]);
    let track = report
        .documents
        .iter()
        .find(|d| d.path == "/api/2/track.asmx?WSDL")
        .unwrap();
    assert!(track.error.as_deref().unwrap().contains("404"), "{track:?}");
    sandbox.shutdown().await;
}

/// One drift kind: the drifts, and each differing report with the kinds of its differences.
struct Case {
    name: &'static str,
    drifts: Vec<WsdlDrift>,
    expected: &'static [(&'static str, &'static [&'static str])],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "renamed-leaf",
            drifts: vec![WsdlDrift::RenameElement {
                report: s("clicks"),
                path: s("site_offer/site_offer_name"),
                to: s("offer_name"),
            }],
            expected: &[("clicks", &["column_moved"])],
        },
        Case {
            name: "renamed-object",
            drifts: vec![WsdlDrift::RenameElement {
                report: s("affiliates"),
                path: s("tier"),
                to: s("affiliate_tier"),
            }],
            // Affiliates and Affiliate Export share the endpoint.
            expected: &[
                ("affiliate-export", &["column_moved", "column_moved"]),
                ("affiliates", &["column_moved", "column_moved"]),
            ],
        },
        Case {
            name: "removed-element",
            drifts: vec![WsdlDrift::RemoveElement {
                report: s("clicks"),
                path: s("udid"),
            }],
            expected: &[("clicks", &["column_missing"])],
        },
        Case {
            name: "element-type",
            drifts: vec![WsdlDrift::ElementType {
                report: s("campaigns"),
                path: s("campaign_id"),
                xsd: s("s:string"),
            }],
            expected: &[("campaigns", &["column_type"])],
        },
        Case {
            name: "added-element",
            drifts: vec![WsdlDrift::AddElement {
                report: s("offers"),
                path: s("offer_score"),
                xsd: s("s:decimal"),
            }],
            expected: &[("offers", &["unmapped"])],
        },
        Case {
            name: "missing-parameter",
            drifts: vec![WsdlDrift::RemoveParam {
                report: s("clicks"),
                param: s("include_duplicates"),
            }],
            expected: &[("clicks", &["param_missing"])],
        },
        Case {
            name: "parameter-type",
            drifts: vec![WsdlDrift::ParamType {
                report: s("conversions"),
                param: s("event_id"),
                xsd: s("s:string"),
            }],
            expected: &[("conversions", &["param_type"])],
        },
        Case {
            name: "other-version",
            drifts: vec![WsdlDrift::OtherVersion {
                service: s("reports"),
                version: 12,
                serve: 13,
            }],
            expected: &[("clicks", &["namespace"])],
        },
        Case {
            name: "removed-method",
            drifts: vec![WsdlDrift::RemoveMethod { report: s("caps") }],
            expected: &[("caps", &["method_missing"])],
        },
        Case {
            name: "not-served",
            drifts: vec![WsdlDrift::NotServed {
                service: s("track"),
                version: 2,
            }],
            expected: &[("conversion-dispositions", &["not_served"])],
        },
    ]
}

fn kind(d: &Difference) -> String {
    serde_json::to_value(d).unwrap()["kind"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn each_drift_is_named_on_the_right_reports() {
    let mut transcript = String::new();
    for case in cases() {
        let report = offline(&case.drifts);
        let got: Vec<(&str, Vec<String>)> = report
            .differing()
            .map(|r| (r.id, r.differences.iter().map(kind).collect()))
            .collect();
        let expected: Vec<(&str, Vec<String>)> = case
            .expected
            .iter()
            .map(|(id, kinds)| (*id, kinds.iter().map(|k| k.to_string()).collect()))
            .collect();
        assert_eq!(got, expected, "{}:\n{report}", case.name);
        assert_eq!(report.matching, 37 - expected.len(), "{}", case.name);
        transcript.push_str(&format!("## {}\n", case.name));
        for line in report.to_string().lines() {
            if !line.starts_with("ok ") {
                transcript.push_str(line.trim_end());
                transcript.push('\n');
            }
        }
    }
    insta::assert_snapshot!("drifts", transcript);
}

#[test]
fn the_json_names_every_difference() {
    let report = offline(&[
        WsdlDrift::RenameElement {
            report: s("clicks"),
            path: s("site_offer/site_offer_name"),
            to: s("offer_name"),
        },
        WsdlDrift::RemoveParam {
            report: s("clicks"),
            param: s("include_duplicates"),
        },
    ]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["matching"], 36);
    assert_eq!(json["total"], 37);
    let clicks = json["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "clicks")
        .unwrap();
    insta::assert_json_snapshot!("clicks_json", clicks);
}

/// A loaded spec as the catalog sees it: defaults filled in, types in their canonical names,
/// shared columns resolved.
fn normalized(spec: &Spec) -> Spec {
    fn column(c: &ColumnSpec) -> ColumnSpec {
        ColumnSpec {
            name: Some(c.name().to_string()),
            nullable: (!c.nullable()).then_some(false),
            personal: c.personal().then_some(true),
            ty: Ty::parse(&c.ty).unwrap().spec_name(),
            fields: c.fields.iter().map(column).collect(),
            ..c.clone()
        }
    }
    let mut s = spec.clone();
    s.table_key = s.table_key.filter(|t| *t != s.primary_key);
    s.response.columns_from = None;
    s.response.columns = s.response.columns.iter().map(column).collect();
    s
}

/// The committed specs with `written` put over them, loaded as `cargo xtask codegen` loads them.
fn load_with(written: &Path) -> Vec<Spec> {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(spec_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    for entry in std::fs::read_dir(written).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    load_specs(dir.path()).unwrap()
}

#[test]
fn specs_derived_from_the_catalog_say_what_the_committed_ones_say() {
    let committed = load_specs(&spec_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for report in cake_catalog::REPORTS.iter() {
        std::fs::write(
            dir.path().join(format!("{}.toml", report.id)),
            spec_toml(report),
        )
        .unwrap();
    }
    let derived = load_specs(dir.path()).unwrap();
    assert_eq!(derived.len(), committed.len());
    for (a, b) in committed.iter().zip(&derived) {
        assert_eq!(normalized(a), normalized(b), "{}", a.id);
    }
}

#[test]
fn corrected_specs_load_and_carry_the_corrections() {
    let report = offline(&[
        WsdlDrift::RenameElement {
            report: s("clicks"),
            path: s("site_offer/site_offer_name"),
            to: s("offer_name"),
        },
        WsdlDrift::RemoveElement {
            report: s("clicks"),
            path: s("udid"),
        },
        WsdlDrift::RemoveParam {
            report: s("clicks"),
            param: s("include_duplicates"),
        },
        WsdlDrift::AddElement {
            report: s("offers"),
            path: s("offer_score"),
            xsd: s("s:decimal"),
        },
        // Inside each contract: a new value, and a field of another type.
        WsdlDrift::AddElement {
            report: s("offers"),
            path: s("offer_contracts/offer_contract_info/bonus"),
            xsd: s("s:decimal"),
        },
        WsdlDrift::ElementType {
            report: s("offers"),
            path: s("offer_contracts/offer_contract_info/offer_contract_id"),
            xsd: s("s:long"),
        },
        // The instance types what the catalog keeps as JSON, and has a new nested element.
        WsdlDrift::NestElement {
            report: s("offers"),
            path: s("upsells"),
            item: s("upsell"),
            leaves: vec![
                (s("upsell_id"), s("s:int")),
                (s("upsell_name"), s("s:string")),
            ],
        },
        WsdlDrift::NestElement {
            report: s("offers"),
            path: s("offer_contracts/offer_contract_info/caps"),
            item: s("cap"),
            leaves: vec![
                (s("cap_type_id"), s("s:int")),
                (s("contact_email"), s("s:string")),
            ],
        },
        WsdlDrift::ElementType {
            report: s("campaigns"),
            path: s("campaign_id"),
            xsd: s("s:long"),
        },
        WsdlDrift::RemoveMethod { report: s("caps") },
    ]);
    let out = tempfile::tempdir().unwrap();
    let written = write_specs(&report, out.path()).unwrap();
    let by_id = |id: &str| written.iter().find(|w| w.id == id).unwrap();
    // Every differing report, and every report the catalog does not call verified yet.
    for r in &report.reports {
        assert_eq!(
            written.iter().any(|w| w.id == r.id),
            !r.matches || !r.catalog_verified,
            "{}",
            r.id
        );
    }
    assert!(by_id("clicks").verified && by_id("clicks").left.is_empty());
    assert!(by_id("offers").verified);
    assert!(by_id("campaigns").verified);
    assert!(
        !by_id("caps").verified,
        "a missing method is left for a person"
    );
    assert!(
        by_id("caps").left[0].contains("Caps"),
        "{:?}",
        by_id("caps").left
    );
    let caps = std::fs::read_to_string(out.path().join("caps.toml")).unwrap();
    assert!(caps.starts_with("# cake-connector verify:"), "{caps}");

    let specs = load_with(out.path());
    let spec = |id: &str| specs.iter().find(|s| s.id == id).unwrap();
    let clicks = spec("clicks");
    assert!(clicks.verified);
    let column = |s: &Spec, name: &str| {
        s.response
            .columns
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .map(|c| (c.path.clone(), c.ty.clone()))
    };
    assert_eq!(
        column(clicks, "site_offer_name"),
        Some((s("site_offer/offer_name"), s("utf8")))
    );
    assert_eq!(column(clicks, "udid"), None);
    assert!(!clicks
        .endpoint
        .params
        .iter()
        .any(|p| p.name == "include_duplicates"));
    assert!(clicks.notes.contains("cake-connector verify"));
    // A new value is kept in `_extra`: the table's columns stay as they are.
    let offers = spec("offers");
    assert!(offers.response.unmapped.contains(&s("offer_score")));
    assert!(offers
        .response
        .unmapped
        .contains(&s("offer_contracts/offer_contract_info/bonus")));
    // Nested types: a field's type, JSON typed as the WSDL nests it, a new nested element of
    // each contract (its personal-looking field marked so).
    let contracts = offers
        .response
        .columns
        .iter()
        .find(|c| c.name() == "offer_contracts")
        .unwrap();
    let field = |c: &cake_spec::ColumnSpec, name: &str| {
        c.fields.iter().find(|f| f.name() == name).cloned().unwrap()
    };
    assert_eq!(field(contracts, "offer_contract_id").ty, "int64");
    let caps = field(contracts, "caps");
    assert_eq!(
        (caps.path.as_str(), caps.ty.as_str()),
        ("caps/cap", "list<struct>")
    );
    assert_eq!(field(&caps, "cap_type_id").ty, "int32");
    assert!(field(&caps, "contact_email").personal());
    let upsells = offers
        .response
        .columns
        .iter()
        .find(|c| c.name() == "upsells")
        .unwrap();
    assert_eq!(
        (upsells.path.as_str(), upsells.ty.as_str()),
        ("upsells/upsell", "list<struct>")
    );
    assert_eq!(
        upsells.fields.iter().map(|f| f.name()).collect::<Vec<_>>(),
        ["upsell_id", "upsell_name"]
    );
    assert_eq!(
        column(spec("campaigns"), "campaign_id").map(|c| c.1),
        Some(s("int64"))
    );
    // Unverified reports that match are now verified, and otherwise unchanged.
    let committed = load_specs(&spec_dir()).unwrap();
    let before = committed
        .iter()
        .find(|s| {
            !s.verified
                && s.id != "caps"
                && report.reports.iter().any(|r| r.id == s.id && r.matches)
        })
        .unwrap();
    let after = spec(&before.id);
    assert!(!before.verified && after.verified);
    assert_eq!(before.response.columns.len(), after.response.columns.len());
}

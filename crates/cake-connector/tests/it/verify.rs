//! `verify` against the sandbox: exit 0 when the catalog matches its WSDL documents, exit 12
//! and the right report and difference for each kind of drift, the JSON shape, corrected spec
//! files, and the key never printed.

use std::process::Command;

use cake_sandbox::{Sandbox, SandboxConfig, WsdlDrift};

const KEY: &str = "verify-secret-key-321";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(domain: &str, extra: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env("COLUMNS", "1000")
        .args(["verify", "--domain", domain, "--timeout", "10"])
        .args(extra)
        .env("CAKE_API_KEY", KEY)
        .env_remove("CAKE_DOMAIN")
        .output()
        .expect("the binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "the key leaked"
    );
    run
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        api_key: KEY.into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn run_async(domain: String, extra: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        run(&domain, &extra)
    })
    .await
    .unwrap()
}

fn s(x: &str) -> String {
    x.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_matches_the_sandbox() {
    let sandbox = sandbox().await;
    let r = run_async(sandbox.url(), vec![]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.ends_with("37 of 37 reports match\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        37
    );
    assert!(r.stdout.contains("ok       clicks"), "{}", r.stdout);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_drift_names_its_report_and_exits_12() {
    let sandbox = sandbox().await;
    let cases: Vec<(WsdlDrift, &[&str], &str)> = vec![
        (
            WsdlDrift::RenameElement {
                report: s("clicks"),
                path: s("site_offer/site_offer_name"),
                to: s("offer_name"),
            },
            &["clicks"],
            "column site_offer_name: element site_offer/site_offer_name is not in the row; site_offer/offer_name is (renamed)",
        ),
        (
            WsdlDrift::RemoveParam {
                report: s("affiliates"),
                param: s("tag_id"),
            },
            &["affiliate-export", "affiliates"],
            "parameter tag_id is not one of the method's",
        ),
        (
            WsdlDrift::ParamType {
                report: s("clicks"),
                param: s("offer_id"),
                xsd: s("s:string"),
            },
            &["clicks"],
            "parameter offer_id: catalog int, WSDL string",
        ),
        (
            WsdlDrift::OtherVersion {
                service: s("export"),
                version: 8,
                serve: 9,
            },
            &["campaigns"],
            "the WSDL describes namespace http://cakemarketing.com/api/9/, not http://cakemarketing.com/api/8/",
        ),
        (
            WsdlDrift::RemoveMethod {
                report: s("currencies"),
            },
            &["currencies"],
            "method Currencies is not served at version 1",
        ),
        (
            WsdlDrift::NotServed {
                service: s("reports"),
                version: 17,
            },
            &["conversion-changes", "conversions"],
            "the instance does not serve /api/17/reports.asmx?WSDL",
        ),
    ];
    for (drift, ids, text) in cases {
        sandbox.set_wsdl_drifts(vec![drift.clone()]);
        let r = run_async(sandbox.url(), vec![]).await;
        assert_eq!(r.code, 12, "{drift:?}: {}{}", r.stdout, r.stderr);
        let differing: Vec<&str> = r
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("differs  "))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(differing, ids, "{drift:?}: {}", r.stdout);
        assert!(r.stdout.contains(text), "{drift:?}: {}", r.stdout);
        assert!(
            r.stdout
                .ends_with(&format!("{} of 37 reports match\n", 37 - ids.len())),
            "{}",
            r.stdout
        );
        assert!(
            r.stderr.contains(&format!(
                "error: {} of 37 reports differ from the instance's WSDL",
                ids.len()
            )),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_has_a_stable_shape() {
    let sandbox = sandbox().await;
    sandbox.set_wsdl_drifts(vec![
        WsdlDrift::ElementType {
            report: s("clicks"),
            path: s("click_id"),
            xsd: s("s:string"),
        },
        WsdlDrift::AddElement {
            report: s("clicks"),
            path: s("campaign/campaign_score"),
            xsd: s("s:int"),
        },
        WsdlDrift::NotServed {
            service: s("track"),
            version: 2,
        },
    ]);
    let r = run_async(sandbox.url(), vec![s("--json")]).await;
    assert_eq!(r.code, 12, "{}", r.stderr);
    let stdout = r.stdout.replace(&sandbox.url(), "<sandbox>");
    let mut json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["instance"], "<sandbox>");
    let docs = json["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 15);
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 37);
    // The shape: every top-level field, a clean entry of each array, and the differing ones.
    let clean_doc = docs.iter().find(|d| d["error"].is_null()).unwrap().clone();
    let clean_report = reports
        .iter()
        .find(|r| r["matches"] == true)
        .unwrap()
        .clone();
    let failed: Vec<serde_json::Value> = docs
        .iter()
        .filter(|d| !d["error"].is_null())
        .cloned()
        .collect();
    let differing: Vec<serde_json::Value> = reports
        .iter()
        .filter(|r| r["matches"] == false)
        .cloned()
        .collect();
    json["documents"] = serde_json::json!({ "first_clean": clean_doc, "failed": failed });
    json["reports"] = serde_json::json!({ "first_clean": clean_report, "differing": differing });
    insta::assert_json_snapshot!("verify_json", json);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrected_specs_are_written() {
    let sandbox = sandbox().await;
    sandbox.set_wsdl_drifts(vec![WsdlDrift::RenameElement {
        report: s("clicks"),
        path: s("site_offer/site_offer_name"),
        to: s("offer_name"),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("specs");
    let r = run_async(
        sandbox.url(),
        vec![s("--write-specs"), out.display().to_string()],
    )
    .await;
    assert_eq!(r.code, 12, "{}", r.stderr);
    assert!(r.stdout.contains("wrote "), "{}", r.stdout);
    let clicks = std::fs::read_to_string(out.join("clicks.toml")).unwrap();
    assert!(clicks.contains("verified = true"), "{clicks}");
    assert!(
        clicks.contains(
            r#"{ name = "site_offer_name", path = "site_offer/offer_name", type = "utf8" }"#
        ),
        "{clicks}"
    );
    // Reports that match and are verified already get no file.
    assert!(!out.join("offers.toml").exists());
    // Unverified ones that match do, now verified.
    let verticals = std::fs::read_to_string(out.join("verticals.toml")).unwrap();
    assert!(verticals.contains("verified = true"));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_instance_is_not_drift() {
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let r = run_async(format!("http://{refused}"), vec![]).await;
    assert_eq!(r.code, 5, "{}", r.stderr);
}

/// A loopback server answering every request with `reply`.
async fn serve(reply: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_any_wsdl_is_not_cake() {
    for reply in [
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 42\r\nConnection: close\r\n\r\n<html><body>Welcome to nginx</body></html>",
    ] {
        let url = serve(reply).await;
        let r = run_async(url, vec![]).await;
        assert_eq!(r.code, 8, "{}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

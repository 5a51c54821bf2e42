//! SOAP calls: every report answers a SOAP 1.2 and a SOAP 1.1 call with the same document as
//! its GET form, in an envelope; a value that does not bind and an envelope that cannot be
//! read are SOAP faults (HTTP 500, the request's fault).

use crate::common;

use cake_sandbox::{Sandbox, SandboxConfig};
use common::*;

/// The SOAP form of a GET query (`/api/N/svc.asmx/Method?a=1&b=2`): the service's path and
/// the envelope, parameters in the same order.
fn soap_call(query: &str, soap12: bool) -> (String, String, String) {
    let (path, params) = query.split_once('?').unwrap();
    let (service, method) = path.rsplit_once('/').unwrap();
    let version = service.split('/').nth(2).unwrap();
    let mut children = String::new();
    for (k, v) in url::form_urlencoded::parse(params.as_bytes()) {
        let v = v.replace('&', "&amp;").replace('<', "&lt;");
        children.push_str(&format!("<{k}>{v}</{k}>"));
    }
    let (ns, prefix) = if soap12 {
        ("http://www.w3.org/2003/05/soap-envelope", "soap12")
    } else {
        ("http://schemas.xmlsoap.org/soap/envelope/", "soap")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><{prefix}:Envelope xmlns:{prefix}=\"{ns}\">\
         <{prefix}:Body><{method} xmlns=\"http://cakemarketing.com/api/{version}/\">{children}\
         </{method}></{prefix}:Body></{prefix}:Envelope>"
    );
    (service.to_string(), method.to_string(), body)
}

/// The content of a document's element `name` (its first occurrence), as bytes.
fn inner<'a>(doc: &'a str, open_prefix: &str, close: &str) -> &'a str {
    let start = doc.find(open_prefix).unwrap();
    let start = start + doc[start..].find('>').unwrap() + 1;
    let end = doc.rfind(close).unwrap();
    &doc[start..end]
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: String,
    soap12: bool,
    method: &str,
) -> (u16, String, String) {
    let mut request = client.post(url).body(body);
    request = if soap12 {
        request.header("content-type", "application/soap+xml; charset=utf-8")
    } else {
        request
            .header("content-type", "text/xml; charset=utf-8")
            .header(
                "SOAPAction",
                format!("\"http://cakemarketing.com/api/{method}\""),
            )
    };
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test]
async fn every_report_answers_soap_with_its_get_document() {
    let s = Sandbox::start(SandboxConfig { ..config(5) }).await.unwrap();
    let client = reqwest::Client::new();
    let mut checked = 0;
    for report in reports() {
        let query = query(report, KEY);
        let get = client
            .get(format!("{}{query}", s.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200, "{}", report.id);
        let get = get.text().await.unwrap();
        let root = get.split("?>").nth(1).unwrap().trim_start();
        let root_name: String = root[1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        let get_inner = if root.contains(&format!("</{root_name}>")) {
            inner(root, &format!("<{root_name}"), &format!("</{root_name}>"))
        } else {
            ""
        };
        for soap12 in [true, false] {
            let (service, method, body) = soap_call(&query, soap12);
            let (status, ct, text) = post(
                &client,
                &format!("{}{service}", s.url()),
                body,
                soap12,
                &method,
            )
            .await;
            assert_eq!(status, 200, "{} soap12={soap12}: {text}", report.id);
            let expected_ct = if soap12 {
                "application/soap+xml; charset=utf-8"
            } else {
                "text/xml; charset=utf-8"
            };
            assert_eq!(ct, expected_ct, "{}", report.id);
            let result = inner(
                &text,
                &format!("<{method}Result"),
                &format!("</{method}Result>"),
            );
            assert_eq!(result, get_inner, "{} soap12={soap12}", report.id);
            assert!(text.contains(&format!("<{method}Response")), "{text}");
        }
        checked += 1;
    }
    assert_eq!(checked, 37);
}

#[tokio::test]
async fn a_value_that_does_not_bind_is_the_requests_fault() {
    let s = Sandbox::start(config(5)).await.unwrap();
    let client = reqwest::Client::new();
    let clicks = cake_catalog::find("clicks").unwrap();
    let q = with_param(&query(clicks, KEY), "affiliate_id", "bloops");
    for soap12 in [true, false] {
        let (service, method, body) = soap_call(&q, soap12);
        let (status, _, text) = post(
            &client,
            &format!("{}{service}", s.url()),
            body,
            soap12,
            &method,
        )
        .await;
        assert_eq!(status, 500, "{text}");
        let code = if soap12 { "soap:Sender" } else { "soap:Client" };
        assert!(text.contains(code), "{text}");
        assert!(text.contains("Cannot convert"), "{text}");
    }
    // An envelope that cannot be read.
    let (status, _, text) = post(
        &client,
        &format!("{}/api/12/reports.asmx", s.url()),
        "<soap12:Envelope><soap12:Body><Clicks>".into(),
        true,
        "Clicks",
    )
    .await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("soap:Sender"), "{text}");
    // A SOAP call holds the key in its body: a wrong one is refused like over GET.
    let q = with_param(&query(clicks, "not-the-key"), "start_date", "2024-03-01");
    let (service, method, body) = soap_call(&q, true);
    let (status, _, text) = post(
        &client,
        &format!("{}{service}", s.url()),
        body,
        true,
        &method,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Invalid API Key"), "{text}");
    let log = s.request_log();
    assert!(log.iter().all(|l| l.method == "POST" && !l.key_in_url));
}

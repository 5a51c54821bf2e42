//! The WSDL documents: one per service and version of the catalog, well-formed, describing
//! every method with its parameters and its response; served by the server with the drifts set
//! on it; one small document snapshot so the format is reviewable.

use crate::common;

use cake_catalog::REPORTS;
use cake_sandbox::{respond, wsdl_document, Sandbox, WsdlDrift};
use common::config;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Local names of the elements of a document, in order; panics when it is not well-formed.
fn element_names(doc: &str) -> Vec<String> {
    let mut reader = Reader::from_str(doc);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name();
                let full: &str = name.as_ref();
                names.push(full.rsplit(':').next().unwrap().to_string());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    names
}

#[test]
fn every_service_of_the_catalog_describes_its_methods() {
    for report in REPORTS.iter() {
        let e = report.endpoint;
        let path = format!("/api/{}/{}.asmx?WSDL", e.version, e.service);
        let r = respond(&config(1), &path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.content_type, cake_sandbox::XML_CONTENT_TYPE);
        let doc = r.text();
        let names = element_names(&doc);
        assert_eq!(names[0], "definitions");
        for part in [
            "types", "schema", "message", "portType", "binding", "service",
        ] {
            assert!(names.iter().any(|n| n == part), "{path}: no {part}");
        }
        for needle in [
            format!("<s:element name=\"{}\">", e.method),
            format!("<s:element name=\"{}Response\">", e.method),
            format!("<wsdl:message name=\"{}HttpGetIn\">", e.method),
            format!("element=\"tns:{}\"", report.response.root),
            format!("targetNamespace=\"{}\"", e.namespace()),
        ] {
            assert!(doc.contains(&needle), "{path}: no {needle}");
        }
        for p in report.params {
            assert!(
                doc.contains(&format!("name=\"{}\"", p.name)),
                "{path}: no parameter {}",
                p.name
            );
        }
        // Case-insensitive query, as ASP.NET.
        let lower = respond(&config(1), &path.replace("WSDL", "wsdl"));
        assert_eq!(lower.body, r.body);
    }
}

#[test]
fn other_paths_keep_their_answers() {
    for path in [
        "/api/99/reports.asmx?WSDL",
        "/api/12/reports.asmx",
        "/api/12/reports.asmx?op=Clicks",
        "/api/12/nothing.asmx?WSDL",
    ] {
        assert_eq!(respond(&config(1), path).status, 404, "{path}");
    }
}

#[test]
fn a_small_wsdl() {
    let doc = wsdl_document("get", 2, &[]).unwrap();
    insta::assert_snapshot!("wsdl-get-2", doc.replace("\r\n", "\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_drifts_set_on_it() {
    let sandbox = Sandbox::start(config(1)).await.unwrap();
    let url = format!("{}/api/12/reports.asmx?WSDL", sandbox.url());
    let get = |url: String| async move {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, clean) = get(url.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(clean, wsdl_document("reports", 12, &[]).unwrap());
    let drifts = vec![WsdlDrift::RenameElement {
        report: "clicks".into(),
        path: "udid".into(),
        to: "device_udid".into(),
    }];
    sandbox.set_wsdl_drifts(drifts.clone());
    let (_, drifted) = get(url.clone()).await;
    assert_eq!(drifted, wsdl_document("reports", 12, &drifts).unwrap());
    assert!(drifted.contains("name=\"device_udid\"") && !clean.contains("device_udid"));
    sandbox.set_wsdl_drifts(vec![WsdlDrift::NotServed {
        service: "reports".into(),
        version: 12,
    }]);
    assert_eq!(get(url).await.0, 404);
    sandbox.shutdown().await;
}

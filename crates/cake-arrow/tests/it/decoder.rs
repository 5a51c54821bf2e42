//! Behaviour of the decoder beyond the fixtures: batching, the envelope while streaming,
//! strict mode, time zones, limits, entity handling and error persistence.

use crate::common;

use cake_arrow::{CakeRefusal, DecodeError, Decoder, DecoderOptions};
use cake_core::failure::{Class, Classify};
use common::*;

fn clicks() -> &'static cake_catalog::Report {
    cake_catalog::find("clicks").unwrap()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap()
}

/// A Clicks document around the given rows.
fn clicks_doc(rows: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<click_report_response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://cakemarketing.com/api/12/">
<success>true</success><row_count>9</row_count><clicks>{rows}</clicks></click_report_response>"#
    )
    .into_bytes()
}

fn error_of(
    report: &'static cake_catalog::Report,
    options: DecoderOptions,
    body: &[u8],
) -> DecodeError {
    let whole = decode_all(report, options, body);
    assert_eq!(
        whole,
        decode_chunked(report, options, body, &[1]),
        "chunking changed the result"
    );
    match whole.1 {
        Ok(s) => panic!("decoded: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn batches_have_the_configured_size() {
    let body = fixture("responses/clicks/get.xml");
    let options = DecoderOptions {
        batch_size: 3,
        ..DecoderOptions::default()
    };
    let (batches, summary) = decode_all(clicks(), options, &body);
    let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, [3, 1]);
    assert_eq!(summary.unwrap().rows, 4);
}

#[test]
fn the_envelope_is_known_before_the_rows() {
    let body = fixture("responses/clicks/get.xml");
    let cut = body.windows(8).position(|w| w == b"<clicks>").unwrap();
    // On one thread every push is decoded at once (several hold up to a block of rows).
    let one_thread = DecoderOptions {
        threads: 1,
        ..DecoderOptions::default()
    };
    let mut decoder = Decoder::new(clicks(), one_thread);
    decoder.push(&body[..cut]).unwrap();
    assert_eq!(decoder.envelope().success, Some(true));
    assert_eq!(decoder.envelope().row_count, Some(1234));
    assert_eq!(decoder.rows(), 0);
    decoder.push(&body[cut..]).unwrap();
    assert_eq!(decoder.rows(), 4);
    let summary = decoder.finish().unwrap();
    assert_eq!(summary.rows, 4);
    assert!(decoder.pop_batch().is_some());
    assert!(decoder.pop_batch().is_none());
    // Finishing twice returns the same summary; pushing afterwards is an error.
    assert_eq!(decoder.finish().unwrap(), summary);
    assert_eq!(decoder.push(b"<x/>").unwrap_err().class(), Class::NotCake);
}

#[test]
fn array_documents_have_no_envelope() {
    let body = fixture("responses/daily-summary/get.xml");
    let report = cake_catalog::find("daily-summary").unwrap();
    let (_, summary) = decode_all(report, DecoderOptions::default(), &body);
    let summary = summary.unwrap();
    assert_eq!(summary.envelope, cake_arrow::Envelope::default());
    assert_eq!(summary.rows, 4);
}

#[test]
fn strict_mode_refuses_unknown_elements() {
    let body = fixture("responses/clicks/drift.xml");
    let options = DecoderOptions {
        strict: true,
        ..DecoderOptions::default()
    };
    let e = error_of(clicks(), options, &body);
    assert!(matches!(e, DecodeError::UnknownElement { .. }), "{e}");
    assert_eq!(e.class(), Class::NotCake);
    insta::assert_snapshot!(e.to_string(), @"clicks: element `generated_by` is not in the catalog and strict mode is on: the API may be newer than the catalog; update the report's spec or decode without strict mode");
    let body = clicks_doc("<click><click_id>1</click_id><fingerprint/></click>");
    let e = error_of(clicks(), options, &body);
    insta::assert_snapshot!(e.to_string(), @"clicks: element `click/fingerprint` (row 1) is not in the catalog and strict mode is on: the API may be newer than the catalog; update the report's spec or decode without strict mode");
}

#[test]
fn datetimes_are_read_in_the_instance_zone() {
    // New York: 2024-03-10 02:30 does not exist (moved forward to 03:30 EDT), 2024-11-03
    // 01:30 happens twice (the earlier, EDT, is taken), 2024-07-01 12:00 is EDT.
    let body = clicks_doc(
        "<click><click_id>1</click_id><click_date>2024-03-10T02:30:00</click_date></click>\
         <click><click_id>2</click_id><click_date>2024-11-03T01:30:00.5</click_date></click>\
         <click><click_id>3</click_id><click_date>2024-07-01T12:00:00</click_date></click>\
         <click><click_id>4</click_id><click_date>2024-01-15T23:59:59.9999999</click_date></click>",
    );
    let options = DecoderOptions {
        timezone: "America/New_York".parse().unwrap(),
        ..DecoderOptions::default()
    };
    let (batches, summary) = decode_all(clicks(), options, &body);
    summary.unwrap();
    let column = batches[0].column_by_name("click_date").unwrap();
    let shown: Vec<String> = (0..4).map(|i| value(column, i)).collect();
    assert_eq!(
        shown,
        [
            "2024-03-10T07:30:00.000000Z",
            "2024-11-03T05:30:00.500000Z",
            "2024-07-01T16:00:00.000000Z",
            "2024-01-16T04:59:59.999999Z",
        ]
    );
}

#[test]
fn value_errors_name_column_row_and_value() {
    // In strict mode a value that does not fit its column fails the response; a key column's
    // does whatever the mode (a row without its key cannot be told apart).
    let rows = "<click><click_id>1</click_id></click><click><click_id>2</click_id></click>\
                <click><click_id>3</click_id><total_clicks>12x</total_clicks></click>";
    let options = DecoderOptions {
        batch_size: 2,
        strict: true,
        ..DecoderOptions::default()
    };
    let e = error_of(clicks(), options, &clicks_doc(rows));
    assert_eq!(e.class(), Class::NotCake);
    insta::assert_snapshot!(e.to_string(), @r#"clicks: column `total_clicks`, row 3: cannot read "12x": not an integer"#);

    let long = "9".repeat(500);
    let e = error_of(
        clicks(),
        DecoderOptions {
            strict: false,
            ..options
        },
        &clicks_doc(&format!("<click><click_id>{long}</click_id></click>")),
    );
    let text = e.to_string();
    assert!(text.contains("row 1"), "{text}");
    assert!(text.contains(&format!("{}…", "9".repeat(200))), "{text}");
    assert!(!text.contains(&"9".repeat(201)), "{text}");
}

#[test]
fn required_columns_must_have_a_value() {
    for row in [
        "<click><visitor_id>5</visitor_id></click>",
        "<click><click_id xsi:nil=\"true\"/></click>",
        "<click><click_id/></click>",
    ] {
        let e = error_of(clicks(), DecoderOptions::default(), &clicks_doc(row));
        assert_eq!(e.class(), Class::NotCake);
        assert_eq!(
            e.to_string(),
            "clicks: column `click_id`, row 1: no value (element missing, nil or empty) but the \
             catalog says the column is never null"
        );
    }
}

#[test]
fn text_is_kept_as_sent_with_xml_line_ends() {
    let body = clicks_doc(
        "<click><click_id>1</click_id>\
         <sub_id_1>  two leading spaces</sub_id_1>\
         <sub_id_2><![CDATA[<b>bold</b> & more]]></sub_id_2>\
         <sub_id_3>a<!-- note -->b</sub_id_3>\
         <sub_id_4>line\r\nbreak\rlone&#xD;kept</sub_id_4>\
         <sub_id_5 xsi:nil=\"true\">ignored</sub_id_5>\
         <user_agent>Mozilla/5.0%20(X11)</user_agent>\
         <paid><amount> 1.50 </amount></paid></click>",
    );
    let (batches, summary) = decode_all(clicks(), DecoderOptions::default(), &body);
    summary.unwrap();
    let b = &batches[0];
    let v = |name: &str| value(b.column_by_name(name).unwrap(), 0);
    assert_eq!(v("sub_id_1"), r#""  two leading spaces""#);
    assert_eq!(v("sub_id_2"), r#""<b>bold</b> & more""#);
    assert_eq!(v("sub_id_3"), r#""ab""#);
    assert_eq!(v("sub_id_4"), r#""line\nbreak\nlone\rkept""#);
    assert_eq!(v("sub_id_5"), "null");
    assert_eq!(v("user_agent"), r#""Mozilla/5.0%20(X11)""#);
    assert_eq!(v("paid_amount"), "1.5000000000");
}

#[test]
fn whitespace_in_values_is_kept() {
    // The whitespace between elements produces no event; inside values every byte counts.
    let body = clicks_doc(
        "<click><click_id>\n  1\n</click_id>\
         <sub_id_1>   </sub_id_1>\
         <sub_id_2> a &amp; b </sub_id_2>\
         <sub_id_3>  <!-- note -->  y</sub_id_3>\
         <sub_id_4>\t<![CDATA[ z ]]> </sub_id_4>\
         <sub_id_5>&#x20; &#9;</sub_id_5></click>",
    );
    for sizes in [&[usize::MAX][..], &[1], &[3, 5, 7]] {
        let (batches, summary) = decode_chunked(clicks(), DecoderOptions::default(), &body, sizes);
        summary.unwrap();
        let v = |name: &str| value(batches[0].column_by_name(name).unwrap(), 0);
        assert_eq!(v("click_id"), "1");
        assert_eq!(v("sub_id_1"), r#""   ""#);
        assert_eq!(v("sub_id_2"), r#"" a & b ""#);
        assert_eq!(v("sub_id_3"), r#""    y""#);
        assert_eq!(v("sub_id_4"), r#""\t z  ""#);
        assert_eq!(v("sub_id_5"), r#""  \t""#);
    }
}

#[test]
fn references_are_resolved_or_refused() {
    let ok = clicks_doc("<click><click_id>1</click_id><sub_id_1>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;</sub_id_1></click>");
    let (batches, summary) = decode_all(clicks(), DecoderOptions::default(), &ok);
    summary.unwrap();
    assert_eq!(
        value(batches[0].column_by_name("sub_id_1").unwrap(), 0),
        "\"&<>\\\"'AB😀\""
    );

    let e = error_of(
        clicks(),
        DecoderOptions::default(),
        &clicks_doc("<click><click_id>1</click_id><sub_id_1>&nbsp;</sub_id_1></click>"),
    );
    assert!(
        matches!(e, DecodeError::UnknownEntity { ref name, .. } if name == "nbsp"),
        "{e}"
    );
    let e = error_of(
        clicks(),
        DecoderOptions::default(),
        &clicks_doc("<click><click_id>1</click_id><sub_id_1>&#xD800;</sub_id_1></click>"),
    );
    assert!(matches!(e, DecodeError::BadCharRef { .. }), "{e}");
    let e = error_of(
        clicks(),
        DecoderOptions::default(),
        &clicks_doc("<click><click_id>1</click_id><sub_id_1>R&D</sub_id_1></click>"),
    );
    assert_eq!(e.class(), Class::NotCake);
    assert!(e.to_string().contains("&amp;"), "{e}");
}

#[test]
fn limits_fail_clearly_whatever_the_chunking() {
    let options = DecoderOptions {
        max_text_bytes: 64,
        ..DecoderOptions::default()
    };
    let long = "x".repeat(100);
    let e = error_of(
        clicks(),
        options,
        &clicks_doc(&format!(
            "<click><click_id>1</click_id><sub_id_1>{long}</sub_id_1></click>"
        )),
    );
    assert!(
        matches!(e, DecodeError::TextTooLarge { max: 64, .. }),
        "{e}"
    );
    // A text with many `>` is still one text node.
    let arrows = "a > b ".repeat(20);
    let e = error_of(
        clicks(),
        options,
        &clicks_doc(&format!(
            "<click><click_id>1</click_id><sub_id_1>{arrows}</sub_id_1></click>"
        )),
    );
    assert!(matches!(e, DecodeError::TextTooLarge { .. }), "{e}");
    // A tag that never ends.
    let e = error_of(
        clicks(),
        options,
        &clicks_doc(&format!(
            "<click><click_id a=\"{long}\">1</click_id></click>"
        )),
    );
    assert!(matches!(e, DecodeError::TextTooLarge { .. }), "{e}");

    let options = DecoderOptions {
        max_depth: 6,
        ..DecoderOptions::default()
    };
    let ok = clicks_doc("<click><click_id>1</click_id><campaign><campaign_type><campaign_type_id>2</campaign_type_id></campaign_type></campaign></click>");
    assert!(decode_all(clicks(), options, &ok).1.is_ok());
    let options = DecoderOptions {
        max_depth: 5,
        ..options
    };
    let e = error_of(clicks(), options, &ok);
    assert!(matches!(e, DecodeError::TooDeep { max: 5, .. }), "{e}");
}

#[test]
fn a_long_comment_full_of_markup_characters() {
    // Every chunk ends inside the comment at a `>`: the decoder waits for the buffer to
    // double before parsing it again, and the result is that of one push.
    let comment = "a > b ".repeat(40_000);
    let body = clicks_doc(&format!(
        "<click><click_id>1</click_id><!-- {comment} --><sub_id_1>x</sub_id_1></click>"
    ));
    let whole = decode_all(clicks(), DecoderOptions::default(), &body);
    assert!(whole.1.is_ok());
    assert_eq!(
        whole,
        decode_chunked(clicks(), DecoderOptions::default(), &body, &[97])
    );
}

/// Inputs where a window boundary once changed the result.
#[test]
fn window_boundaries_never_change_errors() {
    let cases: [&[u8]; 4] = [
        // A `>` inside a malformed reference.
        b"<click_report_response><clicks><click><click_id>1</click_id><sub_id_1>a&>amp;b</sub_id_1></click></clicks></click_report_response>",
        // Whitespace before a tag cut at the end of a window.
        b"<click_report_response>\n  <clicks>\n    <click a=\">\" ><click_id>1</click_id></click></clicks></click_report_response>",
        // Text before the document element, then invalid UTF-8.
        b"<?xml version=\"1.0\"?>>\xff <click_report_response/>",
        // Text after the document element.
        b"<click_report_response/>x>\xff",
    ];
    for body in cases {
        let whole = decode_all(clicks(), DecoderOptions::default(), body);
        for sizes in [&[1][..], &[2, 3], &[5, 1, 7], &[24, 1]] {
            let chunked = decode_chunked(clicks(), DecoderOptions::default(), body, sizes);
            assert_eq!(
                whole,
                chunked,
                "{:?} in chunks {sizes:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn the_pending_buffer_is_bounded() {
    // A text node bigger than the limit, pushed in small chunks without any `>`: the decoder
    // fails before buffering it whole.
    let options = DecoderOptions {
        max_text_bytes: 1024,
        ..DecoderOptions::default()
    };
    let mut decoder = Decoder::new(clicks(), options);
    let head = clicks_doc("");
    let head = &head[..head.windows(8).position(|w| w == b"<clicks>").unwrap() + 8];
    decoder.push(head).unwrap();
    decoder
        .push(b"<click><click_id>1</click_id><sub_id_1>")
        .unwrap();
    let mut failed = None;
    for i in 0..100 {
        if let Err(e) = decoder.push(&[b'y'; 100]) {
            failed = Some((i, e));
            break;
        }
    }
    let (i, e) = failed.expect("no error");
    assert!(i <= 11, "failed only after {i} chunks");
    assert!(matches!(e, DecodeError::TextTooLarge { .. }), "{e}");
    // The error sticks.
    assert_eq!(decoder.push(b"</sub_id_1>").unwrap_err(), e);
    assert_eq!(decoder.finish().unwrap_err(), e);
}

#[test]
fn bodies_that_are_not_xml() {
    let cases: [(&str, &[u8]); 5] = [
        ("html without doctype", b"<html><head><title>503 Service Unavailable</title></head><body>busy<br></body></html>"),
        ("json", br#"{"d": {"success": false}}"#),
        ("blank", b"   \r\n  "),
        ("declaration only", b"<?xml version=\"1.0\"?>\n"),
        ("text after whitespace", b"\n\nServer Error in '/' Application."),
    ];
    let mut out = String::new();
    for (name, body) in cases {
        let e = error_of(clicks(), DecoderOptions::default(), body);
        out.push_str(&format!("{name}: [{}] {e}\n", e.class()));
    }
    insta::assert_snapshot!(out, @r#"
    html without doctype: [not-cake] clicks: the response is an HTML page, not Cake XML: "503 Service Unavailable". The server failed or the URL is not a Cake API endpoint
    json: [not-cake] clicks: the response is not XML but text: "{"d": {"success": false}}". Cake answers a missing or invalid parameter this way; check the request
    blank: [not-cake] clicks: the response is empty: no XML document was received; retry the request
    declaration only: [not-cake] clicks: the document ends early at byte 22 (no document element): the response was cut off; retry the request
    text after whitespace: [not-cake] clicks: the response is not XML but text: "Server Error in '/' Application.". Cake answers a missing or invalid parameter this way; check the request
    "#);
}

#[test]
fn soap_11_faults_and_refusals() {
    let fault = br#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Server was unable to read request.</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"#;
    let e = error_of(clicks(), DecoderOptions::default(), fault);
    assert_eq!(e.class(), Class::Rejected);
    assert_eq!(e.cake_message(), Some("Server was unable to read request."));

    let refused = br#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><ClicksResponse xmlns="http://cakemarketing.com/api/12/"><ClicksResult><success>false</success><message>Invalid date range</message><row_count>0</row_count></ClicksResult></ClicksResponse></soap:Body></soap:Envelope>"#;
    let e = error_of(clicks(), DecoderOptions::default(), refused);
    assert_eq!(e.class(), Class::Rejected);
    assert_eq!(e.cake_message(), Some("Invalid date range"));

    // A refusal whose body is cut after the message is still the refusal.
    let cut =
        b"<click_report_response><success>false</success><message>Restricted</message><row_co";
    let e = error_of(clicks(), DecoderOptions::default(), cut);
    assert_eq!(e.class(), Class::Unavailable);
}

#[test]
fn a_large_text_body_is_not_xml_whatever_the_chunking() {
    // Plain text bigger than the text limit: "not XML", also when it arrives byte by byte
    // after leading whitespace.
    let options = DecoderOptions {
        max_text_bytes: 1024,
        ..DecoderOptions::default()
    };
    let mut body = b"\r\n  ".to_vec();
    body.extend(std::iter::repeat_n(b'z', 10_000));
    let e = error_of(clicks(), options, &body);
    assert!(matches!(e, DecodeError::NotXml { .. }), "{e}");
}

#[test]
fn content_after_the_document_is_an_error() {
    let mut body = clicks_doc("<click><click_id>1</click_id></click>");
    body.extend_from_slice(b"\n<extra/>");
    let e = error_of(clicks(), DecoderOptions::default(), &body);
    assert!(matches!(e, DecodeError::TrailingContent { .. }), "{e}");
    let mut body = clicks_doc("");
    body.extend_from_slice(b"  \r\n  ");
    assert!(decode_all(clicks(), DecoderOptions::default(), &body)
        .1
        .is_ok());
}

#[test]
fn byte_order_marks() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(clicks_doc(
        "<click><click_id>1</click_id><sub_id_1>\u{FEFF}x</sub_id_1></click>",
    ));
    let whole = decode_all(clicks(), DecoderOptions::default(), &body);
    // Split right after `<sub_id_1>` so that the next window starts with U+FEFF.
    let at = body.windows(10).position(|w| w == b"<sub_id_1>").unwrap() + 10;
    let split = decode_chunked(clicks(), DecoderOptions::default(), &body, &[at, 1 << 20]);
    assert_eq!(whole, split);
    assert_eq!(
        whole,
        decode_chunked(clicks(), DecoderOptions::default(), &body, &[1])
    );
    let (batches, summary) = whole;
    summary.unwrap();
    assert_eq!(
        value(batches[0].column_by_name("sub_id_1").unwrap(), 0),
        format!("{:?}", "\u{FEFF}x")
    );
}

#[test]
fn answers_to_another_request_are_refused() {
    let clicks = clicks();
    // Another report's document, in GET and SOAP form.
    for path in [
        "responses/conversions/get.xml",
        "responses/conversions/soap12.xml",
        "responses/account-status/get.xml",
    ] {
        let e = error_of(clicks, DecoderOptions::default(), &fixture(path));
        assert!(matches!(e, DecodeError::WrongAnswer { .. }), "{path}: {e}");
    }
    // The right document under another API version.
    let body = String::from_utf8(fixture("responses/clicks/get.xml"))
        .unwrap()
        .replace("cakemarketing.com/api/12/", "cakemarketing.com/api/11/");
    let e = error_of(clicks, DecoderOptions::default(), body.as_bytes());
    assert!(matches!(e, DecodeError::WrongAnswer { .. }), "{e}");
    assert!(e.to_string().contains("API version 11"), "{e}");
    // Cake's refusal wins over the version of its namespace (the KB shows one under api/1).
    let refusal = br#"<click_report_response xmlns="http://cakemarketing.com/api/1/"><success>false</success><message>Invalid API Key</message><row_count>0</row_count></click_report_response>"#;
    let e = error_of(clicks, DecoderOptions::default(), refusal);
    assert_eq!(e.class(), Class::Authentication);
    // Reports that share an answer accept each other's documents.
    let changes = cake_catalog::find("conversion-changes").unwrap();
    let (_, summary) = decode_all(
        changes,
        DecoderOptions::default(),
        &fixture("responses/conversions/get.xml"),
    );
    assert!(summary.is_ok(), "{summary:?}");
}

#[test]
fn cake_messages_are_classified_and_quoted_safely() {
    let cases = [
        ("Restricted", CakeRefusal::Throttled),
        ("Too many requests", CakeRefusal::Throttled),
        ("Invalid API Key", CakeRefusal::InvalidApiKey),
        (
            "Timeout expired. The timeout period elapsed prior to completion of the operation.",
            CakeRefusal::Transient,
        ),
        (
            "Transaction (Process ID 61) was deadlocked on lock resources with another process",
            CakeRefusal::Transient,
        ),
        (
            "Object reference not set to an instance of an object.",
            CakeRefusal::Transient,
        ),
        ("", CakeRefusal::Transient),
        ("Invalid start_date", CakeRefusal::Permanent),
        ("Conversion Not Found", CakeRefusal::Permanent),
        ("The moon is in the wrong phase", CakeRefusal::Other),
    ];
    for (message, refusal) in cases {
        let body = format!(
            r#"<click_report_response xmlns="http://cakemarketing.com/api/12/"><success>false</success><message>{message}</message><row_count>0</row_count></click_report_response>"#
        );
        let e = error_of(clicks(), DecoderOptions::default(), body.as_bytes());
        assert!(
            matches!(e, DecodeError::Cake { refusal: r, .. } if r == refusal),
            "{message:?}: {e}"
        );
        assert_eq!(e.class(), refusal.class(), "{message:?}");
    }
    let body = "<click_report_response xmlns=\"http://cakemarketing.com/api/12/\"><success>false</success><message>Restricted\x1b]0;pwned\x07\r\nerror: forged</message><row_count>0</row_count></click_report_response>";
    let text = error_of(clicks(), DecoderOptions::default(), body.as_bytes()).to_string();
    assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    assert!(
        text.contains("\\x1b]0;pwned\\x07\\nerror: forged"),
        "{text}"
    );
}

/// The value of one cell of the last column named `column`, as text.
fn cell(batches: &[arrow_array::RecordBatch], column: &str, row: usize) -> Option<String> {
    use arrow_array::Array;
    let mut seen = 0;
    for b in batches {
        if row < seen + b.num_rows() {
            let array = b.column_by_name(column).unwrap();
            let i = row - seen;
            if array.is_null(i) {
                return None;
            }
            return Some(arrow_cast::display::array_value_to_string(array, i).unwrap());
        }
        seen += b.num_rows();
    }
    panic!("no row {row}");
}

#[test]
fn unknown_elements_and_misfit_values_are_kept_in_the_row() {
    let rows = "<click><click_id>1</click_id><total_clicks>12.5</total_clicks>\
                <click_date>2024-02-30T00:00:00</click_date>\
                <tags><tag>x</tag></tags>\
                <fingerprint>f3a9</fingerprint>\
                <site_offer><site_offer_id>17</site_offer_id><tier>gold</tier><tier>silver</tier></site_offer>\
                <device><os><name>iOS</name><version xsi:nil=\"true\"/></os></device>\
                <empty/></click>\
                <click><click_id>2</click_id><total_clicks>3</total_clicks></click>";
    let (batches, summary) = decode_all(clicks(), DecoderOptions::default(), &clicks_doc(rows));
    let summary = summary.unwrap();
    assert_eq!(summary.rows, 2);
    let extra = cell(&batches, "_extra", 0).unwrap();
    let extra: serde_json::Value = serde_json::from_str(&extra).unwrap();
    assert_eq!(
        extra,
        serde_json::json!({
            "fingerprint": "f3a9",
            "site_offer/tier": ["gold", "silver"],
            "device/os": { "name": "iOS", "version": null },
            "empty": "",
            "tags": { "tag": "x" },
        })
    );
    let rejected: serde_json::Value =
        serde_json::from_str(&cell(&batches, "_rejected", 0).unwrap()).unwrap();
    assert_eq!(rejected["total_clicks"]["value"], "12.5");
    assert_eq!(rejected["click_date"]["value"], "2024-02-30T00:00:00");
    assert!(rejected["click_date"]["reason"].as_str().unwrap().len() > 3);
    assert_eq!(cell(&batches, "total_clicks", 0), None);
    assert_eq!(cell(&batches, "click_date", 0), None);
    // The second row fits: no extra, nothing rejected, its values exact.
    assert_eq!(cell(&batches, "_extra", 1), None);
    assert_eq!(cell(&batches, "_rejected", 1), None);
    assert_eq!(cell(&batches, "total_clicks", 1).as_deref(), Some("3"));
    assert_eq!(summary.rejected["total_clicks"].count, 1);
    assert_eq!(summary.rejected["total_clicks"].example, "12.5");
    assert_eq!(summary.unknown.listed["click/fingerprint"], 1);
    // Strict mode refuses both.
    let e = error_of(
        clicks(),
        DecoderOptions {
            strict: true,
            ..DecoderOptions::default()
        },
        &clicks_doc(rows),
    );
    assert!(matches!(e, DecodeError::UnknownElement { .. }), "{e}");
    assert_eq!(e.class(), Class::NotCake);
}

#[test]
fn bare_and_wrapped_layouts_are_both_read() {
    // Verticals is documented wrapped (v2) and was seen bare (v1); Traffic Export the other way.
    let verticals = cake_catalog::find("verticals").unwrap();
    let traffic = cake_catalog::find("traffic-export").unwrap();
    let bare_verticals = br#"<ArrayOfVertical xmlns="http://cakemarketing.com/api/2/"><vertical><vertical_id>1</vertical_id><vertical_name>Auto</vertical_name></vertical><vertical><vertical_id>2</vertical_id><vertical_name>Home</vertical_name></vertical></ArrayOfVertical>"#;
    let wrapped_traffic = br#"<traffic_export_response xmlns="http://cakemarketing.com/api/1/"><success>true</success><row_count>1</row_count><traffic><Traffic><campaign_id>7</campaign_id></Traffic></traffic></traffic_export_response>"#;
    for (report, body, rows) in [
        (verticals, &bare_verticals[..], 2),
        (traffic, &wrapped_traffic[..], 1),
    ] {
        let (_, summary) = decode_all(report, DecoderOptions::default(), body);
        assert_eq!(summary.unwrap().rows, rows, "{}", report.id);
    }
}

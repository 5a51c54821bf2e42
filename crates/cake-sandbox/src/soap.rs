//! SOAP requests as an ASMX service takes them: SOAP 1.2 (`application/soap+xml`) and SOAP 1.1
//! (`text/xml` with a `SOAPAction` header) posted to `/api/N/svc.asmx`. A call is read into the
//! GET form of the same request (`/api/N/svc.asmx/Method?param=…`, parameters in the order
//! sent), so that routing, binding, faults and hostile behaviours are the GET path's; the
//! answer's document is then put in an envelope (`{Method}Response/{Method}Result`), and
//! ASP.NET's plain-text errors become SOAP faults.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::request::TEXT;
use crate::Response;

/// The SOAP version of a call; the answer is in the same version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Soap11,
    Soap12,
}

impl Version {
    fn envelope_ns(self) -> &'static str {
        match self {
            Version::Soap11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Version::Soap12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Version::Soap11 => "text/xml; charset=utf-8",
            Version::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }
}

/// A SOAP call read into its GET form.
#[derive(Debug)]
pub(crate) struct Call {
    pub version: Version,
    pub method: String,
    /// `/api/N/svc.asmx/Method?name=value&…`, as the GET form of the same call.
    pub path_and_query: String,
}

/// The SOAP version a POST's headers declare, if any.
pub(crate) fn version(content_type: &str, soap_action: Option<&str>) -> Option<Version> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/soap+xml" => Some(Version::Soap12),
        "text/xml" if soap_action.is_some() => Some(Version::Soap11),
        _ => None,
    }
}

/// Reads a call posted to `path` (a service: `/api/12/reports.asmx`). An envelope that cannot
/// be read is the fault ASP.NET answers: HTTP 500, `soap:Sender` (1.1: `soap:Client`).
pub(crate) fn read(version: Version, path: &str, body: &[u8]) -> Result<Call, Response> {
    let unreadable = |detail: &str| {
        fault(
            version,
            true,
            &format!("Server was unable to read request. ---> {detail}"),
        )
    };
    if !path.ends_with(".asmx") {
        return Err(fault(
            version,
            true,
            &format!("SOAP requests are posted to a service (/api/N/svc.asmx), not to {path}."),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| unreadable("There is an error in XML document (1, 1): not UTF-8."))?;
    let mut reader = Reader::from_str(text);
    // Depth 0: outside; 1: Envelope; 2: Header or Body; 3: the method; 4: a parameter.
    let mut depth = 0usize;
    let mut in_body = false;
    let mut method = None::<String>;
    let mut params: Vec<(String, String)> = Vec::new();
    let mut value: Option<String> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            unreadable(&format!(
                "There is an error in XML document (byte {}): {e}.",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(e) => {
                let name = local(e.name().as_ref()).to_string();
                match depth {
                    1 => in_body = name == "Body",
                    2 if in_body && method.is_none() => method = Some(name),
                    3 if in_body => {
                        params.push((name, String::new()));
                        value = Some(String::new());
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref()).to_string();
                match depth {
                    2 if in_body && method.is_none() => method = Some(name),
                    3 if in_body => params.push((name, String::new())),
                    _ => {}
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 3 && in_body {
                    if let (Some(v), Some(last)) = (value.take(), params.last_mut()) {
                        last.1 = v;
                    }
                }
                if depth == 1 {
                    in_body = false;
                }
            }
            Event::Text(t) => {
                if let Some(v) = value.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(v) = value.as_mut() {
                    let raw: &str = &c;
                    v.push_str(raw);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(v) = value.as_mut() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        _ => {
                            let name: &str = &r;
                            match name {
                                "amp" => Some('&'),
                                "lt" => Some('<'),
                                "gt" => Some('>'),
                                "quot" => Some('"'),
                                "apos" => Some('\''),
                                _ => None,
                            }
                        }
                    };
                    match resolved {
                        Some(c) => v.push(c),
                        None => {
                            return Err(unreadable(
                                "There is an error in XML document: an unknown entity.",
                            ))
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let method = method.ok_or_else(|| unreadable("The envelope holds no method element."))?;
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    Ok(Call {
        version,
        path_and_query: format!("{path}/{method}?{query}"),
        method,
    })
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The answer to a call in its envelope: a document (any status) becomes
/// `{Method}Response/{Method}Result` holding the document root's children, with the root's
/// attributes (its namespaces); ASP.NET's plain-text HTTP 500 becomes a SOAP fault (the
/// request's fault for a parameter that does not bind, the server's for the rest). Anything
/// else (a redirect, JSON, an HTML page) passes as it is.
pub(crate) fn wrap(call: &Call, response: Response) -> Response {
    if response.status == 500 && response.content_type == TEXT {
        let text = String::from_utf8_lossy(&response.body);
        let sender = ["Missing parameter", "Cannot convert", "Input string"]
            .iter()
            .any(|n| text.contains(n));
        return fault(call.version, sender, text.trim_end());
    }
    if !response.content_type.starts_with("text/xml") {
        return response;
    }
    let Some(body) = envelope(call, &response.body) else {
        return response;
    };
    Response {
        status: response.status,
        content_type: if response.content_type.contains("iso-8859-1") {
            match call.version {
                Version::Soap11 => "text/xml; charset=iso-8859-1",
                Version::Soap12 => "application/soap+xml; charset=iso-8859-1",
            }
        } else {
            call.version.content_type()
        },
        body,
    }
}

/// The document `doc` in an envelope, or `None` when it has no root element to take apart.
fn envelope(call: &Call, doc: &[u8]) -> Option<Vec<u8>> {
    // The prolog (XML declaration, comments) stays first; the root's start tag is found by
    // bytes, since a hostile document may not be well-formed further on.
    let mut at = 0;
    loop {
        let rest = doc.get(at..)?;
        let lt = rest.iter().position(|&b| b == b'<')?;
        at += lt;
        match doc.get(at + 1)? {
            b'?' | b'!' => {
                let close = doc.get(at..)?.iter().position(|&b| b == b'>')?;
                at += close + 1;
            }
            _ => break,
        }
    }
    let tag_end = at + doc.get(at..)?.iter().position(|&b| b == b'>')?;
    let self_closing = doc.get(tag_end - 1) == Some(&b'/');
    let tag = &doc[at + 1..if self_closing { tag_end - 1 } else { tag_end }];
    let name_len = tag
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(tag.len());
    let root = &tag[..name_len];
    let attributes = &tag[name_len..];
    // `None` as the tail: the root never closes (a document cut short), nor does the envelope.
    let (inner, tail): (&[u8], Option<&[u8]>) = if self_closing {
        (&[], doc.get(tag_end + 1..))
    } else {
        let mut close = b"</".to_vec();
        close.extend_from_slice(root);
        close.push(b'>');
        let end = doc
            .windows(close.len())
            .rposition(|w| w == close.as_slice());
        match end {
            Some(end) if end > tag_end => (&doc[tag_end + 1..end], doc.get(end + close.len()..)),
            _ => (doc.get(tag_end + 1..).unwrap_or_default(), None),
        }
    };
    let ns = call.version.envelope_ns();
    let method = &call.method;
    let mut out = Vec::with_capacity(doc.len() + 400);
    out.extend_from_slice(&doc[..at]);
    out.extend_from_slice(
        format!("<soap:Envelope xmlns:soap=\"{ns}\"><soap:Body><{method}Response").as_bytes(),
    );
    out.extend_from_slice(attributes);
    out.extend_from_slice(format!("><{method}Result>").as_bytes());
    out.extend_from_slice(inner);
    if let Some(tail) = tail {
        out.extend_from_slice(
            format!("</{method}Result></{method}Response></soap:Body></soap:Envelope>").as_bytes(),
        );
        out.extend_from_slice(tail);
    }
    Some(out)
}

/// A SOAP fault as ASP.NET writes it: HTTP 500, `soap:Sender` (1.1 `soap:Client`) when the
/// request is at fault, `soap:Receiver` (1.1 `soap:Server`) otherwise.
pub(crate) fn fault(version: Version, sender: bool, text: &str) -> Response {
    let text = cake_core::text::escape_xml(text);
    let ns = version.envelope_ns();
    let body = match version {
        Version::Soap12 => {
            let code = if sender {
                "soap:Sender"
            } else {
                "soap:Receiver"
            };
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{ns}\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body><soap:Fault>\
                 <soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>\
                 <soap:Text xml:lang=\"en\">{text}</soap:Text></soap:Reason><soap:Detail />\
                 </soap:Fault></soap:Body></soap:Envelope>"
            )
        }
        Version::Soap11 => {
            let code = if sender { "soap:Client" } else { "soap:Server" };
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{ns}\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body><soap:Fault>\
                 <faultcode>{code}</faultcode><faultstring>{text}</faultstring><detail />\
                 </soap:Fault></soap:Body></soap:Envelope>"
            )
        }
    };
    Response {
        status: 500,
        content_type: version.content_type(),
        body: body.into_bytes(),
    }
}

//! Requests as they go on the wire: the endpoint, every parameter of the plan in order with the
//! page filled in, in one of the two forms Cake documents for every method (SOAP 1.2, the
//! default, and HTTP GET). The key goes into a request only at the moment it is sent, and only
//! into the body under SOAP: a URL is written down by everything it passes through.

use std::fmt;
use std::str::FromStr;

use cake_catalog::{ParamValue, PlannedRequest, Report};
use url::Url;

use crate::handler::Page;
use crate::instance::Instance;
use cake_core::secret::{ApiKey, REDACTED};

/// How requests reach Cake. Every ASMX method answers both ("Requests Allowed: GET & SOAP" on
/// the API's pages); the answers hold the same document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Protocol {
    /// SOAP 1.2: `POST /api/N/svc.asmx`, the key in the body, never in the URL.
    #[default]
    Soap,
    /// HTTP GET: `/api/N/svc.asmx/Method?api_key=…&…`, the key in the query string.
    Get,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Soap, Protocol::Get];

    /// The name the flag and the config use: `soap` or `get`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Soap => "soap",
            Protocol::Get => "get",
        }
    }

    /// The other protocol (what `check` tries when one is refused).
    pub const fn other(self) -> Protocol {
        match self {
            Protocol::Soap => Protocol::Get,
            Protocol::Get => Protocol::Soap,
        }
    }

    /// The HTTP method of a report request.
    pub const fn http_method(self) -> &'static str {
        match self {
            Protocol::Soap => "POST",
            Protocol::Get => "GET",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Protocol, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "soap" | "soap12" | "soap1.2" => Ok(Protocol::Soap),
            "get" | "http-get" => Ok(Protocol::Get),
            _ => Err(format!(
                "unknown protocol `{s}`: use soap (SOAP 1.2, the key in the request body; the \
                 default) or get (HTTP GET, the key in the URL)"
            )),
        }
    }
}

/// The media type of a SOAP 1.2 request.
pub const SOAP12_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

/// What to put where the key goes.
#[derive(Clone, Copy)]
pub(crate) enum Key<'a> {
    Real(&'a ApiKey),
    Redacted,
}

/// One request, ready to send.
pub(crate) struct Outgoing {
    pub(crate) url: Url,
    /// The SOAP envelope; `None` for GET.
    pub(crate) body: Option<String>,
}

/// The parameters of one request in order, the plan's slots filled from the page (a paged
/// report's first page when `page` is `None`).
fn params<'a>(
    request: &'a PlannedRequest,
    page: Option<Page>,
    key: Key<'a>,
) -> impl Iterator<Item = (&'static str, std::borrow::Cow<'a, str>)> + 'a {
    request.params.iter().map(move |p| {
        let value = match &p.value {
            ParamValue::ApiKey => match key {
                Key::Real(k) => k.expose().into(),
                Key::Redacted => REDACTED.into(),
            },
            ParamValue::StartAtRow => page.map_or(1, |pg| pg.start_at_row).to_string().into(),
            ParamValue::RowLimit => page.map_or(0, |pg| pg.row_limit).to_string().into(),
            ParamValue::Value(v) => v.as_str().into(),
        };
        (p.name, value)
    })
}

/// One request in `protocol`'s form.
pub(crate) fn request(
    instance: &Instance,
    report: &Report,
    request: &PlannedRequest,
    page: Option<Page>,
    key: Key<'_>,
    protocol: Protocol,
) -> Outgoing {
    match protocol {
        Protocol::Get => {
            let mut url = instance.join(&report.endpoint.path());
            url.query_pairs_mut()
                .extend_pairs(params(request, page, key));
            Outgoing { url, body: None }
        }
        Protocol::Soap => Outgoing {
            url: instance.join(&report.endpoint.service_path()),
            body: Some(envelope(report, request, page, key)),
        },
    }
}

/// The SOAP 1.2 envelope of one request: the method element in the version's namespace, one
/// child per parameter in the plan's order.
fn envelope(report: &Report, request: &PlannedRequest, page: Option<Page>, key: Key<'_>) -> String {
    let endpoint = &report.endpoint;
    let mut body = String::with_capacity(512);
    body.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <soap12:Envelope xmlns:soap12=\"http://www.w3.org/2003/05/soap-envelope\">\n  \
         <soap12:Body>\n",
    );
    body.push_str(&format!(
        "    <{} xmlns=\"{}\">\n",
        endpoint.method,
        endpoint.namespace()
    ));
    for (name, value) in params(request, page, key) {
        body.push_str(&format!(
            "      <{name}>{}</{name}>\n",
            cake_core::text::escape_xml(&value)
        ));
    }
    body.push_str(&format!(
        "    </{}>\n  </soap12:Body>\n</soap12:Envelope>\n",
        endpoint.method
    ));
    body
}

/// A request as it may be shown (logs, errors, `--dry-run`): the URL with the key redacted
/// under GET; under SOAP the method's address with its parameters and no key at all (the key is
/// in the body, which is only ever shown redacted).
pub fn display_url(
    instance: &Instance,
    report: &Report,
    request: &PlannedRequest,
    page: Option<Page>,
    protocol: Protocol,
) -> String {
    match protocol {
        Protocol::Get => self::request(instance, report, request, page, Key::Redacted, protocol)
            .url
            .as_str()
            .replace("%3Credacted%3E", REDACTED),
        Protocol::Soap => {
            let mut url = instance.join(&report.endpoint.path());
            let mut shown = params(request, page, Key::Redacted)
                .filter(|(name, _)| !is_key_param(request, name))
                .peekable();
            if shown.peek().is_some() {
                url.query_pairs_mut().extend_pairs(shown);
            }
            url.to_string()
        }
    }
}

/// The body of a request as it may be shown (`--dry-run`): the SOAP envelope with the key
/// redacted; `None` under GET, which has no body.
pub fn display_body(
    report: &Report,
    request: &PlannedRequest,
    page: Option<Page>,
    protocol: Protocol,
) -> Option<String> {
    match protocol {
        Protocol::Get => None,
        Protocol::Soap => Some(envelope(report, request, page, Key::Redacted)),
    }
}

fn is_key_param(request: &PlannedRequest, name: &str) -> bool {
    request
        .params
        .iter()
        .any(|p| p.name == name && matches!(p.value, ParamValue::ApiKey))
}

//! What a failed attempt was: an HTTP status, a connection error, or a body the page handler
//! refused, classified into a [`TransportError`] that says whether another attempt may help.
//!
//! Every text that came from the server (an error page, a `Location` header, Cake's message,
//! a value quoted by the decoder) passes through [`ServerText`]: the API key is scrubbed in any
//! encoding and control characters are escaped, so nothing a server sends is printed raw.

use std::time::Duration;

use cake_catalog::text::escape_controls;

use cake_core::failure::Class;

use crate::error::TransportError;
use crate::handler::BodyError;
use crate::retry::parse_retry_after;
use cake_core::secret::Scrubber;

/// The most bytes of response head the HTTP client reads (hyper's default buffer).
const HEAD_LIMIT: usize = 8192 + 4096 * 100;

/// Largest error body read to explain an HTTP error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Makes server text printable: the key scrubbed, control characters escaped.
#[derive(Debug, Clone)]
pub(crate) struct ServerText {
    scrubber: Scrubber,
}

impl ServerText {
    pub(crate) fn new(scrubber: Scrubber) -> ServerText {
        ServerText { scrubber }
    }

    pub(crate) fn clean(&self, raw: &str) -> String {
        escape_controls(&self.scrubber.scrub(raw)).into_owned()
    }

    /// `raw` scrubbed, escaped, then cut to `max_chars`: the one way server text is shortened.
    pub(crate) fn excerpt(&self, raw: &str, max_chars: usize) -> String {
        cake_core::text::excerpt(raw, Some(&self.scrubber), max_chars)
    }
}

/// A failed attempt and how long the server asked us to wait.
pub(crate) struct Failure {
    pub error: TransportError,
    /// The wait asked for, and the header that asked for it (cleaned).
    pub retry_after: Option<(Duration, String)>,
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// A body the handler refused.
pub(crate) fn body_failure(e: BodyError, url: &str, host: &str, text: &ServerText) -> Failure {
    let url = url.to_string();
    Failure::from(match e {
        BodyError::Refused { class, message } => {
            let message = text.clean(&message);
            match class {
                Class::Authentication => TransportError::Authentication {
                    host: host.to_string(),
                    message,
                },
                Class::Inconsistent => TransportError::Contradiction { url, message },
                class => TransportError::Refused {
                    url,
                    class,
                    message,
                },
            }
        }
        // The handler's own error (no server text in it) is kept whole.
        BodyError::Local(source) => TransportError::Local { url, source },
    })
}

/// A response whose status is not a success.
pub(crate) async fn http_failure(
    response: reqwest::Response,
    url: &str,
    host: String,
    text: &ServerText,
) -> Failure {
    let status = response.status();
    let url = url.to_string();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .and_then(|v| {
            let wait = parse_retry_after(&v, std::time::SystemTime::now())?;
            Some((wait, text.excerpt(&v, 80)))
        });
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| text.clean(&String::from_utf8_lossy(v.as_bytes())));
    let body = read_text(response, ERROR_BODY_LIMIT).await;
    let summary = summarize(&body, text);
    let code = status.as_u16();
    let error = match code {
        401 | 403 => TransportError::Authentication {
            host,
            message: format!(
                "HTTP {code}: {summary}; check the API key (Cake: Admin > System Settings > API)"
            ),
        },
        404 => TransportError::NotCake {
            url,
            message: "HTTP 404: no such endpoint; check the domain, and that the instance serves this API version".into(),
        },
        300..=399 => TransportError::NotCake {
            url,
            message: format!(
                "HTTP {code} redirect to {}; give the final address as the domain",
                location.as_deref().unwrap_or("an unnamed location")
            ),
        },
        429 => TransportError::Http {
            url,
            status: code,
            message: format!("too many requests: {summary}"),
        },
        500..=599 if is_parameter_error(&body) => TransportError::Rejected {
            url,
            message: format!("HTTP {code}: {summary}"),
        },
        500..=599 => TransportError::Http {
            url,
            status: code,
            message: summary,
        },
        _ => TransportError::Rejected {
            url,
            message: format!("HTTP {code}: {summary}"),
        },
    };
    Failure {
        error,
        retry_after: if code == 429 || code == 503 {
            retry_after
        } else {
            None
        },
    }
}

/// A request that failed before a response arrived (or whose body broke off).
pub(crate) fn reqwest_failure(
    e: reqwest::Error,
    url: &str,
    host: String,
    connect_timeout: Duration,
    text: &ServerText,
) -> Failure {
    let e = e.without_url();
    let chain = text.clean(&error_chain(&e));
    let lower = chain.to_ascii_lowercase();
    let error = if lower.contains("message head is too large")
        || lower.contains("header too large")
        || lower.contains("headers too large")
    {
        TransportError::HeadTooLarge {
            url: url.to_string(),
            limit: HEAD_LIMIT,
        }
    } else if e.is_timeout() {
        TransportError::Timeout {
            url: url.to_string(),
            what: "connecting",
            after: connect_timeout,
        }
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        TransportError::UnknownHost { host }
    } else if lower.contains("tls")
        || lower.contains("certificate")
        || lower.contains("handshake")
        || lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
    {
        // A plain-http server answers a TLS hello with bytes that are no TLS record.
        let plain = lower.contains("invalidcontenttype") || lower.contains("corrupt message");
        let message = if plain && url.starts_with("https://") {
            let origin = url
                .splitn(4, '/')
                .take(3)
                .collect::<Vec<_>>()
                .join("/")
                .replacen("https://", "http://", 1);
            format!(
                "{chain}; this server speaks plain http, not https: give {origin} as the \
                 domain if that is what you meant (http:// is accepted on loopback, elsewhere \
                 with --allow-insecure-http)"
            )
        } else {
            format!("{chain}; check that the domain is right and serves https")
        };
        TransportError::Tls { host, message }
    } else if e.is_connect() || e.is_request() {
        TransportError::Connection {
            host,
            message: chain,
        }
    } else {
        TransportError::Incomplete {
            url: url.to_string(),
            message: chain,
        }
    };
    Failure::from(error)
}

/// An error and its sources, joined: the workspace's one way of writing them.
pub(crate) use cake_core::failure::chain as error_chain;

/// ASP.NET's answer to a missing or unconvertible parameter (HTTP 500, plain text): the caller's
/// fault, never retried.
fn is_parameter_error(text: &str) -> bool {
    [
        "Missing parameter",
        "Cannot convert",
        "Parameter name:",
        "Input string was not in a correct format",
        // A SOAP fault blaming the request (SOAP 1.2 `soap:Sender`, 1.1 `soap:Client`): the
        // envelope or a value in it cannot be read, and sending it again changes nothing.
        "Server was unable to read request",
        "Server did not recognize",
        "soap:Sender",
        "soap:Client",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// The gist of an error body: scrubbed, escaped, then shortened to 300 characters.
fn summarize(body: &str, text: &ServerText) -> String {
    let gist = cake_core::text::page_summary(body);
    if gist.is_empty() {
        return "(empty body)".to_string();
    }
    text.excerpt(&gist, 300)
}

async fn read_text(mut response: reqwest::Response, limit: usize) -> String {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match tokio::time::timeout(Duration::from_secs(10), response.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(limit);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_errors_are_recognised() {
        assert!(is_parameter_error("Missing parameter: start_date."));
        assert!(is_parameter_error(
            "Cannot convert bloops to System.Int32.\r\nParameter name: affiliate_id ---> Input string was not in a correct format."
        ));
        assert!(!is_parameter_error("Service Unavailable"));
    }

    #[test]
    fn error_pages_are_summarized() {
        let text = ServerText::new(Scrubber::default());
        assert_eq!(
            summarize(
                "<html><head><title>Runtime Error</title></head><body>x</body></html>",
                &text
            ),
            "Runtime Error"
        );
        assert_eq!(
            summarize("\n\nMissing parameter: x.\n", &text),
            "Missing parameter: x."
        );
        assert_eq!(summarize("", &text), "(empty body)");
    }

    /// A key that straddles the 300th character of an error page is scrubbed before the page
    /// is cut: not one of its characters is printed.
    #[test]
    fn error_pages_are_scrubbed_before_they_are_cut() {
        let key = "Kq8v-Zt3p-W9mx-77Lr";
        let mut scrubber = Scrubber::default();
        scrubber.add(key);
        let text = ServerText::new(scrubber);
        for at in 270..300 {
            let page = format!("{}{key} trailing text", "x".repeat(at));
            let summary = summarize(&page, &text);
            for run in key.as_bytes().windows(4) {
                let run = std::str::from_utf8(run).unwrap();
                assert!(!summary.contains(run), "{at}: {run} in {summary}");
            }
        }
    }

    #[test]
    fn server_text_is_scrubbed_and_escaped() {
        let mut scrubber = Scrubber::default();
        scrubber.add("k+y/1");
        let text = ServerText::new(scrubber);
        assert_eq!(
            text.clean("bad key k%2by%2f1\x1b]0;t\x07\nerror: forged"),
            "bad key <redacted>\\x1b]0;t\\x07\\nerror: forged"
        );
    }
}

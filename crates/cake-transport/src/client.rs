//! The client: one Cake instance, one key, bounded concurrency, retries, paging.

use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cake_catalog::{Plan, PlannedRequest, Report};
use futures_util::stream::{self, StreamExt};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::time::Instant;

use crate::error::TransportError;
use crate::handler::{BodyError, HandlerFactory, Page, PageHandler, PageOutcome, PageRequest};
use crate::instance::Instance;
use crate::limiter::Limiter;
use crate::query::{display_url, request_url, Key};
use crate::retry::{parse_retry_after, RetryPolicy};
use crate::secret::ApiKey;

/// How a [`Client`] talks to its instance.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Optional budget of request starts per minute.
    pub requests_per_minute: Option<u32>,
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub request_timeout: Duration,
    /// Longest silence while a body is arriving.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
    /// Seed of the backoff jitter (`None`: from the clock).
    pub jitter_seed: Option<u64>,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            concurrency: 4,
            requests_per_minute: None,
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            jitter_seed: None,
            user_agent: format!("cake-connector/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Counters over the client's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests sent (attempts, retries included).
    pub requests: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Most requests in flight at once.
    pub max_in_flight: u64,
}

/// One page, read whole by one handler.
#[derive(Debug)]
pub struct PageResult<T> {
    pub outcome: PageOutcome<T>,
    /// Attempts it took (1 when the first one succeeded).
    pub attempts: u32,
    /// Body bytes of the accepted attempt.
    pub bytes: u64,
    digest: u64,
}

/// What the pages of one window held.
#[derive(Debug, Clone, Default)]
pub struct WindowResult {
    /// Pages read.
    pub pages: u32,
    /// Rows received over all pages.
    pub rows: u64,
    /// Cake's `row_count` (from the first page), when the report has an envelope.
    pub row_count: Option<u64>,
    /// Requests sent for this window, retries included.
    pub requests: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Body bytes of the accepted attempts.
    pub bytes: u64,
    /// Things that went unexpectedly but not wrong (a `row_count` that changed between pages).
    pub warnings: Vec<String>,
}

/// A client for one Cake instance and key.
pub struct Client {
    http: reqwest::Client,
    instance: Instance,
    key: ApiKey,
    options: ClientOptions,
    limiter: Limiter,
    requests: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
    rng: Mutex<SmallRng>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("instance", &self.instance)
            .field("key", &self.key)
            .field("options", &self.options)
            .finish()
    }
}

/// Largest error body read to explain an HTTP error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Pages of a report without `row_count` are read one after another; this bounds a server that
/// never sends a short page.
const MAX_SEQUENTIAL_PAGES: u32 = 100_000;

impl Client {
    pub fn new(
        instance: Instance,
        key: ApiKey,
        options: ClientOptions,
    ) -> Result<Client, TransportError> {
        let http = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            // A redirect would carry the key to another address: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            // Retries are this crate's, with its own classification.
            .retry(reqwest::retry::never())
            .no_proxy()
            .build()
            .map_err(|e| TransportError::Connection {
                host: instance.host(),
                message: format!("cannot set up the HTTP client: {}", e.without_url()),
            })?;
        let seed = options.jitter_seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        Ok(Client {
            http,
            limiter: Limiter::new(options.concurrency, options.requests_per_minute),
            instance,
            key,
            options,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
        })
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The key, for callers that must scrub it out of data they keep (raw responses).
    pub fn api_key(&self) -> &ApiKey {
        &self.key
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::SeqCst),
            retries: self.retries.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            max_in_flight: self.limiter.max_in_flight(),
        }
    }

    /// The URL of a request with the key redacted, as logs and `--dry-run` show it.
    pub fn display_url(
        &self,
        report: &Report,
        request: &PlannedRequest,
        page: Option<Page>,
    ) -> String {
        display_url(&self.instance, report, request, page)
    }

    /// Every page of one planned request (one window), handed to `consume` in page order as
    /// soon as each is complete. Pages after the first run concurrently (within the client's
    /// bound) once the first page's `row_count` tells how many there are; reports without
    /// `row_count` are paged one after another until a short page. At most `concurrency` pages
    /// are read ahead of `consume`, so memory stays bounded whatever the window's size.
    pub async fn fetch_window<F, C, E>(
        &self,
        plan: &Plan,
        request: &PlannedRequest,
        factory: &F,
        mut consume: C,
    ) -> Result<WindowResult, E>
    where
        F: HandlerFactory,
        C: FnMut(<F::Handler as PageHandler>::Output) -> Result<(), E>,
        E: From<TransportError>,
    {
        let report = plan.report;
        let (page_size, paged) = match plan.page_size {
            Some(size) if report.is_paged() => (size.max(1), true),
            _ => (0, false),
        };
        let page_at = |index: u32| Page {
            index,
            start_at_row: 1 + u64::from(index) * u64::from(page_size),
            row_limit: page_size,
        };
        let mut pager = Pager {
            client: self,
            report,
            request,
            page_size,
            paged,
            row_count: None,
            rows: 0,
            most: 0,
            bytes: 0,
            pages: 0,
            requests: 0,
            retries: 0,
            previous: None,
            warnings: Vec::new(),
        };
        let first = self
            .fetch_page(report, request, paged.then(|| page_at(0)), factory)
            .await?;
        pager.row_count = first.outcome.row_count;
        let first_rows = first.outcome.rows;
        consume(pager.accept(first, page_at(0))?)?;
        if paged {
            match pager.row_count {
                Some(total) if total > first_rows => {
                    let pages = total.div_ceil(u64::from(page_size));
                    let pages = u32::try_from(pages).map_err(|_| TransportError::Paging {
                        url: self.display_url(report, request, None),
                        message: format!("row_count {total} needs more pages than can be counted"),
                    })?;
                    let mut rest = stream::iter(1..pages)
                        .map(|i| self.fetch_page(report, request, Some(page_at(i)), factory))
                        .buffered(self.options.concurrency.max(1))
                        .enumerate();
                    while let Some((i, page)) = rest.next().await {
                        let page = page?;
                        consume(pager.accept(page, page_at(i as u32 + 1))?)?;
                    }
                }
                Some(_) => {}
                None => {
                    let mut index = 0;
                    let mut last_rows = first_rows;
                    while last_rows == u64::from(page_size) {
                        index += 1;
                        if index >= MAX_SEQUENTIAL_PAGES {
                            return Err(TransportError::Paging {
                                url: self.display_url(report, request, None),
                                message: format!(
                                    "no short page after {MAX_SEQUENTIAL_PAGES} pages; the server seems to ignore start_at_row"
                                ),
                            }
                            .into());
                        }
                        let next = self
                            .fetch_page(report, request, Some(page_at(index)), factory)
                            .await?;
                        last_rows = next.outcome.rows;
                        consume(pager.accept(next, page_at(index))?)?;
                    }
                }
            }
        }
        Ok(pager.finish()?)
    }

    /// One page, retried as a whole on transient failures. Each attempt reads the body into a
    /// fresh handler; a failed attempt's handler is dropped.
    pub async fn fetch_page<F: HandlerFactory>(
        &self,
        report: &Report,
        request: &PlannedRequest,
        page: Option<Page>,
        factory: &F,
    ) -> Result<PageResult<<F::Handler as PageHandler>::Output>, TransportError> {
        let policy = self.options.retry;
        let started = Instant::now();
        let shown = self.display_url(report, request, page);
        let mut attempt = 1;
        loop {
            let info = PageRequest {
                window: request.window,
                page,
                attempt,
            };
            let failure = match self.attempt(report, request, &info, &shown, factory).await {
                Ok(result) => return Ok(result),
                Err(f) => f,
            };
            let error = failure.error;
            if !error.is_retryable() {
                return Err(error);
            }
            let delay = match failure.retry_after {
                Some(d) => d.min(policy.max_retry_after),
                None => {
                    let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                    policy.backoff(attempt, &mut *rng)
                }
            };
            let elapsed = started.elapsed();
            if attempt >= policy.max_attempts || elapsed + delay > policy.max_elapsed {
                return Err(TransportError::RetriesExhausted {
                    attempts: attempt,
                    elapsed,
                    last: Box::new(error),
                });
            }
            self.retries.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(url = %shown, attempt, ?delay, "retrying: {error}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt<F: HandlerFactory>(
        &self,
        report: &Report,
        request: &PlannedRequest,
        info: &PageRequest,
        shown: &str,
        factory: &F,
    ) -> Result<PageResult<<F::Handler as PageHandler>::Output>, Failure> {
        let _slot = self.limiter.acquire().await;
        self.requests.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(url = %shown, attempt = info.attempt, "GET");
        let url = request_url(
            &self.instance,
            report,
            request,
            info.page,
            Key::Real(&self.key),
        );
        let work = async {
            let response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| self.map_reqwest(e, shown))?;
            self.read_response(response, info, shown, factory).await
        };
        match tokio::time::timeout(self.options.request_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Failure::from(TransportError::Timeout {
                url: shown.to_string(),
                what: "the request",
                after: self.options.request_timeout,
            })),
        }
    }

    async fn read_response<F: HandlerFactory>(
        &self,
        mut response: reqwest::Response,
        info: &PageRequest,
        shown: &str,
        factory: &F,
    ) -> Result<PageResult<<F::Handler as PageHandler>::Output>, Failure> {
        let status = response.status();
        if !status.is_success() {
            return Err(self.http_failure(response, shown).await);
        }
        let mut handler = factory.handler(info);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut bytes = 0u64;
        loop {
            let chunk =
                match tokio::time::timeout(self.options.idle_timeout, response.chunk()).await {
                    Err(_) => {
                        return Err(Failure::from(TransportError::Timeout {
                            url: shown.to_string(),
                            what: "waiting for the next bytes of the body",
                            after: self.options.idle_timeout,
                        }))
                    }
                    Ok(Err(e)) => {
                        return Err(Failure::from(TransportError::Incomplete {
                            url: shown.to_string(),
                            message: self.key.redact(&error_chain(&e.without_url())),
                        }))
                    }
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(chunk))) => chunk,
                };
            bytes += chunk.len() as u64;
            self.bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            hasher.write(&chunk);
            handler
                .feed(&chunk)
                .map_err(|e| self.body_failure(e, shown))?;
        }
        let outcome = handler.finish().map_err(|e| self.body_failure(e, shown))?;
        Ok(PageResult {
            outcome,
            attempts: info.attempt,
            bytes,
            digest: hasher.finish(),
        })
    }

    fn body_failure(&self, e: BodyError, shown: &str) -> Failure {
        let url = shown.to_string();
        let host = self.instance.host();
        Failure::from(match e {
            BodyError::Throttled(m) => TransportError::Throttled {
                url,
                message: self.key.redact(&m),
            },
            BodyError::Incomplete(m) => TransportError::Incomplete {
                url,
                message: self.key.redact(&m),
            },
            BodyError::Authentication(m) => TransportError::Authentication {
                host,
                message: self.key.redact(&m),
            },
            BodyError::Rejected(m) => TransportError::Rejected {
                url,
                message: self.key.redact(&m),
            },
            BodyError::Invalid(m) => TransportError::NotCake {
                url,
                message: self.key.redact(&m),
            },
        })
    }

    async fn http_failure(&self, response: reqwest::Response, shown: &str) -> Failure {
        let status = response.status();
        let url = shown.to_string();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| self.key.redact(v));
        let text = self
            .key
            .redact(&read_text(response, ERROR_BODY_LIMIT).await);
        let summary = summarize(&text);
        let code = status.as_u16();
        let error = match code {
            401 | 403 => TransportError::Authentication {
                host: self.instance.host(),
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
            500..=599 if is_parameter_error(&text) => TransportError::Rejected {
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

    fn map_reqwest(&self, e: reqwest::Error, shown: &str) -> Failure {
        let e = e.without_url();
        let host = self.instance.host();
        let chain = self.key.redact(&error_chain(&e));
        let lower = chain.to_ascii_lowercase();
        let error = if e.is_timeout() {
            TransportError::Timeout {
                url: shown.to_string(),
                what: "connecting",
                after: self.options.connect_timeout,
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
            TransportError::Tls {
                host,
                message: chain,
            }
        } else if e.is_connect() || e.is_request() {
            TransportError::Connection {
                host,
                message: chain,
            }
        } else {
            TransportError::Incomplete {
                url: shown.to_string(),
                message: chain,
            }
        };
        Failure::from(error)
    }
}

struct Failure {
    error: TransportError,
    retry_after: Option<Duration>,
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// The checks between consecutive pages of one window.
struct Pager<'a> {
    client: &'a Client,
    report: &'a Report,
    request: &'a PlannedRequest,
    page_size: u32,
    paged: bool,
    row_count: Option<u64>,
    rows: u64,
    /// Largest row_count any page reported.
    most: u64,
    bytes: u64,
    pages: u32,
    requests: u64,
    retries: u64,
    /// (digest, rows) of the previous page.
    previous: Option<(u64, u64)>,
    warnings: Vec<String>,
}

impl Pager<'_> {
    /// Checks a page against the window so far and returns its output.
    fn accept<T>(&mut self, r: PageResult<T>, page: Page) -> Result<T, TransportError> {
        let url = || {
            self.client
                .display_url(self.report, self.request, self.paged.then_some(page))
        };
        if self.paged {
            if r.outcome.rows > u64::from(self.page_size) {
                return Err(TransportError::Paging {
                    url: url(),
                    message: format!(
                        "the page holds {} rows but row_limit was {}: the server ignores row_limit",
                        r.outcome.rows, self.page_size
                    ),
                });
            }
            if let Some((digest, rows)) = self.previous {
                if rows > 0 && digest == r.digest {
                    return Err(TransportError::Paging {
                        url: url(),
                        message: format!(
                            "page {} is identical to page {}: the server ignores start_at_row",
                            page.index + 1,
                            page.index
                        ),
                    });
                }
            }
            if page.index > 0 && r.outcome.row_count != self.row_count {
                self.warnings.push(format!(
                    "row_count changed from {} to {} between pages (page {} of {}): rows were added or removed while paging",
                    opt(self.row_count),
                    opt(r.outcome.row_count),
                    page.index + 1,
                    url()
                ));
            }
        }
        self.previous = Some((r.digest, r.outcome.rows));
        self.rows += r.outcome.rows;
        self.most = self.most.max(r.outcome.row_count.unwrap_or(0));
        self.bytes += r.bytes;
        self.pages += 1;
        self.requests += u64::from(r.attempts);
        self.retries += u64::from(r.attempts.saturating_sub(1));
        Ok(r.outcome.output)
    }

    fn finish(self) -> Result<WindowResult, TransportError> {
        let mut warnings = self.warnings;
        let url = || self.client.display_url(self.report, self.request, None);
        if let Some(total) = self.row_count {
            if self.rows > self.most {
                return Err(TransportError::Paging {
                    url: url(),
                    message: format!(
                        "received {} rows but row_count is {}: pages overlap",
                        self.rows, self.most
                    ),
                });
            }
            if self.rows != total {
                warnings.push(format!(
                    "row_count was {total} but {} rows arrived for {}",
                    self.rows,
                    url()
                ));
            }
        }
        Ok(WindowResult {
            pages: self.pages,
            rows: self.rows,
            row_count: self.row_count,
            requests: self.requests,
            retries: self.retries,
            bytes: self.bytes,
            warnings,
        })
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// An error and its sources, joined.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// ASP.NET's answer to a missing or unconvertible parameter (HTTP 500, plain text): the caller's
/// fault, never retried.
fn is_parameter_error(text: &str) -> bool {
    [
        "Missing parameter",
        "Cannot convert",
        "Parameter name:",
        "Input string was not in a correct format",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// The first meaningful line of an error body, short.
fn summarize(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>")) {
        let title = text.get(start + 7..end).map(str::trim).unwrap_or_default();
        if !title.is_empty() && start + 7 <= end {
            return summarize(title);
        }
    }
    let plain: String = if text.contains('<') {
        // Drop markup of HTML error pages.
        let mut out = String::new();
        let mut in_tag = false;
        for c in text.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    } else {
        text.to_string()
    };
    let line = plain
        .split(['\n', '\r'])
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty body)");
    let mut short: String = line.chars().take(300).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
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
        assert_eq!(
            summarize("<html><head><title>Runtime Error</title></head><body>x</body></html>"),
            "Runtime Error"
        );
        assert_eq!(
            summarize("\n\nMissing parameter: x.\n"),
            "Missing parameter: x."
        );
        assert_eq!(summarize(""), "(empty body)");
    }
}

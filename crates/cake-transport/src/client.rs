//! The client: one Cake instance, one key, bounded concurrency, and one page read with retries.
//! What a failure was is in `failure.rs`. The window loop (paging a window and checking its
//! pages against each other) is the caller's: cake-pipeline's `fetch_window`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cake_catalog::{PlannedRequest, Report};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::time::Instant;

use cake_core::failure::Class;

use crate::error::TransportError;
use crate::failure::{
    body_failure, error_chain, http_failure, reqwest_failure, Failure, ServerText,
};
use crate::handler::{HandlerFactory, Page, PageHandler, PageOutcome, PageRequest};
use crate::instance::Instance;
use crate::limiter::Limiter;
use crate::pace::{LowSpeed, Pace};
use crate::query::{display_url, request as outgoing, Key, Protocol, SOAP12_CONTENT_TYPE};
use crate::retry::RetryPolicy;
use cake_core::secret::ApiKey;

/// Attempts in all for a page Cake refused with a message nobody classified: enough to ride
/// out a passing failure, few enough not to hammer a real refusal.
const UNRECOGNISED_ATTEMPTS: u32 = 3;

/// How a [`Client`] talks to its instance.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Optional budget of request starts per minute.
    pub requests_per_minute: Option<u32>,
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time from sending a request to the end of the response's head (status line and
    /// headers): a server that accepts and never answers is given up after it.
    pub head_timeout: Duration,
    /// Deadline of one attempt at one page, from sending the request to the body's last byte.
    pub request_timeout: Duration,
    /// Longest silence while a body is arriving.
    pub idle_timeout: Duration,
    /// The slowest body accepted; a slower one is abandoned and retried.
    pub low_speed: LowSpeed,
    pub retry: RetryPolicy,
    /// Accept a window in which a row key appears twice (an instance known to repeat keys)
    /// instead of pulling it again and failing it.
    pub allow_repeated_keys: bool,
    /// Accept a window with rows dated outside it (kept in the window's own partitions) instead
    /// of pulling it again and failing it.
    pub accept_rows_outside_window: bool,
    /// Seed of the backoff jitter (`None`: from the clock).
    pub jitter_seed: Option<u64>,
    pub user_agent: String,
    /// The form of report requests: SOAP 1.2 (the key in the body) by default.
    pub protocol: Protocol,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            concurrency: 4,
            requests_per_minute: None,
            connect_timeout: Duration::from_secs(15),
            head_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10 * 60),
            idle_timeout: Duration::from_secs(120),
            low_speed: LowSpeed::default(),
            retry: RetryPolicy::default(),
            allow_repeated_keys: false,
            accept_rows_outside_window: false,
            jitter_seed: None,
            user_agent: format!("cake-connector/{}", env!("CARGO_PKG_VERSION")),
            protocol: Protocol::default(),
        }
    }
}

/// The waits one window may still spend (backoffs, `Retry-After`, pulls again): every wait of
/// the window's pages draws from it, so a window ends within a known time whatever the server
/// asks.
#[derive(Debug)]
pub struct WaitBudget(Mutex<Duration>);

impl WaitBudget {
    /// A budget of `total` (the retry policy's `max_elapsed`).
    pub fn new(total: Duration) -> WaitBudget {
        WaitBudget(Mutex::new(total))
    }

    /// Takes `wait` from the budget; false (and nothing taken) when it is not there.
    pub fn spend(&self, wait: Duration) -> bool {
        let mut left = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match left.checked_sub(wait) {
            Some(rest) => {
                *left = rest;
                true
            }
            None => false,
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
    /// A digest of the accepted attempt's body: two pages with the same digest are the same
    /// bytes (the window loop refuses a page that repeats the one before it).
    pub digest: u64,
}

/// A client for one Cake instance and key.
pub struct Client {
    http: reqwest::Client,
    instance: Instance,
    key: ApiKey,
    text: ServerText,
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
            text: ServerText::new(key.scrubber()),
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

    /// A client of the same instance, key and options that sends `protocol`'s form of
    /// requests.
    pub fn with_protocol(&self, protocol: Protocol) -> Result<Client, TransportError> {
        Client::new(
            self.instance.clone(),
            self.key.clone(),
            ClientOptions {
                protocol,
                ..self.options.clone()
            },
        )
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

    /// A request as logs and `--dry-run` show it: under GET the URL with the key redacted,
    /// under SOAP the method's address with its parameters, without the key.
    pub fn display_url(
        &self,
        report: &Report,
        request: &PlannedRequest,
        page: Option<Page>,
    ) -> String {
        display_url(&self.instance, report, request, page, self.options.protocol)
    }

    /// The form of this client's report requests.
    pub fn protocol(&self) -> Protocol {
        self.options.protocol
    }

    /// The wait before retry number `retry`, from the policy's jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        self.options.retry.backoff(retry, &mut *rng)
    }

    /// Counts a retry the caller makes (a window pulled again) in [`Client::stats`].
    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::SeqCst);
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
        self.fetch_page_within(report, request, page, factory, None)
            .await
    }

    /// [`Client::fetch_page`], its waits drawn from a window's budget.
    pub async fn fetch_page_within<F: HandlerFactory>(
        &self,
        report: &Report,
        request: &PlannedRequest,
        page: Option<Page>,
        factory: &F,
        budget: Option<&WaitBudget>,
    ) -> Result<PageResult<<F::Handler as PageHandler>::Output>, TransportError> {
        let shown = self.display_url(report, request, page);
        self.retrying(budget, &shown, |attempt| {
            let info = PageRequest {
                window: request.window,
                cutoff: request.cutoff,
                page,
                attempt,
            };
            let shown = &shown;
            async move { self.attempt(report, request, &info, shown, factory).await }
        })
        .await
    }

    /// GETs a document of the instance by its path and query (`/api/12/reports.asmx?WSDL`),
    /// whole, with the client's retries, timeouts and bound on requests in flight. The API key
    /// is **not** sent: this is for documents the instance serves to anyone (an ASMX service's
    /// WSDL), never for reports. A body longer than `limit` bytes is refused (not retried), and
    /// a failure is classified and its server text cleaned as for report pages (HTTP 404:
    /// [`Class::NotCake`]).
    pub async fn get_document(
        &self,
        path_and_query: &str,
        limit: usize,
    ) -> Result<Vec<u8>, TransportError> {
        let url = self.document_url(path_and_query)?;
        let shown = self.text.clean(url.as_str());
        self.retrying(None, &shown, |_| self.document_attempt(&url, &shown, limit))
            .await
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds, fails for good, or the
    /// retry policy is spent: the one retry loop of the client. A transient failure waits for
    /// the server's `Retry-After` (bounded) or a jittered backoff; an unrecognised answer is
    /// tried fewer times than a known transient one.
    async fn retrying<T, Fut>(
        &self,
        budget: Option<&WaitBudget>,
        url: &str,
        mut attempt_once: impl FnMut(u32) -> Fut,
    ) -> Result<T, TransportError>
    where
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let policy = self.options.retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let failure = match attempt_once(attempt).await {
                Ok(result) => return Ok(result),
                Err(f) => f,
            };
            let error = failure.error;
            if !error.is_retryable() {
                return Err(error);
            }
            let delay = match failure.retry_after {
                Some((asked, said)) if asked > policy.max_retry_after => {
                    return Err(TransportError::RetryAfterTooLong {
                        url: url.to_string(),
                        asked,
                        said,
                        max: policy.max_retry_after,
                    })
                }
                Some((asked, _)) => asked,
                None => self.backoff(attempt),
            };
            let elapsed = started.elapsed();
            let most = match error {
                TransportError::Refused {
                    class: Class::Unclassified,
                    ..
                } => policy.max_attempts.min(UNRECOGNISED_ATTEMPTS),
                _ => policy.max_attempts,
            };
            let within_budget = budget.is_none_or(|b| b.spend(delay));
            if attempt >= most || elapsed + delay > policy.max_elapsed || !within_budget {
                return Err(TransportError::RetriesExhausted {
                    attempts: attempt,
                    elapsed,
                    last: Box::new(error),
                });
            }
            self.count_retry();
            tracing::warn!(attempt, ?delay, "retrying: {error}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// The URL of a document below the instance: a path from the root, with an optional query.
    fn document_url(&self, path_and_query: &str) -> Result<url::Url, TransportError> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        if !path.starts_with('/') || path.starts_with("//") || path.contains(['#', '\\']) {
            return Err(TransportError::DocumentPath {
                path: self.text.clean(path_and_query),
            });
        }
        let mut url = self.instance.join(path);
        url.set_query(query);
        Ok(url)
    }

    async fn document_attempt(
        &self,
        url: &url::Url,
        shown: &str,
        limit: usize,
    ) -> Result<Vec<u8>, Failure> {
        let _slot = self.limiter.acquire().await;
        self.requests.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(url = %shown, "GET document");
        let work = async {
            let mut response = self.send(self.http.get(url.clone()), shown).await?;
            if !response.status().is_success() {
                return Err(http_failure(response, shown, self.instance.host(), &self.text).await);
            }
            let mut body = Vec::new();
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
                                message: self.text.clean(&error_chain(&e.without_url())),
                            }))
                        }
                        Ok(Ok(None)) => break,
                        Ok(Ok(Some(chunk))) => chunk,
                    };
                self.bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                if body.len() + chunk.len() > limit {
                    return Err(Failure::from(TransportError::NotCake {
                        url: shown.to_string(),
                        message: format!(
                            "the document is larger than {limit} bytes, more than such a \
                             document ever holds; check that the domain is a Cake instance"
                        ),
                    }));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
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
        let protocol = self.options.protocol;
        tracing::debug!(request = %shown, attempt = info.attempt, "{}", protocol.http_method());
        let out = outgoing(
            &self.instance,
            report,
            request,
            info.page,
            Key::Real(&self.key),
            protocol,
        );
        let builder = match out.body {
            None => self.http.get(out.url),
            Some(body) => self
                .http
                .post(out.url)
                .header(reqwest::header::CONTENT_TYPE, SOAP12_CONTENT_TYPE)
                .body(body),
        };
        let work = async {
            let response = self.send(builder, shown).await?;
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

    /// Sends a request and waits for the response's head, at most `head_timeout`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        shown: &str,
    ) -> Result<reqwest::Response, Failure> {
        match tokio::time::timeout(self.options.head_timeout, request.send()).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(reqwest_failure(
                e,
                shown,
                self.instance.host(),
                self.options.connect_timeout,
                &self.text,
            )),
            Err(_) => Err(Failure::from(TransportError::Timeout {
                url: shown.to_string(),
                what: "waiting for the response head",
                after: self.options.head_timeout,
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
            return Err(http_failure(response, shown, self.instance.host(), &self.text).await);
        }
        let host = self.instance.host();
        let refused = |e| body_failure(e, shown, &host, &self.text);
        let mut handler = factory.handler(info);
        // The body's CRC-32 and length: a page identical to the one before it (a server that
        // ignores the page asked) is told apart at a fraction of a keyed hash's cost.
        let mut hasher = crc32fast::Hasher::new();
        let mut bytes = 0u64;
        let mut pace = Pace::new(self.options.low_speed, Instant::now());
        let mut silent = Duration::ZERO;
        loop {
            let tick = pace.tick();
            let chunk = match tokio::time::timeout(tick, response.chunk()).await {
                Err(_) => {
                    silent += tick;
                    if silent >= self.options.idle_timeout {
                        return Err(Failure::from(TransportError::Timeout {
                            url: shown.to_string(),
                            what: "waiting for the next bytes of the body",
                            after: self.options.idle_timeout,
                        }));
                    }
                    None
                }
                Ok(Err(e)) => {
                    return Err(Failure::from(TransportError::Incomplete {
                        url: shown.to_string(),
                        message: self.text.clean(&error_chain(&e.without_url())),
                    }))
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => Some(chunk),
            };
            if let Some(chunk) = chunk {
                silent = Duration::ZERO;
                pace.record(Instant::now(), chunk.len() as u64);
                bytes += chunk.len() as u64;
                self.bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                hasher.update(&chunk);
                handler.feed(&chunk).map_err(refused)?;
            }
            if let Err(slow) = pace.check(Instant::now()) {
                return Err(Failure::from(TransportError::SlowBody {
                    url: shown.to_string(),
                    rate: slow.rate,
                    limit: self.options.low_speed.limit,
                    period: self.options.low_speed.time,
                }));
            }
        }
        let outcome = handler.finish().map_err(refused)?;
        Ok(PageResult {
            outcome,
            attempts: info.attempt,
            bytes,
            digest: u64::from(hasher.finalize()) << 32 | (bytes & 0xFFFF_FFFF),
        })
    }
}

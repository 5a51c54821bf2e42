//! The HTTP server: axum on tokio, bound to 127.0.0.1, answering every path with
//! [`crate::request::answer`] plus the faults drawn for the request, and counting requests,
//! requests in flight and faults.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use bytes::Bytes;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::hash::{fnv, h2, h3, unit};
use crate::request::{answer, failure, route, TEXT};
use crate::xml::ControlChars;
use crate::{Faults, Response, SandboxConfig, WsdlDrift};

/// What the server has seen since it started (or since [`Sandbox::reset_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received, whatever their outcome.
    pub requests: u64,
    /// Requests being answered now (until their body is sent).
    pub in_flight: u64,
    /// The most requests in flight at once.
    pub max_in_flight: u64,
    pub faults: FaultCounts,
}

/// Faults injected, per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests delayed by the configured latency.
    pub delayed: u64,
    /// `success=false` `Restricted` answers.
    pub restricted: u64,
    /// HTTP 500 answers.
    pub http_500: u64,
    /// HTTP 503 answers.
    pub http_503: u64,
    /// Connections dropped part-way through a body.
    pub resets: u64,
    /// Bodies cut short.
    pub truncated: u64,
    /// Control-character references written into text values.
    pub control_chars: u64,
    /// Bodies sent in small pieces.
    pub trickled: u64,
    /// Answers a hostile behaviour altered or replaced.
    pub hostile: u64,
}

/// The faults one attempt of one request gets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// `Some(500)` or `Some(503)`: the answer is that HTTP error.
    pub error: Option<u16>,
    /// The answer is `success=false` `Restricted`.
    pub restricted: bool,
    /// The connection drops after `cut` of the body.
    pub reset: bool,
    /// The body stops after `cut` of it.
    pub truncate: bool,
    /// Where a reset or a truncation cuts the body, as a share of its length (0.2 to 0.8).
    pub cut: f64,
    /// Seed of the control-character draws of this attempt.
    pub control_salt: u64,
}

/// The request's path and query without its `api_key` parameter: the identity of a request
/// for fault draws and attempt counting.
pub(crate) fn fault_key(path_and_query: &str) -> String {
    match path_and_query.split_once('?') {
        None => path_and_query.to_string(),
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| {
                    let name = kv.split('=').next().unwrap_or("");
                    !name.eq_ignore_ascii_case("api_key")
                })
                .collect();
            format!("{path}?{}", kept.join("&"))
        }
    }
}

impl Faults {
    /// The faults the server injects into attempt `attempt` (0 for the first) of the request
    /// `path_and_query` under `seed`. At most one of `error`, `restricted`, `reset` and
    /// `truncate` is set; latency, trickling and control characters come on top.
    pub fn plan(&self, seed: u64, path_and_query: &str, attempt: u32) -> FaultPlan {
        let key = fnv(&fault_key(path_and_query));
        let base = h3(seed, key, u64::from(attempt));
        let draw = |kind: &str| unit(h2(base, fnv(kind)));
        let mut plan = FaultPlan {
            cut: 0.2 + 0.6 * draw("cut"),
            control_salt: h2(base, fnv("control")),
            ..FaultPlan::default()
        };
        if draw("error") < self.error_rate {
            plan.error = Some(if draw("error-status") < 0.5 { 500 } else { 503 });
        } else if draw("restricted") < self.restricted_rate {
            plan.restricted = true;
        } else if draw("reset") < self.reset_rate {
            plan.reset = true;
        } else if draw("truncate") < self.truncate_rate {
            plan.truncate = true;
        }
        plan
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    delayed: AtomicU64,
    restricted: AtomicU64,
    http_500: AtomicU64,
    http_503: AtomicU64,
    resets: AtomicU64,
    truncated: AtomicU64,
    control_chars: AtomicU64,
    trickled: AtomicU64,
    hostile: AtomicU64,
}

struct Shared {
    config: Arc<SandboxConfig>,
    faults: Mutex<Faults>,
    /// Changes to the WSDL documents served (none by default).
    wsdl_drifts: Mutex<Vec<WsdlDrift>>,
    counters: Counters,
    attempts: Mutex<HashMap<String, u32>>,
    /// Every request received, as path and query without `api_key`, in order.
    seen: Mutex<Vec<String>>,
    /// Every request received, as it came (method, path, content type), in order.
    log: Mutex<Vec<RequestSeen>>,
    /// Turns `true` when the server stops: slow bodies and latencies end at once.
    stopping: watch::Sender<bool>,
}

impl Shared {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }

    fn enter(self: &Arc<Shared>) -> InFlight {
        let c = &self.counters;
        Shared::add(&c.requests);
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn attempt(&self, key: &str) -> u32 {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key.to_string()).or_insert(0);
        let attempt = *n;
        *n = n.saturating_add(1);
        attempt
    }

    /// Resolves when the server stops.
    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Counts a request in flight until dropped (when its body has been handed over).
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running sandbox server on 127.0.0.1. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish()
    }
}

impl Sandbox {
    /// Binds 127.0.0.1 on `config.port` (0: any free port) and serves in the background on the
    /// current tokio runtime.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: Mutex::new(config.faults.clone()),
            wsdl_drifts: Mutex::new(Vec::new()),
            config: Arc::new(config),
            counters: Counters::default(),
            attempts: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            stopping: watch::channel(false).0,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key the sandbox accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The configuration the sandbox was started with (faults as at start).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Requests, requests in flight, the most in flight at once, and faults per kind.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Stats {
            requests: get(&c.requests),
            in_flight: get(&c.in_flight),
            max_in_flight: get(&c.max_in_flight),
            faults: FaultCounts {
                delayed: get(&c.delayed),
                restricted: get(&c.restricted),
                http_500: get(&c.http_500),
                http_503: get(&c.http_503),
                resets: get(&c.resets),
                truncated: get(&c.truncated),
                control_chars: get(&c.control_chars),
                trickled: get(&c.trickled),
                hostile: get(&c.hostile),
            },
        }
    }

    /// Zeroes the counters (the maximum in flight restarts from the requests in flight now)
    /// and forgets the attempt numbers, so fault draws start over.
    /// Every request received since the start (or [`Sandbox::reset_stats`]), as path and query
    /// without `api_key`, in the order received.
    pub fn requests_seen(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every request received since the start (or [`Sandbox::reset_stats`]) as it came: its
    /// method, path, whether its URL carried the key, and its content type.
    pub fn request_log(&self) -> Vec<RequestSeen> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reset_stats(&self) {
        let c = &self.shared.counters;
        for a in [
            &c.requests,
            &c.delayed,
            &c.restricted,
            &c.http_500,
            &c.http_503,
            &c.resets,
            &c.truncated,
            &c.control_chars,
            &c.trickled,
            &c.hostile,
        ] {
            a.store(0, Ordering::SeqCst);
        }
        c.max_in_flight
            .store(c.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.shared
            .attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Replaces the faults; requests arriving from now on get the new ones.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Replaces the changes made to the WSDL documents served at
    /// `/api/{version}/{service}.asmx?WSDL` (none by default: each describes exactly what the
    /// catalog says). Requests arriving from now on get the new documents.
    pub fn set_wsdl_drifts(&self, drifts: Vec<WsdlDrift>) {
        *self
            .shared
            .wsdl_drifts
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = drifts;
    }

    /// Stops accepting, ends slow bodies (trickling) and latencies at once, lets other
    /// answers in progress finish (at most 2 s), and stops.
    pub async fn shutdown(mut self) {
        self.shared.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How a body goes out.
#[derive(Clone, Copy)]
struct Delivery {
    /// Bytes sent before stopping (the whole body unless cut).
    cut: usize,
    /// Drop the connection after `cut` bytes.
    reset: bool,
    trickle: Option<(usize, Duration)>,
}

struct BodyState {
    bytes: Bytes,
    pos: usize,
    delivery: Delivery,
    guard: Option<InFlight>,
    done: bool,
}

/// The body as a stream. Dropped (with its in-flight guard) when the body has been sent, when
/// hyper drops the connection because the client went away (it sees the end of the read side,
/// or the next write fails), or after it ends with an error (a reset, or the server stopping in
/// the middle of a trickle), so a slow body never outlives its client or the server.
fn body(bytes: Bytes, delivery: Delivery, guard: InFlight) -> Body {
    let stopped = guard.0.stopped();
    let state = BodyState {
        bytes,
        pos: 0,
        delivery,
        guard: Some(guard),
        done: false,
    };
    let stopped = futures_util::future::FutureExt::shared(Box::pin(stopped));
    let stream = futures_util::stream::unfold(state, move |mut s| {
        let stopped = stopped.clone();
        async move {
            if s.done {
                return None;
            }
            let d = s.delivery;
            if s.pos < d.cut {
                if let Some((_, pause)) = d.trickle {
                    if s.pos > 0 {
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = stopped => {
                                s.done = true;
                                s.guard = None;
                                return Some((
                                    Err(std::io::Error::other(
                                        "sandbox stopping in the middle of a slow body",
                                    )),
                                    s,
                                ));
                            }
                        }
                    }
                }
                let n = d
                    .trickle
                    .map_or(d.cut - s.pos, |(chunk, _)| chunk.max(1).min(d.cut - s.pos));
                let chunk = s.bytes.slice(s.pos..s.pos + n);
                s.pos += n;
                if s.pos == d.cut && !d.reset {
                    s.guard = None;
                }
                return Some((Ok::<Bytes, std::io::Error>(chunk), s));
            }
            if d.reset && !s.done {
                // Let the part already sent reach the client before the connection drops.
                tokio::time::sleep(Duration::from_millis(10)).await;
                s.done = true;
                s.guard = None;
                return Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "sandbox fault: connection reset in the middle of the body",
                    )),
                    s,
                ));
            }
            drop(s);
            None
        }
    });
    Body::from_stream(stream)
}

fn http(
    response: Response,
    extra: &[(String, String)],
    delivery: Delivery,
    full_length: usize,
    guard: InFlight,
) -> axum::response::Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = axum::response::Response::new(body(Bytes::from(response.body), delivery, guard));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    let length = if delivery.reset {
        full_length
    } else {
        delivery.cut
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0"),
    );
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    out
}

/// One request as the sandbox received it (see [`Sandbox::request_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSeen {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Whether the query string carried an `api_key` parameter.
    pub key_in_url: bool,
    /// The request's `Content-Type`, if it had one.
    pub content_type: Option<String>,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let guard = shared.enter();
    let counters = &shared.counters;
    let whole = |len: usize| Delivery {
        cut: len,
        reset: false,
        trickle: None,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    shared
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(RequestSeen {
            method: method.to_string(),
            path: uri.path().to_string(),
            key_in_url: uri.query().is_some_and(|q| {
                url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "api_key")
            }),
            content_type: content_type.clone(),
        });
    // A SOAP call is read into the GET form of the same request; its answer is put back in
    // an envelope at the end.
    let mut call = None;
    if method == Method::POST {
        let action = headers.get("soapaction").and_then(|v| v.to_str().ok());
        let Some(version) = crate::soap::version(content_type.as_deref().unwrap_or(""), action)
        else {
            let r = Response {
                status: 415,
                content_type: TEXT,
                body: b"The sandbox takes POSTs as SOAP 1.2 (application/soap+xml) or SOAP 1.1 \
                        (text/xml with a SOAPAction header).\r\n"
                    .to_vec(),
            };
            let len = r.body.len();
            return http(r, &[], whole(len), len, guard);
        };
        if shared.faults().refuse_soap {
            let r = crate::soap::fault(
                version,
                true,
                "Server was unable to read request. ---> This instance does not take SOAP calls.",
            );
            let len = r.body.len();
            return http(r, &[], whole(len), len, guard);
        }
        match crate::soap::read(version, uri.path(), &body) {
            Ok(c) => call = Some(c),
            Err(r) => {
                let len = r.body.len();
                return http(r, &[], whole(len), len, guard);
            }
        }
    } else if method != Method::GET {
        let r = Response {
            status: 405,
            content_type: TEXT,
            body: b"The sandbox answers HTTP GET and SOAP POSTs only.\r\n".to_vec(),
        };
        let len = r.body.len();
        return http(r, &[], whole(len), len, guard);
    }
    let path_and_query = match &call {
        Some(c) => c.path_and_query.clone(),
        None => uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
    };
    let faults = shared.faults();
    let config = shared.config.clone();
    let attempt = shared.attempt(&fault_key(&path_and_query));
    shared
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(fault_key(&path_and_query));
    let plan = faults.plan(config.seed, &path_and_query, attempt);
    if !faults.latency.is_zero() {
        Shared::add(&counters.delayed);
        tokio::select! {
            () = tokio::time::sleep(faults.latency) => {}
            () = shared.stopped() => {}
        }
    }
    let trickle = faults
        .trickle
        .then_some((faults.trickle_chunk, faults.trickle_pause));
    if let Some(status) = plan.error {
        let (counter, text) = if status == 503 {
            (&counters.http_503, "Service Unavailable")
        } else {
            (&counters.http_500, "Internal Server Error")
        };
        Shared::add(counter);
        let r = Response {
            status,
            content_type: TEXT,
            body: format!("{text} (sandbox fault)\r\n").into_bytes(),
        };
        let len = r.body.len();
        return http(r, &[], whole(len), len, guard);
    }
    // A service's WSDL (`?WSDL`): latency and HTTP errors above apply, nothing else.
    let drifts = shared
        .wsdl_drifts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(r) = crate::wsdl::answer(&path_and_query, &drifts) {
        let len = r.body.len();
        return http(r, &[], whole(len), len, guard);
    }
    let report = route(&path_and_query);
    let mut extra = Vec::new();
    let response = match report {
        Some(report) if plan.restricted => {
            Shared::add(&counters.restricted);
            failure(report, "Restricted")
        }
        _ => {
            let control = (faults.control_char_rate > 0.0).then_some(ControlChars {
                rate: faults.control_char_rate,
                salt: plan.control_salt,
            });
            // Hostile behaviours: report answers only, the first `hostile_attempts` attempts.
            let hostile = if report.is_some() && attempt < faults.hostile_attempts {
                faults.hostile
            } else {
                Vec::new()
            };
            if hostile.contains(&crate::Hostile::Silent) {
                // Accepted, never answered: the client gives up, or the sandbox stops.
                Shared::add(&counters.hostile);
                shared.stopped().await;
                let r = Response {
                    status: 503,
                    content_type: TEXT,
                    body: b"The sandbox is stopping.\r\n".to_vec(),
                };
                let len = r.body.len();
                return http(r, &[], whole(len), len, guard);
            }
            let generated = tokio::task::spawn_blocking({
                let config = config.clone();
                let path_and_query = path_and_query.clone();
                move || answer(&config, &path_and_query, control, &hostile)
            })
            .await;
            match generated {
                Ok(a) => {
                    counters
                        .control_chars
                        .fetch_add(a.control_chars, Ordering::SeqCst);
                    if a.hostile {
                        Shared::add(&counters.hostile);
                    }
                    extra = a.headers;
                    a.response
                }
                Err(_) => Response {
                    status: 500,
                    content_type: TEXT,
                    body: b"The sandbox failed to build this answer.\r\n".to_vec(),
                },
            }
        }
    };
    let response = match &call {
        Some(c) => crate::soap::wrap(c, response),
        None => response,
    };
    let len = response.body.len();
    // Faults that cut the body apply to report answers only, never to routing errors.
    let cuttable = report.is_some() && len > 1;
    let cut_at = ((len as f64 * plan.cut) as usize).clamp(1, len.saturating_sub(1).max(1));
    let delivery = if cuttable && plan.reset {
        Shared::add(&counters.resets);
        Delivery {
            cut: cut_at,
            reset: true,
            trickle,
        }
    } else if cuttable && plan.truncate {
        Shared::add(&counters.truncated);
        Delivery {
            cut: cut_at,
            reset: false,
            trickle,
        }
    } else {
        Delivery {
            cut: len,
            reset: false,
            trickle,
        }
    };
    if trickle.is_some() {
        Shared::add(&counters.trickled);
    }
    http(response, &extra, delivery, len, guard)
}

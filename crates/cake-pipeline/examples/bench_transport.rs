//! `cargo xtask bench transport`: one window of N pages with L ms of injected latency at
//! concurrency C, from the sandbox on loopback, through the window loop (`fetch_window`) over
//! the transport's page attempts. Prints the wall time against the ideal N·L/C and their ratio (the
//! target is at most 1.25 plus the time spent reading bodies).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cake_catalog::{find, plan, Context, Options};
use cake_pipeline::{fetch_window, PageSink, PipelineError};
use cake_sandbox::{Faults, Sandbox, SandboxConfig};
use cake_transport::{
    ApiKey, BodyError, Client, ClientOptions, HandlerFactory, Instance, PageHandler, PageOutcome,
    PageRequest,
};

/// Counts row elements and reads `row_count`; no value decoding. The time spent reading
/// bodies is added to `busy`, the "decode time" of the target.
struct Count {
    body: Vec<u8>,
    busy: Arc<AtomicU64>,
}

impl PageHandler for Count {
    type Output = u64;

    fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        let t = Instant::now();
        self.body.extend_from_slice(chunk);
        self.busy
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn finish(self) -> Result<PageOutcome<u64>, BodyError> {
        let t = Instant::now();
        let busy = self.busy.clone();
        let text = String::from_utf8_lossy(&self.body);
        let rows = text.matches("<click>").count() as u64;
        let row_count = text
            .split("<row_count>")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .and_then(|v| v.parse().ok());
        busy.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(PageOutcome {
            rows,
            row_count,
            keys: Vec::new(),
            dates: Default::default(),
            output: rows,
        })
    }
}

struct Counter {
    busy: Arc<AtomicU64>,
}

/// Rows of every page of a window.
struct Rows(u64);

impl PageSink for Rows {
    type Page = u64;

    fn page(&mut self, rows: u64) -> Result<(), PipelineError> {
        self.0 += rows;
        Ok(())
    }
}

impl HandlerFactory for Counter {
    type Handler = Count;
    fn handler(&self, _: &PageRequest) -> Count {
        Count {
            body: Vec::new(),
            busy: self.busy.clone(),
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let pages: u32 = env_or("BENCH_PAGES", 48);
    let latency_ms: u64 = env_or("BENCH_LATENCY_MS", 100);
    let page_size: u32 = 100;
    let today: chrono::NaiveDate = "2024-03-15".parse().expect("a date");
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 1,
        api_key: "bench-key".into(),
        rows_per_day: pages * page_size,
        port: 0,
        today,
        faults: Faults {
            latency: Duration::from_millis(latency_ms),
            ..Faults::default()
        },
    })
    .await
    .expect("the sandbox starts");
    let now = format!("{today}T12:00:00Z").parse().expect("an instant");
    let mut ctx = Context::new(now);
    ctx.page_size = Some(page_size);
    let options = Options {
        past_days: Some("1".parse().expect("a day count")),
        ..Options::default()
    };
    let plan = plan(find("clicks").expect("clicks"), &options, &ctx).expect("a plan");
    println!(
        "{pages} pages of {page_size} clicks, {latency_ms} ms latency per request, sandbox on loopback"
    );
    println!(
        "target: wall <= 1.25 x N·L/C + body time; ratio = wall / (N·L/C). The first page runs"
    );
    println!(
        "alone (its row_count gives the number of pages), so the floor is (1 + ceil((N-1)/C))·L."
    );
    println!(
        "{:>11} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7}",
        "concurrency", "wall ms", "N·L/C ms", "floor ms", "ratio", "body ms", "target"
    );
    for concurrency in [1usize, 2, 4, 8] {
        let client = Client::new(
            Instance::parse(&sandbox.url(), false).expect("loopback URL"),
            ApiKey::new("bench-key").expect("a key"),
            ClientOptions {
                concurrency,
                ..ClientOptions::default()
            },
        )
        .expect("a client");
        let busy = Arc::new(AtomicU64::new(0));
        let counter = Counter { busy: busy.clone() };
        let started = Instant::now();
        let (Rows(rows), _) =
            fetch_window(&client, &plan, &plan.requests[0], &counter, || Ok(Rows(0)))
                .await
                .expect("the window");
        let wall = started.elapsed();
        assert_eq!(rows, u64::from(pages * page_size));
        let floor =
            Duration::from_millis(latency_ms) * (1 + (pages - 1).div_ceil(concurrency as u32));
        let naive = Duration::from_millis(latency_ms) * pages / concurrency as u32;
        let body = Duration::from_nanos(busy.load(Ordering::Relaxed));
        let budget = naive.mul_f64(1.25) + body;
        println!(
            "{:>11} {:>9} {:>9} {:>9} {:>7.3} {:>9} {:>7}",
            concurrency,
            wall.as_millis(),
            naive.as_millis(),
            floor.as_millis(),
            wall.as_secs_f64() / naive.as_secs_f64(),
            body.as_millis(),
            if wall <= budget { "met" } else { "missed" }
        );
    }
    sandbox.shutdown().await;
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

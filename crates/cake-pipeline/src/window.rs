//! The window loop: every page of one planned request, fetched with the transport's page
//! attempts and checked against each other before the window's rows may be kept.
//!
//! **The rule: a window is Cake's whole answer, or it is pulled again, or it fails.** Every page
//! but the last holds exactly `row_limit` rows; the pages' rows add up to the first page's
//! `row_count`, which no later page contradicts; no page repeats the one before it; and no row
//! key (the catalog's primary key, as the page handler reports it) appears twice. Any violation
//! drops what the window received and pulls it again from its first page, a bounded number of
//! times with backoff; a window that stays inconsistent fails with what was inconsistent, and
//! the caller keeps nothing of it. Requests are bounded by the pages the first `row_count`
//! announces plus retries: an empty page before `row_count` is reached is an inconsistency,
//! never a reason to keep paging.

use std::fmt;

use cake_catalog::{Plan, PlannedRequest, Report};
use cake_transport::{
    Client, HandlerFactory, Page, PageHandler, PageResult, RowDates, RowKey, TransportError,
    WaitBudget,
};
use futures_util::stream::{self, StreamExt};

use crate::error::PipelineError;

/// Pages of a report without `row_count` are read one after another until a short page; this
/// bounds a server that never sends one.
const MAX_SEQUENTIAL_PAGES: u32 = 100_000;

/// Receives the pages of one pull of a window, in page order. A new sink is opened for every
/// pull of the window; the sink of a pull that turned out inconsistent is dropped, so it must
/// leave nothing behind when dropped without being kept.
pub trait PageSink {
    type Page;

    fn page(&mut self, page: Self::Page) -> Result<(), PipelineError>;
}

/// What the pages of one window held.
#[derive(Debug, Clone, Default)]
pub struct WindowResult {
    /// Pages read in the pull that was kept.
    pub pages: u32,
    /// Rows received in the pull that was kept.
    pub rows: u64,
    /// Cake's `row_count` (from the first page), when the report has an envelope.
    pub row_count: Option<u64>,
    /// Pulls of the whole window (1 unless an inconsistent answer was pulled again).
    pub pulls: u32,
    /// Requests sent for this window, retries and inconsistent pulls included.
    pub requests: u64,
    /// Retried page attempts and repeated pulls of the window.
    pub retries: u64,
    /// Body bytes of the accepted attempts of the pull that was kept.
    pub bytes: u64,
    /// Things that went unexpectedly but not wrong (an inconsistent pull that a later pull
    /// replaced; repeated keys accepted on request).
    pub warnings: Vec<String>,
}

/// What made a window's answer inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// A page held another number of rows than `row_limit` and `row_count` make due.
    PageRows {
        page: u32,
        pages: u32,
        rows: u64,
        expected: u64,
        row_limit: u32,
        row_count: u64,
    },
    /// A page held more rows than `row_limit`.
    LongPage {
        page: u32,
        rows: u64,
        row_limit: u32,
    },
    /// A page's `row_count` contradicts the first page's.
    RowCountChanged {
        page: u32,
        first: Option<u64>,
        now: Option<u64>,
    },
    /// The rows do not add up to `row_count`.
    Total { rows: u64, row_count: u64 },
    /// A page is byte-identical to the one before it.
    RepeatedPage { page: u32 },
    /// A row key appears twice.
    RepeatedKey {
        columns: String,
        key: String,
        first_page: u32,
        second_page: u32,
        repeated: u64,
    },
    /// A report without `row_count` never sent a short page.
    Endless { pages: u32 },
    /// Rows are dated outside the window asked for.
    OtherDates {
        outside: u64,
        dated: u64,
        /// Average shift of the rows against the middle of the window, in seconds.
        shift_seconds: i64,
        /// The first row outside.
        example: Option<String>,
    },
    /// A page contradicts itself (an envelope field or a row's key written twice).
    Contradiction { page: u32, message: String },
}

/// A shift in seconds as people read it: `-24 h`, `+5 h 30 min`, `-45 min`.
fn shift(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = (seconds.unsigned_abs() + 450) / 900 * 15;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    }
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::PageRows {
                page,
                pages,
                rows: 0,
                row_count,
                ..
            } => write!(
                f,
                "page {page} of {pages} was empty although row_count is {row_count}"
            ),
            Inconsistency::PageRows {
                page,
                pages,
                rows,
                expected,
                row_limit,
                row_count,
            } => write!(
                f,
                "page {page} of {pages} held {rows} rows where {expected} were due (row_limit {row_limit}, row_count {row_count})"
            ),
            Inconsistency::LongPage {
                page,
                rows,
                row_limit,
            } => write!(
                f,
                "page {page} held {rows} rows but row_limit was {row_limit}: the server ignores row_limit"
            ),
            Inconsistency::RowCountChanged { page, first, now } => write!(
                f,
                "row_count was {} on page 1 but {} on page {page}: rows were added or removed while paging",
                opt(*first),
                opt(*now)
            ),
            Inconsistency::Total { rows, row_count } => {
                write!(f, "{rows} rows arrived but row_count is {row_count}")
            }
            Inconsistency::RepeatedPage { page } => write!(
                f,
                "page {page} is identical to page {}: the server ignores start_at_row",
                page - 1
            ),
            Inconsistency::RepeatedKey {
                columns,
                key,
                first_page,
                second_page,
                repeated,
            } => {
                write!(f, "the key {columns} = {key} appears twice (")?;
                if first_page == second_page {
                    write!(f, "on page {first_page}")?;
                } else {
                    write!(f, "on pages {first_page} and {second_page}")?;
                }
                if *repeated > 1 {
                    write!(f, "; {repeated} keys repeat in all")?;
                }
                f.write_str(")")
            }
            Inconsistency::Contradiction { page, message } => {
                write!(f, "page {page}: {message}")
            }
            Inconsistency::Endless { pages } => write!(
                f,
                "no short page after {pages} pages: the server seems to ignore start_at_row"
            ),
            Inconsistency::OtherDates {
                outside,
                dated,
                shift_seconds,
                example,
            } => {
                write!(f, "{outside} of {dated} rows are dated outside the window")?;
                if let Some(example) = example {
                    write!(f, " (the first: {example})")?;
                }
                if outside * 2 > *dated {
                    write!(
                        f,
                        ", {} from it on average: the answer is for other dates (a shift of a \
                         few hours suggests that the time zone given for the instance is off by \
                         that much)",
                        shift(*shift_seconds)
                    )
                } else {
                    f.write_str(
                        ": a row never replaces another day's data; accept such rows knowingly \
                         with --accept-rows-outside-window",
                    )
                }
            }
        }
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "absent".to_string(), |v| v.to_string())
}

/// The checks between the pages of one pull of a window. Pure: it sees what each page held
/// and says whether the window so far is consistent.
#[derive(Debug)]
struct WindowCheck {
    paged: bool,
    page_size: u32,
    row_count: Option<u64>,
    /// Pages the first `row_count` announces (paged reports with `row_count`).
    pages: Option<u32>,
    rows: u64,
    /// (digest, rows) of the previous page.
    previous: Option<(u64, u64)>,
    keys: Vec<(RowKey, u32)>,
    dates: RowDates,
}

/// What one page held, for the check.
#[derive(Debug, Clone, Copy)]
struct PageFacts {
    /// 0-based.
    index: u32,
    rows: u64,
    row_count: Option<u64>,
    digest: u64,
}

impl WindowCheck {
    fn new(paged: bool, page_size: u32) -> WindowCheck {
        WindowCheck {
            paged,
            page_size,
            row_count: None,
            pages: None,
            rows: 0,
            previous: None,
            keys: Vec::new(),
            dates: RowDates::default(),
        }
    }

    /// The rows' dates so far.
    fn dates(&self) -> RowDates {
        self.dates.clone()
    }

    /// The pages the window has, once the first page is in (paged reports with `row_count`).
    fn pages(&self) -> Option<u32> {
        self.pages
    }

    fn row_count(&self) -> Option<u64> {
        self.row_count
    }

    fn accept(
        &mut self,
        page: PageFacts,
        keys: Vec<RowKey>,
        dates: RowDates,
    ) -> Result<(), Inconsistency> {
        let number = page.index + 1;
        if page.index == 0 {
            self.row_count = page.row_count;
            if let (true, Some(total)) = (self.paged, page.row_count) {
                let pages = total.div_ceil(u64::from(self.page_size)).max(1);
                self.pages = Some(
                    u32::try_from(pages).map_err(|_| Inconsistency::Endless { pages: u32::MAX })?,
                );
            }
        } else if page.row_count != self.row_count {
            return Err(Inconsistency::RowCountChanged {
                page: number,
                first: self.row_count,
                now: page.row_count,
            });
        }
        if self.paged && page.rows > u64::from(self.page_size) {
            return Err(Inconsistency::LongPage {
                page: number,
                rows: page.rows,
                row_limit: self.page_size,
            });
        }
        if let (Some(pages), Some(total)) = (self.pages, self.row_count) {
            let size = u64::from(self.page_size);
            let expected = if number < pages {
                size
            } else {
                total - u64::from(pages - 1) * size
            };
            if page.rows != expected {
                return Err(Inconsistency::PageRows {
                    page: number,
                    pages,
                    rows: page.rows,
                    expected,
                    row_limit: self.page_size,
                    row_count: total,
                });
            }
        }
        if let Some((digest, rows)) = self.previous {
            if rows > 0 && digest == page.digest {
                return Err(Inconsistency::RepeatedPage { page: number });
            }
        }
        self.previous = Some((page.digest, page.rows));
        self.rows += page.rows;
        self.dates.add(dates);
        self.keys.extend(keys.into_iter().map(|k| (k, number)));
        Ok(())
    }

    /// The window is complete: its totals and keys. Any row dated outside the window is an
    /// inconsistency unless `accept_outside`; with `allow_repeated_keys`, a repeated key is not
    /// one either (the count of repeats comes back instead).
    fn finish(
        mut self,
        report: &Report,
        allow_repeated_keys: bool,
        accept_outside: bool,
    ) -> Result<u64, Inconsistency> {
        if let Some(total) = self.row_count {
            if self.rows != total {
                return Err(Inconsistency::Total {
                    rows: self.rows,
                    row_count: total,
                });
            }
        }
        let d = &self.dates;
        if d.outside > 0 && !accept_outside {
            return Err(Inconsistency::OtherDates {
                outside: d.outside,
                dated: d.dated,
                shift_seconds: i64::try_from(d.shift_seconds / i128::from(d.dated.max(1)))
                    .unwrap_or(i64::MAX),
                example: d.first_outside.clone(),
            });
        }
        self.keys.sort_unstable();
        let mut first = None;
        let mut repeated = 0;
        for pair in self.keys.windows(2) {
            if pair[0].0 == pair[1].0 {
                repeated += 1;
                first.get_or_insert((pair[0], pair[1].1));
            }
        }
        match first {
            Some(((key, first_page), second_page)) if !allow_repeated_keys => {
                Err(Inconsistency::RepeatedKey {
                    columns: report.primary_key.join(", "),
                    key: key.to_string(),
                    first_page,
                    second_page,
                    repeated,
                })
            }
            _ => Ok(repeated),
        }
    }
}

/// Why one pull of a window stopped.
enum Abort {
    Inconsistent(Inconsistency),
    Failed(PipelineError),
}

/// A failed page of a pull: a page that contradicts itself makes the pull inconsistent.
fn page_failure(e: TransportError, index: u32) -> Abort {
    match e {
        TransportError::Contradiction { message, .. } => {
            Abort::Inconsistent(Inconsistency::Contradiction {
                page: index + 1,
                message,
            })
        }
        e => Abort::Failed(e.into()),
    }
}

/// What one pull of a window cost, kept across pulls.
#[derive(Default)]
struct Tally {
    requests: u64,
    retries: u64,
}

impl Tally {
    fn add<T>(&mut self, page: &PageResult<T>) {
        self.requests += u64::from(page.attempts);
        self.retries += u64::from(page.attempts.saturating_sub(1));
    }
}

/// Every page of one planned request (one window), handed in page order to a sink that `open`
/// makes for each pull of the window, and checked as a whole (see the module documentation).
/// Pages after the first run concurrently (within the client's bound) once the first page's
/// `row_count` tells how many there are; reports without `row_count` are paged one after
/// another until a short page. At most `concurrency` pages are read ahead of the sink, so
/// memory stays bounded whatever the window's size.
///
/// Returns the sink of the consistent pull with what the window held. On an error, every sink
/// opened was dropped without being returned.
pub async fn fetch_window<F, S>(
    client: &Client,
    plan: &Plan,
    request: &PlannedRequest,
    factory: &F,
    mut open: impl FnMut() -> Result<S, PipelineError>,
) -> Result<(S, WindowResult), PipelineError>
where
    F: HandlerFactory,
    S: PageSink<Page = <F::Handler as PageHandler>::Output>,
{
    let policy = client.options().retry;
    let most = policy.window_attempts.clamp(1, policy.max_attempts.max(1));
    // Every wait of the window (retries of its pages, pulls again) draws from one budget.
    let budget = WaitBudget::new(policy.max_elapsed);
    let mut tally = Tally::default();
    let mut warnings = Vec::new();
    let mut pull = 1;
    loop {
        let mut sink = open()?;
        let pulled = pull_window(
            client, plan, request, factory, &mut sink, &mut tally, &budget,
        )
        .await;
        match pulled {
            Ok(mut result) => {
                result.pulls = pull;
                result.requests = tally.requests;
                result.retries = tally.retries;
                warnings.append(&mut result.warnings);
                result.warnings = warnings;
                return Ok((sink, result));
            }
            Err(Abort::Failed(e)) => return Err(e),
            Err(Abort::Inconsistent(problem)) => {
                drop(sink);
                let url = client.display_url(plan.report, request, None);
                let delay = client.backoff(pull);
                if pull >= most || !budget.spend(delay) {
                    return Err(PipelineError::Inconsistent {
                        url,
                        pulls: pull,
                        problem,
                    });
                }
                tracing::warn!(url = %url, pull, ?delay, "pulling the window again: {problem}");
                warnings.push(format!(
                    "pull {pull} of the window was inconsistent and was pulled again: {problem}"
                ));
                tally.retries += 1;
                client.count_retry();
                tokio::time::sleep(delay).await;
                pull += 1;
            }
        }
    }
}

/// One pull of a window into `sink`.
async fn pull_window<F, S>(
    client: &Client,
    plan: &Plan,
    request: &PlannedRequest,
    factory: &F,
    sink: &mut S,
    tally: &mut Tally,
    budget: &WaitBudget,
) -> Result<WindowResult, Abort>
where
    F: HandlerFactory,
    S: PageSink<Page = <F::Handler as PageHandler>::Output>,
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
    let fetch =
        |page: Option<Page>| client.fetch_page_within(report, request, page, factory, Some(budget));
    let mut check = WindowCheck::new(paged, page_size.max(1));
    let mut bytes = 0;
    let mut pages = 0;
    let mut take = |check: &mut WindowCheck,
                    r: PageResult<<F::Handler as PageHandler>::Output>,
                    index: u32|
     -> Result<u64, Abort> {
        tally.add(&r);
        bytes += r.bytes;
        pages += 1;
        let facts = PageFacts {
            index,
            rows: r.outcome.rows,
            row_count: r.outcome.row_count,
            digest: r.digest,
        };
        check
            .accept(facts, r.outcome.keys, r.outcome.dates)
            .map_err(Abort::Inconsistent)?;
        sink.page(r.outcome.output).map_err(Abort::Failed)?;
        Ok(facts.rows)
    };
    let first = fetch(paged.then(|| page_at(0)))
        .await
        .map_err(|e| page_failure(e, 0))?;
    let mut last_rows = take(&mut check, first, 0)?;
    if paged {
        match check.pages() {
            Some(n) if n > 1 => {
                let mut rest = stream::iter(1..n)
                    .map(|i| fetch(Some(page_at(i))))
                    .buffered(client.options().concurrency.max(1))
                    .enumerate();
                while let Some((i, page)) = rest.next().await {
                    let index = i as u32 + 1;
                    let page = page.map_err(|e| page_failure(e, index))?;
                    take(&mut check, page, index)?;
                }
            }
            Some(_) => {}
            None => {
                let mut index = 0;
                while last_rows == u64::from(page_size) {
                    index += 1;
                    if index >= MAX_SEQUENTIAL_PAGES {
                        return Err(Abort::Inconsistent(Inconsistency::Endless { pages: index }));
                    }
                    let next = fetch(Some(page_at(index)))
                        .await
                        .map_err(|e| page_failure(e, index))?;
                    last_rows = take(&mut check, next, index)?;
                }
            }
        }
    }
    let row_count = check.row_count();
    let rows = check.rows;
    let dates = check.dates();
    let options = client.options();
    let repeated = check
        .finish(
            report,
            options.allow_repeated_keys,
            options.accept_rows_outside_window,
        )
        .map_err(Abort::Inconsistent)?;
    let mut warnings = Vec::new();
    if dates.outside > 0 {
        warnings.push(format!(
            "{} of {} rows are dated outside the window (the first: {}); kept in the \
             window's own partitions because --accept-rows-outside-window was given",
            dates.outside,
            dates.dated,
            dates.first_outside.as_deref().unwrap_or("?")
        ));
    }
    if repeated > 0 {
        warnings.push(format!(
            "{repeated} row key(s) ({}) repeat in this window; kept as sent because repeated keys are allowed",
            report.primary_key.join(", ")
        ));
    }
    Ok(WindowResult {
        pages,
        rows,
        row_count,
        pulls: 1,
        requests: 0,
        retries: 0,
        bytes,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(index: u32, rows: u64, row_count: Option<u64>) -> PageFacts {
        PageFacts {
            index,
            rows,
            row_count,
            digest: u64::from(index) + 100,
        }
    }

    fn keys(range: std::ops::Range<u32>) -> Vec<RowKey> {
        range
            .map(|k| RowKey::new(k.to_string().as_bytes()))
            .collect()
    }

    fn report() -> &'static Report {
        cake_catalog::find("clicks").unwrap()
    }

    /// One page for a check: rows, row_count, and the range of its keys.
    type P = (u64, Option<u64>, std::ops::Range<u32>);

    /// Runs pages through a check with row_limit 10.
    fn run(pages: &[P]) -> Result<u64, Inconsistency> {
        let mut check = WindowCheck::new(true, 10);
        for (i, (rows, row_count, k)) in pages.iter().enumerate() {
            check.accept(
                facts(i as u32, *rows, *row_count),
                keys(k.clone()),
                RowDates::default(),
            )?;
        }
        check.finish(report(), false, false)
    }

    #[test]
    fn consistent_windows_pass() {
        assert_eq!(
            run(&[
                (10, Some(25), 0..10),
                (10, Some(25), 10..20),
                (5, Some(25), 20..25)
            ]),
            Ok(0)
        );
        assert_eq!(run(&[(0, Some(0), 0..0)]), Ok(0));
        assert_eq!(run(&[(10, Some(10), 0..10)]), Ok(0));
    }

    #[test]
    fn every_inconsistency_is_named() {
        let cases: Vec<(Vec<P>, &str)> = vec![
            (
                vec![
                    (10, Some(30), 0..10),
                    (6, Some(30), 10..16),
                    (10, Some(30), 16..26),
                ],
                "page 2 of 3 held 6 rows where 10 were due (row_limit 10, row_count 30)",
            ),
            (
                vec![(10, Some(4_000_000), 0..10), (0, Some(4_000_000), 0..0)],
                "page 2 of 400000 was empty although row_count is 4000000",
            ),
            (
                vec![(10, Some(30), 0..10), (10, Some(33), 10..20)],
                "row_count was 30 on page 1 but 33 on page 2",
            ),
            (
                vec![(10, Some(20), 0..10), (10, Some(20), 9..19)],
                "the key click_id = 9 appears twice (on pages 1 and 2)",
            ),
            (
                vec![(12, Some(30), 0..12)],
                "page 1 held 12 rows but row_limit was 10",
            ),
            (
                vec![(10, Some(15), 0..10), (3, Some(15), 10..13)],
                "page 2 of 2 held 3 rows where 5 were due",
            ),
        ];
        for (pages, expected) in cases {
            let e = run(&pages).unwrap_err().to_string();
            assert!(e.contains(expected), "expected `{expected}` in `{e}`");
        }
    }

    #[test]
    fn unpaged_answers_must_match_row_count() {
        let mut check = WindowCheck::new(false, 1);
        check
            .accept(facts(0, 3, Some(4)), keys(0..3), RowDates::default())
            .unwrap();
        assert_eq!(
            check.finish(report(), false, false),
            Err(Inconsistency::Total {
                rows: 3,
                row_count: 4
            })
        );
    }

    #[test]
    fn repeated_keys_can_be_allowed() {
        let mut check = WindowCheck::new(false, 1);
        let mut k = keys(0..3);
        k.push(RowKey::new(b"1"));
        check
            .accept(facts(0, 4, Some(4)), k, RowDates::default())
            .unwrap();
        assert_eq!(check.finish(report(), true, false), Ok(1));
    }

    #[test]
    fn identical_pages_are_refused() {
        let mut check = WindowCheck::new(true, 10);
        let mut a = facts(0, 10, Some(20));
        check.accept(a, keys(0..10), RowDates::default()).unwrap();
        a.index = 1;
        assert_eq!(
            check.accept(a, keys(10..20), RowDates::default()),
            Err(Inconsistency::RepeatedPage { page: 2 })
        );
    }

    #[test]
    fn answers_for_other_dates_are_inconsistent() {
        let mut check = WindowCheck::new(false, 1);
        let dates = RowDates {
            dated: 40,
            outside: 40,
            shift_seconds: -24 * 3600 * 40,
            first_outside: None,
        };
        check
            .accept(facts(0, 40, Some(40)), keys(0..40), dates)
            .unwrap();
        let e = check
            .finish(report(), false, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("40 of 40 rows are dated outside the window, -24 h from it"),
            "{e}"
        );
        // One row outside is as inconsistent as many, and named; accepted knowingly, it is kept
        // (and warned about by the caller).
        let outside = |accept: bool| {
            let mut check = WindowCheck::new(false, 1);
            let dates = RowDates {
                dated: 40,
                outside: 1,
                shift_seconds: 0,
                first_outside: Some("click_id 7, dated 2026-01-01".into()),
            };
            check
                .accept(facts(0, 40, Some(40)), keys(0..40), dates)
                .unwrap();
            check.finish(report(), false, accept)
        };
        let e = outside(false).unwrap_err().to_string();
        assert!(
            e.starts_with("1 of 40 rows are dated outside the window (the first: click_id 7, dated 2026-01-01): a row never replaces another day's data"),
            "{e}"
        );
        assert_eq!(outside(true), Ok(0));
        assert_eq!(shift(5 * 3600 + 1800), "+5 h 30 min");
        assert_eq!(shift(-2700), "-45 min");
    }

    #[test]
    fn row_keys_are_exact_for_short_keys_and_hashed_for_long_ones() {
        assert_eq!(RowKey::new(b"123").to_string(), "123");
        assert_eq!(RowKey::new(b"12\x1f34").to_string(), "12, 34");
        assert_ne!(RowKey::new(b"12"), RowKey::new(b"12\0"));
        let long = RowKey::new(b"0123456789abcdefXYZ");
        assert_eq!(long, RowKey::new(b"0123456789abcdefXYZ"));
        assert_ne!(long, RowKey::new(b"0123456789abcdefXYW"));
        assert!(long.to_string().starts_with("a long key (hash "));
    }
}

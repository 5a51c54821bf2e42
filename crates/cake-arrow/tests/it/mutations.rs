//! A bounded property test over documents built from the catalog: for any report, a random
//! well-formed response is generated from its columns (every type, nils, empty values, lists),
//! then damaged (byte flips, truncation, duplicated and removed tags, huge numbers, bursts of
//! deep nesting, giant text, forbidden references, invalid UTF-8) and fed in random chunks.
//!
//! Properties: the undamaged document decodes to its rows; a damaged one never panics and
//! never hangs, decodes or fails with a classified error that names the report (never an
//! internal one), gives the same outcome for any chunking, and the decoder's peak memory stays
//! within a bound set by the limits (`max_text_bytes`, `max_depth`, the batch size), however
//! large the damage. Memory is measured by a counting allocator, per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::Duration;

use cake_arrow::{DecodeError, Decoder, DecoderOptions};
use cake_catalog::{ColumnType, Report, REPORTS};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// --- memory, counted per thread -------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: a thread being torn down has no counters any more.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are plain
// thread-local cells, initialised without allocating.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts measuring on this thread; returns the baseline.
fn measure_from_here() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

fn peak_since(baseline: isize) -> usize {
    (PEAK.with(Cell::get) - baseline).max(0) as usize
}

// --- documents from the catalog -------------------------------------------------------------

/// The limits under test: small, so that damage far larger than them is cheap to make.
fn options() -> DecoderOptions {
    DecoderOptions {
        batch_size: 16,
        max_depth: 48,
        max_text_bytes: 16 << 10,
        ..DecoderOptions::default()
    }
}

/// The most a decode pushed in pieces may allocate at its peak with [`options`]: a few times
/// the text limit for the pending input and one token, plus one batch of generated rows (16
/// rows of at most ~90 columns, values of at most 40 bytes, and Arrow's builders). Damage is
/// up to 40 times larger than the text limit.
const MEMORY_BOUND: usize = 1 << 20;

/// A value of a column's type, as Cake writes it.
fn value(ty: &ColumnType, r: &mut Draw) -> String {
    match ty {
        ColumnType::Bool => ["true", "false", "True", "0", "1"][r.below(5)].to_string(),
        ColumnType::Int32 => (r.next() as i32 / (1 << r.below(31))).to_string(),
        ColumnType::Int64 => (r.next() as i64 / (1 << r.below(63))).to_string(),
        ColumnType::Decimal { precision, scale } => {
            let int_digits = (*precision as usize - *scale as usize).clamp(1, 8);
            let mut s = String::new();
            if r.below(4) == 0 {
                s.push('-');
            }
            let _ = write!(
                s,
                "{}",
                r.next() % 10u64.pow(r.below(int_digits) as u32 + 1)
            );
            if *scale > 0 {
                s.push('.');
                for _ in 0..r.below(*scale as usize + 1) {
                    s.push(char::from(b'0' + r.below(10) as u8));
                }
                if s.ends_with('.') {
                    s.push('0');
                }
            }
            s
        }
        ColumnType::Utf8 => {
            const PIECES: [&str; 10] = [
                "Acme",
                " lead",
                "&amp;",
                "&lt;b&gt;",
                "€",
                "ü",
                "&#x16;",
                "Mozilla/5.0%20(X11)",
                "",
                "&#233;",
            ];
            (0..r.below(5))
                .map(|_| PIECES[r.below(PIECES.len())])
                .collect()
        }
        ColumnType::Timestamp => format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            r.below(30),
            1 + r.below(12),
            1 + r.below(28),
            r.below(24),
            r.below(60),
            r.below(60),
            [".937", "", ".5", ".1234567"][r.below(4)]
        ),
        ColumnType::Date => format!(
            "20{:02}-{:02}-{:02}",
            r.below(30),
            1 + r.below(12),
            1 + r.below(28)
        ),
        ColumnType::List(inner) => value(inner, r),
        // A JSON column's element holds text here; a struct's repeated element is empty.
        ColumnType::Json => value(&ColumnType::Utf8, r),
        ColumnType::Struct(_) => String::new(),
    }
}

/// A small seeded generator inside a proptest case (proptest draws its seed).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One element of a row: a leaf with its column, or a container of children, in catalog order.
enum Node {
    Leaf(usize),
    Container(Vec<(&'static str, Node)>),
}

fn tree(report: &Report) -> Vec<(&'static str, Node)> {
    fn insert(children: &mut Vec<(&'static str, Node)>, path: &[&'static str], column: usize) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            children.push((first, Node::Leaf(column)));
            return;
        }
        if let Some((_, Node::Container(inner))) = children.iter_mut().find(|(n, _)| n == first) {
            insert(inner, rest, column);
            return;
        }
        let mut inner = Vec::new();
        insert(&mut inner, rest, column);
        children.push((first, Node::Container(inner)));
    }
    let mut root = Vec::new();
    for (i, c) in report.columns.iter().enumerate() {
        insert(&mut root, c.path, i);
    }
    root
}

fn write_nodes(report: &Report, nodes: &[(&'static str, Node)], r: &mut Draw, out: &mut String) {
    for (name, node) in nodes {
        match node {
            Node::Leaf(i) => {
                let column = &report.columns[*i];
                match (column.nullable, r.below(8)) {
                    (true, 0) => {}
                    (true, 1) => {
                        let _ = write!(out, "<{name} xsi:nil=\"true\" />");
                    }
                    _ => {
                        let v = value(&column.ty, r);
                        if v.is_empty() {
                            let _ = write!(out, "<{name} />");
                        } else {
                            let _ = write!(out, "<{name}>{v}</{name}>");
                        }
                    }
                }
            }
            Node::Container(children) => {
                let _ = write!(out, "<{name}>");
                write_nodes(report, children, r, out);
                let _ = write!(out, "</{name}>");
            }
        }
    }
}

/// A well-formed GET response of `rows` rows for `report`.
fn document(report: &Report, rows: usize, r: &mut Draw) -> Vec<u8> {
    let shape = &report.response;
    let nodes = tree(report);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n");
    let _ = write!(
        out,
        "<{} xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns=\"http://cakemarketing.com/api/{}/\">\r\n",
        shape.root, report.endpoint.version
    );
    if shape.envelope {
        let _ = write!(
            out,
            "  <success>true</success>\r\n  <row_count>{rows}</row_count>\r\n"
        );
    }
    if let Some(c) = shape.collection {
        let _ = write!(out, "  <{c}>\r\n");
    }
    for _ in 0..rows {
        let _ = write!(out, "    <{}>", shape.row);
        write_nodes(report, &nodes, r, &mut out);
        let _ = write!(out, "</{}>\r\n", shape.row);
    }
    if let Some(c) = shape.collection {
        let _ = write!(out, "  </{c}>\r\n");
    }
    let _ = write!(out, "</{}>\r\n", shape.root);
    out.into_bytes()
}

// --- damage ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Damage {
    FlipByte(usize, u8),
    Truncate(usize),
    DuplicateTag(usize),
    RemoveTag(usize),
    HugeNumber(usize, usize),
    DeepBurst(usize, usize),
    GiantText(usize, usize),
    Insert(usize, &'static str),
}

fn damage() -> impl Strategy<Value = Damage> {
    let snippets = prop::sample::select(vec![
        "&#x0;",
        "&#xD800;",
        "&bogus;",
        "&",
        "<!DOCTYPE x [<!ENTITY a \"b\">]>",
        "<![CDATA[<row>]]>",
        "<!-- > -->",
        "<?pi ?>",
        "\u{FEFF}",
        "\u{0}",
        "</>",
        "<a b=\"1\" b=\"2\">",
        "<success>false</success><message>Restricted</message>",
        "<row_count>99999999999999999999999</row_count>",
        "xsi:nil=\"true\"",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Damage::FlipByte(a, b)),
        any::<usize>().prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::DuplicateTag),
        any::<usize>().prop_map(Damage::RemoveTag),
        (any::<usize>(), 20usize..400).prop_map(|(a, n)| Damage::HugeNumber(a, n)),
        (any::<usize>(), 10usize..2_000).prop_map(|(a, n)| Damage::DeepBurst(a, n)),
        (any::<usize>(), 1usize..(640 << 10)).prop_map(|(a, n)| Damage::GiantText(a, n)),
        (any::<usize>(), snippets).prop_map(|(a, s)| Damage::Insert(a, s)),
    ]
}

/// Start of the `n`-th tag (`<` followed by a name), cycled.
fn nth_tag(body: &[u8], n: usize) -> Option<(usize, usize)> {
    let starts: Vec<usize> = body
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/'))
        .map(|(i, _)| i)
        .collect();
    let start = *starts.get(n % starts.len().max(1))?;
    let end = body[start..].iter().position(|b| *b == b'>')? + start + 1;
    Some((start, end))
}

fn apply(body: &mut Vec<u8>, d: &Damage) {
    let at = |a: usize, len: usize| a % (len + 1);
    match d {
        Damage::FlipByte(a, b) => {
            if !body.is_empty() {
                let i = a % body.len();
                body[i] ^= b | 1;
            }
        }
        Damage::Truncate(a) => body.truncate(at(*a, body.len())),
        Damage::DuplicateTag(n) => {
            if let Some((s, e)) = nth_tag(body, *n) {
                let tag = body[s..e].to_vec();
                body.splice(e..e, tag);
            }
        }
        Damage::RemoveTag(n) => {
            if let Some((s, e)) = nth_tag(body, *n) {
                body.drain(s..e);
            }
        }
        Damage::HugeNumber(a, n) => {
            // Replace a run of digits (or insert one) with `n` digits.
            let s = at(*a, body.len());
            let digits = "9".repeat(*n);
            match body[s..].iter().position(u8::is_ascii_digit) {
                Some(p) => {
                    let start = s + p;
                    let end = body[start..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(body.len(), |q| start + q);
                    body.splice(start..end, digits.bytes());
                }
                None => {
                    body.splice(s..s, digits.bytes());
                }
            }
        }
        Damage::DeepBurst(a, n) => {
            // After a `>`: n nested elements, closed again (or not, when cut later).
            let s = at(*a, body.len());
            let pos = body[s..]
                .iter()
                .position(|b| *b == b'>')
                .map_or(body.len(), |p| s + p + 1);
            let burst = format!("{}{}", "<d>".repeat(*n), "</d>".repeat(*n));
            body.splice(pos..pos, burst.bytes());
        }
        Damage::GiantText(a, n) => {
            let s = at(*a, body.len());
            let pos = body[s..]
                .iter()
                .position(|b| *b == b'>')
                .map_or(body.len(), |p| s + p + 1);
            let text = "x".repeat(*n);
            body.splice(pos..pos, text.bytes());
        }
        Damage::Insert(a, snippet) => {
            let s = at(*a, body.len());
            body.splice(s..s, snippet.bytes());
        }
    }
}

// --- decoding -------------------------------------------------------------------------------

/// What a decode ended in: its rows, or the class of its error (and the error's text, shown
/// when a case fails but not compared: see `same`).
#[derive(Debug, Clone)]
enum Outcome {
    Rows(u64),
    Failed(cake_core::failure::Class, String),
}

impl Outcome {
    /// Same rows, or an error of the same class. The exact error may differ with the
    /// chunking in one case: a token longer than `max_text_bytes` that also holds another
    /// fault (invalid UTF-8, a bad reference) before the limit. Parsed whole, the first fault
    /// is reported; arriving in pieces, the buffer passes the limit before the token is
    /// parsed and `TextTooLarge` is. Both are `NotCake`.
    fn same(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Rows(a), Outcome::Rows(b)) => a == b,
            (Outcome::Failed(a, _), Outcome::Failed(b, _)) => a == b,
            _ => false,
        }
    }
}

fn classify(report: &Report, e: &DecodeError) -> Result<Outcome, String> {
    if matches!(e, DecodeError::Internal { .. }) {
        return Err(format!("an internal error: {e}"));
    }
    let text = e.to_string();
    if !text.contains(report.id) {
        return Err(format!("the error does not name the report: {text}"));
    }
    Ok(Outcome::Failed(
        cake_core::failure::Classify::class(e),
        text,
    ))
}

/// Decodes `body` pushed in chunks of `sizes` (cycled); returns the outcome and the peak of
/// memory allocated by the decode on this thread.
fn decode(
    report: &'static Report,
    body: &[u8],
    sizes: &[usize],
) -> Result<(Outcome, usize), String> {
    let baseline = measure_from_here();
    let mut decoder = Decoder::new(report, options());
    let mut rows = 0u64;
    let mut rest = body;
    let mut i = 0;
    let mut failed = None;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = decoder.push(chunk) {
            failed = Some(e);
            break;
        }
        while let Some(b) = decoder.pop_batch() {
            rows += b.num_rows() as u64;
        }
    }
    let outcome = match failed {
        Some(e) => classify(report, &e)?,
        None => match decoder.finish() {
            Ok(summary) => {
                while let Some(b) = decoder.pop_batch() {
                    rows += b.num_rows() as u64;
                }
                if summary.rows != rows {
                    return Err(format!("{} rows counted, {rows} delivered", summary.rows));
                }
                Outcome::Rows(rows)
            }
            Err(e) => classify(report, &e)?,
        },
    };
    drop(decoder);
    Ok((outcome, peak_since(baseline)))
}

/// Runs `f` on its own thread (memory is counted per thread) and fails a case that does not
/// finish: a watchdog against hangs, far above the milliseconds a case takes.
fn guarded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(v) => Ok(v),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail("the decode hung")),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(TestCaseError::fail("the decode panicked"))
        }
    }
}

/// Figures over all cases, printed at the end (`--nocapture`) for `docs/reliability.md`.
#[derive(Debug, Default)]
struct Figures {
    cases: u64,
    decoded: u64,
    failed: std::collections::BTreeMap<String, u64>,
    /// The first words of each error message, counted.
    messages: std::collections::BTreeMap<String, u64>,
    largest_body: usize,
    /// The highest peak of a decode pushed in pieces.
    highest_peak: usize,
}

#[test]
fn damaged_catalog_documents_fail_cleanly_in_bounded_memory() {
    use proptest::test_runner::{Config, RngSeed, TestRunner};
    let figures = std::sync::Mutex::new(Figures::default());
    let strategy = (
        0..REPORTS.len(),
        0usize..24,
        any::<u64>(),
        prop::collection::vec(damage(), 0..4),
        prop::collection::vec(1usize..4096, 1..6),
    );
    // Reproducible in CI: a fixed seed and 300 cases, unless PROPTEST_RNG_SEED and
    // PROPTEST_CASES ask for other ones (docs/fuzzing.md).
    let mut config = Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..Config::default()
    };
    if matches!(config.rng_seed, RngSeed::Random) {
        config.rng_seed = RngSeed::Fixed(0x00CA_4E00_0001);
    }
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(pick, rows, seed, damages, sizes)| {
        let report: &'static Report = REPORTS[pick];
        let result = guarded(move || {
            let mut draw = Draw(seed);
            let clean = document(report, rows, &mut draw);
            let whole = decode(report, &clean, &[clean.len().max(1)])?;
            if !whole.0.same(&Outcome::Rows(rows as u64)) {
                return Err(format!("the undamaged document gave {:?}", whole.0));
            }
            let mut body = clean;
            for d in &damages {
                apply(&mut body, d);
            }
            let once = decode(report, &body, &[body.len().max(1)])?;
            let chunked = decode(report, &body, &sizes)?;
            if !once.0.same(&chunked.0) {
                return Err(format!(
                    "chunking changed the outcome: {:?} then {:?}",
                    once.0, chunked.0
                ));
            }
            // Pushed whole, the decoder may copy the tail of the one chunk it was given;
            // pushed in pieces of at most 4 KiB, it holds only what the limits allow.
            for (outcome, peak, bound) in [
                (&once.0, once.1, MEMORY_BOUND + body.len()),
                (&chunked.0, chunked.1, MEMORY_BOUND),
            ] {
                if peak > bound {
                    return Err(format!(
                        "{peak} bytes at the peak for a {} byte body ({outcome:?})",
                        body.len()
                    ));
                }
            }
            Ok((once.0, body.len(), chunked.1))
        })?;
        match result {
            Ok((outcome, len, peak)) => {
                let mut f = figures.lock().unwrap();
                f.cases += 1;
                match outcome {
                    Outcome::Rows(_) => f.decoded += 1,
                    Outcome::Failed(kind, text) => {
                        *f.failed.entry(format!("{kind:?}")).or_default() += 1;
                        let variant = text.split(':').nth(1).unwrap_or_default().trim();
                        let words: String = variant
                            .split_whitespace()
                            .take(4)
                            .collect::<Vec<_>>()
                            .join(" ");
                        *f.messages.entry(words).or_default() += 1;
                    }
                }
                f.largest_body = f.largest_body.max(len);
                f.highest_peak = f.highest_peak.max(peak);
                Ok(())
            }
            Err(message) => Err(TestCaseError::fail(format!("{}: {message}", report.id))),
        }
    });
    let f = figures.into_inner().unwrap();
    eprintln!(
        "{} cases: {} decoded, failed by kind {:?}; largest damaged body {} KiB; highest decoder peak {} KiB (bound {} KiB)",
        f.cases,
        f.decoded,
        f.failed,
        f.largest_body >> 10,
        f.highest_peak >> 10,
        MEMORY_BOUND >> 10
    );
    for (words, n) in &f.messages {
        eprintln!("  {n:>4}  {words} ...");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    // Each property was exercised: documents that decode and documents that fail.
    assert!(f.decoded > 0 && !f.failed.is_empty(), "{f:?}");
}

/// Found by the fuzz target: an event holding `>` (an attribute value, a comment) that a
/// window cut is parsed again only once the buffer has doubled; the size limit was checked
/// against the buffer first, so a tag well within the limit could be refused as too large,
/// depending on the chunking. Every chunking must decode this document.
#[test]
fn a_cut_event_within_the_limit_is_never_refused() {
    let report = cake_catalog::find("account-status").unwrap();
    let options = DecoderOptions {
        max_text_bytes: 64,
        ..DecoderOptions::default()
    };
    let body = "<account_statuses_response><success>true</success><row_count>1</row_count>\
        <account_statuses><account_status>\
        <account_status_id note=\"a > b, more\" o=\"x\">1</account_status_id>\
        <!-- a comment > with a > in the middle -->\
        <account_status_name>Active</account_status_name>\
        </account_status></account_statuses></account_statuses_response>";
    for size in 1..=body.len() {
        let mut decoder = Decoder::new(report, options);
        for chunk in body.as_bytes().chunks(size) {
            decoder
                .push(chunk)
                .unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
        }
        let summary = decoder
            .finish()
            .unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
        assert_eq!(summary.rows, 1, "chunks of {size}");
    }
}

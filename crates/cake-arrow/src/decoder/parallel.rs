//! One response decoded on several threads.
//!
//! Cake's rows are repeated elements of one collection. Once the decoder stands between two
//! rows of it (a *gap*: no row, capture or cut event open, the input read as UTF-8), the bytes
//! that follow are cut into blocks that end just after a row's end tag (`</click>`), found by
//! a byte search. Each block goes to a copy of the decoder taken at the gap and is decoded on
//! a pool of threads, batches included; the copies come back in the document's order and are
//! merged: their batches queued after those before them, their counts added.
//!
//! The byte search proves nothing by itself (the end tag may sit in a comment, a CDATA section
//! or another element): a copy is merged only if it decoded its whole block without an error
//! and stands at the same gap at its end, with the same open elements, envelope and layout
//! findings. Otherwise the decoder itself decodes the block again, then what followed it, so
//! that every output and every error (its row number included) is the sequential decoder's.
//! After a few such fallbacks the rest of the response is decoded on one thread. At most
//! twice as many blocks as the decoder's `threads` are in flight, so memory stays bounded; the
//! pool has one thread per core, whatever the number of decoders.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Mutex;

use super::*;

/// Fallbacks to one thread after which the rest of the response is decoded on one thread.
const MAX_FALLBACKS: u32 = 4;
/// Bytes given to the decoder at a time before its first row has closed.
const SLICE: usize = 64 << 10;

/// The state of the decoding on several threads.
pub(super) struct Parallel {
    threads: usize,
    block: usize,
    /// Bytes received and given to no one yet.
    buf: Vec<u8>,
    /// Blocks being decoded, in document order.
    in_flight: VecDeque<InFlight>,
    fallbacks: u32,
}

/// A block given to a copy of the decoder.
struct InFlight {
    /// Offset of its first byte in the body.
    start: u64,
    bytes: Arc<[u8]>,
    done: Receiver<Box<Decoder>>,
}

struct Job {
    decoder: Box<Decoder>,
    bytes: Arc<[u8]>,
    done: Sender<Box<Decoder>>,
}

/// The decoding threads: one pool for every decoder of the process, one thread per available
/// core, started at the first block (so that responses decoded side by side, the pages of a
/// pull, do not multiply the threads).
struct Pool {
    jobs: Mutex<Sender<Job>>,
}

impl Pool {
    fn global() -> &'static Pool {
        static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
        POOL.get_or_init(|| {
            let (jobs, queue) = mpsc::channel::<Job>();
            let queue = Arc::new(Mutex::new(queue));
            // Two at least: a decoder asks for blocks only when it has more than one thread.
            for i in 0..crate::cores().max(2) {
                let queue = Arc::clone(&queue);
                // A thread that cannot start leaves the others; with none, the queue is
                // dropped with `queue` and every block is decoded by its own decoder.
                let _ = std::thread::Builder::new()
                    .name(format!("cake-decode-{i}"))
                    .spawn(move || work(&queue));
            }
            Pool {
                jobs: Mutex::new(jobs),
            }
        })
    }

    /// Queues `job`; a job no thread can take is dropped, which closes its channel.
    fn send(&self, job: Job) {
        if let Ok(jobs) = self.jobs.lock() {
            let _ = jobs.send(job);
        }
    }
}

/// A decoding thread: decodes each block it is given, its last batch included, and sends the
/// copy back (with its error, if it failed). A panic drops the copy, which closes its channel:
/// the block is decoded again by its own decoder.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(Job {
            mut decoder,
            bytes,
            done,
        }) = job
        else {
            return;
        };
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let result = decoder.push_inner(&bytes).and_then(|()| {
                if decoder.batch.rows > 0 {
                    decoder.flush()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = result {
                decoder.failed = Some(e);
            }
            decoder
        }));
        if let Ok(decoder) = decoded {
            let _ = done.send(decoder);
        }
    }
}

impl Parallel {
    /// The state for `options`, or `None` when they ask for one thread.
    pub(super) fn new(options: &DecoderOptions) -> Option<Box<Parallel>> {
        let threads = options.decode_threads();
        (threads > 1).then(|| {
            Box::new(Parallel {
                threads,
                block: options.block_bytes.max(1),
                buf: Vec::new(),
                in_flight: VecDeque::new(),
                fallbacks: 0,
            })
        })
    }
}

impl Decoder {
    /// Feeds `chunk` when several threads decode.
    pub(super) fn push_parallel(
        &mut self,
        p: &mut Parallel,
        chunk: &[u8],
    ) -> Result<(), DecodeError> {
        if p.buf.is_empty() {
            let used = self.advance(p, chunk, false)?;
            p.buf.extend_from_slice(&chunk[used..]);
        } else {
            p.buf.extend_from_slice(chunk);
            let held = std::mem::take(&mut p.buf);
            let used = self.advance(p, &held, false)?;
            p.buf = held;
            p.buf.drain(..used);
        }
        Ok(())
    }

    /// Ends the input when several threads decode: every block decoded and merged, and the
    /// bytes left given to the decoder.
    pub(super) fn finish_parallel(&mut self, p: &mut Parallel) -> Result<(), DecodeError> {
        let held = std::mem::take(&mut p.buf);
        self.advance(p, &held, true)?;
        self.collect_all(p)
    }

    /// The decoder stands at a gap between rows, where the input may be cut into blocks.
    fn may_cut(&self) -> bool {
        self.doc == Doc::Open
            && matches!(self.encoding, Encoding::Utf8)
            && self.pending.is_empty()
            && !self.in_row
            && self.capture.is_none()
            && self.stray.is_none()
            && self.other_version.is_none()
            && self.text_run == 0
            && !self.row_name.is_empty()
            && matches!(
                self.stack.last(),
                Some(Frame::Collection | Frame::Content | Frame::Probe { .. })
            )
    }

    /// Gives `input` to blocks while the decoder stands at a gap, and to the decoder itself
    /// otherwise; returns how much of it was given, the rest being held for a block's worth
    /// of bytes (all of it at the `end` of the input).
    fn advance(&mut self, p: &mut Parallel, input: &[u8], end: bool) -> Result<usize, DecodeError> {
        let mut at = 0;
        loop {
            self.collect(p, false)?;
            let rest = &input[at..];
            if p.fallbacks >= MAX_FALLBACKS {
                self.collect_all(p)?;
                self.push_decoded(rest)?;
                return Ok(input.len());
            }
            if !p.in_flight.is_empty() || self.may_cut() {
                // At a gap, after the blocks in flight.
                match next_cut(rest, &self.row_name, p.block) {
                    Some(_) if p.in_flight.len() >= 2 * p.threads => self.collect(p, true)?,
                    Some(cut) => {
                        self.dispatch(p, &rest[..cut]);
                        at += cut;
                    }
                    // Less than a block, or a row not ended yet: wait for more.
                    None if !end && rest.len() < 4 * p.block.max(SLICE) => return Ok(at),
                    // The end, or no row ends in what is held (a row larger than the blocks,
                    // or no longer a list of rows): decoded here.
                    None => {
                        self.collect_all(p)?;
                        self.push_decoded(rest)?;
                        return Ok(input.len());
                    }
                }
            } else if self.row_name.is_empty() {
                // Before the first row has closed nothing can be cut: up to the first end
                // tag of the catalog's row, or a slice at a time, until one has.
                let slice = &rest[..rest.len().min(SLICE)];
                if slice.is_empty() {
                    return Ok(at);
                }
                let n = first_end_tag(slice, self.report.response.row.as_bytes(), true)
                    .unwrap_or(slice.len());
                self.push_decoded(&rest[..n])?;
                at += n;
            } else {
                // Inside a row: decoded here up to its end.
                let Some(cut) = first_row_end(rest, &self.row_name) else {
                    self.push_decoded(rest)?;
                    return Ok(input.len());
                };
                // When that end tag did not end a row of the list, the next one is tried.
                self.push_decoded(&rest[..cut])?;
                at += cut;
            }
        }
    }

    /// Waits for every block in flight and merges it.
    fn collect_all(&mut self, p: &mut Parallel) -> Result<(), DecodeError> {
        while !p.in_flight.is_empty() {
            self.collect(p, true)?;
        }
        Ok(())
    }

    /// Sends `block` to a copy of the decoder, which stands at the gap before it.
    fn dispatch(&mut self, p: &mut Parallel, block: &[u8]) {
        let bytes: Arc<[u8]> = Arc::from(block);
        let start = self.total;
        let copy = Box::new(self.copy_at_gap());
        // The decoder stands at the gap after the block, as its copy will.
        self.total += block.len() as u64;
        self.consumed = self.total;
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(block.len());
            self.head.extend_from_slice(&block[..take]);
        }
        let (done, result) = mpsc::channel();
        Pool::global().send(Job {
            decoder: copy,
            bytes: Arc::clone(&bytes),
            done,
        });
        p.in_flight.push_back(InFlight {
            start,
            bytes,
            done: result,
        });
    }

    /// Merges the blocks done, in order; with `wait`, waits for the first one.
    fn collect(&mut self, p: &mut Parallel, mut wait: bool) -> Result<(), DecodeError> {
        while let Some(front) = p.in_flight.front() {
            // A block no thread took (none could start, or one panicked) is undone: its
            // channel is closed, and it is decoded here.
            let copy = if wait {
                front.done.recv().ok()
            } else {
                match front.done.try_recv() {
                    Ok(copy) => Some(copy),
                    Err(TryRecvError::Empty) => return Ok(()),
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            wait = false;
            let Some(front) = p.in_flight.pop_front() else {
                break;
            };
            match copy {
                Some(copy) if self.mergeable(&copy, &front) => self.merge(*copy)?,
                _ => self.fall_back(p, front)?,
            }
        }
        Ok(())
    }

    /// A copy of this decoder, standing at the same gap, with nothing decoded yet.
    fn copy_at_gap(&self) -> Decoder {
        let mut d = Decoder::with_map(
            self.report,
            DecoderOptions {
                threads: 1,
                ..self.options
            },
            Arc::clone(&self.map),
            Arc::clone(&self.schema),
        );
        d.scrubber = self.scrubber.clone();
        d.encoding = Encoding::Utf8;
        d.consumed = self.total;
        d.total = self.total;
        d.head = self.head.clone();
        d.sniffed = self.sniffed;
        d.doc = self.doc;
        d.stack = self.stack.clone();
        d.names = self.names.clone();
        d.name_ends = self.name_ends.clone();
        d.hints = self.hints.clone();
        d.envelope = self.envelope.clone();
        d.envelope_seen = self.envelope_seen;
        d.fault_code = self.fault_code.clone();
        d.fault_reason = self.fault_reason.clone();
        d.found_version = self.found_version;
        d.unplaced = self.unplaced;
        d.first_unplaced = self.first_unplaced.clone();
        d.probe_last = self.probe_last.clone();
        d.probe_row_like = self.probe_row_like;
        d.layout = self.layout.clone();
        d.row_name = self.row_name.clone();
        d
    }

    /// The copy decoded its block without an error and stands at the gap this decoder stands
    /// at, so that merging it gives what decoding the block here would have.
    fn mergeable(&self, copy: &Decoder, block: &InFlight) -> bool {
        copy.failed.is_none()
            && copy.total == block.start + block.bytes.len() as u64
            && copy.may_cut()
            && copy.doc == self.doc
            && copy.stack == self.stack
            && copy.names == self.names
            && copy.name_ends == self.name_ends
            && copy.envelope == self.envelope
            && copy.envelope_seen == self.envelope_seen
            && copy.fault_code == self.fault_code
            && copy.fault_reason == self.fault_reason
            && copy.found_version == self.found_version
            && copy.unplaced == self.unplaced
            && copy.first_unplaced == self.first_unplaced
            && copy.probe_last == self.probe_last
            && copy.probe_row_like == self.probe_row_like
            && copy.layout == self.layout
            && copy.unknown.unlisted == 0
            && self.unknown.listed.len()
                + copy
                    .unknown
                    .listed
                    .keys()
                    .filter(|k| !self.unknown.listed.contains_key(*k))
                    .count()
                <= crate::unknown::MAX_UNKNOWN_PATHS
    }

    /// Takes the copy's batches after this decoder's, and its counts.
    fn merge(&mut self, mut copy: Decoder) -> Result<(), DecodeError> {
        self.blocks.merged += 1;
        if self.batch.rows > 0 {
            self.flush()?;
        }
        self.ready.append(&mut copy.ready);
        self.rows += copy.rows;
        self.batch_first_row += copy.rows;
        self.stripped += copy.stripped;
        for (path, n) in &copy.unknown.listed {
            self.unknown.add(path, *n);
        }
        for (path, n) in copy.withheld {
            *self.withheld.entry(path).or_insert(0) += n;
        }
        for (column, rejected) in copy.rejected {
            match self.rejected.get_mut(&column) {
                // The first example is the earlier block's.
                Some(entry) => entry.count += rejected.count,
                None => {
                    self.rejected.insert(column, rejected);
                }
            }
        }
        self.row_name = copy.row_name;
        self.hints = copy.hints;
        Ok(())
    }

    /// A block that could not be merged: this decoder goes back to the block's start and
    /// decodes it itself, then the blocks after it (their copies' work is dropped).
    fn fall_back(&mut self, p: &mut Parallel, block: InFlight) -> Result<(), DecodeError> {
        p.fallbacks += 1;
        self.blocks.redone += 1;
        self.total = block.start;
        self.consumed = block.start;
        self.head
            .truncate(usize::try_from(block.start).unwrap_or(usize::MAX));
        self.push_inner(&block.bytes)?;
        for later in std::mem::take(&mut p.in_flight) {
            self.push_inner(&later.bytes)?;
        }
        Ok(())
    }
}

/// Where the first cut may go: after the last row's end tag in the first `block` bytes, or
/// after the first one past them (a row larger than a block). `None` when less than a block
/// is held, or no row ends in it.
fn next_cut(buf: &[u8], row: &[u8], block: usize) -> Option<usize> {
    if row.is_empty() || buf.len() < block {
        return None;
    }
    let window = &buf[..buf.len().min(block)];
    last_row_end(window, row)
        .or_else(|| first_row_end(&buf[window.len()..], row).map(|i| window.len() + i))
}

/// The offset just after the first end tag of `row` (`</row>`, maybe with whitespace before
/// the `>`) in `buf`.
fn first_row_end(buf: &[u8], row: &[u8]) -> Option<usize> {
    first_end_tag(buf, row, false)
}

/// The offset just after the first end tag of `name` in `buf`, its case ignored or not.
fn first_end_tag(buf: &[u8], name: &[u8], ignore_case: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&buf[from..], b"</") {
        let at = from + i;
        if let Some(end) = end_tag_at(buf, at, name, ignore_case) {
            return Some(end);
        }
        from = at + 2;
    }
    None
}

/// The offset just after the last end tag of `row` in `buf`.
fn last_row_end(buf: &[u8], row: &[u8]) -> Option<usize> {
    let mut to = buf.len();
    while let Some(at) = memchr::memmem::rfind(&buf[..to], b"</") {
        if let Some(end) = end_tag_at(buf, at, row, false) {
            return Some(end);
        }
        to = at;
    }
    None
}

/// When an end tag of `name` starts at `at` in `buf`, the offset just after it.
#[inline]
fn end_tag_at(buf: &[u8], at: usize, name: &[u8], ignore_case: bool) -> Option<usize> {
    let from = at + 2;
    let rest = buf.get(from..)?;
    let found = rest.get(..name.len())?;
    if !(found == name || ignore_case && found.eq_ignore_ascii_case(name)) {
        return None;
    }
    let after = &rest[name.len()..];
    let spaces = after.iter().take_while(|&&b| is_xml_space(b)).count();
    (after.get(spaces) == Some(&b'>')).then_some(from + name.len() + spaces + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ends_are_found_whole() {
        let buf = b"<a><click>1</click><clicks/></clickx></click >x</click";
        assert_eq!(first_row_end(buf, b"click"), Some(19));
        assert_eq!(last_row_end(buf, b"click"), Some(46));
        assert_eq!(last_row_end(&buf[..40], b"click"), Some(19));
        assert_eq!(first_row_end(b"</click", b"click"), None);
        assert_eq!(first_row_end(b"</Click>", b"click"), None);
        assert_eq!(first_end_tag(b"</Click >", b"click", true), Some(9));
        assert_eq!(next_cut(buf, b"click", 30), Some(19));
        assert_eq!(next_cut(buf, b"click", 10), Some(19));
        assert_eq!(next_cut(buf, b"click", 50), Some(46));
        assert_eq!(next_cut(buf, b"click", 100), None);
    }
}

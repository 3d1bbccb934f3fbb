//! Reading the FiNESS+ JSON as a stream cut into `pmej` elements, the elements parsed on several threads.
//!
//! serde_json reads much faster from a slice than through a reader (it can borrow instead of copying byte by
//! byte: about 190 ms against 740 ms to walk the 189 MB synthetic file), and one legal entity with its sites is
//! independent of the others. So:
//!
//! 1. The **framer** (this thread) reads the input in chunks and finds where each top-level value, and each
//!    element of `pmej`, begins and ends. It only follows strings (quotes and backslash escapes) and bracket depth;
//!    it does not check what is between, serde_json does that on the slice afterwards.
//! 2. Elements are grouped in **batches** of about [`BATCH`] bytes; each batch moves (no copy) to a **worker**
//!    thread, which deserializes every element with serde_json (from a `&str` when the element is valid UTF-8, so
//!    that strings are neither checked twice nor copied) and maps it to records right away, while the element is
//!    still in its cache (`Mapper`, with one interner per worker).
//! 3. This thread **applies** the mapped elements in document order, so rejections, duplicates ("first kept")
//!    and counts are exactly those of a one-pass reader. Other top-level values (`schemaVersion`, `generatedAt`,
//!    `gcc`, `gco`…) are parsed or checked here, from their own slice.
//!
//! Mapping on the workers took the 189 MB synthetic file from 1.34–1.45 s to 0.85–0.92 s into records on two
//! cores (four runs of each, alternated; the calling thread had been the bottleneck), with less CPU in all.
//!
//! Memory stays bounded: at most [`in_flight`] batches are read ahead and not yet applied. The input is still
//! read once, front to back, so gzip input and pipes work the same.
//!
//! Errors keep their place in the document: an error inside an element is reported with the file's line and
//! column (and the element, `pmej[i]: …`), and when several errors exist, the first in document order wins.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc;

use serde::de::IgnoredAny;

use super::{JsonImportError, Loose, Mapped, Mapper, RawPmej, Scalar, State};

/// Size of a batch of elements sent to a worker.
pub(super) const BATCH: usize = 1 << 20;

/// Bytes read from the input at a time. Small, so that what is left after a batch (copied into the next
/// window) stays small.
const CHUNK: usize = 64 << 10;

/// Capacity of a window: a batch and what is read past it, without growing.
const WINDOW: usize = BATCH + 2 * CHUNK;

/// Batches read ahead and not yet mapped, for `threads` workers.
pub(super) fn in_flight(threads: usize) -> usize {
    2 * threads + 2
}

/// Where a batch starts in the file, to give errors the file's line and column.
#[derive(Debug, Clone, Copy)]
struct Origin {
    /// Line (from 1) of the batch's first byte.
    line: usize,
    /// Column (from 1) of the batch's first byte.
    column: usize,
}

impl Origin {
    /// The line and column of `bytes[offset]`, `bytes` starting at this origin.
    fn advance(self, bytes: &[u8], offset: usize) -> Origin {
        let before = &bytes[..offset.min(bytes.len())];
        match memchr::memrchr(b'\n', before) {
            Some(last) => Origin {
                line: self.line + memchr::memchr_iter(b'\n', before).count(),
                column: offset - last,
            },
            None => Origin {
                line: self.line,
                column: self.column + offset,
            },
        }
    }

    /// An error at this place.
    fn error(self, message: impl Into<String>) -> JsonImportError {
        JsonImportError::Json {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// A serde_json error found in a slice starting at this place, moved to the file's line and column.
    fn serde_error(self, e: &serde_json::Error, prefix: &str) -> JsonImportError {
        if e.classify() == serde_json::error::Category::Io {
            return self.error(format!("{prefix}{e}"));
        }
        let (line, column) = (e.line().max(1), e.column());
        let at = if line == 1 {
            Origin {
                line: self.line,
                column: self.column + column.saturating_sub(1),
            }
        } else {
            Origin {
                line: self.line + line - 1,
                column,
            }
        };
        // serde_json's message ends with its own (slice-relative) position: drop it.
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        at.error(format!("{prefix}{message}"))
    }
}

/// Elements of `pmej` read from one stretch of the input.
struct Batch<'a> {
    /// Sequence number, from 0.
    seq: usize,
    /// Index in `pmej` of the first element.
    first: usize,
    /// The bytes (borrowed when the whole input is in memory); elements are `bytes[start..end]`.
    bytes: Cow<'a, [u8]>,
    elements: Vec<(usize, usize)>,
    origin: Origin,
}

type Parsed = Result<Vec<Mapped>, JsonImportError>;

impl Batch<'_> {
    /// Parses and maps the elements.
    ///
    /// An element that is valid UTF-8 (checked in one pass over its bytes, a vector at a time) is parsed from a `&str`: serde_json
    /// then does not check each string again, and strings without escapes are borrowed, not copied. Otherwise it
    /// is parsed from its bytes, which gives serde_json's error for the invalid text.
    fn parse(&self, mapper: &mut Mapper) -> Parsed {
        let mut out = Vec::with_capacity(self.elements.len());
        for (i, &(start, end)) in self.elements.iter().enumerate() {
            let bytes = &self.bytes[start..end];
            let parsed = match simdutf8::basic::from_utf8(bytes) {
                Ok(text) => serde_json::from_str::<Loose<RawPmej<'_>>>(text),
                Err(_) => serde_json::from_slice::<Loose<RawPmej<'_>>>(bytes),
            };
            match parsed {
                Ok(element) => out.push(mapper.pmej(self.first + i, element)),
                Err(e) => {
                    let at = self.origin.advance(&self.bytes, start);
                    return Err(at.serde_error(&e, &format!("pmej[{}]: ", self.first + i)));
                }
            }
        }
        Ok(out)
    }
}

/// The top-level fields kept.
#[derive(Debug, Default)]
pub(super) struct Header {
    pub(super) version: Option<Box<str>>,
    pub(super) generated: Option<Box<str>>,
    pub(super) pmej: bool,
}

/// Finds values in a growing window of the input.
struct Framer<'a, R> {
    input: R,
    /// The window: bytes read and not yet handed over or dropped. Borrowed when the whole input is in memory
    /// (then nothing is copied: batches borrow it too).
    buf: Cow<'a, [u8]>,
    /// Next byte to look at in `buf`.
    pos: usize,
    eof: bool,
    /// Place of `buf[0]` in the file.
    origin: Origin,
}

impl<'a, R: Read> Framer<'a, R> {
    fn new(input: R) -> Self {
        Framer {
            input,
            buf: Cow::Owned(Vec::with_capacity(WINDOW)),
            pos: 0,
            eof: false,
            origin: Origin { line: 1, column: 1 },
        }
    }

    /// Reads more input; `false` at its end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let buf = self.buf.to_mut();
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        loop {
            match self.input.read(&mut buf[len..]) {
                Ok(n) => {
                    buf.truncate(len + n);
                    self.eof = n == 0;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(len);
                    return Err(e);
                }
            }
        }
    }

    /// Place of `buf[offset]` in the file.
    fn at(&self, offset: usize) -> Origin {
        self.origin.advance(&self.buf, offset)
    }

    /// Skips whitespace; the next byte, `None` at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, JsonImportError> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Expects `byte` (after whitespace) and steps over it.
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), JsonImportError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.at(self.pos).error(format!("expected {what}"))),
            None => Err(self
                .at(self.pos)
                .error(format!("EOF while expecting {what}"))),
        }
    }

    /// The end (exclusive) of the value starting at `self.pos` (whitespace skipped before). Only strings and
    /// bracket depth are followed; the slice is checked by whoever parses it.
    fn value_end(&mut self) -> Result<usize, JsonImportError> {
        let first = match self.peek()? {
            Some(b) => b,
            None => return Err(self.at(self.pos).error("EOF while parsing a value")),
        };
        let start = self.pos;
        if matches!(first, b',' | b':' | b']' | b'}') {
            return Err(self.at(start).error("expected value"));
        }
        let mut i = start;
        let mut depth = 0usize;
        let mut in_string = false;
        loop {
            while i < self.buf.len() {
                if in_string {
                    match memchr::memchr2(b'"', b'\\', &self.buf[i..]) {
                        Some(k) if self.buf[i + k] == b'\\' => {
                            // Skip the escaped byte; a `\` at the end of the window is handled after a fill.
                            if i + k + 1 >= self.buf.len() {
                                i += k;
                                break;
                            }
                            i += k + 2;
                        }
                        Some(k) => {
                            i += k + 1;
                            in_string = false;
                            if depth == 0 {
                                return Ok(i);
                            }
                        }
                        None => i = self.buf.len(),
                    }
                    continue;
                }
                let b = self.buf[i];
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth == 0 => return Ok(i),
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Ok(i),
                    _ => {}
                }
                i += 1;
            }
            if !self.fill()? {
                if depth == 0 && !in_string {
                    return Ok(self.buf.len());
                }
                return Err(self.at(self.buf.len()).error("EOF while parsing a value"));
            }
        }
    }

    /// Drops `buf[..offset]` (read and dealt with).
    fn discard(&mut self, offset: usize) {
        self.origin = self.at(offset);
        match &mut self.buf {
            Cow::Borrowed(bytes) => *bytes = &bytes[offset..],
            Cow::Owned(bytes) => {
                bytes.drain(..offset);
            }
        }
        self.pos -= offset;
    }

    /// Hands over `buf[..offset]` and its origin.
    fn take(&mut self, offset: usize) -> (Cow<'a, [u8]>, Origin) {
        let origin = self.origin;
        self.origin = self.at(offset);
        self.pos -= offset;
        match &mut self.buf {
            Cow::Borrowed(bytes) => {
                let (taken, rest) = bytes.split_at(offset);
                *bytes = rest;
                (Cow::Borrowed(taken), origin)
            }
            Cow::Owned(bytes) => {
                let mut rest = Vec::with_capacity(WINDOW.max(bytes.len() - offset + CHUNK));
                rest.extend_from_slice(&bytes[offset..]);
                bytes.truncate(offset);
                (Cow::Owned(std::mem::replace(bytes, rest)), origin)
            }
        }
    }
}

impl<'a> Framer<'a, io::Empty> {
    /// A framer over input held whole in memory: its window is the input, nothing is copied.
    fn whole(bytes: &'a [u8]) -> Self {
        Framer {
            input: io::empty(),
            buf: Cow::Borrowed(bytes),
            pos: 0,
            eof: true,
            origin: Origin { line: 1, column: 1 },
        }
    }
}

/// Reads the document from `input`, parsing and mapping `pmej` elements on `threads` worker threads (none: on
/// this thread), and applying each mapped element, in order, to `state`.
pub(super) fn read<R: Read>(
    input: R,
    threads: usize,
    state: &mut State,
) -> Result<Header, JsonImportError> {
    run(Framer::new(input), threads, state)
}

/// [`read`] for input held whole in memory: batches borrow it instead of copies.
pub(super) fn read_whole(
    bytes: &[u8],
    threads: usize,
    state: &mut State,
) -> Result<Header, JsonImportError> {
    run(Framer::whole(bytes), threads, state)
}

/// Frames the document with `framer`; parses and maps on the workers (or here), applies here.
fn run<'a, R: Read>(
    framer: Framer<'a, R>,
    threads: usize,
    state: &mut State,
) -> Result<Header, JsonImportError> {
    if threads <= 1 {
        let mut sink = Inline { state };
        return frame(framer, &mut sink);
    }
    let (batch_tx, batch_rx) = mpsc::channel::<Batch<'a>>();
    let (result_tx, result_rx) = mpsc::channel::<Done>();
    let batch_rx = Mutex::new(batch_rx);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let rx = &batch_rx;
            let tx = result_tx.clone();
            scope.spawn(move || {
                let mut mapper = Mapper::default();
                loop {
                    let batch = match rx.lock() {
                        Ok(rx) => match rx.recv() {
                            Ok(batch) => batch,
                            Err(_) => return,
                        },
                        Err(_) => return,
                    };
                    let done = Done {
                        seq: batch.seq,
                        parsed: batch.parse(&mut mapper),
                    };
                    if tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(result_tx);
        let mut sink = Workers {
            state,
            tx: Some(batch_tx),
            rx: result_rx,
            limit: in_flight(threads),
            sent: 0,
            next: 0,
            waiting: BTreeMap::new(),
            failed: false,
        };
        let header = frame(framer, &mut sink);
        // Errors in elements come before any later framing error: map (or fail on) everything sent.
        let drained = sink.finish();
        match (drained, header) {
            (Err(e), _) => Err(e),
            (Ok(()), header) => header,
        }
    })
}

/// Where batches go.
trait Sink<'a> {
    fn batch(&mut self, batch: Batch<'a>) -> Result<(), JsonImportError>;
}

/// Parses, maps and applies on this thread.
struct Inline<'s> {
    state: &'s mut State,
}

impl<'a> Sink<'a> for Inline<'_> {
    fn batch(&mut self, batch: Batch<'a>) -> Result<(), JsonImportError> {
        for mapped in batch.parse(&mut self.state.mapper)? {
            self.state.apply(mapped);
        }
        Ok(())
    }
}

/// Sends batches to the workers, applies their results in order.
struct Workers<'s, 'a> {
    state: &'s mut State,
    tx: Option<mpsc::Sender<Batch<'a>>>,
    rx: mpsc::Receiver<Done>,
    limit: usize,
    sent: usize,
    /// Next batch to map.
    next: usize,
    /// Results that arrived before their turn.
    waiting: BTreeMap<usize, Parsed>,
    /// A batch failed: its error was returned, nothing more is mapped.
    failed: bool,
}

impl<'a> Sink<'a> for Workers<'_, 'a> {
    fn batch(&mut self, batch: Batch<'a>) -> Result<(), JsonImportError> {
        let Some(tx) = &self.tx else {
            return Err(stopped());
        };
        tx.send(batch).map_err(|_| stopped())?;
        self.sent += 1;
        while let Ok(done) = self.rx.try_recv() {
            self.waiting.insert(done.seq, done.parsed);
        }
        self.apply_ready()?;
        while self.sent - self.next >= self.limit {
            self.receive()?;
        }
        Ok(())
    }
}

impl Workers<'_, '_> {
    /// Applies the results whose turn it is.
    fn apply_ready(&mut self) -> Result<(), JsonImportError> {
        while let Some(parsed) = self.waiting.remove(&self.next) {
            let elements = parsed.inspect_err(|_| self.failed = true)?;
            for mapped in elements {
                self.state.apply(mapped);
            }
            self.next += 1;
        }
        Ok(())
    }

    /// Waits for one result, then maps what is ready.
    fn receive(&mut self) -> Result<(), JsonImportError> {
        let done = self.rx.recv().map_err(|_| stopped())?;
        self.waiting.insert(done.seq, done.parsed);
        self.apply_ready()
    }

    /// Maps everything sent (unless a batch already failed).
    fn finish(&mut self) -> Result<(), JsonImportError> {
        self.tx = None;
        while !self.failed && self.next < self.sent {
            self.receive()?;
        }
        Ok(())
    }
}

/// A worker's result.
struct Done {
    seq: usize,
    parsed: Parsed,
}

/// A worker is gone (it can only have panicked; the panic is raised when the threads are joined).
fn stopped() -> JsonImportError {
    JsonImportError::Io(io::Error::other("a FiNESS+ JSON worker thread stopped"))
}

/// Reads the whole document, handing `pmej` elements to `sink` in batches.
fn frame<'a, R: Read>(
    mut f: Framer<'a, R>,
    sink: &mut dyn Sink<'a>,
) -> Result<Header, JsonImportError> {
    let mut header = Header::default();
    match f.peek()? {
        Some(b'{') => f.pos += 1,
        Some(_) => {
            return Err(f.at(f.pos).error(
                "expected a FiNESS+ structures object {schemaVersion, generatedAt, gcc, gco, pmej}",
            ));
        }
        None => return Err(f.at(f.pos).error("EOF while parsing a value")),
    }
    let mut first = true;
    loop {
        match f.peek()? {
            Some(b'}') => {
                f.pos += 1;
                break;
            }
            Some(b',') if !first => f.pos += 1,
            Some(_) if !first => return Err(f.at(f.pos).error("expected `,` or `}`")),
            Some(_) => {}
            None => return Err(f.at(f.pos).error("EOF while parsing an object")),
        }
        first = false;
        if f.peek()? != Some(b'"') {
            return Err(f.at(f.pos).error("key must be a string"));
        }
        let start = f.pos;
        let end = f.value_end()?;
        let key: String = serde_json::from_slice(&f.buf[start..end])
            .map_err(|e| f.at(start).serde_error(&e, ""))?;
        f.pos = end;
        f.expect(b':', "`:`")?;
        let value_start = f.peek()?;
        if key == "pmej" && value_start == Some(b'[') {
            elements(&mut f, sink)?;
            header.pmej = true;
            continue;
        }
        let start = f.pos;
        let end = f.value_end()?;
        let slice = &f.buf[start..end];
        let at = |e: serde_json::Error| f.at(start).serde_error(&e, "");
        match key.as_str() {
            "schemaVersion" => {
                header.version = serde_json::from_slice::<Scalar>(slice).map_err(at)?.boxed()
            }
            "generatedAt" => {
                header.generated = serde_json::from_slice::<Scalar>(slice).map_err(at)?.boxed()
            }
            "pmej" => {
                serde_json::from_slice::<IgnoredAny>(slice).map_err(at)?;
                return Err(f.at(start).error("invalid type: expected the pmej array"));
            }
            _ => {
                serde_json::from_slice::<IgnoredAny>(slice).map_err(at)?;
            }
        }
        f.pos = end;
        f.discard(end);
    }
    if f.peek()?.is_some() {
        return Err(f.at(f.pos).error("trailing characters"));
    }
    Ok(header)
}

/// Frames the elements of the `pmej` array (`f.pos` at its `[`) into batches.
fn elements<'a, R: Read>(
    f: &mut Framer<'a, R>,
    sink: &mut dyn Sink<'a>,
) -> Result<(), JsonImportError> {
    f.pos += 1;
    f.discard(f.pos);
    // Elements framed so far; batches sent so far.
    let mut index = 0usize;
    let mut seq = 0usize;
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    if f.peek()? == Some(b']') {
        f.pos += 1;
        return Ok(());
    }
    loop {
        if f.peek()?.is_none() {
            return Err(f.at(f.pos).error("EOF while parsing a list"));
        }
        let start = f.pos;
        let end = f.value_end()?;
        ranges.push((start, end));
        index += 1;
        f.pos = end;
        let closed = match f.peek()? {
            Some(b',') => {
                f.pos += 1;
                false
            }
            Some(b']') => {
                f.pos += 1;
                true
            }
            Some(_) => return Err(f.at(f.pos).error("expected `,` or `]`")),
            None => return Err(f.at(f.pos).error("EOF while parsing a list")),
        };
        if closed || f.pos >= BATCH {
            let end = f.pos;
            let (bytes, origin) = f.take(end);
            sink.batch(Batch {
                seq,
                first: index - ranges.len(),
                bytes,
                elements: std::mem::take(&mut ranges),
                origin,
            })?;
            seq += 1;
        }
        if closed {
            return Ok(());
        }
    }
}

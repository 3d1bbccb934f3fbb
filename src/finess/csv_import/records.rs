//! The records of an etalab CSV held in memory, read as the `csv` crate reads them, with less work per line.
//!
//! Nearly every line of a FINESS file holds no `"`. For such a line RFC 4180 leaves nothing to interpret: its
//! fields are the bytes between the `;`s. Those lines are cut with `memchr` and their fields are read in place. A
//! record that holds a quote is read by `csv_core`, the `csv` crate's own parser with the same settings, from the
//! record's first byte to its end, so quoted fields, doubled quotes, line ends inside quotes and stray quotes get
//! exactly the `csv` crate's reading.
//!
//! What the two readers share, and the tests check on random input against the `csv` crate:
//! - `\r`, `\n` and `\r\n` each end a record, and empty lines are skipped;
//! - a record's line is the line of its first byte (counted here, as [`super::LineCounter`] does for the stream).
//!
//! # Why
//! On the 100k + 100k synthetic file, `csv_core`'s byte-at-a-time loop was 29% of a one-thread import (about
//! 70 ms) and the copy of the input into the `csv` reader's buffer a few more. The 30 520 lines of that file that
//! hold a quote still go through `csv_core`. A SIMD CSV crate (`simd-csv` 0.14) was tried first: on random input it
//! read 64% of the cases differently from the `csv` crate (a lone `\r` does not end its records, stray quotes are
//! dropped, and a doubled quote after `é` gave invalid UTF-8), so it was not taken.

use csv_core::ReadRecordResult;

use super::{Row, Span};

/// Reads the records of a CSV held in memory, one at a time ([`Records::next`]).
pub(super) struct Records<'a> {
    bytes: &'a [u8],
    /// `bytes` as text when they are UTF-8 (checked once, a vector at a time): the lines cut from it need no
    /// check of their own.
    text: Option<&'a str>,
    /// Where the next record (or the line endings before it) starts.
    pos: usize,
    /// `\n` bytes before `pos`, those before the part included.
    newlines: u64,
    /// Where the first `"` at or after `pos` is; `bytes.len()` when there is none. Stale (below `pos`) until the
    /// next line is read.
    next_quote: usize,
    /// The fields of the current record.
    spans: Vec<Span>,
    /// Parser of the records that hold a quote.
    quoted: csv_core::Reader,
    /// The unquoted fields of a quoted record, and where each ends.
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl<'a> Records<'a> {
    /// The records of `bytes`, which start a record (a whole file, or a part of one cut at a line end outside
    /// quotes) and follow `lines_before` line endings in the file.
    pub(super) fn new(bytes: &'a [u8], lines_before: u64) -> Self {
        let mut quoted = csv_core::ReaderBuilder::new().delimiter(b';').build();
        // `csv_core` drops a byte order mark at the start of its first input. The `csv` crate sees the file's
        // start through the gzip sniffer (two bytes), so it never does, and a record here does not start the
        // parser's input: a blank line first makes that so. A blank line changes nothing else.
        let _ = quoted.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
        Records {
            bytes,
            text: simdutf8::basic::from_utf8(bytes).ok(),
            pos: 0,
            newlines: lines_before,
            next_quote: memchr::memchr(b'"', bytes).unwrap_or(bytes.len()),
            spans: Vec::with_capacity(ESTABLISHMENT_FIELDS_HINT),
            quoted,
            output: vec![0; 1024],
            ends: vec![0; ESTABLISHMENT_FIELDS_HINT],
        }
    }

    /// The next record and its line (from 1); `None` at the end of the input.
    pub(super) fn next(&mut self) -> Option<(Row<'_>, u64)> {
        // Line endings between records, and blank lines.
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'\n' => self.newlines += 1,
                b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let bytes = self.bytes;
        let rest = bytes.get(self.pos..).filter(|r| !r.is_empty())?;
        let line = self.newlines + 1;
        let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        if self.next_quote < self.pos {
            self.next_quote = memchr::memchr(b'"', rest).map_or(bytes.len(), |i| self.pos + i);
        }
        if self.next_quote >= self.pos + end {
            let line_bytes = &rest[..end];
            self.spans.clear();
            let mut start = 0;
            for i in memchr::memchr_iter(b';', line_bytes) {
                self.spans.push((start, i));
                start = i + 1;
            }
            self.spans.push((start, line_bytes.len()));
            // A line starts after a line end and ends before one (or at the end): both are character boundaries.
            let text = self.text.and_then(|t| t.get(self.pos..self.pos + end));
            self.pos += end;
            return Some((
                Row {
                    bytes: line_bytes,
                    text,
                    spans: &self.spans,
                },
                line,
            ));
        }
        let (taken, written) = self.read_quoted();
        let consumed = rest.get(..taken).unwrap_or(rest);
        self.newlines += memchr::memchr_iter(b'\n', consumed).count() as u64;
        self.pos += taken.max(1);
        Some((
            Row {
                bytes: self.output.get(..written).unwrap_or_default(),
                text: None,
                spans: &self.spans,
            },
            line,
        ))
    }

    /// Reads the record at `pos` with `csv_core`; returns the bytes it took and the bytes of fields it wrote into
    /// `output`, and sets `spans`.
    fn read_quoted(&mut self) -> (usize, usize) {
        let bytes = self.bytes;
        let input = bytes.get(self.pos..).unwrap_or_default();
        let (mut taken, mut written, mut fields) = (0, 0, 0);
        loop {
            let (result, nin, nout, nend) = self.quoted.read_record(
                input.get(taken..).unwrap_or_default(),
                self.output.get_mut(written..).unwrap_or_default(),
                self.ends.get_mut(fields..).unwrap_or_default(),
            );
            taken += nin;
            written += nout;
            fields += nend;
            match result {
                // The whole input was taken: the next call, with none, tells the parser the input ends.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let len = self.output.len();
                    self.output.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        self.spans.clear();
        let mut start = 0;
        for &end in self.ends.get(..fields).unwrap_or_default() {
            self.spans.push((start, end));
            start = end;
        }
        (taken, written)
    }
}

/// Room for the fields of the longest record kind without growing.
const ESTABLISHMENT_FIELDS_HINT: usize = super::ESTABLISHMENT_FIELDS + 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// Records and their lines as the `csv` crate reads them, the lines counted as the stream reader counts them.
    fn by_csv_crate(bytes: &[u8]) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(super::super::LineCounter::new(bytes));
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let start = record.position().unwrap().byte();
            let line = reader.get_mut().line_at(start);
            out.push((record.iter().map(<[u8]>::to_vec).collect(), line));
        }
        out
    }

    fn by_records(bytes: &[u8]) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut records = Records::new(bytes, 0);
        let mut out = Vec::new();
        while let Some((row, line)) = records.next() {
            out.push((row.iter().map(<[u8]>::to_vec).collect(), line));
        }
        out
    }

    #[test]
    fn same_records_and_lines_as_the_csv_crate_on_random_input() {
        let pieces: [&[u8]; 11] = [
            b"a",
            b"b",
            b";",
            b"\"",
            b"\"\"",
            b"\r",
            b"\n",
            b"\r\n",
            b" ",
            "é".as_bytes(),
            b"\xE9",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut quoted = 0;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..next() % 40 {
                bytes.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            quoted += usize::from(bytes.contains(&b'"'));
            assert_eq!(
                by_records(&bytes),
                by_csv_crate(&bytes),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        assert!(quoted > 10_000, "most cases hold a quote: {quoted}");
    }

    #[test]
    fn same_records_on_the_hand_made_file() {
        let small = include_bytes!("../../../tests/data/finess/small.csv");
        let records = by_records(small);
        assert!(records.len() > 20);
        assert_eq!(records, by_csv_crate(small));
        let crlf = String::from_utf8_lossy(small).replace('\n', "\r\n");
        assert_eq!(by_records(crlf.as_bytes()), records);
    }

    #[test]
    fn long_quoted_records_grow_the_buffers() {
        let field = format!("\"{}\"\"{}\"", "x".repeat(3000), ";".repeat(2000));
        let line = vec![field.as_str(); 100].join(";");
        let bytes = format!("a;b\n{line}\r\nc\n");
        let records = by_records(bytes.as_bytes());
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].0.len(), 100);
        assert_eq!(records[1].0[99].len(), 5001);
        assert_eq!(records[2], (vec![b"c".to_vec()], 3));
        assert_eq!(records, by_csv_crate(bytes.as_bytes()));
    }

    /// The header check removes the mark (the importer tests compare both readers on a file that has one).
    #[test]
    fn a_byte_order_mark_stays_in_the_first_field() {
        for bytes in [&b"\xEF\xBB\xBFa;b\n"[..], b"\xEF\xBB\xBF\"a\";b\n"] {
            let records = by_records(bytes);
            assert!(records[0].0[0].starts_with(b"\xEF\xBB\xBF"), "{records:?}");
        }
    }
}

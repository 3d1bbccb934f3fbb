//! Reader of the legacy **etalab CSV** extraction of the national FINESS file.
//!
//! Follows `spec/finess.md`, section "National files", item 2. The wire format:
//!
//! - text, `;`-separated, RFC 4180 quoting (a field may be quoted, a quote inside is doubled), no header row,
//!   records of different lengths in one file;
//! - first line `finess;etalab;<n>;<YYYY-MM-DD>`;
//! - then one record per line, its kind named by the first field:
//!   - `structureet`, an establishment: the tag and 31 fields (`nofinesset; nofinessej; rs; rslongue; complrs;
//!     compldistrib; numvoie; typvoie; voie; compvoie; lieuditbp; commune; departement; libdepartement;
//!     ligneacheminement; telephone; telecopie; categetab; libcategetab; categagretab; libcategagretab; siret;
//!     codeape; codemft; libmft; codesph; libsph; dateouv; dateautor; datemaj; numuai`);
//!   - `geolocalisation`: `nofinesset; coordxet; coordyet; sourcecoordet; datemaj` (Lambert-93 in mainland France
//!     and Corsica, other projections overseas; the source field contains commas);
//!   - `structureej`, a legal entity: the tag and 22 fields (`nofiness; rs; rslongue; complrs; numvoie; typvoie;
//!     voie; compvoie; compldistrib; lieuditbp; commune; ligneacheminement; departement; libdepartement;
//!     telephone; statutjuridique; libstatutjuridique; categetab; libcategetab; siren; codeape; datecrea`).
//!
//! The establishment and legal-entity extractions are published as two files; this reader takes any mix of the
//! three kinds in one stream, so either file, or both concatenated, can be read. [`Dataset::merge`] joins two
//! imports.
//!
//! # Choices
//!
//! - **Encoding detected, not assumed.** Recent files are UTF-8, older ones ISO-8859-1/Windows-1252. The first
//!   field holding a non-ASCII byte decides: valid UTF-8 makes the file UTF-8, anything else Windows-1252 (a
//!   superset of ISO-8859-1 for printable characters), and the rest of the file is read that way. A UTF-8 byte
//!   order mark makes the file UTF-8. In a UTF-8 file, a field that is not valid UTF-8 is still read as
//!   Windows-1252 rather than lost. The same content in either encoding gives the same records.
//! - **Two readers, one outcome.** [`import_csv`] streams: records are read one at a time into a reused
//!   [`csv::ByteRecord`], and input may be gzip-compressed (detected from the magic bytes). [`import_csv_bytes`]
//!   reads a file held in memory with the `records` module's reader (lines without a quote split in place,
//!   quoted records handed to `csv_core`, the `csv` crate's own parser) on one or more threads. Tests check that
//!   both give the same records, rejections and line numbers. Either way a record whose bytes are UTF-8 is
//!   checked once and its fields are read in place (otherwise each field is decoded on its own), then copied into
//!   the record's one allocation ([`record`](super::record)).
//! - **Nothing dropped silently**: a record with the wrong number of fields, an unknown kind, a bad FINESS number
//!   (own or legal entity's), a repeated number, unreadable coordinates, or a `geolocalisation` for an
//!   establishment the input does not contain is listed in [`ImportOutcome::rejected`] with its line and why.
//!   Geolocations are attached once the whole input is read, so their order in the file does not matter.
//! - A trailing empty field (a line ending with `;`) is tolerated; any other length difference rejects the record.
//! - Fields are trimmed; empty fields become `None`. `commune` becomes the 5-character COG when the file gives the
//!   3-digit code within a 2-character department (`01` + `451` → `01451`; overseas codes are kept as given,
//!   *verify on a real file*). Columns not kept: `codemft`, `libmft`, `codesph`, `libsph`, `numuai`.
//! - Line numbers are counted here: the `csv` crate's own are wrong after CRLF line ends and blank lines.
//! - Lambert-93 → WGS84 with [`lambert93_to_wgs84`]; overseas (FINESS `97…`/`98…` or a source naming UTM) keeps
//!   x/y only.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};

use csv::ByteRecord;

mod parallel;
mod records;
pub use parallel::import_csv_bytes;

use super::geo::lambert93_to_wgs84;
use super::id::Finess;
use super::model::{
    Address, Coordinates, Dataset, Establishment, EstablishmentText, FastHash, ImportOutcome,
    Interner, Label, LegalEntity, LegalEntityText, LegalStatus, Location, RecordTooLong,
    RejectKind, Rejected, SourceFormat, SourceInfo,
};

/// Number of fields of a `structureet` record, its tag included.
pub const ESTABLISHMENT_FIELDS: usize = 32;
/// Number of fields of a `structureej` record, its tag included.
pub const ENTITY_FIELDS: usize = 23;
/// Number of fields of a `geolocalisation` record, its tag included.
pub const GEOLOCATION_FIELDS: usize = 6;

/// Size of the read buffers.
const BUFFER: usize = 256 * 1024;

/// Why a CSV file could not be read at all. Problems with single records are not errors: they are listed in
/// [`ImportOutcome::rejected`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvImportError {
    /// Reading the input failed (file, network, or a corrupt gzip stream).
    #[error("reading the FINESS CSV failed: {0}")]
    Io(#[from] io::Error),
    /// The input holds no record at all, so not even the header line.
    #[error("the FINESS CSV is empty: expected the header line finess;etalab;<n>;<YYYY-MM-DD>")]
    MissingHeader,
    /// The first line is not `finess;etalab;<n>;<YYYY-MM-DD>`: not an etalab FINESS extraction.
    #[error("line {line}: expected the header finess;etalab;<n>;<YYYY-MM-DD>, found {found:?}")]
    BadHeader {
        /// Line of the first record (1 unless the file starts with blank lines).
        line: u64,
        /// The line found (decoded leniently, cut to 200 characters).
        found: String,
    },
    /// The CSV reader failed for another reason than I/O (not expected with this reader's settings).
    #[error("line {line}: CSV error: {message}")]
    Csv {
        /// Line where the reader stopped.
        line: u64,
        /// The reader's message.
        message: String,
    },
}

/// Reads an etalab CSV extraction (plain or gzip-compressed) from `reader`.
///
/// Pass a file, a decompressor or a byte slice (`&[u8]` is `Read`); no need to buffer it.
pub fn import_csv<R: Read>(reader: R) -> Result<ImportOutcome, CsvImportError> {
    let (gzip, input) = sniff_gzip(reader)?;
    if gzip {
        read_all(flate2::read::MultiGzDecoder::new(input), true)
    } else {
        read_all(input, false)
    }
}

/// Whether `bytes` start like gzip (RFC 1952 magic `1f 8b`).
pub(super) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The input with its first bytes read again after them.
pub(super) type Sniffed<R> = io::Chain<io::Take<io::Cursor<[u8; 2]>>, R>;

/// Reads the first two bytes to tell whether the input is gzip (RFC 1952 magic `1f 8b`), and gives back the
/// whole input.
pub(super) fn sniff_gzip<R: Read>(mut reader: R) -> io::Result<(bool, Sniffed<R>)> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let gzip = got == 2 && is_gzip(&magic);
    Ok((gzip, io::Cursor::new(magic).take(got as u64).chain(reader)))
}

fn read_all<R: Read>(input: R, gzip: bool) -> Result<ImportOutcome, CsvImportError> {
    let mut importer = Importer::default();
    let header = read_records(input, &mut importer, true, 0)?;
    let Some((version, generated)) = header else {
        return Err(CsvImportError::MissingHeader);
    };
    Ok(importer.finish(source(version, generated, gzip)))
}

/// What is known of an etalab CSV before its encoding is settled ([`Importer::finish`] fills it in).
fn source(version: Box<str>, generated: Box<str>, gzip: bool) -> SourceInfo {
    SourceInfo {
        format: SourceFormat::EtalabCsv,
        version: Some(version),
        generated: Some(generated),
        encoding: None,
        gzip,
    }
}

/// The `(number, date)` of the header line.
type Header = (Box<str>, Box<str>);

/// Feeds the records of `input` to `importer`; the first one is the header when `with_header`. `lines_before`:
/// line endings before `input` in the file (when it is a part of one), so line numbers are the file's.
fn read_records<R: Read>(
    input: R,
    importer: &mut Importer,
    with_header: bool,
    lines_before: u64,
) -> Result<Option<Header>, CsvImportError> {
    let mut counter = LineCounter::new(input);
    counter.newlines = lines_before;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(BUFFER)
        .from_reader(counter);
    let mut record = ByteRecord::new();
    let mut spans = Vec::new();
    let mut header = None;
    let mut expect_header = with_header;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e)),
        }
        let start = record.position().map_or(0, |p| p.byte());
        let line = reader.get_mut().line_at(start);
        spans.clear();
        spans.extend((0..record.len()).filter_map(|i| record.range(i).map(|r| (r.start, r.end))));
        let row = Row {
            bytes: record.as_slice(),
            text: None,
            spans: &spans,
        };
        if expect_header {
            header = Some(importer.header(row, line)?);
            expect_header = false;
            continue;
        }
        importer.record(row, line);
    }
    Ok(header)
}

/// Feeds the records of `bytes` to `importer` like [`read_records`] does for a stream, reading them with
/// [`records::Records`]. `bytes` start a record: a whole file, or a part of one cut at a line end outside quotes.
fn read_slice(
    bytes: &[u8],
    importer: &mut Importer,
    with_header: bool,
    lines_before: u64,
) -> Result<Option<Header>, CsvImportError> {
    let mut records = records::Records::new(bytes, lines_before);
    let mut header = None;
    if with_header {
        let Some((row, line)) = records.next() else {
            return Ok(None);
        };
        header = Some(importer.header(row, line)?);
    }
    while let Some((row, line)) = records.next() {
        importer.record(row, line);
    }
    Ok(header)
}

/// Where a field is in its record's bytes: `start..end`.
type Span = (usize, usize);

/// One CSV record, as either reader gives it: its bytes and where each field is in them (the fields of a line
/// without quotes are read in place, with the `;` between them; those of a quoted record are unquoted copies).
#[derive(Debug, Clone, Copy)]
struct Row<'a> {
    bytes: &'a [u8],
    /// `bytes` as text, when the reader already knows they are UTF-8.
    text: Option<&'a str>,
    spans: &'a [Span],
}

impl<'a> Row<'a> {
    /// Number of fields.
    fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i`, untrimmed.
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.get(i)?;
        self.bytes.get(start..end)
    }

    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

/// Counts lines for error messages: the `csv` crate's own line numbers are off after a CRLF line ending or a blank
/// line (csv 1.4), while its byte offsets are right, give or take the line-ending bytes before a record.
///
/// Remembers where line-ending bytes are in what the CSV reader has read ahead; [`LineCounter::line_at`] turns a
/// record's byte offset into its line.
#[derive(Debug)]
struct LineCounter<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of the `\r` and `\n` bytes read ahead and not yet accounted for; `true` for `\n`.
    breaks: VecDeque<(u64, bool)>,
    /// `\n` bytes accounted for.
    newlines: u64,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        LineCounter {
            inner,
            offset: 0,
            breaks: VecDeque::new(),
            newlines: 0,
        }
    }

    /// The line (from 1) of a record the CSV reader says starts at byte `start`: the record's first byte is the
    /// first one at or after `start` that is not a line ending. Records must be asked for in order.
    fn line_at(&mut self, start: u64) -> u64 {
        let mut cursor = start;
        while let Some(&(offset, newline)) = self.breaks.front() {
            if offset < start || offset == cursor {
                if offset == cursor {
                    cursor += 1;
                }
                self.newlines += u64::from(newline);
                self.breaks.pop_front();
            } else {
                break;
            }
        }
        self.newlines + 1
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        // Line endings are a few bytes in hundreds: `memchr2` skips the rest a vector at a time.
        for i in memchr::memchr2_iter(b'\n', b'\r', read) {
            self.breaks
                .push_back((self.offset + i as u64, read.get(i) == Some(&b'\n')));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

fn csv_error(e: csv::Error) -> CsvImportError {
    let line = e.position().map_or(0, |p| p.line());
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(e) => CsvImportError::Io(e),
        _ => CsvImportError::Csv { line, message },
    }
}

/// A rejection before its location is known.
type Reject = (RejectKind, String);

/// What the file's text encoding is known to be so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Encoding {
    /// Only ASCII seen.
    #[default]
    Ascii,
    /// The first non-ASCII field was valid UTF-8 (or the file has a byte order mark).
    Utf8,
    /// The first non-ASCII field was not UTF-8.
    Windows1252,
}

/// Decodes field bytes into text, detecting the encoding, and shares repeated values.
#[derive(Debug, Default)]
struct Decoder {
    encoding: Encoding,
    interner: Interner,
    /// Decoded fields of the current record when its bytes could not be read in place.
    scratch: String,
    /// Where each field is in `scratch`.
    spans: Vec<std::ops::Range<usize>>,
}

/// The text of a record's fields, trimmed.
enum Fields<'a> {
    /// The record's own bytes (UTF-8, or ASCII), and where each field is in them.
    InPlace(&'a str, &'a [Span]),
    /// A decoded copy, field by field.
    Decoded(&'a str, &'a [std::ops::Range<usize>]),
}

impl<'a> Fields<'a> {
    /// Field `i`, trimmed; empty when absent.
    fn str(&self, i: usize) -> &'a str {
        let field = match self {
            Fields::InPlace(text, spans) => spans.get(i).and_then(|&(s, e)| text.get(s..e)),
            Fields::Decoded(text, spans) => spans.get(i).and_then(|r| text.get(r.clone())),
        };
        field.unwrap_or_default().trim_ascii()
    }

    /// Field `i`, trimmed; `None` when blank.
    fn get(&self, i: usize) -> Option<&'a str> {
        Some(self.str(i)).filter(|f| !f.is_empty())
    }
}

impl Decoder {
    /// The text of a field, trimmed.
    ///
    /// One UTF-8 check per field (it stops early on ASCII words); the ASCII test after it only runs while the
    /// encoding is not settled as UTF-8.
    fn text<'a>(&mut self, raw: &'a [u8]) -> Cow<'a, str> {
        let raw = raw.trim_ascii();
        match (std::str::from_utf8(raw), self.encoding) {
            (Ok(text), Encoding::Utf8) => Cow::Borrowed(text),
            (Ok(text), _) if text.is_ascii() => Cow::Borrowed(text),
            (Ok(text), Encoding::Ascii) => {
                self.encoding = Encoding::Utf8;
                Cow::Borrowed(text)
            }
            (Err(_), Encoding::Ascii) => {
                self.encoding = Encoding::Windows1252;
                windows_1252(raw)
            }
            (_, _) => windows_1252(raw),
        }
    }

    /// The text of every field of `record`, read as [`Self::text`] would read each one.
    ///
    /// When the whole record is UTF-8 and the encoding allows it (settled as UTF-8, or the record is ASCII), one
    /// check covers all its fields and they are read in place; otherwise each field is decoded on its own into
    /// [`Self::scratch`].
    fn fields<'a>(&'a mut self, record: Row<'a>) -> Fields<'a> {
        let text = match record.text {
            Some(text) => Ok(text),
            None => simdutf8::basic::from_utf8(record.bytes),
        };
        if let Ok(text) = text {
            let in_place = match self.encoding {
                Encoding::Utf8 => true,
                Encoding::Ascii => {
                    if !text.is_ascii() {
                        self.encoding = Encoding::Utf8;
                    }
                    true
                }
                Encoding::Windows1252 => text.is_ascii(),
            };
            if in_place {
                return Fields::InPlace(text, record.spans);
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut spans = std::mem::take(&mut self.spans);
        scratch.clear();
        spans.clear();
        for raw in record.iter() {
            let start = scratch.len();
            scratch.push_str(&self.text(raw));
            spans.push(start..scratch.len());
        }
        self.scratch = scratch;
        self.spans = spans;
        Fields::Decoded(&self.scratch, &self.spans)
    }

    /// A field repeated across records; `None` when blank.
    fn label(&mut self, raw: &[u8]) -> Option<Label> {
        let text = self.text(raw);
        (!text.is_empty()).then(|| self.interner.intern(&text))
    }

    fn encoding_name(&self) -> Option<&'static str> {
        match self.encoding {
            Encoding::Ascii => None,
            Encoding::Utf8 => Some("UTF-8"),
            Encoding::Windows1252 => Some("windows-1252"),
        }
    }
}

fn windows_1252(raw: &[u8]) -> Cow<'_, str> {
    encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0
}

/// A `geolocalisation` line waiting for the end of the input, its coordinates already converted (on the thread that
/// read it: a parallel read joins its parts on one thread, and the conversion was about half of that join's time).
#[derive(Debug)]
struct PendingGeolocation {
    line: u64,
    finess: Finess,
    /// Index of the establishment in `dataset.establishments` when it was read before this line (nearly always:
    /// the file lists geolocations after the establishments). Found by the thread that read the line, so that the
    /// join only looks up the others.
    index: Option<usize>,
    coordinates: Coordinates,
}

#[derive(Debug, Default)]
struct Importer {
    decoder: Decoder,
    dataset: Dataset,
    rejected: Vec<Rejected>,
    /// Establishment FINESS → index in `dataset.establishments`, line.
    establishments: HashMap<Finess, (usize, u64), FastHash>,
    /// Legal entity FINESS → line.
    entities: HashMap<Finess, u64, FastHash>,
    geolocations: Vec<PendingGeolocation>,
    /// The geolocations of the later parts of the file (a parallel read), in file order: each part's, with where
    /// its establishments start in `dataset.establishments`, or `None` when they were joined one by one (their
    /// indexes moved). Kept apart rather than appended: moving them was a tenth of the join.
    later_geolocations: Vec<(Option<usize>, Vec<PendingGeolocation>)>,
    /// Records whose number was already seen, turned into rejections at the end (a parallel read corrects
    /// their first line when an earlier part holds the number).
    duplicates: Vec<Duplicate>,
}

/// A record rejected because its number was seen before.
#[derive(Debug)]
struct Duplicate {
    line: u64,
    /// `nofinesset` or `nofiness`.
    field: &'static str,
    finess: Finess,
    /// Line of the record kept.
    first: u64,
}

impl Importer {
    /// Checks the header line; returns its `<n>` and date.
    fn header(&mut self, record: Row<'_>, line: u64) -> Result<Header, CsvImportError> {
        let mut first = record.get(0).unwrap_or_default();
        if let Some(rest) = first.strip_prefix(b"\xEF\xBB\xBF") {
            first = rest;
            self.decoder.encoding = Encoding::Utf8;
        }
        let field = |i: usize| record.get(i).unwrap_or_default().trim_ascii();
        let number = field(2);
        let date = field(3);
        let ok = first.trim_ascii() == b"finess"
            && field(1) == b"etalab"
            && !number.is_empty()
            && number.iter().all(u8::is_ascii_digit)
            && is_date(date)
            && (4..record.len()).all(|i| field(i).is_empty());
        if !ok {
            let mut found = String::from_utf8_lossy(first).into_owned();
            for f in record.iter().skip(1) {
                found.push(';');
                found.push_str(&String::from_utf8_lossy(f));
            }
            let found = found.chars().take(200).collect();
            return Err(CsvImportError::BadHeader { line, found });
        }
        // Both checked ASCII above.
        let ascii = |b: &[u8]| Box::from(std::str::from_utf8(b).unwrap_or_default());
        Ok((ascii(number), ascii(date)))
    }

    fn record(&mut self, record: Row<'_>, line: u64) {
        let result = match record.get(0).unwrap_or_default() {
            b"structureet" => self.establishment(record, line),
            b"structureej" => self.entity(record, line),
            b"geolocalisation" => self.geolocation(record, line),
            other => Err((
                RejectKind::UnknownKind,
                format!(
                    "unknown record kind {:?}: expected structureet, structureej or geolocalisation",
                    shorten(&self.decoder.text(other))
                ),
            )),
        };
        if let Err((kind, reason)) = result {
            self.rejected.push(Rejected {
                at: Location::Line(line),
                kind,
                reason,
            });
        }
    }

    fn establishment(&mut self, record: Row<'_>, line: u64) -> Result<(), Reject> {
        check_len(record, ESTABLISHMENT_FIELDS, "structureet")?;
        let f = |i: usize| record.get(i).unwrap_or_default();
        let finess = finess_field("nofinesset", f(1))?;
        let entity = finess_field("nofinessej", f(2))?;
        if let Some(&(_, first)) = self.establishments.get(&finess) {
            self.duplicates.push(Duplicate {
                line,
                field: "nofinesset",
                finess,
                first,
            });
            return Ok(());
        }
        let t = self.decoder.fields(record);
        let mut cog = [0u8; 5];
        let text = EstablishmentText {
            name: t.str(3),
            long_name: t.get(4),
            name_complement: t.get(5),
            category: t.get(18),
            category_label: t.get(19),
            aggregate_category: t.get(20),
            aggregate_category_label: t.get(21),
            address: address(
                &t,
                AddressFields {
                    number: 7,
                    number_suffix: 10,
                    street_type: 8,
                    street: 9,
                    complement: 6,
                    locality: 11,
                    commune: 12,
                    department: 13,
                    department_label: 14,
                    postal_line: 15,
                },
                &mut cog,
            ),
            phone: t.get(16),
            fax: t.get(17),
            siret: t.get(22),
            ape: t.get(23),
            opened: t.get(28),
            authorized: t.get(29),
            updated: t.get(30),
            closed: None,
        };
        let establishment = Establishment::new(finess, entity, &text).map_err(too_long)?;
        self.establishments
            .insert(finess, (self.dataset.establishments.len(), line));
        self.dataset.establishments.push(establishment);
        Ok(())
    }

    fn entity(&mut self, record: Row<'_>, line: u64) -> Result<(), Reject> {
        check_len(record, ENTITY_FIELDS, "structureej")?;
        let f = |i: usize| record.get(i).unwrap_or_default();
        let finess = finess_field("nofiness", f(1))?;
        if let Some(&first) = self.entities.get(&finess) {
            self.duplicates.push(Duplicate {
                line,
                field: "nofiness",
                finess,
                first,
            });
            return Ok(());
        }
        let t = self.decoder.fields(record);
        let mut cog = [0u8; 5];
        let text = LegalEntityText {
            name: t.str(2),
            long_name: t.get(3),
            name_complement: t.get(4),
            address: address(
                &t,
                AddressFields {
                    number: 5,
                    number_suffix: 8,
                    street_type: 6,
                    street: 7,
                    complement: 9,
                    locality: 10,
                    commune: 11,
                    postal_line: 12,
                    department: 13,
                    department_label: 14,
                },
                &mut cog,
            ),
            phone: t.get(15),
            legal_status: t.get(16).map(|code| LegalStatus {
                code,
                label: t.get(17),
            }),
            category: t.get(18),
            category_label: t.get(19),
            siren: t.get(20),
            ape: t.get(21),
            created: t.get(22),
            updated: None,
            closed: None,
        };
        let entity = LegalEntity::new(finess, &text).map_err(too_long)?;
        self.entities.insert(finess, line);
        self.dataset.entities.push(entity);
        Ok(())
    }

    fn geolocation(&mut self, record: Row<'_>, line: u64) -> Result<(), Reject> {
        check_len(record, GEOLOCATION_FIELDS, "geolocalisation")?;
        let f = |i: usize| record.get(i).unwrap_or_default();
        let finess = finess_field("nofinesset", f(1))?;
        let x = number_field("coordxet", f(2))?;
        let y = number_field("coordyet", f(3))?;
        let source = self.decoder.label(f(4));
        let updated = self.decoder.label(f(5));
        let overseas = matches!(&finess.as_str()[..2], "97" | "98")
            || source.as_deref().is_some_and(|s| s.contains("UTM"));
        let wgs84 = if overseas {
            None
        } else {
            lambert93_to_wgs84(x, y)
        };
        self.geolocations.push(PendingGeolocation {
            line,
            finess,
            index: self.establishments.get(&finess).map(|&(index, _)| index),
            coordinates: Coordinates {
                x: Some(x),
                y: Some(y),
                source,
                lon: wgs84.map(|(lon, _)| lon),
                lat: wgs84.map(|(_, lat)| lat),
                updated,
            },
        });
        Ok(())
    }

    /// Attaches the geolocations, then builds the outcome.
    fn finish(mut self, mut source: SourceInfo) -> ImportOutcome {
        let mut attached = 0;
        let mut late = Vec::new();
        let own = (Some(0), std::mem::take(&mut self.geolocations));
        let later = std::mem::take(&mut self.later_geolocations);
        let all = std::iter::once(own)
            .chain(later)
            .flat_map(|(offset, part)| {
                part.into_iter()
                    .map(move |geo| (offset.zip(geo.index).map(|(o, i)| o + i), geo))
            });
        for (index, geo) in all {
            let reject = |kind, reason| Rejected {
                at: Location::Line(geo.line),
                kind,
                reason,
            };
            let found = index.or_else(|| {
                self.establishments
                    .get(&geo.finess)
                    .map(|&(index, _)| index)
            });
            let Some(index) = found else {
                late.push(reject(
                    RejectKind::UnknownEstablishment,
                    format!(
                        "geolocalisation for establishment {} which is not in the file",
                        geo.finess
                    ),
                ));
                continue;
            };
            let Some(establishment) = self.dataset.establishments.get_mut(index) else {
                continue;
            };
            if establishment.coordinates.is_some() {
                late.push(reject(
                    RejectKind::Duplicate,
                    format!(
                        "second geolocalisation for establishment {} (first kept)",
                        geo.finess
                    ),
                ));
                continue;
            }
            establishment.coordinates = Some(geo.coordinates);
            attached += 1;
        }
        let sort = !late.is_empty() || !self.duplicates.is_empty();
        for d in std::mem::take(&mut self.duplicates) {
            let (kind, reason) = duplicate(d.field, &d.finess, d.first);
            late.push(Rejected {
                at: Location::Line(d.line),
                kind,
                reason,
            });
        }
        if sort {
            self.rejected.extend(late);
            // Stable: records of one line keep their order.
            self.rejected.sort_by_key(|r| r.line());
        }
        source.encoding = self.decoder.encoding_name();
        ImportOutcome::new(self.dataset, attached, self.rejected, source)
    }
}

/// Which fields of a record hold the address.
struct AddressFields {
    number: usize,
    number_suffix: usize,
    street_type: usize,
    street: usize,
    complement: usize,
    locality: usize,
    commune: usize,
    department: usize,
    department_label: usize,
    postal_line: usize,
}

/// The address of a record; `cog` holds the commune's COG when it is made of the department and the commune.
fn address<'a>(t: &Fields<'a>, f: AddressFields, cog: &'a mut [u8; 5]) -> Address<'a> {
    let department = t.get(f.department);
    let postal_line = t.get(f.postal_line);
    let commune = match (t.get(f.commune), department) {
        (Some(commune), Some(dep)) if commune.len() == 3 && is_mainland_department(dep) => {
            cog[..2].copy_from_slice(dep.as_bytes());
            cog[2..].copy_from_slice(commune.as_bytes());
            // A 2-byte ASCII department and a 3-byte commune.
            std::str::from_utf8(&cog[..]).ok()
        }
        (commune, _) => commune,
    };
    Address {
        number: t.get(f.number),
        number_suffix: t.get(f.number_suffix),
        street_type: t.get(f.street_type),
        street: t.get(f.street),
        complement: t.get(f.complement),
        locality: t.get(f.locality),
        postal_code: postal_line.and_then(postal_code_of),
        postal_line,
        commune,
        department,
        department_label: t.get(f.department_label),
    }
}

/// A record whose text is too long, as a rejection.
fn too_long(e: RecordTooLong) -> Reject {
    (RejectKind::BadValue, e.to_string())
}

/// The postal code at the start of a postal line (`01220 DIVONNE LES BAINS` → `01220`).
pub(super) fn postal_code_of(line: &str) -> Option<&str> {
    let code = line.get(..5)?;
    let rest = &line[5..];
    (code.bytes().all(|b| b.is_ascii_digit()) && (rest.is_empty() || rest.starts_with(' ')))
        .then_some(code)
}

/// A 2-character mainland or Corsican department (`01`…`95` but `20`, `2A`, `2B`).
fn is_mainland_department(dep: &str) -> bool {
    dep.len() == 2 && super::record::is_insee_department(dep)
}

fn check_len(record: Row<'_>, expected: usize, kind: &str) -> Result<(), Reject> {
    let found = record.len();
    let trailing_empty = found == expected + 1
        && record
            .get(expected)
            .is_some_and(|f| f.trim_ascii().is_empty());
    if found == expected || trailing_empty {
        Ok(())
    } else {
        Err((
            RejectKind::FieldCount,
            format!(
                "{kind}: expected {expected} fields (the tag and {}), found {found}",
                expected - 1
            ),
        ))
    }
}

fn finess_field(name: &str, raw: &[u8]) -> Result<Finess, Reject> {
    let raw = raw.trim_ascii();
    if raw.is_empty() {
        return Err((RejectKind::BadFiness, format!("{name} is empty")));
    }
    let text = String::from_utf8_lossy(raw);
    Finess::parse(&text).map_err(|e| {
        (
            RejectKind::BadFiness,
            format!("{name} {:?}: {e}", shorten(&text)),
        )
    })
}

fn number_field(name: &str, raw: &[u8]) -> Result<f64, Reject> {
    let text = String::from_utf8_lossy(raw.trim_ascii());
    let parsed = if text.contains(',') {
        text.replace(',', ".").parse::<f64>()
    } else {
        text.parse::<f64>()
    };
    match parsed {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err((
            RejectKind::BadValue,
            format!("{name} {:?} is not a number", shorten(&text)),
        )),
    }
}

fn duplicate(name: &str, finess: &Finess, first_line: u64) -> Reject {
    (
        RejectKind::Duplicate,
        format!("{name} {finess} already seen on line {first_line} (first kept)"),
    )
}

/// `YYYY-MM-DD` (shape only).
fn is_date(b: &[u8]) -> bool {
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// At most 40 characters of a value, for messages.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(40) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finess::model::Counts;
    use std::io::Write;

    const SMALL: &str = include_str!("../../tests/data/finess/small.csv");

    /// The stream reader's outcome, checked against the in-memory reader's.
    fn import(bytes: &[u8]) -> ImportOutcome {
        let outcome = import_csv(bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_same_outcome(&import_csv_bytes(bytes, 1).unwrap(), &outcome);
        outcome
    }

    fn assert_same_outcome(memory: &ImportOutcome, stream: &ImportOutcome) {
        assert_eq!(memory.dataset, stream.dataset);
        assert_eq!(memory.rejected, stream.rejected);
        assert_eq!(memory.counts, stream.counts);
        // The in-memory reader never sees gzip: it hands it to the stream reader.
        assert_eq!(memory.source, stream.source);
    }

    fn rejections(outcome: &ImportOutcome) -> Vec<(u64, RejectKind)> {
        outcome
            .rejected
            .iter()
            .map(|r| (r.line().unwrap_or(0), r.kind))
            .collect()
    }

    fn establishment<'a>(outcome: &'a ImportOutcome, finess: &str) -> &'a Establishment {
        outcome
            .dataset
            .establishments
            .iter()
            .find(|e| e.finess.as_str() == finess)
            .unwrap_or_else(|| panic!("{finess} missing"))
    }

    #[test]
    fn small_file_counts_and_rejections() {
        let outcome = import(SMALL.as_bytes());
        assert_eq!(
            outcome.counts,
            Counts {
                establishments: 6,
                entities: 4,
                geolocations: 4
            }
        );
        assert_eq!(outcome.dataset.establishments.len(), 6);
        assert_eq!(outcome.dataset.entities.len(), 4);
        assert_eq!(
            rejections(&outcome),
            vec![
                (9, RejectKind::BadFiness),
                (10, RejectKind::FieldCount),
                (11, RejectKind::UnknownKind),
                (12, RejectKind::BadFiness),
                (13, RejectKind::Duplicate),
                (18, RejectKind::UnknownEstablishment),
                (19, RejectKind::BadValue),
                (20, RejectKind::FieldCount),
                (21, RejectKind::BadFiness),
            ],
            "{:#?}",
            outcome.rejected
        );
        let reasons: Vec<&str> = outcome.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("nofinesset \"010009083\"") && reasons[0].contains("key"));
        assert!(reasons[1].contains("expected 32 fields") && reasons[1].contains("found 9"));
        assert!(reasons[2].contains("structurepm"));
        assert!(reasons[3].contains("nofinessej"));
        assert!(reasons[4].contains("already seen on line 3"));
        assert!(reasons[5].contains("260009105"));
        assert!(reasons[6].contains("coordxet"));
        assert!(reasons[7].contains("expected 23 fields"));
        assert!(reasons[8].contains("nofiness \"01000002\"") && reasons[8].contains("9"));
        assert_eq!(outcome.source.version.as_deref(), Some("59"));
        assert_eq!(outcome.source.generated.as_deref(), Some("2025-11-03"));
        assert_eq!(outcome.source.encoding, Some("UTF-8"));
        assert!(!outcome.source.gzip);
    }

    #[test]
    fn small_file_fields() {
        let outcome = import(SMALL.as_bytes());
        // Quoted field with a `;` and doubled quotes, accents.
        let glycines = establishment(&outcome, "010009025");
        assert_eq!(glycines.name(), "EHPAD « LES GLYCINES »");
        assert_eq!(
            glycines.long_name(),
            Some("EHPAD \"Les Glycines\"; résidence de l'Étang")
        );
        assert_eq!(glycines.entity.as_str(), "010009017");
        assert_eq!(glycines.category(), Some("500"));
        assert_eq!(glycines.address().postal_code, Some("01220"));
        assert_eq!(
            glycines.address().postal_line,
            Some("01220 DIVONNE LES BAINS")
        );
        assert_eq!(glycines.address().commune, Some("01143"));
        assert_eq!(glycines.address().street_type, Some("R"));
        assert_eq!(glycines.address().number_suffix, Some("B"));
        assert_eq!(glycines.text().opened, Some("1994-01-01"));
        assert_eq!(glycines.phone(), Some("0450990001"));
        let coords = glycines.coordinates.as_ref().unwrap();
        assert_eq!((coords.x, coords.y), (Some(941_342.52), Some(6_589_480.53)));
        let (lon, lat) = (coords.lon.unwrap(), coords.lat.unwrap());
        assert!((lon - 6.139_885).abs() < 1e-5 && (lat - 46.362_063).abs() < 1e-5);
        assert_eq!(
            coords.source.as_deref(),
            Some("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93")
        );
        // Corsica.
        let ajaccio = establishment(&outcome, "2A0009031");
        assert_eq!(ajaccio.department_code(), "2A");
        assert_eq!(ajaccio.address().commune, Some("2A004"));
        assert_eq!(ajaccio.name(), "SSIAD DE L'ÉTANG");
        let (lon, lat) = {
            let c = ajaccio.coordinates.as_ref().unwrap();
            (c.lon.unwrap(), c.lat.unwrap())
        };
        assert!((8.7..8.8).contains(&lon) && (41.9..42.0).contains(&lat));
        // Overseas: projected coordinates kept, no WGS84.
        let guyane = establishment(&outcome, "970309043");
        let c = guyane.coordinates.as_ref().unwrap();
        assert_eq!(
            (c.x, c.y, c.lon, c.lat),
            (Some(352_000.0), Some(545_000.0), None, None)
        );
        assert_eq!(guyane.department_code(), "973");
        // Entity with legal status.
        let ccas = &outcome.dataset.entities[0];
        assert_eq!(ccas.finess.as_str(), "010009017");
        let status = ccas.legal_status().unwrap();
        assert_eq!(status.code, "17");
        assert_eq!(status.label, Some("Centre Communal d'Action Sociale"));
        assert_eq!(ccas.text().siren, Some("269901001"));
        assert_eq!(ccas.text().created, Some("1994-01-01"));
        // Trailing `;` tolerated.
        assert!(
            outcome
                .dataset
                .entities
                .iter()
                .any(|e| e.finess.as_str() == "2B0009138")
        );
    }

    #[test]
    fn latin1_gives_identical_data() {
        let (latin1, _, unmappable) = encoding_rs::WINDOWS_1252.encode(SMALL);
        assert!(!unmappable);
        assert_ne!(latin1.as_ref(), SMALL.as_bytes());
        let utf8 = import(SMALL.as_bytes());
        let win = import(&latin1);
        assert_eq!(win.source.encoding, Some("windows-1252"));
        assert_eq!(win.dataset, utf8.dataset);
        assert_eq!(win.rejected, utf8.rejected);
        assert_eq!(win.counts, utf8.counts);
    }

    #[test]
    fn bom_and_crlf_and_gzip() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(SMALL.replace('\n', "\r\n").as_bytes());
        let crlf = import(&bytes);
        let plain = import(SMALL.as_bytes());
        assert_eq!(crlf.dataset, plain.dataset);
        assert_eq!(crlf.rejected, plain.rejected);

        // Blank lines (LF or CRLF) and a quoted field spanning two lines keep the line numbers right.
        let mut spaced = String::new();
        for (i, line) in SMALL.lines().enumerate() {
            spaced.push_str(line);
            spaced.push_str(if i % 2 == 0 { "\r\n\r\n" } else { "\n\n" });
        }
        let spaced = import(spaced.as_bytes());
        let doubled: Vec<u64> = plain
            .rejected
            .iter()
            .map(|r| 2 * r.line().unwrap_or(0) - 1)
            .collect();
        let lines: Vec<u64> = spaced.rejected.iter().filter_map(Rejected::line).collect();
        assert_eq!(lines, doubled);
        let multiline =
            SMALL.replacen("\"BÂTIMENT A; ENTRÉE 2\"", "\"BÂTIMENT A;\r\nENTRÉE 2\"", 1);
        let multiline = import(multiline.as_bytes());
        let shifted: Vec<u64> = plain
            .rejected
            .iter()
            .map(|r| r.line().unwrap_or(0) + 1)
            .collect();
        let lines: Vec<u64> = multiline
            .rejected
            .iter()
            .filter_map(Rejected::line)
            .collect();
        assert_eq!(lines, shifted);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(SMALL.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let unzipped = import(&gz);
        assert!(unzipped.source.gzip);
        assert_eq!(unzipped.dataset, plain.dataset);
    }

    #[test]
    fn fatal_errors() {
        assert!(matches!(
            import_csv(&b""[..]),
            Err(CsvImportError::MissingHeader)
        ));
        assert!(matches!(
            import_csv(&b"\n\n"[..]),
            Err(CsvImportError::MissingHeader)
        ));
        for bad in [
            "structureej;010000016\n",
            "finess;etalab;59\n",
            "finess;etalab;x;2025-11-03\n",
            "finess;etalab;59;03/11/2025\n",
            "finess;etalab;59;2025-11-03;extra\n",
        ] {
            match import_csv(bad.as_bytes()) {
                Err(CsvImportError::BadHeader { line: 1, found }) => {
                    assert!(bad.starts_with(&found), "{found:?}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // A reader giving one byte at a time still has its gzip detected.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((&b, rest)), Some(slot)) => {
                        *slot = b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(SMALL.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let trickled = import_csv(Trickle(&gz)).unwrap();
        assert!(trickled.source.gzip);
        assert_eq!(trickled.counts.establishments, 6);
        assert!(matches!(
            import_csv(Trickle(b"x")),
            Err(CsvImportError::BadHeader { .. })
        ));
        let err = import_csv(&b"\x1f\x8b\x08garbage"[..]).unwrap_err();
        assert!(matches!(err, CsvImportError::Io(_)), "{err:?}");
        assert!(err.to_string().contains("reading"));
    }

    #[test]
    fn header_only_and_odd_bytes_never_panic() {
        let outcome = import(b"finess;etalab;1;2025-01-01;\n");
        assert_eq!(outcome.dataset, Dataset::default());
        assert!(outcome.rejected.is_empty());
        // Random-ish garbage after a good header: everything rejected, nothing panics.
        let mut bytes = b"finess;etalab;1;2025-01-01\n".to_vec();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = (state >> 56) as u8;
            bytes.push(match b % 7 {
                0 => b';',
                1 => b'\n',
                2 => b'"',
                _ => b,
            });
        }
        bytes.extend_from_slice(b"\nstructureet;;;\ngeolocalisation;010000024;;;;\n");
        let outcome = import(&bytes);
        assert!(outcome.dataset.is_empty());
        assert!(!outcome.rejected.is_empty());
    }

    #[test]
    fn corrupted_input_never_panics() {
        let bytes = SMALL.as_bytes();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..400 {
            let mut copy = bytes.to_vec();
            for _ in 0..1 + next() % 6 {
                let at = (next() % copy.len() as u64) as usize;
                copy[at] = match next() % 6 {
                    0 => b'"',
                    1 => b';',
                    2 => b'\n',
                    3 => b'\r',
                    4 => 0xe9,
                    _ => (next() >> 56) as u8,
                };
            }
            match (import_csv(&copy[..]), import_csv_bytes(&copy, 1)) {
                (Ok(stream), Ok(memory)) => {
                    // Every line is accounted for: kept or rejected.
                    assert!(stream.counts.establishments + stream.rejected.len() > 0);
                    assert_same_outcome(&memory, &stream);
                }
                (stream, memory) => assert_eq!(
                    stream.map(|_| ()).map_err(|e| e.to_string()),
                    memory.map(|_| ()).map_err(|e| e.to_string())
                ),
            }
        }
    }

    #[test]
    fn a_record_too_long_to_hold_is_rejected_with_its_size() {
        let glycines = SMALL
            .lines()
            .find(|l| l.starts_with("structureet;010009025;"))
            .unwrap();
        let long = glycines.replacen("EHPAD « LES GLYCINES »", &"X".repeat(70_000), 1);
        let text = format!("finess;etalab;59;2025-11-03\n{long}\n");
        let outcome = import(text.as_bytes());
        assert_eq!(outcome.counts.establishments, 0);
        let [rejected] = &outcome.rejected[..] else {
            panic!("{:?}", outcome.rejected)
        };
        assert_eq!(
            (rejected.line(), rejected.kind),
            (Some(2), RejectKind::BadValue)
        );
        assert!(rejected.reason.contains("65,535"), "{}", rejected.reason);
    }

    #[test]
    fn line_numbers_whatever_the_read_sizes_and_line_endings() {
        /// Hands out at most `.1` bytes per read.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let expected = rejections(&import(SMALL.as_bytes()));
        assert!(expected.len() > 3);
        let crlf = SMALL.replace('\n', "\r\n");
        for n in [1, 2, 3, 7, 64, 4096] {
            for text in [SMALL, crlf.as_str()] {
                let outcome = import_csv(Trickle(text.as_bytes(), n)).unwrap();
                assert_eq!(rejections(&outcome), expected, "{n} bytes a read");
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(postal_code_of("01220 DIVONNE LES BAINS"), Some("01220"));
        assert_eq!(postal_code_of("01220"), Some("01220"));
        assert_eq!(postal_code_of("0122 X"), None);
        assert_eq!(postal_code_of("CEDEX"), None);
        assert_eq!(postal_code_of("éé"), None);
        assert!(is_date(b"2025-11-03"));
        assert!(!is_date(b"2025-11-3"));
        assert_eq!(shorten(&"é".repeat(50)).chars().count(), 41);
    }
}

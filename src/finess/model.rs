//! The typed records both national-file formats map to: legal entities (EJ), establishments (ET/EG), and what an
//! import returns (counts, rejected records, where the data came from).
//!
//! Follows `spec/finess.md`, sections "Identifiers" (EJ owns ET) and "National files". Field names in the docs
//! are the legacy etalab CSV name first, then the FiNESS+ JSON name (`ansforge/finess`,
//! `flux/out/data.gouv/structure/schema/schema-structures-v1.json`).
//!
//! # Memory
//!
//! About 100,000 establishments and as many legal entities are held in memory for the whole life of the daemon,
//! so the records are kept small:
//!
//! - a record's text fields are packed in one allocation, see [`record`](super::record) (the records are defined
//!   there and re-exported here);
//! - a geolocation's source and date, repeated on most lines, are a [`Label`]: one shared copy per distinct value
//!   in the whole process, a 4-byte number in each record;
//! - absent values are `None` (a niche: no extra space), empty or blank input fields become `None`.
//!
//! Serialization (for the API) writes every field, `null` when absent, so the JSON shape never varies.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;
use std::ops::Deref;

use serde::Serialize;

pub use super::record::{
    Address, Establishment, EstablishmentText, LegalEntity, LegalEntityText, LegalStatus,
    RecordTooLong,
};

/// A piece of text repeated on many records: a number in a process-wide table of distinct values, so
/// `Option<Label>` takes 4 bytes and a copy costs nothing.
///
/// Used for a geolocation's source and date ([`Coordinates`]): nearly every `geolocalisation` line names the same
/// few sources. A record's own text fields are packed in the record instead ([`record`](super::record)): that was
/// faster to import than interning them (measured in that module).
///
/// # Why a process-wide table that is never emptied
///
/// The texts are packed side by side in a few 64 KiB blocks, and the importers' interners compare against them
/// without touching any count; a label is a `u32`. When each distinct value was its own reference-counted block
/// (`Arc<String>`, then `arcstr::ArcStr`), the compare missed the cache and every clone was a locked increment.
///
/// The price is that a text, once seen, stays for the life of the process. The national file has a few hundred
/// distinct sources and dates in these fields, and importing the same file again adds nothing, so the table stays
/// near its first size; online Annuaire Santé answers are mapped straight to JSON (`finess::online`), so only
/// imports add to the table. A file built to hold millions of distinct values in these fields would keep their
/// text until the daemon restarts; the table's numbers run to `u32::MAX`, far beyond what fits in memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(NonZeroU32);

impl Label {
    /// The label holding `text` (the same for equal texts, in the whole process).
    pub fn new(text: &str) -> Label {
        registry::intern(text)
    }

    /// The text.
    pub fn as_str(&self) -> &'static str {
        registry::text(*self)
    }
}

impl Deref for Label {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Label {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Label {
    fn from(text: &str) -> Label {
        Label::new(text)
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Label) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Labels sort by their text.
impl Ord for Label {
    fn cmp(&self, other: &Label) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Label {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The process-wide table behind [`Label`]: distinct texts packed in leaked blocks, found by number through
/// write-once slots (no lock to read), and by text through a map behind a mutex (taken once per distinct value
/// per interner).
mod registry {
    use std::collections::HashMap;
    use std::num::NonZeroU32;
    use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};

    use super::{FastHash, Label};

    /// The first block of slots holds 2^10 numbers, each next one twice as many as the one before: 23 blocks
    /// cover all of `u32`, and a table of 26,000 labels takes five blocks (32,000 slots, 760 KB).
    const FIRST: u32 = 10;
    const BLOCKS: usize = 23;
    /// Size of the blocks the texts are packed in.
    const TEXT_BLOCK: usize = 64 * 1024;

    type Block = Box<[OnceLock<&'static str>]>;

    /// Texts by number, see [`place`]. Number 0 is never used (`Label` is a `NonZeroU32`).
    static TEXTS: [OnceLock<Block>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];

    /// The block of number `n` and its slot there: block `b` holds the `2^(b + 10)` numbers from `2^(b + 10) -
    /// 2^10`.
    pub(super) fn place(n: u32) -> (usize, usize) {
        let shifted = u64::from(n) + (1 << FIRST);
        let block = 63 - shifted.leading_zeros() - FIRST;
        (block as usize, (shifted - (1 << (block + FIRST))) as usize)
    }

    /// Numbers by text, and where the next text goes.
    static BY_TEXT: LazyLock<Mutex<ByText>> = LazyLock::new(|| {
        Mutex::new(ByText {
            labels: HashMap::with_hasher(FastHash),
            next: 1,
            free: &mut [],
        })
    });

    struct ByText {
        labels: HashMap<&'static str, Label, FastHash>,
        next: u32,
        /// The unused end of the current text block.
        free: &'static mut [u8],
    }

    impl ByText {
        /// Copies `text` into the current block (a new one when it does not fit; a block of its own when it is
        /// larger than a block).
        fn store(&mut self, text: &str) -> &'static str {
            let len = text.len();
            if len > self.free.len() {
                let block = vec![0u8; TEXT_BLOCK.max(len)].into_boxed_slice();
                self.free = Box::leak(block);
            }
            let (copy, rest) = std::mem::take(&mut self.free).split_at_mut(len);
            self.free = rest;
            copy.copy_from_slice(text.as_bytes());
            let copy: &'static [u8] = copy;
            // The bytes are a copy of a `str`.
            std::str::from_utf8(copy).unwrap_or_default()
        }
    }

    /// The label of `text`, registered if new.
    pub(super) fn intern(text: &str) -> Label {
        let mut table = BY_TEXT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&label) = table.labels.get(text) {
            return label;
        }
        let n = table.next;
        // 2^32 - 1 distinct texts would take far more memory than any machine running this has.
        table.next = n
            .checked_add(1)
            .expect("more than 2^32 distinct FINESS labels");
        let text = table.store(text);
        let (block, slot) = place(n);
        let slots = TEXTS[block].get_or_init(|| {
            (0..1usize << (block as u32 + FIRST))
                .map(|_| OnceLock::new())
                .collect()
        });
        let _ = slots[slot].set(text);
        let label = Label(NonZeroU32::new(n).expect("numbers start at 1"));
        table.labels.insert(text, label);
        label
    }

    /// The text of `label`.
    pub(super) fn text(label: Label) -> &'static str {
        let (block, slot) = place(label.0.get());
        // A label exists only once its slot is set (in `intern`, before the label is returned).
        TEXTS[block]
            .get()
            .and_then(|slots| slots.get(slot)?.get())
            .copied()
            .unwrap_or_default()
    }
}

/// Geographic position of an establishment.
///
/// The legacy CSV gives projected coordinates only (Lambert-93 in mainland France and Corsica, UTM overseas):
/// `lon`/`lat` are computed for Lambert-93 and left `None` overseas. The FiNESS+ JSON gives both; its
/// latitude/longitude are preferred (its projected X and Y are known to be swapped; the importer swaps them back).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coordinates {
    /// Projected X (easting) in metres (`coordxet`; JSON: see the importer).
    pub x: Option<f64>,
    /// Projected Y (northing) in metres (`coordyet`).
    pub y: Option<f64>,
    /// Where the coordinates come from and how (`sourcecoordet`, e.g.
    /// `1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93`; `BAN` for FiNESS+ addresses geocoded with the Base Adresse
    /// Nationale).
    pub source: Option<Label>,
    /// WGS84 longitude in degrees.
    pub lon: Option<f64>,
    /// WGS84 latitude in degrees.
    pub lat: Option<f64>,
    /// Date of the geolocation (`datemaj` of the `geolocalisation` line; not in the JSON).
    pub updated: Option<Label>,
}

/// Everything an import produced: legal entities and establishments, in file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dataset {
    /// Establishments (ET/EG).
    pub establishments: Vec<Establishment>,
    /// Legal entities (EJ).
    pub entities: Vec<LegalEntity>,
}

impl Dataset {
    /// Number of records of both kinds.
    pub fn len(&self) -> usize {
        self.establishments.len() + self.entities.len()
    }

    /// Whether there is no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the records of `other` (e.g. the legacy establishment file, then the legal-entity file).
    /// Duplicates are not checked here; [`FinessIndex`](super::index::FinessIndex) keeps the first.
    pub fn merge(&mut self, other: Dataset) {
        self.establishments.extend(other.establishments);
        self.entities.extend(other.entities);
    }
}

/// Format of a national file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceFormat {
    /// The legacy etalab CSV extraction.
    EtalabCsv,
    /// The FiNESS+ JSON structures file.
    FinessPlusJson,
}

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The format.
    pub format: SourceFormat,
    /// CSV: the `<n>` of the header line `finess;etalab;<n>;<date>`; JSON: `schemaVersion`.
    pub version: Option<Box<str>>,
    /// CSV: the date of the header line; JSON: `generatedAt`.
    pub generated: Option<Box<str>>,
    /// Text encoding found (CSV only): `"UTF-8"`, `"windows-1252"`, or `None` when the file is plain ASCII.
    pub encoding: Option<&'static str>,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
}

/// Records read, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Establishments kept.
    pub establishments: usize,
    /// Legal entities kept.
    pub entities: usize,
    /// Geolocations attached to an establishment (CSV `geolocalisation` lines; JSON addresses with coordinates).
    pub geolocations: usize,
}

/// Why a record was rejected, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectKind {
    /// CSV: the first field is not `structureet`, `structureej` or `geolocalisation`.
    UnknownKind,
    /// CSV: the line does not have the number of fields of its kind.
    FieldCount,
    /// A FINESS number (of the record or of its legal entity) is missing or invalid (length, characters,
    /// department, key).
    BadFiness,
    /// A value cannot be read (e.g. coordinates that are not numbers).
    BadValue,
    /// The FINESS number was already seen for a record of the same kind (or a second geolocation for it).
    Duplicate,
    /// CSV: a `geolocalisation` line for an establishment the file does not contain.
    UnknownEstablishment,
    /// JSON: an establishment whose legal entity was rejected (it cannot be attached to anything).
    OrphanEstablishment,
    /// JSON: an element that should be an object is something else, or a required object is missing.
    NotAnObject,
}

/// Where a rejected record is in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// CSV: the line (from 1) the record starts on.
    Line(u64),
    /// JSON: the path of the value, e.g. `pmej[1234].ege[2].informationsGeneralesEGE.numFinessEge`.
    Path(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Path(path) => f.write_str(path),
        }
    }
}

/// A record that was not imported, with where it is and why. Nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Where.
    pub at: Location,
    /// Why, as a stable code.
    pub kind: RejectKind,
    /// Why, for people (names the field and what was found).
    pub reason: String,
}

impl Rejected {
    /// The line number, for CSV rejections.
    pub fn line(&self) -> Option<u64> {
        match self.at {
            Location::Line(line) => Some(line),
            Location::Path(_) => None,
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// The result of reading one national file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportOutcome {
    /// The records kept.
    pub dataset: Dataset,
    /// How many of each.
    pub counts: Counts,
    /// The records rejected, in file order.
    pub rejected: Vec<Rejected>,
    /// What the file says about itself.
    pub source: SourceInfo,
}

impl ImportOutcome {
    /// The outcome of reading a file: counts taken from `dataset`, whose vectors are shrunk to fit (they are
    /// kept for the life of the daemon).
    pub(super) fn new(
        mut dataset: Dataset,
        geolocations: usize,
        rejected: Vec<Rejected>,
        source: SourceInfo,
    ) -> ImportOutcome {
        dataset.establishments.shrink_to_fit();
        dataset.entities.shrink_to_fit();
        ImportOutcome {
            counts: Counts {
                establishments: dataset.establishments.len(),
                entities: dataset.entities.len(),
                geolocations,
            },
            dataset,
            rejected,
            source,
        }
    }
}

/// Interns repeated text while importing: one [`Label`] per distinct value.
///
/// A cache in front of the process-wide table (which takes a lock): each importing thread has its own, and asks
/// the table once per distinct value. Its map holds the text's address and length next to the label, so a lookup
/// reads only the packed text to compare. It uses a fast non-cryptographic hash: the input is the national file
/// an operator imports, and the worst an adversarial file can do is slow its own import down.
#[derive(Debug, Default)]
pub(super) struct Interner {
    seen: HashMap<&'static str, Label, FastHash>,
}

impl Interner {
    /// The shared label for `text`.
    pub(super) fn intern(&mut self, text: &str) -> Label {
        if let Some(&label) = self.seen.get(text) {
            return label;
        }
        let label = Label::new(text);
        self.seen.insert(label.as_str(), label);
        label
    }
}

/// A small multiplicative hash (the "Fx" scheme) for import-time maps and sets.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

/// The hasher of [`FastHash`].
#[derive(Debug)]
pub(super) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply only carries differences upwards, and the table takes its bucket from the low bits: fold
        // the high half down (the first half of MurmurHash3's finaliser).
        let h = (self.0 ^ (self.0 >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_shared_and_one_word() {
        let mut interner = Interner::default();
        let a = interner.intern("EHPAD");
        let b = interner.intern("EHPAD");
        assert_eq!(a.0, b.0);
        // Another interner (another importing thread) gets the same number from the process-wide table.
        let c = Interner::default().intern("EHPAD");
        assert_eq!(a.0, c.0);
        assert_ne!(a.0, interner.intern("SSIAD").0);
        assert_eq!(a, "EHPAD");
        assert_eq!(Label::new("").as_str(), "");
        assert_eq!(std::mem::size_of::<Option<Label>>(), 4);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"EHPAD\"");
        assert!(Label::new("B") > Label::new("A"), "labels sort by text");
    }

    #[test]
    fn label_numbers_have_one_place_each() {
        assert_eq!(registry::place(0), (0, 0));
        assert_eq!(registry::place(1023), (0, 1023));
        assert_eq!(registry::place(1024), (1, 0));
        assert_eq!(registry::place(3071), (1, 2047));
        assert_eq!(registry::place(3072), (2, 0));
        assert_eq!(
            registry::place(u32::MAX),
            (22, (1 << 32) + 1023 - (1 << 32))
        );
    }

    #[test]
    fn label_table_grows_past_its_blocks() {
        // Several blocks of numbers and of text; a text larger than a text block.
        let labels: Vec<(String, Label)> = (0..70_000)
            .map(|i| {
                let text = format!("label-table-test-{i}");
                let label = Label::new(&text);
                (text, label)
            })
            .collect();
        for (text, label) in &labels {
            assert_eq!(label.as_str(), text);
            assert_eq!(Label::new(text), *label);
        }
        let long = "é".repeat(40_000);
        assert_eq!(Label::new(&long).as_str(), long);
        assert_eq!(
            Label::new("after the long one").as_str(),
            "after the long one"
        );
    }

    #[test]
    fn rejected_display_and_json() {
        let r = Rejected {
            at: Location::Line(7),
            kind: RejectKind::BadFiness,
            reason: "nofinesset: bad key".to_owned(),
        };
        assert_eq!(r.to_string(), "line 7: nofinesset: bad key");
        assert_eq!(r.line(), Some(7));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["at"]["line"], 7);
        assert_eq!(json["kind"], "bad_finess");
    }
}

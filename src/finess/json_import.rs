//! Reader of the current **FiNESS+ JSON** structures file (`finess-structures-journalier-YYYYMMDD.json.gz` and the
//! monthly file on data.gouv.fr), streamed.
//!
//! Follows `spec/finess.md`, section "National files", item 1. Field names are those of the ANS JSON Schema and
//! samples, repository `ansforge/finess`:
//!
//! - `flux/out/data.gouv/structure/schema/schema-structures-v1.json` (the contract, draft-07);
//! - `flux/out/data.gouv/structure/examples/sample-finess-structures-journalier-20260309.json` (a real extract).
//!
//! The wire format, as far as this reader uses it:
//!
//! ```text
//! { "schemaVersion": "v1.0.0", "generatedAt": "2026-03-09T15:49:37Z",
//!   "gcc": [...], "gco": [...],                      -- groups: skipped
//!   "pmej": [ {                                      -- one legal entity (EJ)
//!       "informationsGeneralesPMEJ": { "numFinessPm", "denominationPm", "denominationLonguePmSmsse", "siren",
//!           "codeApe", "dateCreation", "dateFermeture", "statutJuridique", "categorieentiteGeographiqueExercice" },
//!       "adresse": [ { "numeroVoie", "typeVoie", "libelleVoie", "complementVoie", "complementPointGeographique",
//!           "lieuDit", "cogCommune", "ligneAcheminement", "codePostal",
//!           "coordonneesGeographique": { "coordonneeX", "coordonneeY", "directionLatitude",
//!               "directionLongitude", "cleInInteropBAN", "scoreBAN" } } ],
//!       "contact": [ { "typeContact": {...}, "telecom": { "telephone", "telecopie", "courriel" } } ],
//!       "engagement": [...], "evenement": [...],     -- skipped
//!       "ege": [ {                                   -- its sites (EG)
//!           "informationsGeneralesEGE": { "numFinessEge", "nomEgeCourt", "nomEgeLong", "complementDenominationEg",
//!               "dateOuverture", "datePremiereAutorisation", "dateFermeture", "siret" },
//!           "categorieentiteGeographiqueExercice", "adresse": [...], "contact": [...],
//!           "etatObjet", "dateDerniereMaj" } ],
//!       "etatObjet": "A" | "I", "dateDerniereMaj": "2021-10-18 00:00:00" } ] }
//! ```
//!
//! # Choices
//!
//! - **Streamed, elements parsed in parallel**: the document is never held whole (unless the caller holds it:
//!   [`import_json_bytes`] then cuts it where it lies, without copies). The `stream` submodule reads
//!   the input in chunks, cuts out each element of `pmej` (one legal entity with its sites) by following only
//!   strings and bracket depth, and hands batches of elements to worker threads, where serde_json deserializes
//!   them from a slice (four times faster than through a reader, which copies byte by byte; strings without
//!   escapes are borrowed, not copied) and maps them to records. The calling thread then keeps the records **in
//!   document order**, and only there checks repeated numbers, so rejections, "first kept" duplicates and errors
//!   are those of a one-pass reader (the tests compare both on odd and corrupted inputs). `gcc`, `gco`,
//!   `engagement` and `evenement` are skipped without being built. gzip is detected from its magic bytes and
//!   decompressed on the fly ([`flate2::read::MultiGzDecoder`], which also reads multi-member files). A JSON
//!   error gives the file's line and column, and the element (`pmej[12]: …`).
//! - **Lenient values, strict structure**: a scalar where a string is expected is read as text (`numFinessEge:
//!   10780195` becomes `"10780195"` and is then refused as a FINESS number); an element of `pmej` or `ege` that
//!   is not an object, a missing `informationsGeneralesPMEJ`/`informationsGeneralesEGE`, a bad FINESS number or a
//!   repeated one is **rejected with its JSON path** (`pmej[12].ege[2].informationsGeneralesEGE.numFinessEge`)
//!   and why. The sites of a rejected legal entity are rejected too (they cannot be attached). Invalid JSON, a
//!   top level that is not an object, or a missing `pmej` is fatal ([`JsonImportError`]).
//! - Values are trimmed (the national file pads some names with spaces); empty values become `None`.
//! - **Coordinates**: the projected `coordonneeX`/`coordonneeY` of the national file are swapped (known issue,
//!   visible in the sample: `coordonneeX` 6589480.53 is a Lambert-93 northing). `directionLatitude` /
//!   `directionLongitude` are preferred; for mainland France and Corsica, X/Y are swapped back when X > Y (a
//!   Lambert-93 easting is always smaller than its northing) and used to compute WGS84 when latitude/longitude are
//!   missing. Overseas, X/Y are kept as given.
//! - Address: the first address of the list (the sample has one per object; `usageAdresse` is not interpreted).
//!   Telephone and fax: the first contact that has one. The department is taken from `cogCommune`; the JSON has
//!   no department or category labels: the category label comes from the shipped table ([`Category`]).
//! - `etatObjet`: `A` is active, `I` inactive; absent or other values count as active unless a closing date is
//!   given.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::marker::PhantomData;

use serde::Deserialize;
#[cfg(test)]
use serde::de::DeserializeSeed;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::category::Category;
use super::csv_import::{is_gzip, postal_code_of, sniff_gzip};
use super::geo::lambert93_to_wgs84;
use super::id::Finess;
use super::model::{
    Address, Coordinates, Dataset, Establishment, EstablishmentText, FastHash, ImportOutcome,
    Interner, LegalEntity, LegalEntityText, LegalStatus, Location, RejectKind, Rejected,
    SourceFormat, SourceInfo,
};

mod stream;

/// Why a FiNESS+ JSON file could not be read at all. Problems with single records are not errors: they are listed
/// in [`ImportOutcome::rejected`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonImportError {
    /// Reading the input failed (file, network, or a corrupt gzip stream).
    #[error("reading the FiNESS+ JSON failed: {0}")]
    Io(#[from] io::Error),
    /// The input is not JSON, is cut short, or its top level is not an object (or `pmej` is not an array, or an
    /// object of it repeats a key).
    #[error("the FiNESS+ JSON is invalid at line {line}, column {column}: {message}")]
    Json {
        /// Line of the problem, from 1.
        line: usize,
        /// Column of the problem, from 1.
        column: usize,
        /// What the JSON parser says.
        message: String,
    },
    /// The top-level object has no `pmej` array: not a FiNESS+ structures file.
    #[error("the FiNESS+ JSON has no \"pmej\" array: not a structures file")]
    MissingPmej,
}

impl From<serde_json::Error> for JsonImportError {
    fn from(e: serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Io => JsonImportError::Io(e.into()),
            _ => JsonImportError::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            },
        }
    }
}

/// Most worker threads [`import_json`] starts: the calling thread frames the input for all of them, which more
/// workers would only wait for (each also holds about 2 MiB of read-ahead).
pub const MAX_THREADS: usize = 4;

/// Reads a FiNESS+ JSON structures file (plain or gzip-compressed) from `reader`, one legal entity at a time,
/// parsing the legal entities on as many threads as the machine has cores, at most [`MAX_THREADS`].
///
/// Pass a file or a byte slice (`&[u8]` is `Read`); no need to buffer it.
pub fn import_json<R: Read>(reader: R) -> Result<ImportOutcome, JsonImportError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    import_json_on(reader, threads)
}

/// [`import_json`] with the legal entities parsed on `threads` worker threads (`0` or `1`: on the calling thread
/// only). The outcome does not depend on the number of threads.
pub fn import_json_on<R: Read>(
    reader: R,
    threads: usize,
) -> Result<ImportOutcome, JsonImportError> {
    let (gzip, input) = sniff_gzip(reader)?;
    if gzip {
        read_all(flate2::read::MultiGzDecoder::new(input), true, threads)
    } else {
        read_all(input, false, threads)
    }
}

/// [`import_json_on`] for a file held in memory: plain input is cut into elements where it lies, nothing is copied
/// (on the synthetic national file, 0.68–0.86 s against 0.74–0.93 s through a reader, eight runs alternated);
/// gzip input is decompressed as a stream.
pub fn import_json_bytes(bytes: &[u8], threads: usize) -> Result<ImportOutcome, JsonImportError> {
    if is_gzip(bytes) {
        return import_json_on(bytes, threads);
    }
    let mut state = State::default();
    let header = stream::read_whole(bytes, threads, &mut state)?;
    outcome(state, header, false)
}

fn read_all<R: Read>(
    input: R,
    gzip: bool,
    threads: usize,
) -> Result<ImportOutcome, JsonImportError> {
    let mut state = State::default();
    let header = stream::read(input, threads, &mut state)?;
    outcome(state, header, gzip)
}

fn outcome(
    state: State,
    header: stream::Header,
    gzip: bool,
) -> Result<ImportOutcome, JsonImportError> {
    if !header.pmej {
        return Err(JsonImportError::MissingPmej);
    }
    Ok(state.finish(header, gzip))
}

/// Where a `pmej` element or one of its sites is, written as a JSON path only when a record is rejected.
#[derive(Debug, Clone, Copy)]
struct At {
    pmej: usize,
    ege: Option<usize>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pmej[{}]", self.pmej)?;
        if let Some(j) = self.ege {
            write!(f, ".ege[{j}]")?;
        }
        Ok(())
    }
}

/// What the importer builds while the document streams by: the records of the mapped elements, applied in
/// document order.
#[derive(Default)]
struct State {
    /// Maps the elements read on this thread (when there are no workers).
    mapper: Mapper,
    dataset: Dataset,
    rejected: Vec<Rejected>,
    entities: HashSet<Finess, FastHash>,
    establishments: HashSet<Finess, FastHash>,
    geolocations: usize,
}

/// A rejected record: its JSON path, the kind of problem, why.
type Refusal = (String, RejectKind, String);

/// Maps `pmej` elements to records, on a worker thread or on the calling thread. Everything that does not depend
/// on the elements before is done here; [`State::apply`] does the rest (repeated numbers) in document order.
///
/// Each worker has its own interner (for the geolocation source, a cache in front of the process-wide label
/// table).
#[derive(Default)]
struct Mapper {
    interner: Interner,
}

/// One `pmej` element mapped, before the checks that depend on the elements before it.
struct Mapped {
    /// Index of the element in `pmej`.
    index: usize,
    /// The legal entity, or the element's rejections (the legal entity's, then its sites', orphaned).
    entity: Result<LegalEntity, Vec<Refusal>>,
    /// `ege` is not an array.
    sites_bad: Option<Refusal>,
    /// Each site: its record, or why it is rejected.
    sites: Vec<Result<Establishment, Refusal>>,
}

/// Seed for the whole document (the one-pass reader this module had before [`stream`]; kept as the tests'
/// reference): a map whose `pmej` is streamed into the state.
#[cfg(test)]
struct Document<'s> {
    state: &'s mut State,
}

#[cfg(test)]
impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = stream::Header;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<stream::Header, D::Error> {
        deserializer.deserialize_map(self)
    }
}

#[cfg(test)]
impl<'de> Visitor<'de> for Document<'_> {
    type Value = stream::Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FiNESS+ structures object {schemaVersion, generatedAt, gcc, gco, pmej}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<stream::Header, A::Error> {
        let mut header = stream::Header {
            version: None,
            generated: None,
            pmej: false,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "schemaVersion" => header.version = map.next_value::<Scalar>()?.boxed(),
                "generatedAt" => header.generated = map.next_value::<Scalar>()?.boxed(),
                "pmej" => {
                    map.next_value_seed(PmejList {
                        state: &mut *self.state,
                    })?;
                    header.pmej = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

/// Seed for the `pmej` array: each element is mapped as soon as it is read.
#[cfg(test)]
struct PmejList<'s> {
    state: &'s mut State,
}

#[cfg(test)]
impl<'de> DeserializeSeed<'de> for PmejList<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

#[cfg(test)]
impl<'de> Visitor<'de> for PmejList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the pmej array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            match seq.next_element::<Loose<RawPmej<'de>>>() {
                Ok(Some(element)) => self.state.pmej(index, element),
                Ok(None) => return Ok(()),
                Err(e) => return Err(de::Error::custom(format_args!("pmej[{index}]: {e}"))),
            }
            index += 1;
        }
    }
}

/// Any JSON value read as optional text: strings as they are, numbers and booleans written out, `null`, arrays
/// and objects as nothing.
///
/// Text borrows from the input when it has no escape (most values): reading it allocates nothing, and the
/// importer copies it once, into the record.
#[derive(Debug, Default)]
enum Scalar<'a> {
    /// Absent, `null`, an array or an object.
    #[default]
    Absent,
    /// A string, or a number or boolean written out.
    Text(Cow<'a, str>),
}

impl Scalar<'_> {
    fn raw(&self) -> Option<&str> {
        match self {
            Scalar::Absent => None,
            Scalar::Text(text) => Some(text),
        }
    }

    /// The trimmed text, `None` when blank.
    fn text(&self) -> Option<&str> {
        self.raw().map(str::trim).filter(|s| !s.is_empty())
    }

    fn boxed(self) -> Option<Box<str>> {
        match self {
            Scalar::Text(Cow::Owned(text)) if text.trim().len() == text.len() => {
                Some(text.into_boxed_str())
            }
            other => other.text().map(Box::from),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }

            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Absent)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Absent)
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// An object read leniently: missing (or `null`), an object of the expected shape, or something else (named).
#[derive(Debug, Default)]
enum Loose<T> {
    #[default]
    Missing,
    Ok(T),
    Bad(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LooseVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for LooseVisitor<T> {
            type Value = Loose<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Loose::Ok)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Bad("an array"))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Loose<T>, E> {
                Ok(Loose::Bad("a string"))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose<T>, E> {
                Ok(Loose::Bad("a number"))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose<T>, E> {
                Ok(Loose::Bad("a number"))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<T>, E> {
                Ok(Loose::Bad("a number"))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<T>, E> {
                Ok(Loose::Bad("a boolean"))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Loose<T>, E> {
                Ok(Loose::Missing)
            }

            fn visit_none<E: de::Error>(self) -> Result<Loose<T>, E> {
                Ok(Loose::Missing)
            }
        }

        deserializer.deserialize_any(LooseVisitor(PhantomData))
    }
}

/// An array of objects read leniently (`null` or absent is empty; anything else than an array is noted).
#[derive(Debug)]
struct Many<T> {
    items: Vec<Loose<T>>,
    bad: Option<&'static str>,
}

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many {
            items: Vec::new(),
            bad: None,
        }
    }
}

impl<T> Many<T> {
    /// Something else than an array.
    fn bad(found: &'static str) -> Self {
        Many {
            items: Vec::new(),
            bad: Some(found),
        }
    }

    /// The well-formed objects.
    fn objects(&self) -> impl Iterator<Item = &T> {
        self.items.iter().filter_map(|item| match item {
            Loose::Ok(t) => Some(t),
            _ => None,
        })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Many<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ManyVisitor<T> {
            type Value = Many<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Many<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Loose<T>>()? {
                    items.push(item);
                }
                Ok(Many { items, bad: None })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Many<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Many::bad("an object"))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Many<T>, E> {
                Ok(Many::bad("a string"))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Many<T>, E> {
                Ok(Many::bad("a number"))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Many<T>, E> {
                Ok(Many::bad("a number"))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Many<T>, E> {
                Ok(Many::bad("a number"))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Many<T>, E> {
                Ok(Many::bad("a boolean"))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Many<T>, E> {
                Ok(Many::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<Many<T>, E> {
                Ok(Many::default())
            }
        }

        deserializer.deserialize_any(ManyVisitor(PhantomData))
    }
}

/// One `pmej` element (legal entity and its sites). Other keys are skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPmej<'a> {
    #[serde(rename = "informationsGeneralesPMEJ", borrow)]
    info: Loose<RawPmejInfo<'a>>,
    #[serde(rename = "adresse", borrow)]
    addresses: Many<RawAddress<'a>>,
    #[serde(rename = "contact", borrow)]
    contacts: Many<RawContact<'a>>,
    #[serde(rename = "ege", borrow)]
    sites: Many<RawEge<'a>>,
    #[serde(rename = "etatObjet", borrow)]
    state: Scalar<'a>,
    #[serde(rename = "dateDerniereMaj", borrow)]
    updated: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPmejInfo<'a> {
    #[serde(rename = "numFinessPm", borrow)]
    finess: Scalar<'a>,
    #[serde(rename = "denominationPm", borrow)]
    name: Scalar<'a>,
    #[serde(rename = "denominationLonguePmSmsse", borrow)]
    long_name: Scalar<'a>,
    #[serde(rename = "siren", borrow)]
    siren: Scalar<'a>,
    #[serde(rename = "codeApe", borrow)]
    ape: Scalar<'a>,
    #[serde(rename = "dateCreation", borrow)]
    created: Scalar<'a>,
    #[serde(rename = "dateFermeture", borrow)]
    closed: Scalar<'a>,
    #[serde(rename = "statutJuridique", borrow)]
    legal_status: Scalar<'a>,
    #[serde(rename = "categorieentiteGeographiqueExercice", borrow)]
    category: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawEge<'a> {
    #[serde(rename = "informationsGeneralesEGE", borrow)]
    info: Loose<RawEgeInfo<'a>>,
    #[serde(rename = "categorieentiteGeographiqueExercice", borrow)]
    category: Scalar<'a>,
    #[serde(rename = "adresse", borrow)]
    addresses: Many<RawAddress<'a>>,
    #[serde(rename = "contact", borrow)]
    contacts: Many<RawContact<'a>>,
    #[serde(rename = "etatObjet", borrow)]
    state: Scalar<'a>,
    #[serde(rename = "dateDerniereMaj", borrow)]
    updated: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawEgeInfo<'a> {
    #[serde(rename = "numFinessEge", borrow)]
    finess: Scalar<'a>,
    #[serde(rename = "nomEgeCourt", borrow)]
    name: Scalar<'a>,
    #[serde(rename = "nomEgeLong", borrow)]
    long_name: Scalar<'a>,
    #[serde(rename = "complementDenominationEg", borrow)]
    name_complement: Scalar<'a>,
    #[serde(rename = "dateOuverture", borrow)]
    opened: Scalar<'a>,
    #[serde(rename = "datePremiereAutorisation", borrow)]
    authorized: Scalar<'a>,
    #[serde(rename = "dateFermeture", borrow)]
    closed: Scalar<'a>,
    #[serde(rename = "siret", borrow)]
    siret: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAddress<'a> {
    #[serde(rename = "numeroVoie", borrow)]
    number: Scalar<'a>,
    #[serde(rename = "complementVoie", borrow)]
    number_suffix: Scalar<'a>,
    #[serde(rename = "typeVoie", borrow)]
    street_type: Scalar<'a>,
    #[serde(rename = "libelleVoie", borrow)]
    street: Scalar<'a>,
    #[serde(rename = "complementPointGeographique", borrow)]
    complement: Scalar<'a>,
    #[serde(rename = "lieuDit", borrow)]
    locality: Scalar<'a>,
    #[serde(rename = "cogCommune", borrow)]
    commune: Scalar<'a>,
    #[serde(rename = "ligneAcheminement", borrow)]
    town: Scalar<'a>,
    #[serde(rename = "codePostal", borrow)]
    postal_code: Scalar<'a>,
    #[serde(rename = "coordonneesGeographique", borrow)]
    coordinates: Loose<RawCoordinates<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawCoordinates<'a> {
    #[serde(rename = "coordonneeX", borrow)]
    x: Scalar<'a>,
    #[serde(rename = "coordonneeY", borrow)]
    y: Scalar<'a>,
    #[serde(rename = "directionLatitude", borrow)]
    lat: Scalar<'a>,
    #[serde(rename = "directionLongitude", borrow)]
    lon: Scalar<'a>,
    #[serde(rename = "cleInInteropBAN", borrow)]
    ban_key: Scalar<'a>,
    #[serde(rename = "scoreBAN", borrow)]
    ban_score: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawContact<'a> {
    #[serde(borrow)]
    telecom: Loose<RawTelecom<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawTelecom<'a> {
    #[serde(borrow)]
    telephone: Scalar<'a>,
    #[serde(rename = "telecopie", borrow)]
    fax: Scalar<'a>,
}

impl State {
    /// The outcome, once the whole document is read.
    fn finish(self, header: stream::Header, gzip: bool) -> ImportOutcome {
        ImportOutcome::new(
            self.dataset,
            self.geolocations,
            self.rejected,
            SourceInfo {
                format: SourceFormat::FinessPlusJson,
                version: header.version,
                generated: header.generated,
                encoding: None,
                gzip,
            },
        )
    }

    fn reject(&mut self, (path, kind, reason): Refusal) {
        self.rejected.push(Rejected {
            at: Location::Path(path),
            kind,
            reason,
        });
    }

    /// Maps one `pmej` element on this thread and applies it (the one-pass reader of the tests).
    #[cfg(test)]
    fn pmej(&mut self, index: usize, element: Loose<RawPmej<'_>>) {
        let mapped = self.mapper.pmej(index, element);
        self.apply(mapped);
    }

    /// Keeps the records of one mapped element, in document order: a legal entity or establishment number
    /// already kept is rejected (the first is kept); the sites of a repeated legal entity are still read (they
    /// belong to the one kept).
    fn apply(&mut self, mapped: Mapped) {
        let path = At {
            pmej: mapped.index,
            ege: None,
        };
        let entity = match mapped.entity {
            Ok(entity) => entity,
            Err(refusals) => {
                refusals.into_iter().for_each(|r| self.reject(r));
                return;
            }
        };
        let finess = entity.finess;
        if self.entities.insert(finess) {
            self.dataset.entities.push(entity);
        } else {
            self.reject((
                format!("{path}.informationsGeneralesPMEJ.numFinessPm"),
                RejectKind::Duplicate,
                format!("legal entity {finess} already seen (first kept)"),
            ));
        }
        if let Some(refusal) = mapped.sites_bad {
            self.reject(refusal);
        }
        for (j, site) in mapped.sites.into_iter().enumerate() {
            match site {
                Ok(site) if self.establishments.insert(site.finess) => {
                    self.geolocations += usize::from(site.coordinates.is_some());
                    self.dataset.establishments.push(site);
                }
                Ok(site) => {
                    let path = At {
                        pmej: mapped.index,
                        ege: Some(j),
                    };
                    self.reject((
                        format!("{path}.informationsGeneralesEGE.numFinessEge"),
                        RejectKind::Duplicate,
                        format!("establishment {} already seen (first kept)", site.finess),
                    ));
                }
                Err(refusal) => self.reject(refusal),
            }
        }
    }
}

impl Mapper {
    /// Maps one `pmej` element.
    fn pmej(&mut self, index: usize, element: Loose<RawPmej<'_>>) -> Mapped {
        let path = At {
            pmej: index,
            ege: None,
        };
        let rejected = |refusals| Mapped {
            index,
            entity: Err(refusals),
            sites_bad: None,
            sites: Vec::new(),
        };
        let raw = match element {
            Loose::Ok(raw) => raw,
            Loose::Missing => {
                return rejected(vec![(
                    path.to_string(),
                    RejectKind::NotAnObject,
                    "null instead of a legal entity".into(),
                )]);
            }
            Loose::Bad(found) => {
                return rejected(vec![(
                    path.to_string(),
                    RejectKind::NotAnObject,
                    format!("{found} instead of a legal entity object"),
                )]);
            }
        };
        let entity = match self.entity(path, &raw) {
            Ok(entity) => entity,
            Err(refusal) => {
                let orphans = (0..raw.sites.items.len()).map(|j| {
                    (
                        format!("{path}.ege[{j}]"),
                        RejectKind::OrphanEstablishment,
                        format!("its legal entity {path} was rejected"),
                    )
                });
                return rejected(std::iter::once(refusal).chain(orphans).collect());
            }
        };
        let sites_bad = raw.sites.bad.map(|found| {
            (
                format!("{path}.ege"),
                RejectKind::NotAnObject,
                format!("{found} instead of the array of sites"),
            )
        });
        let sites = raw
            .sites
            .items
            .iter()
            .enumerate()
            .map(|(j, site)| {
                let site_path = At {
                    pmej: index,
                    ege: Some(j),
                };
                self.establishment(site_path, site, entity.finess)
            })
            .collect();
        Mapped {
            index,
            entity: Ok(entity),
            sites_bad,
            sites,
        }
    }

    /// The legal entity of a `pmej` element, or why not.
    fn entity(&mut self, path: At, raw: &RawPmej<'_>) -> Result<LegalEntity, Refusal> {
        let info = match &raw.info {
            Loose::Ok(info) => info,
            Loose::Missing => {
                return Err((
                    format!("{path}.informationsGeneralesPMEJ"),
                    RejectKind::NotAnObject,
                    "missing".into(),
                ));
            }
            Loose::Bad(found) => {
                return Err((
                    format!("{path}.informationsGeneralesPMEJ"),
                    RejectKind::NotAnObject,
                    format!("{found} instead of an object"),
                ));
            }
        };
        let finess = finess(&info.finess).map_err(|reason| {
            (
                format!("{path}.informationsGeneralesPMEJ.numFinessPm"),
                RejectKind::BadFiness,
                reason,
            )
        })?;
        let mut line = String::new();
        let (address, _) = self.address(&raw.addresses, &finess, &mut line);
        let (phone, _) = telecom(&raw.contacts);
        let category = info.category.text();
        let closed = info.closed.text();
        let text = LegalEntityText {
            name: info.name.text().unwrap_or_default(),
            long_name: info.long_name.text(),
            name_complement: None,
            address,
            phone,
            legal_status: info
                .legal_status
                .text()
                .map(|code| LegalStatus { code, label: None }),
            category,
            category_label: category.and_then(Category::lookup).map(|c| c.label),
            siren: info.siren.text(),
            ape: info.ape.text(),
            created: info.created.text(),
            updated: raw.updated.text(),
            closed,
        };
        let mut entity = LegalEntity::new(finess, &text).map_err(|e| {
            (
                format!("{path}.informationsGeneralesPMEJ"),
                RejectKind::BadValue,
                e.to_string(),
            )
        })?;
        entity.active = is_active(&raw.state, closed.is_some());
        Ok(entity)
    }

    fn establishment(
        &mut self,
        path: At,
        site: &Loose<RawEge<'_>>,
        entity: Finess,
    ) -> Result<Establishment, Refusal> {
        let raw = match site {
            Loose::Ok(raw) => raw,
            Loose::Missing => {
                return Err((
                    path.to_string(),
                    RejectKind::NotAnObject,
                    "null instead of a site".into(),
                ));
            }
            Loose::Bad(found) => {
                return Err((
                    path.to_string(),
                    RejectKind::NotAnObject,
                    format!("{found} instead of a site object"),
                ));
            }
        };
        let info = match &raw.info {
            Loose::Ok(info) => info,
            Loose::Missing => {
                return Err((
                    format!("{path}.informationsGeneralesEGE"),
                    RejectKind::NotAnObject,
                    "missing".into(),
                ));
            }
            Loose::Bad(found) => {
                return Err((
                    format!("{path}.informationsGeneralesEGE"),
                    RejectKind::NotAnObject,
                    format!("{found} instead of an object"),
                ));
            }
        };
        let finess = finess(&info.finess).map_err(|reason| {
            (
                format!("{path}.informationsGeneralesEGE.numFinessEge"),
                RejectKind::BadFiness,
                reason,
            )
        })?;
        let mut line = String::new();
        let (address, coordinates) = self.address(&raw.addresses, &finess, &mut line);
        let (phone, fax) = telecom(&raw.contacts);
        let category = raw.category.text();
        let closed = info.closed.text();
        let text = EstablishmentText {
            name: info.name.text().unwrap_or_default(),
            long_name: info.long_name.text(),
            name_complement: info.name_complement.text(),
            category,
            category_label: category.and_then(Category::lookup).map(|c| c.label),
            aggregate_category: None,
            aggregate_category_label: None,
            address,
            phone,
            fax,
            siret: info.siret.text(),
            ape: None,
            opened: info.opened.text(),
            authorized: info.authorized.text(),
            updated: raw.updated.text(),
            closed,
        };
        let mut site = Establishment::new(finess, entity, &text).map_err(|e| {
            (
                format!("{path}.informationsGeneralesEGE"),
                RejectKind::BadValue,
                e.to_string(),
            )
        })?;
        site.active = is_active(&raw.state, closed.is_some());
        site.coordinates = coordinates;
        Ok(site)
    }

    /// The first address, and its coordinates; `line` holds the postal line when it is built from two values.
    fn address<'a>(
        &mut self,
        addresses: &'a Many<RawAddress<'a>>,
        finess: &Finess,
        line: &'a mut String,
    ) -> (Address<'a>, Option<Coordinates>) {
        let Some(raw) = addresses.objects().next() else {
            return (Address::default(), None);
        };
        let commune = raw.commune.text();
        let department = commune.and_then(department_of_cog);
        let code = raw
            .postal_code
            .text()
            .or_else(|| raw.town.text().and_then(postal_code_of));
        let postal_line = match (code, raw.town.text()) {
            (Some(code), Some(town)) if !town.starts_with(code) => {
                line.push_str(code);
                line.push(' ');
                line.push_str(town);
                Some(&**line)
            }
            (_, Some(town)) => Some(town),
            (Some(code), None) => Some(code),
            (None, None) => None,
        };
        let overseas = match department {
            Some(dep) => dep.starts_with("97"),
            None => matches!(&finess.as_str()[..2], "97" | "98"),
        };
        let coordinates = match &raw.coordinates {
            Loose::Ok(c) => self.coordinates(c, overseas),
            _ => None,
        };
        let address = Address {
            number: raw.number.text(),
            number_suffix: raw.number_suffix.text(),
            street_type: raw.street_type.text(),
            street: raw.street.text(),
            complement: raw.complement.text(),
            locality: raw.locality.text(),
            postal_code: code,
            postal_line,
            commune,
            department,
            department_label: None,
        };
        (address, coordinates)
    }

    fn coordinates(&mut self, raw: &RawCoordinates<'_>, overseas: bool) -> Option<Coordinates> {
        let number = |s: &Scalar| {
            s.text()
                .and_then(|t| t.replace(',', ".").parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let (mut x, mut y) = (number(&raw.x), number(&raw.y));
        if let (false, Some(a), Some(b)) = (overseas, x, y)
            && a > b
        {
            (x, y) = (Some(b), Some(a));
        }
        let lat = number(&raw.lat).filter(|v| (-90.0..=90.0).contains(v));
        let lon = number(&raw.lon).filter(|v| (-180.0..=180.0).contains(v));
        let (lon, lat) = match (lon, lat, x, y) {
            (Some(lon), Some(lat), _, _) => (Some(lon), Some(lat)),
            (_, _, Some(x), Some(y)) if !overseas => match lambert93_to_wgs84(x, y) {
                Some((lon, lat)) => (Some(lon), Some(lat)),
                None => (None, None),
            },
            _ => (None, None),
        };
        if x.is_none() && y.is_none() && lon.is_none() {
            return None;
        }
        let geocoded = raw.ban_key.text().is_some() || raw.ban_score.text().is_some();
        Some(Coordinates {
            x,
            y,
            source: geocoded.then(|| self.interner.intern("BAN")),
            lon,
            lat,
            updated: None,
        })
    }
}

/// The first telephone and the first fax of the contacts.
fn telecom<'a>(contacts: &'a Many<RawContact<'a>>) -> (Option<&'a str>, Option<&'a str>) {
    let mut phone = None;
    let mut fax = None;
    for contact in contacts.objects() {
        if let Loose::Ok(telecom) = &contact.telecom {
            phone = phone.or_else(|| telecom.telephone.text());
            fax = fax.or_else(|| telecom.fax.text());
        }
    }
    (phone, fax)
}

fn finess(value: &Scalar<'_>) -> Result<Finess, String> {
    match value.text() {
        None => Err("missing".into()),
        Some(text) => Finess::parse(text).map_err(|e| {
            let shown: String = text.chars().take(40).collect();
            format!("{shown:?}: {e}")
        }),
    }
}

/// The department of a COG commune code: `01053` → `01`, `2A004` → `2A`, `97105` → `971`.
fn department_of_cog(cog: &str) -> Option<&str> {
    if cog.len() != 5 || !cog.is_ascii() {
        return None;
    }
    if cog.starts_with("97") || cog.starts_with("98") {
        cog.get(..3)
    } else {
        cog.get(..2)
    }
}

/// `etatObjet` (`TRE_R386`): `A` active, `I` inactive; otherwise, active unless a closing date is given.
fn is_active(state: &Scalar<'_>, has_closing_date: bool) -> bool {
    match state.text() {
        Some("A") => true,
        Some("I") => false,
        _ => !has_closing_date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finess::model::Counts;
    use std::io::Write;

    const SAMPLE: &str = include_str!("../../tests/data/finess/sample.json");

    fn import(bytes: &[u8]) -> ImportOutcome {
        import_json(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn records_too_long_to_hold_are_rejected_with_their_size() {
        let long = "X".repeat(70_000);
        let entity = SAMPLE.replacen("CCAS DE DIVONNE", &long, 1);
        let site = SAMPLE.replacen("EHPAD LES GLYCINES MARSEILLE", &long, 1);
        let before = import(SAMPLE.as_bytes());
        for (text, path, kind) in [
            (&entity, "informationsGeneralesPMEJ", "legal entity"),
            (&site, "informationsGeneralesEGE", "site"),
        ] {
            let outcome = import(text.as_bytes());
            let too_long: Vec<&Rejected> = outcome
                .rejected
                .iter()
                .filter(|r| r.kind == RejectKind::BadValue && r.reason.contains("65,535"))
                .collect();
            let [rejected] = too_long[..] else {
                panic!("{kind}: {:?}", outcome.rejected)
            };
            assert!(rejected.at.to_string().ends_with(path), "{}", rejected.at);
            assert!(outcome.dataset.len() < before.dataset.len(), "{kind}");
        }
    }

    fn paths(outcome: &ImportOutcome) -> Vec<(String, RejectKind)> {
        outcome
            .rejected
            .iter()
            .map(|r| (r.at.to_string(), r.kind))
            .collect()
    }

    #[test]
    fn sample_counts_and_rejections() {
        let outcome = import(SAMPLE.as_bytes());
        assert_eq!(
            outcome.counts,
            Counts {
                establishments: 5,
                entities: 4,
                geolocations: 4
            }
        );
        assert_eq!(
            paths(&outcome),
            vec![
                (
                    "pmej[1].ege[1].informationsGeneralesEGE.numFinessEge".to_owned(),
                    RejectKind::BadFiness
                ),
                ("pmej[1].ege[2]".to_owned(), RejectKind::NotAnObject),
                (
                    "pmej[2].informationsGeneralesPMEJ.numFinessPm".to_owned(),
                    RejectKind::BadFiness
                ),
                ("pmej[2].ege[0]".to_owned(), RejectKind::OrphanEstablishment),
                ("pmej[3]".to_owned(), RejectKind::NotAnObject),
                (
                    "pmej[4].informationsGeneralesPMEJ".to_owned(),
                    RejectKind::NotAnObject
                ),
                (
                    "pmej[6].ege[0].informationsGeneralesEGE.numFinessEge".to_owned(),
                    RejectKind::Duplicate
                ),
            ],
            "{:#?}",
            outcome.rejected
        );
        assert!(
            outcome.rejected[0].reason.contains("key"),
            "{}",
            outcome.rejected[0].reason
        );
        assert!(outcome.rejected[1].reason.contains("a string"));
        assert!(
            outcome.rejected[2].reason.contains("length")
                || outcome.rejected[2].reason.contains("9")
        );
        assert_eq!(outcome.source.version.as_deref(), Some("v1.0.0"));
        assert_eq!(
            outcome.source.generated.as_deref(),
            Some("2026-03-09T15:49:37.615611300Z")
        );
        assert_eq!(outcome.source.format, SourceFormat::FinessPlusJson);
    }

    #[test]
    fn sample_fields() {
        let outcome = import(SAMPLE.as_bytes());
        let data = &outcome.dataset;
        let ej = &data.entities[0];
        assert_eq!(ej.finess.as_str(), "010009017");
        assert_eq!(ej.name(), "CCAS DE DIVONNE");
        assert_eq!(ej.legal_status().map(|s| s.code), Some("17"));
        assert_eq!(ej.text().siren, Some("269901001"));
        assert_eq!(ej.address().postal_line, Some("01220 DIVONNE LES BAINS"));
        assert_eq!(ej.address().department, Some("01"));
        assert_eq!(ej.phone(), Some("0450990001"));
        assert!(ej.active);

        let et = data
            .establishments
            .iter()
            .find(|e| e.finess.as_str() == "010009025")
            .unwrap();
        assert_eq!(et.entity, ej.finess);
        // Padding trimmed.
        assert_eq!(et.name(), "EHPAD « LES GLYCINES »");
        assert_eq!(
            et.long_name(),
            Some("EHPAD \"Les Glycines\"; résidence de l'Étang")
        );
        assert_eq!(et.category(), Some("500"));
        assert_eq!(
            et.category_label(),
            Some("Etablissement d'hébergement pour personnes âgées dépendantes")
        );
        assert_eq!(et.address().street_type, Some("R"));
        assert_eq!(et.address().commune, Some("01143"));
        assert_eq!(et.address().locality, Some("BP 12"));
        assert_eq!(et.text().fax, Some("0450990002"));
        assert_eq!(et.text().siret, Some("26990100100015"));
        assert_eq!(et.text().opened, Some("1994-01-01"));
        // Swapped X/Y put back, latitude/longitude from the file.
        let c = et.coordinates.as_ref().unwrap();
        assert_eq!((c.x, c.y), (Some(941_342.52), Some(6_589_480.53)));
        assert_eq!((c.lon, c.lat), (Some(6.139_885), Some(46.362_063)));
        assert_eq!(c.source.as_deref(), Some("BAN"));
        assert!(et.active);

        // No latitude/longitude: computed from the (swapped back) Lambert-93 X/Y.
        let corsica = data
            .establishments
            .iter()
            .find(|e| e.finess.as_str() == "2A0009031")
            .unwrap();
        assert_eq!(corsica.department_code(), "2A");
        let c = corsica.coordinates.as_ref().unwrap();
        assert_eq!((c.x, c.y), (Some(1_176_526.6), Some(6_108_263.0)));
        let (lon, lat) = (c.lon.unwrap(), c.lat.unwrap());
        assert!((8.7..8.8).contains(&lon) && (41.9..42.0).contains(&lat));
        assert_eq!(c.source, None);

        // Overseas: X/Y as given, latitude/longitude from the file.
        let guyane = data
            .establishments
            .iter()
            .find(|e| e.finess.as_str() == "970309043")
            .unwrap();
        let c = guyane.coordinates.as_ref().unwrap();
        assert_eq!((c.x, c.y), (Some(352_000.0), Some(545_000.0)));
        assert_eq!((c.lon, c.lat), (Some(-52.33), Some(4.93)));
        assert_eq!(guyane.department_code(), "973");

        // Closed site.
        let closed = data
            .establishments
            .iter()
            .find(|e| e.finess.as_str() == "130009053")
            .unwrap();
        assert!(!closed.active);
        assert_eq!(closed.text().closed, Some("2020-10-27"));
        assert_eq!(closed.coordinates, None);
        // A number given as a JSON number is read as text (and here it is a valid one).
        assert!(
            data.establishments
                .iter()
                .any(|e| e.finess.as_str() == "690009071")
        );
    }

    #[test]
    fn gzip_gives_the_same() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(SAMPLE.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let zipped = import(&gz);
        let plain = import(SAMPLE.as_bytes());
        assert!(zipped.source.gzip && !plain.source.gzip);
        assert_eq!(zipped.dataset, plain.dataset);
        assert_eq!(import_json_bytes(&gz, 2).unwrap(), zipped);
        assert_eq!(zipped.rejected, plain.rejected);
        // Two gzip members, as `cat a.gz b.gz` gives: read to the end (the second is only whitespace here).
        let mut two = gz.clone();
        let mut tail = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        tail.write_all(b"  \n").unwrap();
        two.extend(tail.finish().unwrap());
        assert_eq!(import(&two).dataset, plain.dataset);
        // Cut short: an error, not a panic.
        let err = import_json(&gz[..gz.len() / 2]).unwrap_err();
        assert!(
            matches!(err, JsonImportError::Io(_) | JsonImportError::Json { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn fatal_errors() {
        assert!(matches!(
            import_json(&b""[..]),
            Err(JsonImportError::Json { .. })
        ));
        assert!(matches!(
            import_json(&b"[]"[..]),
            Err(JsonImportError::Json { .. })
        ));
        assert!(matches!(
            import_json(&br#"{"schemaVersion":"v1.0.0","gcc":[]}"#[..]),
            Err(JsonImportError::MissingPmej)
        ));
        assert!(matches!(
            import_json(&br#"{"pmej":{}}"#[..]),
            Err(JsonImportError::Json { .. })
        ));
        assert!(matches!(
            import_json(&br#"{"pmej":[]} x"#[..]),
            Err(JsonImportError::Json { .. })
        ));
        let err = import_json(&br#"{"pmej":[{"informationsGeneralesPMEJ":{"numFinessPm":"010009017","numFinessPm":"x"}}]}"#[..])
            .unwrap_err();
        assert!(err.to_string().contains("pmej[0]"), "{err}");
        let err = import_json(&br#"{"pmej":[{},"#[..]).unwrap_err();
        assert!(matches!(err, JsonImportError::Json { .. }), "{err:?}");
    }

    #[test]
    fn odd_but_valid_json_is_rejected_per_record() {
        let outcome = import(
            br#"{"pmej":[null, 1, true, [], {"informationsGeneralesPMEJ":[]},
                {"informationsGeneralesPMEJ":{"numFinessPm":null}},
                {"informationsGeneralesPMEJ":{"numFinessPm":"010009017"},"ege":{"x":1},"adresse":"rue",
                 "contact":[1,{"telecom":"x"}],"etatObjet":{"a":[1,2]}},
                {"informationsGeneralesPMEJ":{"numFinessPm":"010009017"},"ege":[{"informationsGeneralesEGE":{}}]}],
               "gcc":[{"deep":[[[{"a":1}]]]}]}"#,
        );
        assert_eq!(outcome.counts.entities, 1);
        assert_eq!(outcome.counts.establishments, 0);
        let kinds: Vec<RejectKind> = outcome.rejected.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![
                RejectKind::NotAnObject,
                RejectKind::NotAnObject,
                RejectKind::NotAnObject,
                RejectKind::NotAnObject,
                RejectKind::NotAnObject,
                RejectKind::BadFiness,
                RejectKind::NotAnObject,
                RejectKind::Duplicate,
                RejectKind::BadFiness,
            ],
            "{:#?}",
            outcome.rejected
        );
        assert_eq!(outcome.rejected[6].at.to_string(), "pmej[6].ege");
        assert_eq!(
            outcome.rejected[8].at.to_string(),
            "pmej[7].ege[0].informationsGeneralesEGE.numFinessEge"
        );
    }

    #[test]
    fn corrupted_input_never_panics() {
        let bytes = SAMPLE.as_bytes();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..400 {
            let mut copy = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % copy.len() as u64) as usize;
                copy[at] = match next() % 6 {
                    0 => b'"',
                    1 => b'{',
                    2 => b']',
                    3 => b'1',
                    4 => 0xe9,
                    _ => (next() >> 56) as u8,
                };
            }
            let cut = (next() % copy.len() as u64) as usize;
            same_as_one_pass(&copy);
            same_as_one_pass(&copy[..cut]);
        }
    }

    /// The reader this module had before [`stream`]: serde_json walking the whole document in one pass.
    fn one_pass(bytes: &[u8]) -> Result<ImportOutcome, JsonImportError> {
        let mut state = State::default();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let header = Document { state: &mut state }.deserialize(&mut de)?;
        de.end()?;
        if !header.pmej {
            return Err(JsonImportError::MissingPmej);
        }
        Ok(state.finish(header, false))
    }

    /// The streamed reader on 1 and 2 threads gives what the one-pass reader gives: the same outcome, or an error
    /// of the same kind.
    fn same_as_one_pass(bytes: &[u8]) {
        let reference = one_pass(bytes);
        for (threads, whole) in [(1, false), (2, false), (1, true), (2, true)] {
            let streamed = if whole {
                import_json_bytes(bytes, threads)
            } else {
                import_json_on(bytes, threads)
            };
            match (&reference, &streamed) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{threads} threads, whole {whole}"),
                (Err(a), Err(b)) => assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "{threads} threads, whole {whole}: {a} / {b}"
                ),
                (a, b) => panic!(
                    "{threads} threads, whole {whole}, input {:?}: one pass {a:?}, streamed {b:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                ),
            }
        }
    }

    #[test]
    fn streamed_reader_matches_one_pass_reader() {
        same_as_one_pass(SAMPLE.as_bytes());
        // Several batches, so that elements are parsed out of order and mapped in order.
        let mut big = Vec::new();
        crate::finess::synth::write_json(&mut big, 3000, 3000, 7).unwrap();
        assert!(big.len() > 2 * stream::BATCH, "{}", big.len());
        same_as_one_pass(&big);
        for odd in [
            &br#"  {"pmej" : [ ] , "schemaVersion":"v1" }  "#[..],
            br#"{"gcc":[{"a":"\"}]}],"pmej":[]}"#,
            br#"{"gcc":[{"a":"\""}],"pmej":[]}"#,
            br#"{"pmej":[{"informationsGeneralesPMEJ":{"numFinessPm":"010009017","denominationPm":"A \"B\" C"}}]}"#,
            br#"{"pmej":[1,]}"#,
            br#"{"pmej":[1 2]}"#,
            br#"{"pmej":[],}"#,
            br#"{"pmej":[]"#,
            br#"{"pmej":["#,
            br#"{"pmej":[{"a":"b}]}"#,
            br#"{"pmej":[{"a":[}]}"#,
            br#"{"pmej":[{"a":1}}]}"#,
            br#"{"pmej":null}"#,
            br#"{"pmej":"x"}"#,
            br#"{"p\u006dej":[]}"#,
            br#"{pmej:[]}"#,
            br#"{"pmej"[]}"#,
            br#"{"pmej":[tru]}"#,
            br#"{"generatedAt":{"x":1},"pmej":[]}"#,
            b"{\"pmej\":[\"\xff\"]}",
            b"",
            b"   ",
            b"[]",
            b"nul",
        ] {
            same_as_one_pass(odd);
        }
    }

    #[test]
    fn errors_give_the_file_line_and_column() {
        let text =
            "{\"pmej\": [\n  {},\n  {\"informationsGeneralesPMEJ\": {\"numFinessPm\": tru}}\n]}";
        for (threads, whole) in [(1, false), (2, false), (1, true), (2, true)] {
            let err = if whole {
                import_json_bytes(text.as_bytes(), threads).unwrap_err()
            } else {
                import_json_on(text.as_bytes(), threads).unwrap_err()
            };
            let JsonImportError::Json {
                line,
                column,
                message,
            } = &err
            else {
                panic!("{err:?}");
            };
            // Same place as serde_json on the whole document.
            let whole = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
            assert_eq!((*line, *column), (whole.line(), whole.column()), "{err}");
            assert!(message.starts_with("pmej[1]: "), "{message}");
            assert!(!message.contains(" at line "), "{message}");
        }
        let err = import_json_on(&b"{\"pmej\":[1]}\n x"[..], 2).unwrap_err();
        assert!(
            matches!(
                err,
                JsonImportError::Json {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn cog_departments() {
        assert_eq!(department_of_cog("01053"), Some("01"));
        assert_eq!(department_of_cog("2A004"), Some("2A"));
        assert_eq!(department_of_cog("97105"), Some("971"));
        assert_eq!(department_of_cog("9710"), None);
        assert_eq!(department_of_cog("é1234"), None);
    }
}

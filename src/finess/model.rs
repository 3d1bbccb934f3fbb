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
//! - text unique to a record (names, street, phone, SIRET) is a `Box<str>` (no spare capacity);
//! - text repeated across records (codes, labels, dates, localities, street types) is a [`Label`]: one shared
//!   copy per distinct value, a one-word pointer in each record. The importers intern these values while reading;
//! - absent values are `None` (a niche: no extra space), empty or blank input fields become `None`.
//!
//! Serialization (for the API) writes every field, `null` when absent, so the JSON shape never varies.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;

use serde::Serialize;

use super::id::Finess;

/// A piece of text shared by many records (a code, a label, a date, a locality), cheap to clone.
///
/// One pointer wide: `Option<Label>` costs 8 bytes in a record, whatever the length of the text. The pointer leads
/// to one block holding the reference count, the length and the text (`arcstr::ArcStr`): one allocation per
/// distinct value, one hop to read it. (An `Arc<String>` took two of each. The swap did not change import speed
/// measurably, because the interners' cost is the cache miss on the label's block, which any layout has; `segur
/// serve` holds 1.5 MB less.)
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(arcstr::ArcStr);

impl Label {
    /// A label holding `text` (not shared with anything yet; importers share through their interner).
    pub fn new(text: &str) -> Label {
        Label(arcstr::ArcStr::from(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Label {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Label {
    fn borrow(&self) -> &str {
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

/// Postal address of a structure.
///
/// The legacy CSV and the FiNESS+ JSON split it the same way (AFNOR-like fields); both importers fill the same
/// fields, so an address reads the same whatever the source.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Address {
    /// Street number (`numvoie` / `numeroVoie`), e.g. `240`.
    pub number: Option<Label>,
    /// Repetition index after the number (`compvoie` / `complementVoie`), e.g. `B` for "bis".
    pub number_suffix: Option<Label>,
    /// Street type, abbreviated as FINESS writes it (`typvoie` / `typeVoie`), e.g. `R`, `AV`, `BD`.
    pub street_type: Option<Label>,
    /// Street name (`voie` / `libelleVoie`), e.g. `GUY DE MAUPASSANT`.
    pub street: Option<Box<str>>,
    /// Distribution complement (`compldistrib` / `complementPointGeographique`): building, entrance…
    pub complement: Option<Box<str>>,
    /// Lieu-dit or post-office box (`lieuditbp` / `lieuDit`), e.g. `BP 132`.
    pub locality: Option<Box<str>>,
    /// Postal code: the first five digits of `ligneacheminement` (CSV) or `codePostal` (JSON).
    pub postal_code: Option<Label>,
    /// Postal line, code then town, e.g. `01220 DIVONNE LES BAINS` (`ligneacheminement`; for the JSON,
    /// `codePostal` + `ligneAcheminement`).
    pub postal_line: Option<Label>,
    /// Commune, INSEE COG code when it can be told (`cogCommune`; for the CSV, `departement` + `commune` when the
    /// file gives the 3-digit code within a 2-character department, as is, otherwise).
    pub commune: Option<Label>,
    /// Department as the source writes it (`departement`; for the JSON, taken from the COG).
    pub department: Option<Label>,
    /// Department name (`libdepartement`; the JSON has none).
    pub department_label: Option<Label>,
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

/// Legal status of a legal entity (`statutjuridique` + `libstatutjuridique` / `statutJuridique`, nomenclature
/// `TRE_R400`/`TRE_R72`), e.g. `60` "Association Loi 1901 non Reconnue d'Utilité Publique".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegalStatus {
    /// The code.
    pub code: Label,
    /// The label, when the source gives it (the legacy CSV does, the JSON does not).
    pub label: Option<Label>,
}

/// An establishment (ET, "établissement géographique", EG/EGE in FiNESS+): a site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Establishment {
    /// Its FINESS number (`nofinesset` / `numFinessEge`).
    pub finess: Finess,
    /// The FINESS number of its legal entity (`nofinessej`; in the JSON, the enclosing `pmej`).
    pub entity: Finess,
    /// Short name (`rs` / `nomEgeCourt`); the long name when the source has no short one.
    pub name: Box<str>,
    /// Long name (`rslongue` / `nomEgeLong`).
    pub long_name: Option<Box<str>>,
    /// Name complement (`complrs` / `complementDenominationEg`).
    pub name_complement: Option<Box<str>>,
    /// Category code (`categetab` / `categorieentiteGeographiqueExercice`), e.g. `500`; see
    /// [`Category`](super::Category).
    pub category: Option<Label>,
    /// Category label (`libcategetab`; for the JSON, from the shipped category table).
    pub category_label: Option<Label>,
    /// Aggregate category code (`categagretab`; not in the JSON).
    pub aggregate_category: Option<Label>,
    /// Aggregate category label (`libcategagretab`).
    pub aggregate_category_label: Option<Label>,
    /// Postal address.
    pub address: Address,
    /// Telephone (`telephone` / first `contact[].telecom.telephone`).
    pub phone: Option<Box<str>>,
    /// Fax (`telecopie`).
    pub fax: Option<Box<str>>,
    /// SIRET (`siret`).
    pub siret: Option<Box<str>>,
    /// APE activity code (`codeape`; not in the JSON for sites).
    pub ape: Option<Label>,
    /// Opening date, `YYYY-MM-DD` (`dateouv` / `dateOuverture`).
    pub opened: Option<Label>,
    /// First authorisation date (`dateautor` / `datePremiereAutorisation`).
    pub authorized: Option<Label>,
    /// Last update (`datemaj` / `dateDerniereMaj`), as the source writes it.
    pub updated: Option<Label>,
    /// Closing date (`dateFermeture`; the legacy CSV only lists open establishments).
    pub closed: Option<Label>,
    /// Whether the establishment is open: always for the legacy CSV; for the JSON, `etatObjet` is `A`, or is
    /// absent or unknown with no closing date.
    pub active: bool,
    /// Position, when known (`geolocalisation` line / `adresse[].coordonneesGeographique`).
    pub coordinates: Option<Coordinates>,
}

/// A legal entity (EJ, "entité juridique", PM-EJ in FiNESS+), which owns establishments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegalEntity {
    /// Its FINESS number (`nofiness` / `numFinessPm`).
    pub finess: Finess,
    /// Short name (`rs` / `denominationPm`); the long name when the source has no short one.
    pub name: Box<str>,
    /// Long name (`rslongue` / `denominationLonguePmSmsse`).
    pub long_name: Option<Box<str>>,
    /// Name complement (`complrs`; not in the JSON).
    pub name_complement: Option<Box<str>>,
    /// Postal address (the JSON's first address).
    pub address: Address,
    /// Telephone.
    pub phone: Option<Box<str>>,
    /// Legal status.
    pub legal_status: Option<LegalStatus>,
    /// Category code (`categetab` / `categorieentiteGeographiqueExercice` of `informationsGeneralesPMEJ`).
    pub category: Option<Label>,
    /// Category label (`libcategetab`; for the JSON, from the shipped category table).
    pub category_label: Option<Label>,
    /// SIREN (`siren`).
    pub siren: Option<Box<str>>,
    /// APE activity code (`codeape` / `codeApe`).
    pub ape: Option<Label>,
    /// Creation date (`datecrea` / `dateCreation`).
    pub created: Option<Label>,
    /// Last update (`dateDerniereMaj`; the legacy CSV has none for legal entities).
    pub updated: Option<Label>,
    /// Closing date (`dateFermeture`).
    pub closed: Option<Label>,
    /// Whether the legal entity is active (see [`Establishment::active`]).
    pub active: bool,
}

/// The department a record belongs to, for filtering: the address's department when it is an INSEE code
/// (`01`…`95`, `2A`, `2B`, `971`…`976`), otherwise the one the FINESS number gives.
fn department_of<'a>(address: &'a Address, finess: &'a Finess) -> &'a str {
    match address.department.as_deref() {
        Some(dep) if is_insee_department(dep) => dep,
        _ => finess.department(),
    }
}

/// Whether `dep` is an INSEE department code (`01`…`95` but `20`, `2A`, `2B`, `971`…`976`).
pub(super) fn is_insee_department(dep: &str) -> bool {
    match dep.as_bytes() {
        [b'2', b'A' | b'B'] => true,
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => {
            let n = (a - b'0') * 10 + (b - b'0');
            matches!(n, 1..=19 | 21..=95)
        }
        [b'9', b'7', b'1'..=b'6'] => true,
        _ => false,
    }
}

impl Establishment {
    /// The department used for filters: see [`FinessIndex`](super::index::FinessIndex) (address first, then the
    /// FINESS number).
    pub fn department_code(&self) -> &str {
        department_of(&self.address, &self.finess)
    }
}

impl LegalEntity {
    /// The department used for filters (address first, then the FINESS number).
    pub fn department_code(&self) -> &str {
        department_of(&self.address, &self.finess)
    }
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
/// Uses a fast non-cryptographic hash: the input is the national file an operator imports, and the worst an
/// adversarial file can do is slow its own import down.
#[derive(Debug, Default)]
pub(super) struct Interner {
    set: HashSet<Label, FastHash>,
}

impl Interner {
    /// The shared label for `text`.
    pub(super) fn intern(&mut self, text: &str) -> Label {
        if let Some(label) = self.set.get(text) {
            return label.clone();
        }
        let label = Label::new(text);
        self.set.insert(label.clone());
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
        assert!(arcstr::ArcStr::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "EHPAD");
        assert_eq!(std::mem::size_of::<Option<Label>>(), 8);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"EHPAD\"");
    }

    #[test]
    fn departments() {
        for dep in ["01", "19", "21", "95", "2A", "2B", "971", "976"] {
            assert!(is_insee_department(dep), "{dep}");
        }
        for dep in ["00", "20", "96", "97", "9A", "977", "2C", "1", ""] {
            assert!(!is_insee_department(dep), "{dep}");
        }
        let finess = Finess::parse("970302287").unwrap();
        let mut address = Address::default();
        assert_eq!(department_of(&address, &finess), "973");
        address.department = Some(Label::new("9C"));
        assert_eq!(department_of(&address, &finess), "973");
        address.department = Some(Label::new("973"));
        assert_eq!(department_of(&address, &finess), "973");
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

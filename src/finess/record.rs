//! Legal entities (EJ) and establishments (ET/EG) as held in memory: typed keys, and every text field packed in
//! one allocation per record.
//!
//! # Why packed
//!
//! A record has about twenty-five text fields. Held one allocation each (`Box<str>`, or a shared label for
//! repeated values), reading the 100k + 100k synthetic national file spent more time allocating, checking and
//! interning fields than the `csv` crate spent finding them. Here a record's text is one `Box<str>`, the fields
//! side by side, and a `u16` per field says where it ends: an importer checks the record's bytes once, copies its
//! fields in one go, and makes one allocation. Reading a field is two loads and a slice.
//!
//! Measured with `cargo bench --bench finess`, alternating this layout's binary with the one before (four and two
//! runs on a noisy 2-core machine): CSV parse on two threads 166–284 ms against 319–364 ms; JSON parse 483–657 ms
//! against 717–718 ms; the process holding only the index 92 MB against 113 MB; `segur serve` once its index
//! answers 112 MB against 133 MB.
//!
//! The price: the fields are read through methods ([`Establishment::text`] gives them all at once, borrowed), and
//! repeated values (category labels, dates, towns) are stored in every record that has them rather than shared.
//! A record's fields may hold at most 65,535 bytes in all ([`RecordTooLong`]); real FINESS records hold a few
//! hundred, and the importers reject longer ones with the reason.
//!
//! Empty fields read as `None`: an importer passes trimmed text, and an empty value is the same as an absent one.

use std::fmt;

use serde::Serialize;

use super::id::Finess;
use super::model::Coordinates;

/// A record whose text fields hold more than 65,535 bytes in all (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the record's text fields hold {bytes} bytes, more than the 65,535 a record can hold")]
pub struct RecordTooLong {
    /// Bytes of text the record would hold.
    pub bytes: usize,
}

/// `N` text fields packed side by side: field `i` ends at `ends[i]` and starts where field `i - 1` ends.
#[derive(Clone, PartialEq, Eq)]
struct Packed<const N: usize> {
    text: Box<str>,
    ends: [u16; N],
}

impl<const N: usize> Packed<N> {
    /// Packs `fields` (absent and empty fields alike take no space), in one allocation of the exact size.
    fn new(fields: &[Option<&str>; N]) -> Result<Self, RecordTooLong> {
        let bytes: usize = fields.iter().flatten().map(|f| f.len()).sum();
        if bytes > usize::from(u16::MAX) {
            return Err(RecordTooLong { bytes });
        }
        let mut text = String::with_capacity(bytes);
        let mut ends = [0u16; N];
        for (end, field) in ends.iter_mut().zip(fields) {
            if let Some(field) = field {
                text.push_str(field);
            }
            // At most `bytes`, checked above.
            *end = u16::try_from(text.len()).unwrap_or(u16::MAX);
        }
        Ok(Packed {
            text: text.into_boxed_str(),
            ends,
        })
    }

    /// Field `i`; `None` when empty.
    fn get(&self, i: usize) -> Option<&str> {
        let start = match i.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        let end = *self.ends.get(i)?;
        self.text
            .get(usize::from(start)..usize::from(end))
            .filter(|field| !field.is_empty())
    }

    /// Field `i`, empty when absent.
    fn str(&self, i: usize) -> &str {
        self.get(i).unwrap_or_default()
    }
}

/// Number of text fields of an [`Address`].
const ADDRESS_FIELDS: usize = 11;
/// Where the department is among an [`Address`]'s fields (read alone for filters).
const ADDRESS_DEPARTMENT: usize = 9;

/// Postal address of a structure, borrowed from its record.
///
/// The legacy CSV and the FiNESS+ JSON split it the same way (AFNOR-like fields); both importers fill the same
/// fields, so an address reads the same whatever the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Address<'a> {
    /// Street number (`numvoie` / `numeroVoie`), e.g. `240`.
    pub number: Option<&'a str>,
    /// Repetition index after the number (`compvoie` / `complementVoie`), e.g. `B` for "bis".
    pub number_suffix: Option<&'a str>,
    /// Street type, abbreviated as FINESS writes it (`typvoie` / `typeVoie`), e.g. `R`, `AV`, `BD`.
    pub street_type: Option<&'a str>,
    /// Street name (`voie` / `libelleVoie`), e.g. `GUY DE MAUPASSANT`.
    pub street: Option<&'a str>,
    /// Distribution complement (`compldistrib` / `complementPointGeographique`): building, entrance…
    pub complement: Option<&'a str>,
    /// Lieu-dit or post-office box (`lieuditbp` / `lieuDit`), e.g. `BP 132`.
    pub locality: Option<&'a str>,
    /// Postal code: the first five digits of `ligneacheminement` (CSV) or `codePostal` (JSON).
    pub postal_code: Option<&'a str>,
    /// Postal line, code then town, e.g. `01220 DIVONNE LES BAINS` (`ligneacheminement`; for the JSON,
    /// `codePostal` + `ligneAcheminement`).
    pub postal_line: Option<&'a str>,
    /// Commune, INSEE COG code when it can be told (`cogCommune`; for the CSV, `departement` + `commune` when the
    /// file gives the 3-digit code within a 2-character department, as is, otherwise).
    pub commune: Option<&'a str>,
    /// Department as the source writes it (`departement`; for the JSON, taken from the COG).
    pub department: Option<&'a str>,
    /// Department name (`libdepartement`; the JSON has none).
    pub department_label: Option<&'a str>,
}

impl<'a> Address<'a> {
    fn fields(&self) -> [Option<&'a str>; ADDRESS_FIELDS] {
        [
            self.number,
            self.number_suffix,
            self.street_type,
            self.street,
            self.complement,
            self.locality,
            self.postal_code,
            self.postal_line,
            self.commune,
            self.department,
            self.department_label,
        ]
    }

    /// The address packed from field `at` on.
    fn read<const N: usize>(packed: &'a Packed<N>, at: usize) -> Address<'a> {
        let f = |i: usize| packed.get(at + i);
        Address {
            number: f(0),
            number_suffix: f(1),
            street_type: f(2),
            street: f(3),
            complement: f(4),
            locality: f(5),
            postal_code: f(6),
            postal_line: f(7),
            commune: f(8),
            department: f(ADDRESS_DEPARTMENT),
            department_label: f(10),
        }
    }
}

/// Legal status of a legal entity (`statutjuridique` + `libstatutjuridique` / `statutJuridique`, nomenclature
/// `TRE_R400`/`TRE_R72`), e.g. `60` "Association Loi 1901 non Reconnue d'Utilité Publique".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LegalStatus<'a> {
    /// The code.
    pub code: &'a str,
    /// The label, when the source gives it (the legacy CSV does, the JSON does not).
    pub label: Option<&'a str>,
}

/// The text fields of an establishment: what an importer gives [`Establishment::new`], and what
/// [`Establishment::text`] reads back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EstablishmentText<'a> {
    /// Short name (`rs` / `nomEgeCourt`); the long name when the source has no short one.
    pub name: &'a str,
    /// Long name (`rslongue` / `nomEgeLong`).
    pub long_name: Option<&'a str>,
    /// Name complement (`complrs` / `complementDenominationEg`).
    pub name_complement: Option<&'a str>,
    /// Category code (`categetab` / `categorieentiteGeographiqueExercice`), e.g. `500`; see
    /// [`Category`](super::Category).
    pub category: Option<&'a str>,
    /// Category label (`libcategetab`; for the JSON, from the shipped category table).
    pub category_label: Option<&'a str>,
    /// Aggregate category code (`categagretab`; not in the JSON).
    pub aggregate_category: Option<&'a str>,
    /// Aggregate category label (`libcategagretab`).
    pub aggregate_category_label: Option<&'a str>,
    /// Postal address.
    pub address: Address<'a>,
    /// Telephone (`telephone` / first `contact[].telecom.telephone`).
    pub phone: Option<&'a str>,
    /// Fax (`telecopie`).
    pub fax: Option<&'a str>,
    /// SIRET (`siret`).
    pub siret: Option<&'a str>,
    /// APE activity code (`codeape`; not in the JSON for sites).
    pub ape: Option<&'a str>,
    /// Opening date, `YYYY-MM-DD` (`dateouv` / `dateOuverture`).
    pub opened: Option<&'a str>,
    /// First authorisation date (`dateautor` / `datePremiereAutorisation`).
    pub authorized: Option<&'a str>,
    /// Last update (`datemaj` / `dateDerniereMaj`), as the source writes it.
    pub updated: Option<&'a str>,
    /// Closing date (`dateFermeture`; the legacy CSV only lists open establishments).
    pub closed: Option<&'a str>,
}

/// Text fields of an establishment: the 15 of [`EstablishmentText`] before the address, then the address.
const ESTABLISHMENT_FIELDS: usize = 15 + ADDRESS_FIELDS;
/// Where the address starts among an establishment's fields.
const ESTABLISHMENT_ADDRESS: usize = 15;

/// An establishment (ET, "établissement géographique", EG/EGE in FiNESS+): a site.
///
/// Its text fields are packed (see the [module documentation](self)): read them with [`Self::text`] or the
/// accessors. Serialized (for the API), it writes every field, `null` when absent, so the JSON shape never varies.
#[derive(Clone, PartialEq)]
pub struct Establishment {
    /// Its FINESS number (`nofinesset` / `numFinessEge`).
    pub finess: Finess,
    /// The FINESS number of its legal entity (`nofinessej`; in the JSON, the enclosing `pmej`).
    pub entity: Finess,
    /// Whether the establishment is open: always for the legacy CSV; for the JSON, `etatObjet` is `A`, or is
    /// absent or unknown with no closing date.
    pub active: bool,
    /// Position, when known (`geolocalisation` line / `adresse[].coordonneesGeographique`).
    pub coordinates: Option<Coordinates>,
    text: Packed<ESTABLISHMENT_FIELDS>,
}

impl Establishment {
    /// An open establishment with no coordinates; an empty `name` takes the long name.
    pub fn new(
        finess: Finess,
        entity: Finess,
        text: &EstablishmentText<'_>,
    ) -> Result<Establishment, RecordTooLong> {
        let t = text;
        let name = Some(t.name).filter(|n| !n.is_empty()).or(t.long_name);
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10] = t.address.fields();
        let fields = [
            name,
            t.long_name,
            t.name_complement,
            t.category,
            t.category_label,
            t.aggregate_category,
            t.aggregate_category_label,
            t.phone,
            t.fax,
            t.siret,
            t.ape,
            t.opened,
            t.authorized,
            t.updated,
            t.closed,
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            a8,
            a9,
            a10,
        ];
        Ok(Establishment {
            finess,
            entity,
            active: true,
            coordinates: None,
            text: Packed::new(&fields)?,
        })
    }

    /// All the text fields.
    pub fn text(&self) -> EstablishmentText<'_> {
        let p = &self.text;
        EstablishmentText {
            name: p.str(0),
            long_name: p.get(1),
            name_complement: p.get(2),
            category: p.get(3),
            category_label: p.get(4),
            aggregate_category: p.get(5),
            aggregate_category_label: p.get(6),
            address: Address::read(p, ESTABLISHMENT_ADDRESS),
            phone: p.get(7),
            fax: p.get(8),
            siret: p.get(9),
            ape: p.get(10),
            opened: p.get(11),
            authorized: p.get(12),
            updated: p.get(13),
            closed: p.get(14),
        }
    }

    /// Short name; the long name when the source has no short one.
    pub fn name(&self) -> &str {
        self.text.str(0)
    }

    /// Long name.
    pub fn long_name(&self) -> Option<&str> {
        self.text.get(1)
    }

    /// Name complement.
    pub fn name_complement(&self) -> Option<&str> {
        self.text.get(2)
    }

    /// Category code, e.g. `500`.
    pub fn category(&self) -> Option<&str> {
        self.text.get(3)
    }

    /// Category label.
    pub fn category_label(&self) -> Option<&str> {
        self.text.get(4)
    }

    /// Telephone.
    pub fn phone(&self) -> Option<&str> {
        self.text.get(7)
    }

    /// Postal address.
    pub fn address(&self) -> Address<'_> {
        Address::read(&self.text, ESTABLISHMENT_ADDRESS)
    }

    /// The department used for filters: see [`FinessIndex`](super::index::FinessIndex) (address first, then the
    /// FINESS number).
    pub fn department_code(&self) -> &str {
        department_of(
            self.text.get(ESTABLISHMENT_ADDRESS + ADDRESS_DEPARTMENT),
            &self.finess,
        )
    }
}

impl fmt::Debug for Establishment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Establishment")
            .field("finess", &self.finess)
            .field("entity", &self.entity)
            .field("active", &self.active)
            .field("coordinates", &self.coordinates)
            .field("text", &self.text())
            .finish()
    }
}

impl Serialize for Establishment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            finess: &'a Finess,
            entity: &'a Finess,
            #[serde(flatten)]
            text: EstablishmentText<'a>,
            active: bool,
            coordinates: &'a Option<Coordinates>,
        }
        Json {
            finess: &self.finess,
            entity: &self.entity,
            text: self.text(),
            active: self.active,
            coordinates: &self.coordinates,
        }
        .serialize(serializer)
    }
}

/// The text fields of a legal entity: what an importer gives [`LegalEntity::new`], and what [`LegalEntity::text`]
/// reads back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LegalEntityText<'a> {
    /// Short name (`rs` / `denominationPm`); the long name when the source has no short one.
    pub name: &'a str,
    /// Long name (`rslongue` / `denominationLonguePmSmsse`).
    pub long_name: Option<&'a str>,
    /// Name complement (`complrs`; not in the JSON).
    pub name_complement: Option<&'a str>,
    /// Postal address (the JSON's first address).
    pub address: Address<'a>,
    /// Telephone.
    pub phone: Option<&'a str>,
    /// Legal status.
    pub legal_status: Option<LegalStatus<'a>>,
    /// Category code (`categetab` / `categorieentiteGeographiqueExercice` of `informationsGeneralesPMEJ`).
    pub category: Option<&'a str>,
    /// Category label (`libcategetab`; for the JSON, from the shipped category table).
    pub category_label: Option<&'a str>,
    /// SIREN (`siren`).
    pub siren: Option<&'a str>,
    /// APE activity code (`codeape` / `codeApe`).
    pub ape: Option<&'a str>,
    /// Creation date (`datecrea` / `dateCreation`).
    pub created: Option<&'a str>,
    /// Last update (`dateDerniereMaj`; the legacy CSV has none for legal entities).
    pub updated: Option<&'a str>,
    /// Closing date (`dateFermeture`).
    pub closed: Option<&'a str>,
}

/// Text fields of a legal entity: 13 (the legal status takes two) before the address, then the address.
const ENTITY_FIELDS: usize = 13 + ADDRESS_FIELDS;
/// Where the address starts among a legal entity's fields.
const ENTITY_ADDRESS: usize = 13;

/// A legal entity (EJ, "entité juridique", PM-EJ in FiNESS+), which owns establishments.
///
/// Its text fields are packed like an [`Establishment`]'s.
#[derive(Clone, PartialEq)]
pub struct LegalEntity {
    /// Its FINESS number (`nofiness` / `numFinessPm`).
    pub finess: Finess,
    /// Whether the legal entity is active (see [`Establishment::active`]).
    pub active: bool,
    text: Packed<ENTITY_FIELDS>,
}

impl LegalEntity {
    /// An active legal entity; an empty `name` takes the long name. A legal status is kept only with its code.
    pub fn new(finess: Finess, text: &LegalEntityText<'_>) -> Result<LegalEntity, RecordTooLong> {
        let t = text;
        let name = Some(t.name).filter(|n| !n.is_empty()).or(t.long_name);
        let status_code = t.legal_status.map(|s| s.code);
        let status_label = t.legal_status.and_then(|s| s.label);
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10] = t.address.fields();
        let fields = [
            name,
            t.long_name,
            t.name_complement,
            t.phone,
            status_code,
            status_label,
            t.category,
            t.category_label,
            t.siren,
            t.ape,
            t.created,
            t.updated,
            t.closed,
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            a8,
            a9,
            a10,
        ];
        Ok(LegalEntity {
            finess,
            active: true,
            text: Packed::new(&fields)?,
        })
    }

    /// All the text fields.
    pub fn text(&self) -> LegalEntityText<'_> {
        let p = &self.text;
        LegalEntityText {
            name: p.str(0),
            long_name: p.get(1),
            name_complement: p.get(2),
            phone: p.get(3),
            legal_status: self.legal_status(),
            category: p.get(6),
            category_label: p.get(7),
            siren: p.get(8),
            ape: p.get(9),
            created: p.get(10),
            updated: p.get(11),
            closed: p.get(12),
            address: Address::read(p, ENTITY_ADDRESS),
        }
    }

    /// Short name; the long name when the source has no short one.
    pub fn name(&self) -> &str {
        self.text.str(0)
    }

    /// Long name.
    pub fn long_name(&self) -> Option<&str> {
        self.text.get(1)
    }

    /// Name complement.
    pub fn name_complement(&self) -> Option<&str> {
        self.text.get(2)
    }

    /// Telephone.
    pub fn phone(&self) -> Option<&str> {
        self.text.get(3)
    }

    /// Legal status.
    pub fn legal_status(&self) -> Option<LegalStatus<'_>> {
        self.text.get(4).map(|code| LegalStatus {
            code,
            label: self.text.get(5),
        })
    }

    /// Category code.
    pub fn category(&self) -> Option<&str> {
        self.text.get(6)
    }

    /// Category label.
    pub fn category_label(&self) -> Option<&str> {
        self.text.get(7)
    }

    /// Postal address.
    pub fn address(&self) -> Address<'_> {
        Address::read(&self.text, ENTITY_ADDRESS)
    }

    /// The department used for filters (address first, then the FINESS number).
    pub fn department_code(&self) -> &str {
        department_of(
            self.text.get(ENTITY_ADDRESS + ADDRESS_DEPARTMENT),
            &self.finess,
        )
    }
}

impl fmt::Debug for LegalEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegalEntity")
            .field("finess", &self.finess)
            .field("active", &self.active)
            .field("text", &self.text())
            .finish()
    }
}

impl Serialize for LegalEntity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            finess: &'a Finess,
            #[serde(flatten)]
            text: LegalEntityText<'a>,
            active: bool,
        }
        Json {
            finess: &self.finess,
            text: self.text(),
            active: self.active,
        }
        .serialize(serializer)
    }
}

/// The department a record belongs to, for filtering: the address's department when it is an INSEE code
/// (`01`…`95`, `2A`, `2B`, `971`…`976`), otherwise the one the FINESS number gives.
fn department_of<'a>(department: Option<&'a str>, finess: &'a Finess) -> &'a str {
    match department {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn finess(s: &str) -> Finess {
        Finess::parse(s).unwrap()
    }

    #[test]
    fn establishment_fields_read_back_as_given() {
        let text = EstablishmentText {
            name: "EHPAD « LES GLYCINES »",
            long_name: Some("EHPAD LES GLYCINES DE DIVONNE"),
            category: Some("500"),
            category_label: Some("Etablissement d'hébergement pour personnes âgées dépendantes"),
            address: Address {
                number: Some("12"),
                street: Some("RUE DU LAC"),
                postal_line: Some("01220 DIVONNE LES BAINS"),
                department: Some("01"),
                department_label: Some("AIN"),
                ..Address::default()
            },
            phone: Some("0450000000"),
            closed: Some("2024-01-31"),
            ..EstablishmentText::default()
        };
        let e = Establishment::new(finess("010002699"), finess("010000024"), &text).unwrap();
        assert_eq!(e.text(), text);
        assert_eq!(e.name(), "EHPAD « LES GLYCINES »");
        assert_eq!(e.category(), Some("500"));
        assert_eq!(e.address().street, Some("RUE DU LAC"));
        assert_eq!(e.address().commune, None);
        assert_eq!(e.department_code(), "01");
        assert!(e.active && e.coordinates.is_none());
    }

    #[test]
    fn empty_fields_are_absent_and_the_long_name_stands_in() {
        let text = EstablishmentText {
            name: "",
            long_name: Some("CENTRE LONG"),
            phone: Some(""),
            ..EstablishmentText::default()
        };
        let e = Establishment::new(finess("2A0000154"), finess("2A0000139"), &text).unwrap();
        assert_eq!(e.name(), "CENTRE LONG");
        assert_eq!(e.text().phone, None);
        // No department in the address: the FINESS number's.
        assert_eq!(e.department_code(), "2A");
        let bare = Establishment::new(
            finess("010002699"),
            finess("010000024"),
            &EstablishmentText::default(),
        )
        .unwrap();
        assert_eq!(bare.name(), "");
        assert_eq!(bare.text(), EstablishmentText::default());
    }

    #[test]
    fn legal_entity_fields_and_status() {
        let text = LegalEntityText {
            name: "ASSOCIATION",
            legal_status: Some(LegalStatus {
                code: "60",
                label: Some("Association"),
            }),
            category: Some("460"),
            siren: Some("123456789"),
            address: Address {
                department: Some("971"),
                ..Address::default()
            },
            ..LegalEntityText::default()
        };
        let ej = LegalEntity::new(finess("010000024"), &text).unwrap();
        assert_eq!(ej.text(), text);
        assert_eq!(ej.legal_status().map(|s| s.code), Some("60"));
        assert_eq!(ej.department_code(), "971");
        // A label without a code is not kept.
        let no_code = LegalEntityText {
            legal_status: Some(LegalStatus {
                code: "",
                label: Some("Association"),
            }),
            ..LegalEntityText::default()
        };
        let ej = LegalEntity::new(finess("010000024"), &no_code).unwrap();
        assert_eq!(ej.legal_status(), None);
    }

    #[test]
    fn too_long_records_are_refused() {
        let street = "R".repeat(40_000);
        let text = EstablishmentText {
            name: &street,
            long_name: Some(&street),
            ..EstablishmentText::default()
        };
        let err = Establishment::new(finess("010002699"), finess("010000024"), &text).unwrap_err();
        assert_eq!(err.bytes, 80_000);
        // Just fits.
        let max = "x".repeat(65_535);
        let text = EstablishmentText {
            name: &max,
            ..EstablishmentText::default()
        };
        let e = Establishment::new(finess("010002699"), finess("010000024"), &text).unwrap();
        assert_eq!(e.name().len(), 65_535);
    }

    #[test]
    fn json_shape_is_flat_and_complete() {
        let e = Establishment::new(
            finess("010002699"),
            finess("010000024"),
            &EstablishmentText {
                name: "EHPAD",
                ..EstablishmentText::default()
            },
        )
        .unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["finess"], "010002699");
        assert_eq!(v["name"], "EHPAD");
        assert!(v["long_name"].is_null() && v["address"]["street"].is_null());
        assert_eq!(v["active"], true);
        assert_eq!(v.as_object().unwrap().len(), 20);
        let ej = LegalEntity::new(finess("010000024"), &LegalEntityText::default()).unwrap();
        let v = serde_json::to_value(&ej).unwrap();
        assert!(v["legal_status"].is_null() && v["address"].is_object());
        assert_eq!(v.as_object().unwrap().len(), 15);
    }

    #[test]
    fn departments() {
        for dep in ["01", "19", "21", "95", "2A", "2B", "971", "976"] {
            assert!(is_insee_department(dep), "{dep}");
        }
        for dep in ["00", "20", "96", "97", "9A", "970", "977", "2C", "1", ""] {
            assert!(!is_insee_department(dep), "{dep}");
        }
        let finess = Finess::parse("970302287").unwrap();
        assert_eq!(department_of(None, &finess), "973");
        assert_eq!(department_of(Some("9C"), &finess), "973");
        assert_eq!(department_of(Some("973"), &finess), "973");
    }
}

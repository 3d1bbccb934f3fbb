//! The PPS (Plan personnalisé de santé / d'accompagnement) as a CDA R2 document, following `spec/cda-pps.md`.
//!
//! [`build`] turns a typed [`PpsDocument`] plus injected [`DocumentIds`] and clock into a [`Cda`] at level
//! **N1** (PDF in `nonXMLBody`) or **N3** (structured PPS body). It is pure apart from schema validation, which
//! goes through the [`SchemaValidator`] the caller hands in: a [`Cda`] only exists once the XML passed the CDA
//! schema, so an invalid document can never be sent (style habit 5).
//!
//! Header rules ([`header`]), in the order of the spec's section "Header":
//! - `realmCode FR`, `typeId`, templateIds (HL7 France, CI-SIS header, and the PPS model `1.2.250.1.213.1.1.1.20`
//!   extension `2021.01` for N3 — the version of the ANS example kept in `schemas/`; for N1 the IHE XDS-SD
//!   template `1.3.6.1.4.1.19376.1.2.20` instead, since an N1 body does not follow the PPS content model);
//! - `id` / `setId` / `versionNumber` from [`DocumentIds`]; ids are OIDs (`2.25.<uuid>`, [`model::uuid_oid`]) so
//!   the XDS `uniqueId` is the `id` root alone; version 1 never carries a replaced id, version ≥ 2 always does and
//!   then writes `relatedDocument typeCode="RPLC"`;
//! - `recordTarget`: the INS first, only for a **QUAL** identity, else [`CdaError::IdentityNotQualified`] — the
//!   gateway builds PPS documents to share them (DMP, MSSanté), which needs the INS; `family qualifier="BR"`,
//!   first given name `qualifier="BR"`, used name `SP`, birth place COG in `birthplace/place/addr/county`;
//! - `author`: a professional (`idNat_PS`, `1.2.250.1.71.4.2.1`) or the structure as device author; the
//!   `representedOrganization` and the `custodian` carry the structure id `1<FINESS EG>` (`1.2.250.1.71.4.2.2`),
//!   the organisations also their legal entity `1<FINESS EJ>` as `asOrganizationPartOf/wholeOrganization`;
//! - `legalAuthenticator` (signature code `S`), the explicit one or the professional author;
//! - `serviceEvent` with the plan period and the practice setting (`standardIndustryClassCode`,
//!   `1.2.250.1.213.1.1.4.9`; default `MEDICO-SOCIAL` *(verify)*), `healthCareFacility/code` from the input (J02,
//!   `1.2.250.1.71.4.2.4`, e.g. `SA17`; which code fits each ESSMS category is the caller's input, not guessed).
//! - LOINC `18776-5` by default, `80788-3` when the input says [`PpsKind::ProjetAccompagnement`] *(verify which
//!   the DSR requires per ESSMS type)*.
//!
//! XDS formatCodes: N1 `urn:ihe:iti:xds-sd:pdf:2008`, N3 `urn:asip:ci-sis:pps-paerpa:2017` ([`Level::format_code`]).

pub mod body;
pub mod header;
pub mod model;
pub mod sample;
pub mod validate;

pub use model::{
    Author, Code, CompletionStatus, Disposition, DocumentIds, Goal, InsInput, Intervention,
    LocalId, Need, Period, Person, PpsDocument, PpsKind, Professional, Structure, uuid_oid,
};
pub use validate::{SchemaError, SchemaValidator, Xmllint};

use crate::ins::{IdentityStatus, Ins, InsError};
use crate::xmlw::XmlWriter;
use time::OffsetDateTime;

/// OIDs of templates.
pub mod oid {
    /// PPS content model (CI-SIS).
    pub const PPS_TEMPLATE: &str = "1.2.250.1.213.1.1.1.20";
    /// Version of the PPS content model followed (the ANS example `PPS-PAERPA_2021.01.xml`).
    pub const PPS_TEMPLATE_VERSION: &str = "2021.01";
    /// IHE XDS-SD (scanned/PDF document) template, for N1.
    pub const XDS_SD_TEMPLATE: &str = "1.3.6.1.4.1.19376.1.2.20";
}

/// Largest PDF accepted in an N1 document (the API applies its own configured limit before this).
pub const MAX_PDF_BYTES: usize = 20 * 1024 * 1024;

/// Level of structuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Unstructured: a PDF in `nonXMLBody`.
    N1,
    /// Structured PPS body.
    N3,
}

impl Level {
    /// The XDS `formatCode`.
    pub fn format_code(self) -> &'static str {
        match self {
            Level::N1 => "urn:ihe:iti:xds-sd:pdf:2008",
            Level::N3 => "urn:asip:ci-sis:pps-paerpa:2017",
        }
    }
}

/// The body to build.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// N1 with this PDF.
    N1 {
        /// The PDF bytes (PDF/A-1 recommended).
        pdf: &'a [u8],
    },
    /// N3 from the plan.
    N3,
}

impl Body<'_> {
    /// Its level.
    pub fn level(&self) -> Level {
        match self {
            Body::N1 { .. } => Level::N1,
            Body::N3 => Level::N3,
        }
    }
}

/// Why a PPS could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CdaError {
    /// The identity is not QUAL: the INS may not be written, so the document cannot be shared.
    #[error(
        "identity status {status:?} is not QUAL: the INS cannot be written and the document cannot go to the DMP"
    )]
    IdentityNotQualified {
        /// The status found.
        status: IdentityStatus,
    },
    /// A QUAL identity without its INS.
    #[error("the identity is QUAL but no INS is given")]
    MissingIns,
    /// The INS is not valid.
    #[error("invalid INS: {0}")]
    Ins(#[from] InsError),
    /// A required value is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The field (JSON path).
        field: &'static str,
    },
    /// An identifier that must be an OID is not one.
    #[error("{field} is not an OID: {value:?}")]
    NotAnOid {
        /// The field.
        field: &'static str,
        /// The value (cut to 80 characters).
        value: String,
    },
    /// Version number and replaced document do not agree.
    #[error("versioning: {reason}")]
    Version {
        /// What is wrong.
        reason: &'static str,
    },
    /// The period ends before it starts.
    #[error("the period ends ({end}) before it starts ({start})")]
    Period {
        /// Start.
        start: time::Date,
        /// End.
        end: time::Date,
    },
    /// The author is the structure and no legal authenticator is given.
    #[error(
        "a document authored by the structure needs a legal_authenticator (the responsible professional)"
    )]
    NoLegalAuthenticator,
    /// The N1 content is not a PDF.
    #[error("the N1 content is not a PDF (it does not start with %PDF-)")]
    NotPdf,
    /// The PDF is larger than [`MAX_PDF_BYTES`].
    #[error("the PDF has {size} bytes, over the limit of {max}")]
    PdfTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The built document does not pass the CDA schema (a bug of the builder or an unusual input).
    #[error("the document does not pass the CDA schema: {0}")]
    Schema(#[from] SchemaError),
}

impl CdaError {
    /// Stable code for API answers.
    pub fn code(&self) -> &'static str {
        match self {
            CdaError::IdentityNotQualified { .. } => "dmp.identity_not_qualified",
            CdaError::MissingIns => "cda.missing_ins",
            CdaError::Ins(e) => e.code(),
            CdaError::Empty { .. } => "cda.empty_field",
            CdaError::NotAnOid { .. } => "cda.not_an_oid",
            CdaError::Version { .. } => "cda.invalid_version",
            CdaError::Period { .. } => "cda.invalid_period",
            CdaError::NoLegalAuthenticator => "cda.missing_legal_authenticator",
            CdaError::NotPdf => "cda.not_pdf",
            CdaError::PdfTooLarge { .. } => "cda.pdf_too_large",
            CdaError::Schema(_) => "cda.schema_invalid",
        }
    }
}

/// A built CDA document that passed the schema. Only [`build`] makes one.
#[derive(Debug, Clone)]
pub struct Cda {
    xml: String,
    ids: DocumentIds,
    level: Level,
    ins: Ins,
    effective_time: OffsetDateTime,
}

impl Cda {
    /// The XML text (UTF-8).
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// Its identifiers (`id`, `setId`, version, replaced id).
    pub fn ids(&self) -> &DocumentIds {
        &self.ids
    }

    /// Its level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The person's INS written in `recordTarget`.
    pub fn ins(&self) -> &Ins {
        &self.ins
    }

    /// Its `effectiveTime` (build time).
    pub fn effective_time(&self) -> OffsetDateTime {
        self.effective_time
    }
}

/// Facts established by the checks, used while writing.
pub(crate) struct Checked<'a> {
    ins: Ins,
    ids: &'a DocumentIds,
    /// The legal authenticator: the explicit one, else the professional author.
    legal: &'a Professional,
}

/// Whether `s` is a dotted OID (digits, no leading zero in an arc, at least two arcs, at most 64 characters).
pub fn is_oid(s: &str) -> bool {
    s.len() <= 64
        && s.split('.').count() >= 2
        && s.split('.').all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        })
}

fn require_oid(field: &'static str, value: &str) -> Result<(), CdaError> {
    if is_oid(value) {
        Ok(())
    } else {
        Err(CdaError::NotAnOid {
            field,
            value: value.chars().take(80).collect(),
        })
    }
}

fn non_empty(field: &'static str, value: &str) -> Result<(), CdaError> {
    if value.trim().is_empty() {
        Err(CdaError::Empty { field })
    } else {
        Ok(())
    }
}

/// Checks the rules that span several fields.
fn check<'a>(
    doc: &'a PpsDocument,
    ids: &'a DocumentIds,
    body: &Body<'_>,
) -> Result<Checked<'a>, CdaError> {
    let p = &doc.person;
    if p.identity_status != IdentityStatus::Qual {
        return Err(CdaError::IdentityNotQualified {
            status: p.identity_status,
        });
    }
    let ins_input = p.ins.as_ref().ok_or(CdaError::MissingIns)?;
    let ins = Ins::parse(&ins_input.value, ins_input.oid)?;
    non_empty("person.birth_name", &p.birth_name)?;
    if p.given_names.iter().all(|g| g.trim().is_empty()) {
        return Err(CdaError::Empty {
            field: "person.given_names",
        });
    }
    require_oid("person.local_id.root", &p.local_id.root)?;
    non_empty("person.local_id.extension", &p.local_id.extension)?;
    non_empty("structure.name", &doc.structure.name)?;
    non_empty(
        "structure.facility_type.code",
        &doc.structure.facility_type.code,
    )?;
    for pro in doc.legal_authenticator.iter().chain(match &doc.author {
        Author::Professional(p) => Some(p),
        Author::Structure { .. } => None,
    }) {
        non_empty("professional.id_nat", &pro.id_nat)?;
        non_empty("professional.family", &pro.family)?;
    }
    let legal = match (&doc.legal_authenticator, &doc.author) {
        (Some(p), _) | (None, Author::Professional(p)) => p,
        (None, Author::Structure { .. }) => return Err(CdaError::NoLegalAuthenticator),
    };
    if let Some(end) = doc.period.end
        && end < doc.period.start
    {
        return Err(CdaError::Period {
            start: doc.period.start,
            end,
        });
    }
    require_oid("document.id", &ids.id)?;
    require_oid("document.set_id", &ids.set_id)?;
    match (ids.version, &ids.replaces) {
        (0, _) => {
            return Err(CdaError::Version {
                reason: "version numbers start at 1",
            });
        }
        (1, Some(_)) => {
            return Err(CdaError::Version {
                reason: "version 1 cannot replace a document",
            });
        }
        (v, None) if v > 1 => {
            return Err(CdaError::Version {
                reason: "a version after 1 must name the id it replaces",
            });
        }
        (_, Some(previous)) => {
            require_oid("document.replaces", previous)?;
            if *previous == ids.id {
                return Err(CdaError::Version {
                    reason: "a version cannot replace itself",
                });
            }
        }
        _ => {}
    }
    if let Body::N1 { pdf } = body {
        if pdf.len() > MAX_PDF_BYTES {
            return Err(CdaError::PdfTooLarge {
                size: pdf.len(),
                max: MAX_PDF_BYTES,
            });
        }
        if !pdf.starts_with(b"%PDF-") {
            return Err(CdaError::NotPdf);
        }
    }
    Ok(Checked { ins, ids, legal })
}

/// Builds the PPS, validates it against the CDA schema and returns it.
///
/// `now` is the document's `effectiveTime` (and author/authentication time), from the caller's clock.
pub fn build(
    doc: &PpsDocument,
    ids: &DocumentIds,
    body: Body<'_>,
    now: OffsetDateTime,
    validator: &dyn SchemaValidator,
) -> Result<Cda, CdaError> {
    let checked = check(doc, ids, &body)?;
    let xml = write(doc, &checked, body, now);
    validator.validate(xml.as_bytes())?;
    Ok(Cda {
        xml,
        ids: ids.clone(),
        level: body.level(),
        ins: checked.ins,
        effective_time: now,
    })
}

fn write(doc: &PpsDocument, c: &Checked<'_>, body: Body<'_>, now: OffsetDateTime) -> String {
    let mut w = XmlWriter::new(true);
    w.start(
        "ClinicalDocument",
        &[
            ("xmlns", "urn:hl7-org:v3"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    );
    header::write(&mut w, doc, c, body.level(), now);
    match body {
        Body::N1 { pdf } => body::n1(&mut w, pdf),
        Body::N3 => body::n3(&mut w, doc),
    }
    w.finish()
}

#[cfg(test)]
mod tests;

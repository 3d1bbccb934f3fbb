//! The typed input of the PPS builder (`PpsDocument`), read from JSON (`segur cda pps --input plan.json`, later
//! `POST /v1/documents/pps`).
//!
//! Unknown keys are refused everywhere (`deny_unknown_fields`) so a misspelt field is an error, not a silent
//! omission. Values the gateway already types elsewhere reuse those types ([`Sex`], [`BirthDate`], [`BirthPlace`],
//! [`IdentityStatus`], [`Finess`]); their checks run during deserialisation. Rules that involve several fields
//! (INS only for a QUAL identity, version and replaced document, period order) are the builder's, see
//! [`super::build`].

use crate::finess::Finess;
use crate::ins::{BirthDate, BirthPlace, IdentityStatus, InsOid, Sex};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// Everything the PPS builder needs, except the identifiers and the clock ([`super::DocumentIds`], the build
/// time), which the caller injects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpsDocument {
    /// Which document: LOINC code and title.
    #[serde(default)]
    pub kind: PpsKind,
    /// Title shown to readers; defaults to the kind's usual title.
    #[serde(default)]
    pub title: Option<String>,
    /// The person the plan is for.
    pub person: Person,
    /// Who wrote the plan.
    pub author: Author,
    /// The professional responsible for the document (`legalAuthenticator`); when absent, the author if it is a
    /// professional. A document authored by the structure alone needs one.
    #[serde(default)]
    pub legal_authenticator: Option<Professional>,
    /// The structure (ESSMS) producing the document.
    pub structure: Structure,
    /// The period the plan covers (`serviceEvent/effectiveTime`).
    pub period: Period,
    /// Needs and problems identified (section "Active problems").
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Goals of the plan.
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// Planned interventions: what, who, when.
    #[serde(default)]
    pub interventions: Vec<Intervention>,
    /// Médico-social dispositions (benefits, measures, accommodation…).
    #[serde(default)]
    pub dispositions: Vec<Disposition>,
    /// Advance directives, if any were expressed.
    #[serde(default)]
    pub advance_directives: Option<String>,
    /// Completion status of the plan.
    #[serde(default)]
    pub status: CompletionStatus,
}

/// The document type (CDA `code`, XDS `typeCode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PpsKind {
    /// LOINC `18776-5` "Plan of care note": the PPS of the CI-SIS.
    #[default]
    PlanOfCare,
    /// LOINC `80788-3`: the médico-social "Projet personnalisé d'accompagnement".
    ProjetAccompagnement,
}

impl PpsKind {
    /// LOINC code.
    pub fn code(self) -> &'static str {
        match self {
            PpsKind::PlanOfCare => "18776-5",
            PpsKind::ProjetAccompagnement => "80788-3",
        }
    }

    /// Display name of the code.
    pub fn display(self) -> &'static str {
        match self {
            PpsKind::PlanOfCare => "Plan personnalisé de santé",
            PpsKind::ProjetAccompagnement => "Projet personnalisé d'accompagnement",
        }
    }
}

/// The person (recordTarget).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// RNIV identity status; only `QUAL` lets the INS be written.
    pub identity_status: IdentityStatus,
    /// The INS (required for a QUAL identity).
    #[serde(default)]
    pub ins: Option<InsInput>,
    /// The structure's own identifier of the person (always written, after the INS).
    pub local_id: LocalId,
    /// Birth name (`family qualifier="BR"`).
    pub birth_name: String,
    /// Name used, when different from the birth name (`family qualifier="SP"`).
    #[serde(default)]
    pub used_name: Option<String>,
    /// Birth given names, in order; the first is written `given qualifier="BR"`.
    pub given_names: Vec<String>,
    /// Sex.
    pub sex: Sex,
    /// Birth date (`00` for unknown parts).
    pub birth_date: BirthDate,
    /// COG code of the birth commune (or `99` + country).
    #[serde(default)]
    pub birth_place: Option<BirthPlace>,
}

/// The INS as given in the input: 15 characters and its OID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsInput {
    /// 15 characters: matricule and key.
    pub value: String,
    /// Assigning authority.
    pub oid: InsOid,
}

/// An HL7 instance identifier (`root` OID + `extension`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalId {
    /// OID of the identifier domain (the structure's patient numbering).
    pub root: String,
    /// The identifier.
    pub extension: String,
}

/// A health or social-care professional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// National professional identifier (`idNat_PS`, e.g. `8` + RPPS), OID `1.2.250.1.71.4.2.1`.
    pub id_nat: String,
    /// Family name.
    pub family: String,
    /// Given name.
    pub given: String,
    /// Profession code (TRE_G15 / `1.2.250.1.213.1.1.4.5`), e.g. `G15_60` for a nurse.
    #[serde(default)]
    pub profession: Option<Code>,
}

/// A coded value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// The code.
    pub code: String,
    /// Its display name.
    #[serde(default)]
    pub display: Option<String>,
    /// Its code system (OID); each use has a default.
    #[serde(default)]
    pub system: Option<String>,
}

/// The author of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Author {
    /// A professional wrote the plan.
    Professional(Professional),
    /// The structure's software produced it (device author).
    Structure {
        /// Name of the software.
        software: String,
    },
}

/// The structure (ESSMS) producing the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structure {
    /// Name.
    pub name: String,
    /// FINESS of the legal entity (EJ).
    pub ej_finess: Finess,
    /// FINESS of the site (EG): the structure's national id is `1` + this number.
    pub eg_finess: Finess,
    /// Facility type (`healthCareFacility/code`, J02 value set, `1.2.250.1.71.4.2.4`), e.g. `SA17`.
    pub facility_type: Code,
    /// Practice setting (`standardIndustryClassCode`, `1.2.250.1.213.1.1.4.9`); default `MEDICO-SOCIAL`.
    #[serde(default)]
    pub practice_setting: Option<Code>,
}

/// A period of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day (`YYYY-MM-DD`).
    #[serde(with = "ymd")]
    pub start: Date,
    /// Last day, when known.
    #[serde(default, with = "ymd::option")]
    pub end: Option<Date>,
}

/// A need or problem identified with the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// What it is, in words.
    pub label: String,
    /// Its code, when coded.
    #[serde(default)]
    pub code: Option<Code>,
}

/// A goal of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// The goal, in words.
    pub label: String,
    /// When it should be reached.
    #[serde(default, with = "ymd::option")]
    pub target_date: Option<Date>,
}

/// A planned intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intervention {
    /// What is done.
    pub label: String,
    /// Who does it (a role or a named person/service, free text).
    pub who: String,
    /// When or how often (free text, e.g. "twice a week").
    pub when: String,
    /// Start of the intervention, if dated.
    #[serde(default, with = "ymd::option")]
    pub start: Option<Date>,
    /// End of the intervention, if dated.
    #[serde(default, with = "ymd::option")]
    pub end: Option<Date>,
}

/// A médico-social disposition (a benefit, a protection measure, an accommodation…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disposition {
    /// What it is, in words (e.g. "APA à domicile").
    pub label: String,
    /// Its value or detail (e.g. "GIR 4").
    #[serde(default)]
    pub value: Option<String>,
    /// Its code (TA_ASIP `1.2.250.1.213.1.1.4.322` by default), when coded.
    #[serde(default)]
    pub code: Option<Code>,
}

/// Completion status of the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// Being written (`active`).
    InProgress,
    /// Complete and validated (`completed`).
    #[default]
    Completed,
}

/// The identifiers and version of one document version, injected by the caller (style habit 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIds {
    /// OID of this version (`id root`, XDS `uniqueId`); unique per version.
    pub id: String,
    /// OID shared by every version (`setId root`).
    pub set_id: String,
    /// Version number, from 1.
    pub version: u32,
    /// `id` of the version this one replaces (required from version 2, forbidden for version 1).
    #[serde(default)]
    pub replaces: Option<String>,
}

impl DocumentIds {
    /// Identifiers of a first version, from two random UUIDs.
    pub fn first(id: uuid::Uuid, set_id: uuid::Uuid) -> Self {
        DocumentIds {
            id: uuid_oid(id),
            set_id: uuid_oid(set_id),
            version: 1,
            replaces: None,
        }
    }

    /// Identifiers of the version following `self`, with a new random UUID.
    pub fn next(&self, id: uuid::Uuid) -> Self {
        DocumentIds {
            id: uuid_oid(id),
            set_id: self.set_id.clone(),
            version: self.version.saturating_add(1),
            replaces: Some(self.id.clone()),
        }
    }
}

/// The OID of a UUID under the `2.25` arc (ITU-T X.667): `2.25.<the UUID as a decimal integer>`.
///
/// XDS wants the document `uniqueId` to be an OID, so the CDA `id root` is one (not a bare UUID as in some ANS
/// examples).
pub fn uuid_oid(u: uuid::Uuid) -> String {
    format!("2.25.{}", u.as_u128())
}

/// The build time, as the caller's clock gives it.
pub type BuildTime = OffsetDateTime;

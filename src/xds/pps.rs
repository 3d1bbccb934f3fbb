//! The XDS submission of a built PPS: metadata taken from the same [`PpsDocument`] and the validated [`Cda`], so
//! the two cannot disagree (uniqueId = CDA `id` root, patientId = the INS of `recordTarget`, creationTime = CDA
//! `effectiveTime`, service times = the plan period, facility type and practice setting = the header's codes).
//!
//! *(verify)* contentTypeCode: the spec names no value set for the submission set; the document's LOINC type is
//! used.

use super::{Coded, DocumentEntry, PatientInfo, Person, Submission, SubmissionSet, XdsAuthor};
use crate::cda::header::{
    FACILITY_TYPE_SYSTEM, LOINC, PRACTICE_SETTING_SYSTEM, PROFESSION_SYSTEM, practice_setting,
};
use crate::cda::{Author, Cda, Level, PpsDocument, Professional};
use time::OffsetDateTime;

/// Identifiers of one submission, injected by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionIds {
    /// entryUUID of the submission set.
    pub set_entry: uuid::Uuid,
    /// entryUUID of the document entry (store it: a replacement targets it).
    pub document_entry: uuid::Uuid,
    /// uniqueId of the submission set (becomes `2.25.<uuid>`).
    pub set_unique: uuid::Uuid,
    /// sourceId: OID of the submitting system.
    pub source_id: String,
    /// `submissionTime`.
    pub submission_time: OffsetDateTime,
    /// entryUUID of the document entry this version replaces (`urn:uuid:…`), for version 2 and later.
    pub replaces: Option<String>,
}

fn person(p: &Professional) -> Person {
    Person {
        id_nat: p.id_nat.clone(),
        family: p.family.clone(),
        given: p.given.clone(),
    }
}

/// Coding scheme of a formatCode *(verify)*.
fn format_scheme(level: Level) -> &'static str {
    match level {
        Level::N1 => "1.3.6.1.4.1.19376.1.2.3",
        Level::N3 => "1.2.250.1.213.1.1.4.2.282",
    }
}

/// The submission of `cda`, built from `doc`.
pub fn submission(doc: &PpsDocument, cda: &Cda, ids: &SubmissionIds) -> Submission {
    let s = &doc.structure;
    let (pro, specialty) = match &doc.author {
        Author::Professional(p) => (
            Some(person(p)),
            p.profession.as_ref().map(|c| {
                Coded::new(
                    &c.code,
                    c.system.as_deref().unwrap_or(PROFESSION_SYSTEM),
                    c.display.as_deref().unwrap_or(&c.code),
                )
            }),
        ),
        Author::Structure { .. } => (None, None),
    };
    let author = XdsAuthor {
        person: pro,
        institution_name: s.name.clone(),
        institution_id: s.eg_finess.to_id_nat_struct(),
        specialty,
    };
    let legal = doc.legal_authenticator.as_ref().or(match &doc.author {
        Author::Professional(p) => Some(p),
        Author::Structure { .. } => None,
    });
    let kind = Coded::new(doc.kind.code(), LOINC, doc.kind.display());
    let (ps_code, ps_display) = practice_setting(doc);
    let p = &doc.person;
    let bd = p.birth_date;
    let birth_date = match (bd.month(), bd.day()) {
        (0, _) => format!("{:04}", bd.year()),
        (m, 0) => format!("{:04}{m:02}", bd.year()),
        (m, d) => format!("{:04}{m:02}{d:02}", bd.year()),
    };
    let document = DocumentEntry {
        entry_uuid: ids.document_entry.urn().to_string(),
        unique_id: cda.ids().id.clone(),
        title: doc
            .title
            .clone()
            .unwrap_or_else(|| doc.kind.display().to_owned()),
        mime_type: "text/xml".into(),
        creation_time: cda.effective_time(),
        service_start: Some(doc.period.start),
        service_stop: doc.period.end,
        language: "fr-FR".into(),
        patient: cda.ins().clone(),
        patient_info: PatientInfo {
            birth_name: p.birth_name.clone(),
            given: p.given_names.first().cloned().unwrap_or_default(),
            birth_date,
            sex: p.sex.as_str().to_owned(),
        },
        author: author.clone(),
        legal_authenticator: legal.map(person),
        class_code: kind.clone(),
        type_code: kind.clone(),
        format_code: Coded::new(
            cda.level().format_code(),
            format_scheme(cda.level()),
            match cda.level() {
                Level::N1 => "Document à corps non structuré en PDF",
                Level::N3 => "PPS structuré (CI-SIS)",
            },
        ),
        confidentiality: Coded::new("N", "2.16.840.1.113883.5.25", "Normal"),
        facility_type: Coded::new(
            &s.facility_type.code,
            s.facility_type
                .system
                .as_deref()
                .unwrap_or(FACILITY_TYPE_SYSTEM),
            s.facility_type
                .display
                .as_deref()
                .unwrap_or(&s.facility_type.code),
        ),
        practice_setting: Coded::new(ps_code, PRACTICE_SETTING_SYSTEM, ps_display),
    };
    Submission {
        set: SubmissionSet {
            entry_uuid: ids.set_entry.urn().to_string(),
            unique_id: crate::cda::uuid_oid(ids.set_unique),
            source_id: ids.source_id.clone(),
            submission_time: ids.submission_time,
            content_type: kind,
            author,
        },
        document,
        replaces: ids.replaces.clone(),
    }
}

//! The typed submission and its ebRS 3.0 `SubmitObjectsRequest` (see the module documentation of [`crate::xds`]).

use super::signature::{self, SignatureEntry};
use super::{ns, scheme};
use crate::cda::is_oid;
use crate::finess::ID_NAT_STRUCT_OID;
use crate::ins::Ins;
use crate::xmlw::XmlWriter;
use time::{Date, OffsetDateTime, UtcOffset};

const CLASSIFICATION: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification";
const EXTERNAL_IDENTIFIER: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier";
const ASSOCIATION: &str = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association";
const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
const RPLC: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
/// The signature signs the submission set (IHE DSG).
pub const SIGNS: &str = "urn:ihe:iti:2007:AssociationType:signs";
/// OID of national professional identifiers, for XCN.
const ID_NAT_PS_OID: &str = "1.2.250.1.71.4.2.1";

/// A coded value of a classification: code, coding scheme (OID), display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    /// The code (`nodeRepresentation`).
    pub code: String,
    /// The coding scheme OID (`codingScheme` slot).
    pub scheme: String,
    /// The display name (`Name`).
    pub display: String,
}

impl Coded {
    /// A coded value.
    pub fn new(
        code: impl Into<String>,
        scheme: impl Into<String>,
        display: impl Into<String>,
    ) -> Self {
        Coded {
            code: code.into(),
            scheme: scheme.into(),
            display: display.into(),
        }
    }
}

/// A professional, written as an HL7 XCN with the national id (`idNat_PS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// National professional id.
    pub id_nat: String,
    /// Family name.
    pub family: String,
    /// Given name.
    pub given: String,
}

impl Person {
    /// `<id>^<family>^<given>^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS`.
    pub fn xcn(&self) -> String {
        format!(
            "{}^{}^{}^^^^^^&{ID_NAT_PS_OID}&ISO^D^^^IDNPS",
            hl7_escape(&self.id_nat),
            hl7_escape(&self.family),
            hl7_escape(&self.given)
        )
    }
}

/// The author of a document or submission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdsAuthor {
    /// The professional, when one is the author (`authorPerson`).
    pub person: Option<Person>,
    /// Name of the structure (`authorInstitution`).
    pub institution_name: String,
    /// National id of the structure, `1<FINESS EG>`.
    pub institution_id: String,
    /// `authorSpecialty`: the profession, when known.
    pub specialty: Option<Coded>,
}

impl XdsAuthor {
    /// `<name>^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^<id>`.
    pub fn xon(&self) -> String {
        format!(
            "{}^^^^^&{ID_NAT_STRUCT_OID}&ISO^IDNST^^^{}",
            hl7_escape(&self.institution_name),
            hl7_escape(&self.institution_id)
        )
    }
}

/// Demographics of `sourcePatientInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientInfo {
    /// Birth name.
    pub birth_name: String,
    /// First given name.
    pub given: String,
    /// Birth date `YYYY[MM[DD]]`.
    pub birth_date: String,
    /// `M` or `F`.
    pub sex: String,
}

/// The document entry (`ExtrinsicObject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    /// entryUUID, `urn:uuid:…` (kept by the caller: a later replacement targets it).
    pub entry_uuid: String,
    /// uniqueId: the CDA `id` root (an OID).
    pub unique_id: String,
    /// Title (`Name`).
    pub title: String,
    /// MIME type (`text/xml` for CDA).
    pub mime_type: String,
    /// `creationTime`: the CDA `effectiveTime`.
    pub creation_time: OffsetDateTime,
    /// `serviceStartTime`.
    pub service_start: Option<Date>,
    /// `serviceStopTime`.
    pub service_stop: Option<Date>,
    /// `languageCode`.
    pub language: String,
    /// The patient (patientId and sourcePatientId, CX form).
    pub patient: Ins,
    /// `sourcePatientInfo`.
    pub patient_info: PatientInfo,
    /// Author.
    pub author: XdsAuthor,
    /// `legalAuthenticator`.
    pub legal_authenticator: Option<Person>,
    /// classCode.
    pub class_code: Coded,
    /// typeCode.
    pub type_code: Coded,
    /// formatCode.
    pub format_code: Coded,
    /// confidentialityCode.
    pub confidentiality: Coded,
    /// healthcareFacilityTypeCode.
    pub facility_type: Coded,
    /// practiceSettingCode.
    pub practice_setting: Coded,
}

/// The submission set (`RegistryPackage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionSet {
    /// entryUUID, `urn:uuid:…`.
    pub entry_uuid: String,
    /// uniqueId (an OID).
    pub unique_id: String,
    /// sourceId: OID of the submitting system.
    pub source_id: String,
    /// `submissionTime`.
    pub submission_time: OffsetDateTime,
    /// contentTypeCode.
    pub content_type: Coded,
    /// Author.
    pub author: XdsAuthor,
}

/// One document in its submission set, possibly replacing an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The submission set.
    pub set: SubmissionSet,
    /// The document.
    pub document: DocumentEntry,
    /// entryUUID of the document this one replaces (writes an RPLC association).
    pub replaces: Option<String>,
}

/// Why a submission cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XdsError {
    /// An entryUUID is not `urn:uuid:<uuid>`.
    #[error("{field} is not urn:uuid:<uuid>: {value:?}")]
    NotUrnUuid {
        /// Field.
        field: &'static str,
        /// Value (cut to 80 characters).
        value: String,
    },
    /// A uniqueId or sourceId is not an OID (at most 64 characters).
    #[error("{field} is not an OID: {value:?}")]
    NotAnOid {
        /// Field.
        field: &'static str,
        /// Value (cut to 80 characters).
        value: String,
    },
    /// A required text is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// Field.
        field: &'static str,
    },
    /// The replaced entry is the entry itself.
    #[error("a document entry cannot replace itself")]
    SelfReplacement,
}

fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

fn urn_uuid(field: &'static str, v: &str) -> Result<(), XdsError> {
    match v.strip_prefix("urn:uuid:").map(uuid::Uuid::try_parse) {
        Some(Ok(_)) => Ok(()),
        _ => Err(XdsError::NotUrnUuid {
            field,
            value: cut(v),
        }),
    }
}

fn oid(field: &'static str, v: &str) -> Result<(), XdsError> {
    if is_oid(v) {
        Ok(())
    } else {
        Err(XdsError::NotAnOid {
            field,
            value: cut(v),
        })
    }
}

fn non_empty(field: &'static str, v: &str) -> Result<(), XdsError> {
    if v.trim().is_empty() {
        Err(XdsError::Empty { field })
    } else {
        Ok(())
    }
}

impl Submission {
    /// Checks identifiers and required values.
    pub fn check(&self) -> Result<(), XdsError> {
        let (s, d) = (&self.set, &self.document);
        urn_uuid("set.entry_uuid", &s.entry_uuid)?;
        urn_uuid("document.entry_uuid", &d.entry_uuid)?;
        oid("set.unique_id", &s.unique_id)?;
        oid("set.source_id", &s.source_id)?;
        oid("document.unique_id", &d.unique_id)?;
        non_empty("document.title", &d.title)?;
        non_empty("document.mime_type", &d.mime_type)?;
        for a in [&s.author, &d.author] {
            non_empty("author.institution_name", &a.institution_name)?;
            non_empty("author.institution_id", &a.institution_id)?;
        }
        for c in [
            &d.class_code,
            &d.type_code,
            &d.format_code,
            &d.confidentiality,
            &d.facility_type,
            &d.practice_setting,
            &s.content_type,
        ] {
            non_empty("code", &c.code)?;
            non_empty("coding scheme", &c.scheme)?;
        }
        if let Some(previous) = &self.replaces {
            urn_uuid("replaces", previous)?;
            if *previous == d.entry_uuid {
                return Err(XdsError::SelfReplacement);
            }
        }
        Ok(())
    }
}

/// XDS DTM in UTC: `YYYYMMDDhhmmss`.
pub fn dtm(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn day(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Escapes HL7 v2 delimiters (`|^~\&`) in a component.
pub fn hl7_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '&' => out.push_str("\\T\\"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `lcm:SubmitObjectsRequest` (no XML declaration: it is placed inside the ITI-41 body, or written alone).
pub fn write_submit_objects_request(sub: &Submission) -> Result<String, XdsError> {
    let mut w = XmlWriter::fragment(false);
    write_into(&mut w, sub)?;
    Ok(w.finish())
}

/// Where the document of an XDM package lies (IHE ITI TF-1 §16, ITI TF-3 §4.2.3.2): the `URI`, `size` and
/// `hash` slots of its document entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedFile {
    /// File name relative to the `METADATA.XML` directory, e.g. `DOC0001.XML`.
    pub uri: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 of the file, lower-case hex (the XDS `hash` slot).
    pub sha1_hex: String,
}

/// Writes a stand-alone `METADATA.XML` (XML declaration + `lcm:SubmitObjectsRequest`) for an XDM package: the
/// same submission as ITI-41, the document entry also carrying `URI`, `size` and `hash`.
pub fn write_xdm_metadata(sub: &Submission, file: &PackagedFile) -> Result<String, XdsError> {
    non_empty("file.uri", &file.uri)?;
    let mut w = XmlWriter::new(true);
    write_entries(&mut w, sub, Some(file), None)?;
    Ok(w.finish())
}

/// Writes `lcm:SubmitObjectsRequest` into `w`.
pub fn write_into(w: &mut XmlWriter, sub: &Submission) -> Result<(), XdsError> {
    write_entries(w, sub, None, None)
}

/// Writes `lcm:SubmitObjectsRequest` into `w`, with the document entry of the submission-set signature when
/// `signature` is given (the DMP's XAdES document, [`super::signature`]).
pub fn write_into_signed(
    w: &mut XmlWriter,
    sub: &Submission,
    signature: Option<&SignatureEntry>,
) -> Result<(), XdsError> {
    write_entries(w, sub, None, signature)
}

fn write_entries(
    w: &mut XmlWriter,
    sub: &Submission,
    file: Option<&PackagedFile>,
    signature: Option<&SignatureEntry>,
) -> Result<(), XdsError> {
    sub.check()?;
    if let Some(sig) = signature {
        urn_uuid("signature.entry_uuid", &sig.entry_uuid)?;
        oid("signature.unique_id", &sig.unique_id)?;
    }
    let mut ids = Ids(0);
    w.start(
        "lcm:SubmitObjectsRequest",
        &[("xmlns:lcm", ns::LCM), ("xmlns:rim", ns::RIM)],
    );
    w.start("rim:RegistryObjectList", &[]);
    document_entry(w, &sub.document, file, &mut ids);
    if let Some(sig) = signature {
        signature_entry(w, sig, &sub.document, &mut ids);
    }
    submission_set(w, &sub.set, &sub.document, &mut ids);
    let marker = ids.next("cl");
    w.empty(
        "rim:Classification",
        &[
            ("id", &marker),
            ("classifiedObject", &sub.set.entry_uuid),
            ("classificationNode", scheme::SUBMISSION_SET_NODE),
            ("objectType", CLASSIFICATION),
        ],
    );
    let (set, doc) = (&sub.set.entry_uuid, &sub.document.entry_uuid);
    original_association(w, &mut ids, HAS_MEMBER, set, doc);
    if let Some(sig) = signature {
        original_association(w, &mut ids, HAS_MEMBER, set, &sig.entry_uuid);
        original_association(w, &mut ids, SIGNS, &sig.entry_uuid, set);
    }
    if let Some(previous) = &sub.replaces {
        let rplc = ids.next("as");
        w.empty(
            "rim:Association",
            &[
                ("id", &rplc),
                ("associationType", RPLC),
                ("sourceObject", &sub.document.entry_uuid),
                ("targetObject", previous),
                ("objectType", ASSOCIATION),
            ],
        );
    }
    w.end();
    w.end();
    Ok(())
}

/// An association of this submission (`SubmissionSetStatus` `Original`) from `source` to `target`.
fn original_association(w: &mut XmlWriter, ids: &mut Ids, kind: &str, source: &str, target: &str) {
    let id = ids.next("as");
    w.start(
        "rim:Association",
        &[
            ("id", &id),
            ("associationType", kind),
            ("sourceObject", source),
            ("targetObject", target),
            ("objectType", ASSOCIATION),
        ],
    );
    slot(w, "SubmissionSetStatus", &["Original"]);
    w.end();
}

/// Symbolic ids of classifications, external identifiers and associations, unique within the request.
struct Ids(u32);

impl Ids {
    fn next(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}{:02}", self.0)
    }
}

fn slot(w: &mut XmlWriter, name: &str, values: &[&str]) {
    w.start("rim:Slot", &[("name", name)]);
    w.start("rim:ValueList", &[]);
    for v in values {
        w.text_elem("rim:Value", &[], v);
    }
    w.end();
    w.end();
}

fn name(w: &mut XmlWriter, value: &str) {
    w.start("rim:Name", &[]);
    w.empty("rim:LocalizedString", &[("value", value)]);
    w.end();
}

fn classification(w: &mut XmlWriter, ids: &mut Ids, scheme_uuid: &str, object: &str, c: &Coded) {
    let id = ids.next("cl");
    w.start(
        "rim:Classification",
        &[
            ("id", &id),
            ("classificationScheme", scheme_uuid),
            ("classifiedObject", object),
            ("nodeRepresentation", &c.code),
            ("objectType", CLASSIFICATION),
        ],
    );
    slot(w, "codingScheme", &[&c.scheme]);
    name(w, &c.display);
    w.end();
}

fn author(w: &mut XmlWriter, ids: &mut Ids, scheme_uuid: &str, object: &str, a: &XdsAuthor) {
    let id = ids.next("cl");
    w.start(
        "rim:Classification",
        &[
            ("id", &id),
            ("classificationScheme", scheme_uuid),
            ("classifiedObject", object),
            ("nodeRepresentation", ""),
            ("objectType", CLASSIFICATION),
        ],
    );
    if let Some(p) = &a.person {
        slot(w, "authorPerson", &[&p.xcn()]);
    }
    slot(w, "authorInstitution", &[&a.xon()]);
    if let Some(s) = &a.specialty {
        let value = format!(
            "{}^{}^{}",
            hl7_escape(&s.code),
            hl7_escape(&s.display),
            hl7_escape(&s.scheme)
        );
        slot(w, "authorSpecialty", &[&value]);
    }
    w.end();
}

fn external_id(
    w: &mut XmlWriter,
    ids: &mut Ids,
    scheme_uuid: &str,
    object: &str,
    value: &str,
    label: &str,
) {
    let id = ids.next("ei");
    w.start(
        "rim:ExternalIdentifier",
        &[
            ("id", &id),
            ("registryObject", object),
            ("identificationScheme", scheme_uuid),
            ("value", value),
            ("objectType", EXTERNAL_IDENTIFIER),
        ],
    );
    name(w, label);
    w.end();
}

fn document_entry(
    w: &mut XmlWriter,
    d: &DocumentEntry,
    file: Option<&PackagedFile>,
    ids: &mut Ids,
) {
    let obj = d.entry_uuid.as_str();
    w.start(
        "rim:ExtrinsicObject",
        &[
            ("id", obj),
            ("mimeType", &d.mime_type),
            ("objectType", scheme::DOCUMENT_ENTRY_TYPE),
        ],
    );
    slot(w, "creationTime", &[&dtm(d.creation_time)]);
    if let Some(f) = file {
        slot(w, "hash", &[&f.sha1_hex]);
        slot(w, "size", &[&f.size.to_string()]);
        slot(w, "URI", &[&f.uri]);
    }
    slot(w, "languageCode", &[&d.language]);
    if let Some(p) = &d.legal_authenticator {
        slot(w, "legalAuthenticator", &[&p.xcn()]);
    }
    if let Some(s) = d.service_start {
        slot(w, "serviceStartTime", &[&day(s)]);
    }
    if let Some(s) = d.service_stop {
        slot(w, "serviceStopTime", &[&day(s)]);
    }
    let cx = d.patient.to_cx();
    slot(w, "sourcePatientId", &[&cx]);
    let info = &d.patient_info;
    let pid5 = format!(
        "PID-5|{}^{}^^^^^L",
        hl7_escape(&info.birth_name),
        hl7_escape(&info.given)
    );
    let pid7 = format!("PID-7|{}", info.birth_date);
    let pid8 = format!("PID-8|{}", info.sex);
    slot(w, "sourcePatientInfo", &[&pid5, &pid7, &pid8]);
    name(w, &d.title);
    author(w, ids, scheme::DOCUMENT_AUTHOR, obj, &d.author);
    classification(w, ids, scheme::CLASS_CODE, obj, &d.class_code);
    classification(
        w,
        ids,
        scheme::CONFIDENTIALITY_CODE,
        obj,
        &d.confidentiality,
    );
    classification(w, ids, scheme::FORMAT_CODE, obj, &d.format_code);
    classification(w, ids, scheme::FACILITY_TYPE_CODE, obj, &d.facility_type);
    classification(
        w,
        ids,
        scheme::PRACTICE_SETTING_CODE,
        obj,
        &d.practice_setting,
    );
    classification(w, ids, scheme::TYPE_CODE, obj, &d.type_code);
    external_id(
        w,
        ids,
        scheme::DOCUMENT_PATIENT_ID,
        obj,
        &cx,
        "XDSDocumentEntry.patientId",
    );
    external_id(
        w,
        ids,
        scheme::DOCUMENT_UNIQUE_ID,
        obj,
        &d.unique_id,
        "XDSDocumentEntry.uniqueId",
    );
    w.end();
}

/// The signature's `ExtrinsicObject`: fixed codes, the rest from the signed document `d`.
fn signature_entry(w: &mut XmlWriter, sig: &SignatureEntry, d: &DocumentEntry, ids: &mut Ids) {
    let obj = sig.entry_uuid.as_str();
    let [class_code, type_code, format_code, event] = signature::codes();
    w.start(
        "rim:ExtrinsicObject",
        &[
            ("id", obj),
            ("mimeType", "text/xml"),
            ("objectType", scheme::DOCUMENT_ENTRY_TYPE),
        ],
    );
    let created = dtm(sig.creation_time);
    slot(w, "creationTime", &[&created]);
    slot(w, "languageCode", &["art"]);
    if let Some(p) = &d.legal_authenticator {
        slot(w, "legalAuthenticator", &[&p.xcn()]);
    }
    slot(w, "serviceStartTime", &[&created]);
    slot(w, "serviceStopTime", &[&created]);
    let cx = d.patient.to_cx();
    slot(w, "sourcePatientId", &[&cx]);
    name(w, "Source");
    author(w, ids, scheme::DOCUMENT_AUTHOR, obj, &d.author);
    classification(w, ids, scheme::CLASS_CODE, obj, &class_code);
    classification(
        w,
        ids,
        scheme::CONFIDENTIALITY_CODE,
        obj,
        &d.confidentiality,
    );
    for c in signature::hidden() {
        classification(w, ids, scheme::CONFIDENTIALITY_CODE, obj, &c);
    }
    classification(w, ids, scheme::EVENT_CODE, obj, &event);
    classification(w, ids, scheme::FORMAT_CODE, obj, &format_code);
    classification(w, ids, scheme::FACILITY_TYPE_CODE, obj, &d.facility_type);
    classification(
        w,
        ids,
        scheme::PRACTICE_SETTING_CODE,
        obj,
        &d.practice_setting,
    );
    classification(w, ids, scheme::TYPE_CODE, obj, &type_code);
    external_id(
        w,
        ids,
        scheme::DOCUMENT_PATIENT_ID,
        obj,
        &cx,
        "XDSDocumentEntry.patientId",
    );
    external_id(
        w,
        ids,
        scheme::DOCUMENT_UNIQUE_ID,
        obj,
        &sig.unique_id,
        "XDSDocumentEntry.uniqueId",
    );
    w.end();
}

fn submission_set(w: &mut XmlWriter, s: &SubmissionSet, d: &DocumentEntry, ids: &mut Ids) {
    let obj = s.entry_uuid.as_str();
    w.start(
        "rim:RegistryPackage",
        &[
            ("id", obj),
            (
                "objectType",
                "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage",
            ),
        ],
    );
    slot(w, "submissionTime", &[&dtm(s.submission_time)]);
    name(w, &d.title);
    author(w, ids, scheme::SUBMISSION_SET_AUTHOR, obj, &s.author);
    classification(w, ids, scheme::CONTENT_TYPE_CODE, obj, &s.content_type);
    external_id(
        w,
        ids,
        scheme::SUBMISSION_SET_UNIQUE_ID,
        obj,
        &s.unique_id,
        "XDSSubmissionSet.uniqueId",
    );
    external_id(
        w,
        ids,
        scheme::SOURCE_ID,
        obj,
        &s.source_id,
        "XDSSubmissionSet.sourceId",
    );
    external_id(
        w,
        ids,
        scheme::SUBMISSION_SET_PATIENT_ID,
        obj,
        &d.patient.to_cx(),
        "XDSSubmissionSet.patientId",
    );
    w.end();
}

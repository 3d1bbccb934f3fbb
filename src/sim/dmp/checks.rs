//! The simulator's ITI-41 metadata rules (`spec/dmp.md`, "TD2.1"; IHE ITI TF-3 §4.2.4 error codes), one
//! `RegistryError` per violated rule:
//!
//! | rule | errorCode |
//! |---|---|
//! | one document entry (stable type) and one submission set, with their required slots (`creationTime`, `languageCode`, `sourcePatientId`, `sourcePatientInfo` / `submissionTime`), classifications (class, type, format, facility type, practice setting, confidentiality, author / contentTypeCode) and external identifiers (patientId, uniqueId / patientId, uniqueId, sourceId) | `XDSRegistryMetadataError` |
//! | patientId not a valid INS (CX form, NIR key) | `XDSUnknownPatientId` |
//! | patient without a DMP (TD0.2 table) | `XDSUnknownPatientId` |
//! | document patientId ≠ VIHF `resource-id`, or ≠ submission set patientId | `XDSPatientIdDoesNotMatch` |
//! | uniqueId already held | `XDSDuplicateUniqueIdInRegistry` |
//! | no `xdsb:Document` for the entry, or its `xop:Include` does not resolve to a MIME part | `XDSMissingDocument` |
//! | `RPLC` target unknown, deprecated or of another patient | `UnresolvedReferenceException` |
//!
//! | no `urn:ihe:iti:2007:AssociationType:signs` association from the signature to the submission set | `XDSRegistryMetadataError` |
//! | no signature document (classCode `urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1`, formatCode xmldsig) in the set, or more than one | `XDSRegistryMetadataError` |
//! | the signature does not verify, is not by the VIHF's structure, or its manifest does not match the documents ([`super::xades_check`]) | `XDSRegistryMetadataError` (codeContext says which) |
//!
//! The signature document itself is checked, not stored.

use super::mtom::Mtom;
use super::vihf_check::VihfFacts;
use super::wire::SimError;
use crate::ins::Ins;
use crate::ins::soap::XmlElement;
use crate::xds::{ns, scheme};

const XDSB_NS: &str = crate::dmp::iti41::XDSB_NS;
const XOP_NS: &str = crate::dmp::iti41::XOP_NS;
const RPLC: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
const META: &str = "XDSRegistryMetadataError";

/// An accepted submission, before the uniqueness and replacement checks against the store.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Document uniqueId.
    pub unique_id: String,
    /// Document entryUUID.
    pub entry_uuid: String,
    /// The patient (CX as sent in the metadata).
    pub patient_cx: String,
    /// entryUUID replaced, when an RPLC association is present.
    pub replaces: Option<String>,
    /// The document bytes.
    pub content: Vec<u8>,
}

fn slot<'a>(obj: &'a XmlElement, name: &str) -> Option<&'a str> {
    obj.children_in(ns::RIM, "Slot")
        .find(|s| s.attr("name") == Some(name))
        .and_then(|s| s.find(ns::RIM, "Value"))
        .map(XmlElement::text)
        .filter(|v| !v.is_empty())
}

fn classified(obj: &XmlElement, scheme_uuid: &str) -> bool {
    obj.children_in(ns::RIM, "Classification")
        .any(|c| c.attr("classificationScheme") == Some(scheme_uuid))
}

fn external_id<'a>(obj: &'a XmlElement, scheme_uuid: &str) -> Option<&'a str> {
    obj.children_in(ns::RIM, "ExternalIdentifier")
        .find(|e| e.attr("identificationScheme") == Some(scheme_uuid))
        .and_then(|e| e.attr("value"))
        .filter(|v| !v.is_empty())
}

/// A signature entry: classCode of IHE DSG.
fn is_signature(entry: &XmlElement) -> bool {
    entry.children_in(ns::RIM, "Classification").any(|c| {
        c.attr("classificationScheme") == Some(scheme::CLASS_CODE)
            && c.attr("nodeRepresentation") == Some(crate::xds::signature::CLASS_CODE)
    })
}

/// The MIME part holding the `xdsb:Document` of `entry_uuid`.
fn part_of<'a>(body: &XmlElement, mtom: &'a Mtom, entry_uuid: &str) -> Option<&'a Vec<u8>> {
    body.child(XDSB_NS, "ProvideAndRegisterDocumentSetRequest")
        .and_then(|r| {
            r.children_in(XDSB_NS, "Document")
                .find(|d| d.attr("id") == Some(entry_uuid))
        })
        .and_then(|d| d.child(XOP_NS, "Include"))
        .and_then(|i| i.attr("href"))
        .and_then(|h| h.strip_prefix("cid:"))
        .and_then(|cid| mtom.parts.get(cid))
}

/// Checks the ITI-41 request body against the VIHF; `has_dmp` tells whether the patient has a DMP.
pub(crate) fn check(
    body: &XmlElement,
    mtom: &Mtom,
    vihf: &VihfFacts,
    has_dmp: impl Fn(&Ins) -> bool,
    dsig: &bergshamra::DsigContext,
) -> Result<Accepted, Vec<SimError>> {
    let mut errors = Vec::new();
    let Some(list) = body
        .child(XDSB_NS, "ProvideAndRegisterDocumentSetRequest")
        .and_then(|r| r.child(ns::LCM, "SubmitObjectsRequest"))
        .and_then(|s| s.child(ns::RIM, "RegistryObjectList"))
    else {
        return Err(vec![SimError::new(
            META,
            "no SubmitObjectsRequest/RegistryObjectList",
        )]);
    };
    let (signatures, entries): (Vec<&XmlElement>, Vec<&XmlElement>) = list
        .children_in(ns::RIM, "ExtrinsicObject")
        .partition(|e| is_signature(e));
    let [entry] = entries.as_slice() else {
        return Err(vec![SimError::new(
            META,
            format!("expected one ExtrinsicObject, found {}", entries.len()),
        )]);
    };
    if entry.attr("objectType") != Some(scheme::DOCUMENT_ENTRY_TYPE) {
        errors.push(SimError::new(
            META,
            "ExtrinsicObject objectType is not the stable document entry type",
        ));
    }
    let entry_uuid = entry.attr("id").unwrap_or_default().to_string();
    for name in [
        "creationTime",
        "languageCode",
        "sourcePatientId",
        "sourcePatientInfo",
    ] {
        if slot(entry, name).is_none() {
            errors.push(SimError::new(
                META,
                format!("DocumentEntry: missing slot {name}"),
            ));
        }
    }
    for (label, s) in [
        ("classCode", scheme::CLASS_CODE),
        ("typeCode", scheme::TYPE_CODE),
        ("formatCode", scheme::FORMAT_CODE),
        ("healthcareFacilityTypeCode", scheme::FACILITY_TYPE_CODE),
        ("practiceSettingCode", scheme::PRACTICE_SETTING_CODE),
        ("confidentialityCode", scheme::CONFIDENTIALITY_CODE),
        ("author", scheme::DOCUMENT_AUTHOR),
    ] {
        if !classified(entry, s) {
            errors.push(SimError::new(
                META,
                format!("DocumentEntry: missing classification {label}"),
            ));
        }
    }
    let unique_id = external_id(entry, scheme::DOCUMENT_UNIQUE_ID);
    if unique_id.is_none() {
        errors.push(SimError::new(META, "DocumentEntry: missing uniqueId"));
    }
    let patient_cx = external_id(entry, scheme::DOCUMENT_PATIENT_ID);
    match patient_cx.map(Ins::parse_cx) {
        None => errors.push(SimError::new(META, "DocumentEntry: missing patientId")),
        Some(Err(e)) => errors.push(SimError::new(
            "XDSUnknownPatientId",
            format!("patientId is not a valid INS: {e}"),
        )),
        Some(Ok(p)) => {
            if p != vihf.patient {
                errors.push(SimError::new(
                    "XDSPatientIdDoesNotMatch",
                    "DocumentEntry patientId differs from the VIHF resource-id",
                ));
            } else if !has_dmp(&p) {
                errors.push(SimError::new(
                    "XDSUnknownPatientId",
                    "the patient has no DMP",
                ));
            }
        }
    }
    let packages: Vec<&XmlElement> = list.children_in(ns::RIM, "RegistryPackage").collect();
    let set_unique_id = match packages.as_slice() {
        [set] => external_id(set, scheme::SUBMISSION_SET_UNIQUE_ID),
        _ => None,
    };
    match packages.as_slice() {
        [set] => {
            let set_id = set.attr("id").unwrap_or_default();
            let marked = list.children_in(ns::RIM, "Classification").any(|c| {
                c.attr("classificationNode") == Some(scheme::SUBMISSION_SET_NODE)
                    && c.attr("classifiedObject") == Some(set_id)
            }) || set
                .children_in(ns::RIM, "Classification")
                .any(|c| c.attr("classificationNode") == Some(scheme::SUBMISSION_SET_NODE));
            if !marked {
                errors.push(SimError::new(
                    META,
                    "RegistryPackage not classified as a submission set",
                ));
            }
            if slot(set, "submissionTime").is_none() {
                errors.push(SimError::new(
                    META,
                    "SubmissionSet: missing slot submissionTime",
                ));
            }
            if !classified(set, scheme::CONTENT_TYPE_CODE) {
                errors.push(SimError::new(
                    META,
                    "SubmissionSet: missing classification contentTypeCode",
                ));
            }
            for (label, s) in [
                ("uniqueId", scheme::SUBMISSION_SET_UNIQUE_ID),
                ("sourceId", scheme::SOURCE_ID),
            ] {
                if external_id(set, s).is_none() {
                    errors.push(SimError::new(
                        META,
                        format!("SubmissionSet: missing {label}"),
                    ));
                }
            }
            match external_id(set, scheme::SUBMISSION_SET_PATIENT_ID) {
                None => errors.push(SimError::new(META, "SubmissionSet: missing patientId")),
                Some(p) if Some(p) != patient_cx => errors.push(SimError::new(
                    "XDSPatientIdDoesNotMatch",
                    "SubmissionSet patientId differs from the DocumentEntry patientId",
                )),
                Some(_) => {}
            }
        }
        _ => errors.push(SimError::new(
            META,
            format!("expected one RegistryPackage, found {}", packages.len()),
        )),
    }
    let replaces = list
        .children_in(ns::RIM, "Association")
        .find(|a| a.attr("associationType") == Some(RPLC))
        .map(|a| {
            if a.attr("sourceObject") != Some(entry_uuid.as_str()) {
                errors.push(SimError::new(
                    META,
                    "RPLC association source is not the document entry",
                ));
            }
            a.attr("targetObject").unwrap_or_default().to_string()
        });
    let content = part_of(body, mtom, &entry_uuid);
    if content.is_none() {
        errors.push(SimError::new(
            "XDSMissingDocument",
            "no xdsb:Document with an xop:Include resolving to a MIME part for the document entry",
        ));
    }
    match (signatures.as_slice(), unique_id, content) {
        ([sig], Some(u), Some(c)) => {
            let sig_id = sig.attr("id").unwrap_or_default();
            let set_entry = packages.first().and_then(|p| p.attr("id")).unwrap_or_default();
            let signs = list.children_in(ns::RIM, "Association").any(|a| {
                a.attr("associationType") == Some(crate::xds::submit::SIGNS)
                    && a.attr("sourceObject") == Some(sig_id)
                    && a.attr("targetObject") == Some(set_entry)
            });
            if !signs {
                errors.push(SimError::new(
                    META,
                    "no 'signs' association from the signature to the submission set",
                ));
            }
            let signature = part_of(body, mtom, sig_id);
            match signature {
                None => errors.push(SimError::new(
                    "XDSMissingDocument",
                    "no xdsb:Document with an xop:Include resolving to a MIME part for the signature entry",
                )),
                Some(xml) => {
                    let set = set_unique_id.unwrap_or_default();
                    if let Err(e) = super::xades_check::check(
                        dsig,
                        xml,
                        set,
                        &[(u, c.as_slice())],
                        &vihf.structure_id,
                    ) {
                        errors.push(SimError::new(META, format!("submission set signature: {e}")));
                    }
                }
            }
        }
        ([], _, _) => errors.push(SimError::new(
            META,
            "the submission set is not signed: no signature document (classCode urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1)",
        )),
        ([_], _, _) => {}
        (many, _, _) => errors.push(SimError::new(
            META,
            format!("expected one signature document, found {}", many.len()),
        )),
    }
    match (errors.is_empty(), unique_id, patient_cx, content) {
        (true, Some(u), Some(p), Some(c)) => Ok(Accepted {
            unique_id: u.to_string(),
            entry_uuid,
            patient_cx: p.to_string(),
            replaces,
            content: c.clone(),
        }),
        _ => Err(errors),
    }
}

//! IHE XDS.b metadata as ebRS 3.0: the `SubmitObjectsRequest` of a document submission and the
//! `RegistryResponse` that answers it. Shared by the DMP (ITI-41, `spec/dmp.md` section "TD2.1") and MSSanté's
//! XDM packages (`spec/mssante.md`).
//!
//! Pure (style habit 1): [`submit::write_submit_objects_request`] turns a typed [`Submission`] into XML;
//! [`response::parse_registry_response`] turns bytes into a [`RegistryResult`]. Identifiers (entryUUIDs, OIDs)
//! and times come in the [`Submission`] so output is deterministic.
//!
//! Follows `spec/dmp.md` ("Metadata in the RegistryObjectList") and IHE ITI TF-3 §4.2 for what the spec leaves
//! implicit: the classification scheme UUIDs of [`scheme`]; the submission set author classification
//! `urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d`; the submission-set marker classification (node
//! `urn:uuid:a54d6aa5-d40d-43f9-88c1-b7a7b4c4a1c0`) written as a sibling of the package; HL7 v2 data types for
//! `authorPerson` (XCN), `authorInstitution` (XON), `sourcePatientInfo` (`PID-5`/`PID-7`/`PID-8`); times in UTC
//! `YYYYMMDDhhmmss`. A replacement adds an `urn:ihe:iti:2007:AssociationType:RPLC` association from the new entry
//! to the entryUUID of the replaced one.
//!
//! *(verify)* choices: the DMP's classCode value set (the spec says "from the document": the LOINC type is used for
//! both classCode and typeCode unless the caller gives another), and the formatCode coding schemes
//! (`1.3.6.1.4.1.19376.1.2.3` for IHE codes, `1.2.250.1.213.1.1.4.2.282` for ANS `urn:asip:ci-sis:` codes).
//! The DMP's signature of the submission set is a XAdES document in the set: its document entry is written here
//! ([`signature`], [`submit::write_into_signed`]), the signature itself by [`crate::dmp::xades`].

pub mod pps;
pub mod response;
pub mod signature;
pub mod submit;

pub use response::{
    RegistryError, RegistryResult, ResponseError, Severity, parse_registry_response,
};
pub use submit::{
    Coded, DocumentEntry, PackagedFile, PatientInfo, Person, Submission, SubmissionSet, XdsAuthor,
    XdsError, write_submit_objects_request, write_xdm_metadata,
};

/// ebRS 3.0 namespaces.
pub mod ns {
    /// Life-cycle management (`SubmitObjectsRequest`).
    pub const LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
    /// Registry information model (`RegistryObjectList`, `ExtrinsicObject`, …).
    pub const RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
    /// Registry services (`RegistryResponse`, `RegistryError`).
    pub const RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
}

/// Classification and identification scheme UUIDs (IHE ITI TF-3 §4.2.5).
pub mod scheme {
    /// Document entry object type (stable document).
    pub const DOCUMENT_ENTRY_TYPE: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
    /// `XDSDocumentEntry.classCode`.
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    /// `XDSDocumentEntry.typeCode`.
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    /// `XDSDocumentEntry.formatCode`.
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    /// `XDSDocumentEntry.healthcareFacilityTypeCode`.
    pub const FACILITY_TYPE_CODE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    /// `XDSDocumentEntry.practiceSettingCode`.
    pub const PRACTICE_SETTING_CODE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
    /// `XDSDocumentEntry.confidentialityCode`.
    pub const CONFIDENTIALITY_CODE: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    /// `XDSDocumentEntry.eventCodeList`.
    pub const EVENT_CODE: &str = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4";
    /// `XDSDocumentEntry.author`.
    pub const DOCUMENT_AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    /// `XDSDocumentEntry.patientId`.
    pub const DOCUMENT_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    /// `XDSDocumentEntry.uniqueId`.
    pub const DOCUMENT_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
    /// Classification node marking a `RegistryPackage` as a submission set.
    pub const SUBMISSION_SET_NODE: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c1-b7a7b4c4a1c0";
    /// `XDSSubmissionSet.author`.
    pub const SUBMISSION_SET_AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    /// `XDSSubmissionSet.contentTypeCode`.
    pub const CONTENT_TYPE_CODE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    /// `XDSSubmissionSet.patientId`.
    pub const SUBMISSION_SET_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    /// `XDSSubmissionSet.sourceId`.
    pub const SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    /// `XDSSubmissionSet.uniqueId`.
    pub const SUBMISSION_SET_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
}

#[cfg(test)]
mod tests;

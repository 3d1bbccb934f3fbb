//! The document entry of the submission-set signature the DMP requires (`spec/dmp.md`, "DMP specifics": the
//! submission set is signed by a XAdES document added to the set, formatCode `http://www.w3.org/2000/09/xmldsig#`).
//!
//! Metadata of that entry, following IHE DSG (Document Digital Signature, "SubmissionSet Signature") as the DMP
//! uses it: mimeType `text/xml`; classCode `urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1` "Digital Signature" (scheme
//! `URN`); typeCode `E1762` "Full Document" (scheme `ASTM`); formatCode `http://www.w3.org/2000/09/xmldsig#`
//! "Default Signature Style" (scheme `URN`); eventCode `1.2.840.10065.1.12.1.14` "Source" (ASTM E1762 signature
//! purpose, scheme `1.2.840.10065.1.12`); languageCode `art` (artificial language); title "Source";
//! confidentiality = the signed document's, plus `MASQUE_PS` and `INVISIBLE_PATIENT` (`1.2.250.1.213.1.1.4.13`)
//! so that neither professionals nor the patient see the technical document in the DMP; author, patient,
//! facility type, practice setting and legal authenticator = the signed document's. The signature is a member of
//! the submission set (`HasMember`), like the document, and `urn:ihe:iti:2007:AssociationType:signs` it (source
//! the signature, target the set). All of this is what the CNAM DMP kit's example TD2.1 request
//! (`k-jefferson/Dehempe`, "package dmp", `TD2.1 - Alimentation_requête.xml`) sends.
//!
//! Identifiers are derived from the submission set's so that a resend of the same submission (outbox retry) is
//! byte-for-byte the same metadata: uniqueId = `<submission set uniqueId>.1`, entryUUID = UUID v5 of the set's
//! entryUUID.

use super::Coded;

/// classCode of a signature document (IHE DSG).
pub const CLASS_CODE: &str = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1";
/// formatCode of a signature document.
pub const FORMAT_CODE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Signature purpose "Source" (ASTM E1762), eventCode and XAdES commitment type.
pub const PURPOSE_SOURCE: &str = "1.2.840.10065.1.12.1.14";
/// Code system of the signature purposes.
pub const PURPOSE_SYSTEM: &str = "1.2.840.10065.1.12";
/// DMP confidentiality code system (`MASQUE_PS`, `INVISIBLE_PATIENT`).
pub const DMP_CONFIDENTIALITY_SYSTEM: &str = "1.2.250.1.213.1.1.4.13";

/// The signature's own identifiers; everything else comes from the signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// entryUUID, `urn:uuid:…`.
    pub entry_uuid: String,
    /// uniqueId (an OID).
    pub unique_id: String,
    /// `creationTime` of the signature.
    pub creation_time: time::OffsetDateTime,
}

impl SignatureEntry {
    /// The entry of the signature of the submission set `set_entry_uuid` / `set_unique_id` (see the module doc).
    pub fn for_set(
        set_entry_uuid: &str,
        set_unique_id: &str,
        creation_time: time::OffsetDateTime,
    ) -> Self {
        let base = set_entry_uuid
            .strip_prefix("urn:uuid:")
            .and_then(|u| uuid::Uuid::try_parse(u).ok())
            .unwrap_or_default();
        SignatureEntry {
            entry_uuid: uuid::Uuid::new_v5(&base, b"segur-gateway:submission-set-signature")
                .urn()
                .to_string(),
            unique_id: format!("{set_unique_id}.1"),
            creation_time,
        }
    }
}

/// The fixed codes of a signature entry: (classCode, typeCode, formatCode, eventCode).
pub fn codes() -> [Coded; 4] {
    [
        Coded::new(CLASS_CODE, "URN", "Digital Signature"),
        Coded::new("E1762", "ASTM", "Full Document"),
        Coded::new(FORMAT_CODE, "URN", "Default Signature Style"),
        Coded::new(PURPOSE_SOURCE, PURPOSE_SYSTEM, "Source"),
    ]
}

/// The confidentiality codes added to the signed document's.
pub fn hidden() -> [Coded; 2] {
    [
        Coded::new(
            "MASQUE_PS",
            DMP_CONFIDENTIALITY_SYSTEM,
            "Masqué aux professionnels de santé",
        ),
        Coded::new(
            "INVISIBLE_PATIENT",
            DMP_CONFIDENTIALITY_SYSTEM,
            "Non visible par le patient",
        ),
    ]
}

//! The simulator's check of the submission-set signature (`spec/dmp.md`, "DMP specifics"; what the gateway
//! builds is described in [`crate::dmp::xades`]):
//!
//! 1. the signature document is read with the bounded, DTD-refusing reader, its root must be `ds:Signature`;
//! 2. bergshamra verifies it against the test IGC Santé roots (certificate chain, `SignedInfo` signature, every
//!    same-document reference digest);
//! 3. `SignedInfo` must reference exactly the `ds:Manifest` and the XAdES `SignedProperties`, found in the
//!    verified bytes; the `SigningCertificate` digest must be the SHA-256 of the certificate that verified, and
//!    that certificate's OU (the structure id) must be the VIHF's `Identifiant_Structure`;
//! 4. the manifest must hold the submission set's reference (`urn:oid:<set uniqueId>`, digest not checked: the
//!    CNAM kit writes a placeholder) and one `urn:oid:<uniqueId>` reference per other document of the submission,
//!    each with the transform Canonical XML 1.0 with comments and the SHA-256 of the canonicalised document
//!    received, and nothing else.

use crate::dmp::xades::{
    C14N_WITH_COMMENTS, MANIFEST_TYPE, SIGNED_PROPERTIES_TYPE, XADES_NS, digest, document_digest,
};
use crate::ins::soap::{XmlElement, XmlLimits, parse_xml};

const DSIG_NS: &str = crate::dmp::vihf::DSIG_NS;
const LIMITS: XmlLimits = XmlLimits {
    max_bytes: 512 * 1024,
    max_depth: 32,
    max_elements: 5_000,
};

/// Checks the signature document `xml` over the submission set `set_unique_id` and its `documents` (uniqueId,
/// bytes) for the structure `structure_id`.
pub(crate) fn check(
    ctx: &bergshamra::DsigContext,
    xml: &[u8],
    set_unique_id: &str,
    documents: &[(&str, &[u8])],
    structure_id: &str,
) -> Result<(), String> {
    let root = parse_xml(xml, &LIMITS).map_err(|e| e.to_string())?;
    if !root.is(DSIG_NS, "Signature") {
        return Err("the signature document is not a ds:Signature".into());
    }
    super::trust::check_key_info(&root)?;
    let text = std::str::from_utf8(xml).map_err(|_| "the signature is not UTF-8")?;
    let result = bergshamra::verify(ctx, text).map_err(|e| format!("signature: {e}"))?;
    let (references, key_info) = match &result {
        bergshamra::VerifyResult::Valid {
            references,
            key_info,
            ..
        } => (references, key_info),
        bergshamra::VerifyResult::Invalid { reason } => {
            return Err(format!("invalid signature: {reason}"));
        }
    };
    if !result.all_reference_digests_verified() {
        return Err("a reference of SignedInfo was not verified".into());
    }
    super::trust::check_chain(&key_info.x509_chain)?;
    let declared: Vec<(&str, &str)> = root
        .child(DSIG_NS, "SignedInfo")
        .map(|si| {
            si.children_in(DSIG_NS, "Reference")
                .map(|r| (r.attr("URI").unwrap_or(""), r.attr("Type").unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let uris: Vec<&str> = references.iter().map(|r| r.uri.as_str()).collect();
    if declared.len() != 2 || declared.iter().map(|d| d.0).collect::<Vec<_>>() != uris {
        return Err("SignedInfo must reference the manifest and the SignedProperties".into());
    }
    let objects: Vec<&XmlElement> = root.children_in(DSIG_NS, "Object").collect();
    let by_id = |id: &str, ns: &str, local: &str| -> Option<&XmlElement> {
        objects.iter().find_map(|o| {
            o.children.iter().find_map(|c| {
                if c.is(ns, local) && c.attr("Id") == Some(id) {
                    Some(c)
                } else if c.is(XADES_NS, "QualifyingProperties") {
                    c.children
                        .iter()
                        .find(|p| p.is(ns, local) && p.attr("Id") == Some(id))
                } else {
                    None
                }
            })
        })
    };
    let mut manifest = None;
    let mut props = None;
    for (uri, kind) in &declared {
        let id = uri.strip_prefix('#').unwrap_or("");
        match *kind {
            MANIFEST_TYPE => manifest = by_id(id, DSIG_NS, "Manifest"),
            SIGNED_PROPERTIES_TYPE => props = by_id(id, XADES_NS, "SignedProperties"),
            _ => {}
        }
    }
    let manifest = manifest.ok_or("SignedInfo does not reference a ds:Manifest")?;
    let props = props.ok_or("SignedInfo does not reference the XAdES SignedProperties")?;

    let leaf = key_info
        .x509_chain
        .first()
        .ok_or("the signature has no X509Certificate")?;
    let cert_digest = props
        .find(XADES_NS, "CertDigest")
        .and_then(|c| c.child(DSIG_NS, "DigestValue"))
        .map(XmlElement::text)
        .ok_or("SignedProperties has no SigningCertificate digest")?;
    if cert_digest != digest(leaf) {
        return Err("SigningCertificate is not the certificate that signed".into());
    }
    let ou = organisational_unit(leaf).ok_or("the signing certificate has no OU")?;
    if ou != structure_id {
        return Err(format!(
            "signed by structure {ou}, the VIHF is for structure {structure_id}"
        ));
    }

    let refs: Vec<(&str, &XmlElement)> = manifest
        .children_in(DSIG_NS, "Reference")
        .map(|r| (r.attr("URI").unwrap_or(""), r))
        .collect();
    let set_uri = format!("urn:oid:{set_unique_id}");
    if !refs.iter().any(|(u, _)| *u == set_uri) {
        return Err(format!(
            "the manifest does not reference the submission set {set_uri}"
        ));
    }
    if refs.len() != documents.len() + 1 {
        return Err(format!(
            "the manifest references {} documents, the submission has {}",
            refs.len() - 1,
            documents.len()
        ));
    }
    for (unique_id, bytes) in documents {
        let uri = format!("urn:oid:{unique_id}");
        let Some((_, r)) = refs.iter().find(|(u, _)| *u == uri) else {
            return Err(format!("the manifest does not reference {uri}"));
        };
        let transforms: Vec<&str> = r
            .child(DSIG_NS, "Transforms")
            .map(|t| {
                t.children_in(DSIG_NS, "Transform")
                    .map(|t| t.attr("Algorithm").unwrap_or(""))
                    .collect()
            })
            .unwrap_or_default();
        let expected = match transforms.as_slice() {
            [] => digest(bytes),
            [C14N_WITH_COMMENTS] => document_digest(bytes).map_err(|e| e.to_string())?,
            other => {
                return Err(format!(
                    "unsupported manifest transforms {other:?} for {uri}"
                ));
            }
        };
        let sent = r
            .child(DSIG_NS, "DigestValue")
            .map(XmlElement::text)
            .unwrap_or("");
        if sent != expected {
            return Err(format!(
                "the manifest digest of {uri} does not match the document"
            ));
        }
    }
    Ok(())
}

fn organisational_unit(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let ou = cert
        .subject()
        .iter_organizational_unit()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(ou)
}

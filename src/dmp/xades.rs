//! The XAdES signature of the submission set that the DMP requires (`spec/dmp.md`, "DMP specifics").
//!
//! Finding: the spec says the submission set is signed by a XAdES document added to the set, formatCode
//! `http://www.w3.org/2000/09/xmldsig#`; this is IHE DSG's "SubmissionSet Signature". The CNAM DMP kit
//! (`k-jefferson/Dehempe`, "package dmp") has an example, `TD2.1-SignatureXades.xml`, and the C# code that makes
//! it; the shape below follows them. Built here, with the structure's `SIGN` certificate (the key of the VIHF):
//!
//! - an **enveloping** `ds:Signature` (the document is the signature), exclusive C14N, RSA-SHA256 / SHA-256,
//!   `KeyInfo/X509Data` with the signing certificate;
//! - `SignedInfo` has two references, both same-document and canonicalised: the `ds:Manifest` (`Id="IHEManifest"`,
//!   `Type="…xmldsig#Manifest"`) and the XAdES `SignedProperties` (`Type="http://uri.etsi.org/01903#SignedProperties"`);
//! - the manifest, in the order of the CNAM DMP kit's sample code (`k-jefferson/Dehempe`, "package dmp", C#
//!   `getXadesSignature`): first a reference to the submission set, `URI="urn:oid:<set uniqueId>"`, whose digest is
//!   the placeholder the kit writes (one zero byte, `AA==`: the set has no byte form to digest), then one
//!   `URI="urn:oid:<uniqueId>"` per document with the transform Canonical XML 1.0 *with comments* and the digest of
//!   the canonicalised document, as the kit does. Manifest references are not checked by core XML-DSig validation:
//!   the DMP (and the simulator, [`crate::sim::dmp`]) compare them with the documents received;
//! - a `ds:SignatureProperty Id="purposeOfSignature"` holding `1.2.840.10065.1.12.1.14` ("Source"), which the kit
//!   adds as IHE DSG requires;
//! - XAdES 1.1.1 `QualifyingProperties` (the kit's version; XAdES-BES): `SigningTime`, `SigningCertificate` (one `Cert` per
//!   certificate of the identity, signing certificate first: SHA-256 digest, issuer in RFC 4514 order and decimal
//!   serial — the kit lists the chain too), `SignaturePolicyImplied`, and a `CommitmentTypeIndication` "Source"
//!   (`urn:oid:1.2.840.10065.1.12.1.14`) over all signed data objects (the kit leaves `SignedDataObjectProperties`
//!   empty; IHE DSG asks for the commitment type).
//!
//! Differences from the kit, on purpose: SHA-256 / RSA-SHA256 instead of SHA-1 (as for the VIHF) and exclusive
//! C14N for `SignedInfo` instead of inclusive with comments; `ds:Signature/@Id` is `sig-<uuid>` (the kit puts the
//! signature's OID there, which is not an XML id).
//!
//! Checked independently: `xmlsec1 --verify` accepts the output (test in `tests/dmp_docs.rs`, with the XAdES
//! `SignedProperties` id attribute declared to xmlsec1).
//!
//! *(verify)* against the current "Guide d'intégration DMP": whether the DMP wants SHA-256 (chosen, as for the
//! VIHF) or still SHA-1 digests, and whether it checks the commitment type.

use super::vihf::{DSIG_NS, VihfError, VihfSigner, dn_string};
use crate::xds::signature::PURPOSE_SOURCE;
use crate::xmlw::XmlWriter;
use base64::Engine as _;
use sha2::Digest as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// XAdES namespace: version 1.1.1, as in the CNAM kit's example signature.
pub const XADES_NS: &str = "http://uri.etsi.org/01903/v1.1.1#";
/// `Type` of a reference to `SignedProperties` (XAdES 1.1.1 form, as in the kit's example).
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903/v1.1.1#SignedProperties";
/// `Type` of a reference to a `ds:Manifest`.
pub const MANIFEST_TYPE: &str = "http://www.w3.org/2000/09/xmldsig#Manifest";
/// `Id` of the manifest (IHE DSG's name).
pub const MANIFEST_ID: &str = "IHEManifest";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// Canonical XML 1.0 with comments: the transform of the manifest's document references.
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// The digest the CNAM kit writes for the submission set reference (one zero byte).
pub const SET_DIGEST_PLACEHOLDER: &str = "AA==";

/// Why a document cannot be referenced.
fn c14n_error(e: impl std::fmt::Display) -> VihfError {
    VihfError::Sign(format!("document canonicalisation: {e}"))
}

/// The manifest digest of an XML document: SHA-256 of its Canonical XML 1.0 with comments (DTDs refused first).
pub fn document_digest(content: &[u8]) -> Result<String, VihfError> {
    let text = std::str::from_utf8(content).map_err(c14n_error)?;
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
        return Err(c14n_error("a DTD is not allowed"));
    }
    let canonical = bergshamra::c14n::canonicalize(
        text,
        bergshamra::c14n::C14nMode::InclusiveWithComments,
        None,
        &[] as &[&str],
    )
    .map_err(c14n_error)?;
    Ok(digest(&canonical))
}

/// One signed document: its uniqueId and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Document uniqueId (an OID).
    pub unique_id: &'a str,
    /// The bytes sent.
    pub content: &'a [u8],
}

/// What the signature needs besides the documents.
#[derive(Debug, Clone)]
pub struct XadesRequest<'a> {
    /// uniqueId of the submission set.
    pub submission_set: &'a str,
    /// The documents of the submission set.
    pub documents: &'a [Signed<'a>],
    /// `Id` of the `ds:Signature` (an XML NCName, e.g. `sig-<uuid>`).
    pub id: &'a str,
    /// `SigningTime`.
    pub now: OffsetDateTime,
}

/// SHA-256 of `bytes`, base64.
pub fn digest(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// The unsigned template (pure): digests of the manifest and certificate filled in, `SignedInfo` digests and
/// `SignatureValue` left empty for the signer.
pub fn template(req: &XadesRequest<'_>, chain: &[Vec<u8>]) -> Result<String, VihfError> {
    use x509_parser::prelude::FromDer as _;
    let mut certs = Vec::with_capacity(chain.len());
    for der in chain {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|e| VihfError::Certificate(e.to_string()))?;
        certs.push((
            digest(der),
            dn_string(cert.issuer())?,
            cert.tbs_certificate.serial.to_string(),
        ));
    }
    if certs.is_empty() {
        return Err(VihfError::Certificate("no signing certificate".into()));
    }
    let mut manifest = Vec::with_capacity(req.documents.len());
    for d in req.documents {
        manifest.push((d.unique_id, document_digest(d.content)?));
    }
    let signing_time = req
        .now
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(req.now)
        .format(&Rfc3339)
        .map_err(|e| VihfError::Sign(e.to_string()))?;
    let props_id = format!("{}-SignedProperties", req.id);

    let mut w = XmlWriter::fragment(false);
    w.start("ds:Signature", &[("xmlns:ds", DSIG_NS), ("Id", req.id)]);
    w.start("ds:SignedInfo", &[]);
    w.empty("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)]);
    w.empty("ds:SignatureMethod", &[("Algorithm", RSA_SHA256)]);
    for (uri, kind) in [
        (format!("#{MANIFEST_ID}"), MANIFEST_TYPE),
        (format!("#{props_id}"), SIGNED_PROPERTIES_TYPE),
    ] {
        w.start("ds:Reference", &[("Type", kind), ("URI", &uri)]);
        w.start("ds:Transforms", &[]);
        w.empty("ds:Transform", &[("Algorithm", EXC_C14N)]);
        w.end();
        w.empty("ds:DigestMethod", &[("Algorithm", SHA256)]);
        w.text_elem("ds:DigestValue", &[], "");
        w.end();
    }
    w.end();
    w.text_elem("ds:SignatureValue", &[], "");
    w.start("ds:KeyInfo", &[]);
    w.start("ds:X509Data", &[]);
    w.text_elem("ds:X509Certificate", &[], "");
    w.end();
    w.end();

    w.start("ds:Object", &[]);
    w.start(
        "xades:QualifyingProperties",
        &[
            ("xmlns:xades", XADES_NS),
            ("Target", &format!("#{}", req.id)),
        ],
    );
    w.start("xades:SignedProperties", &[("Id", &props_id)]);
    w.start("xades:SignedSignatureProperties", &[]);
    w.text_elem("xades:SigningTime", &[], &signing_time);
    w.start("xades:SigningCertificate", &[]);
    for (cert_digest, issuer, serial) in &certs {
        w.start("xades:Cert", &[]);
        w.start("xades:CertDigest", &[]);
        w.empty("ds:DigestMethod", &[("Algorithm", SHA256)]);
        w.text_elem("ds:DigestValue", &[], cert_digest);
        w.end();
        w.start("xades:IssuerSerial", &[]);
        w.text_elem("ds:X509IssuerName", &[], issuer);
        w.text_elem("ds:X509SerialNumber", &[], serial);
        w.end();
        w.end();
    }
    w.end();
    w.start("xades:SignaturePolicyIdentifier", &[]);
    w.empty("xades:SignaturePolicyImplied", &[]);
    w.end();
    w.end();
    w.start("xades:SignedDataObjectProperties", &[]);
    w.start("xades:CommitmentTypeIndication", &[]);
    w.start("xades:CommitmentTypeId", &[]);
    w.text_elem(
        "xades:Identifier",
        &[],
        &format!("urn:oid:{PURPOSE_SOURCE}"),
    );
    w.text_elem("xades:Description", &[], "Source");
    w.end();
    w.empty("xades:AllSignedDataObjects", &[]);
    w.end();
    w.end();
    w.end();
    w.end();
    w.end();

    w.start("ds:Object", &[]);
    w.start("ds:SignatureProperties", &[]);
    w.text_elem(
        "ds:SignatureProperty",
        &[
            ("Id", "purposeOfSignature"),
            ("Target", &format!("#{}", req.id)),
        ],
        PURPOSE_SOURCE,
    );
    w.end();
    w.end();

    w.start("ds:Object", &[]);
    w.start("ds:Manifest", &[("Id", MANIFEST_ID)]);
    w.start(
        "ds:Reference",
        &[("URI", &format!("urn:oid:{}", req.submission_set))],
    );
    w.empty("ds:DigestMethod", &[("Algorithm", SHA256)]);
    w.text_elem("ds:DigestValue", &[], SET_DIGEST_PLACEHOLDER);
    w.end();
    for (unique_id, d) in &manifest {
        w.start("ds:Reference", &[("URI", &format!("urn:oid:{unique_id}"))]);
        w.start("ds:Transforms", &[]);
        w.empty("ds:Transform", &[("Algorithm", C14N_WITH_COMMENTS)]);
        w.end();
        w.empty("ds:DigestMethod", &[("Algorithm", SHA256)]);
        w.text_elem("ds:DigestValue", &[], d);
        w.end();
    }
    w.end();
    w.end();
    w.end();
    Ok(w.finish())
}

/// Builds and signs the submission-set signature with the `SIGN` key.
pub fn sign(signer: &VihfSigner, req: &XadesRequest<'_>) -> Result<String, VihfError> {
    let template = template(req, signer.chain())?;
    signer.sign_template(template)
}

#[cfg(test)]
mod tests;

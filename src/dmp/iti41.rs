//! TD2.1, IHE ITI-41 "Provide and Register Document Set-b" as an MTOM/XOP message (`spec/dmp.md`, sections
//! "Transport" and "TD2.1"). Pure: the caller injects the message id and the MIME boundary; the transport posts
//! [`MtomMessage::body`] with [`MtomMessage::content_type`].
//!
//! Wire format:
//! - `multipart/related; type="application/xop+xml"; start="<root part>"; start-info="application/soap+xml"`
//!   (W3C XOP / SOAP 1.2 MTOM); the SOAP action travels as the `action` parameter of the root part's type, as
//!   SOAP 1.2 wants, never as a `SOAPAction` header;
//! - root part: the SOAP 1.2 envelope. Header: `wsa:Action` (`urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b`,
//!   `mustUnderstand`), `wsa:MessageID` (`urn:uuid:…`), `wsa:ReplyTo` anonymous, `wsa:To` (the repository URL),
//!   `wsse:Security` holding the signed VIHF byte for byte. Body: `xdsb:ProvideAndRegisterDocumentSetRequest`
//!   with the `lcm:SubmitObjectsRequest` of [`crate::xds`] and one `xdsb:Document id="<entryUUID>"` whose only
//!   child is `xop:Include href="cid:…"`;
//! - one binary part per document (`Content-Transfer-Encoding: binary`), its `Content-ID` the one referenced.
//!
//! - the submission-set signature ([`super::xades`]), when given, is a second document of the set: its entry in
//!   the metadata ([`crate::xds::signature`]), a second `xdsb:Document` and a second binary part (`text/xml`).
//!
//! Finding on the submission-set signature: the spec says the DMP wants the submission set signed by a XAdES
//! document added to the set; [`crate::dmp::client::DmpClient`] always adds it, and the simulator refuses a
//! submission without it.

use super::soap::{self, BadVihf};
pub use super::soap::{SOAP12_NS, WSA_NS, WSSE_NS};
use crate::xds::signature::SignatureEntry;
use crate::xds::{Submission, XdsError, submit};
use crate::xmlw::XmlWriter;

/// SOAP action of ITI-41.
pub const ACTION: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
/// IHE XDS.b namespace.
pub const XDSB_NS: &str = "urn:ihe:iti:xds-b:2007";
/// XOP namespace.
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";

/// Why the message cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Iti41Error {
    /// The metadata is not valid.
    #[error("XDS metadata: {0}")]
    Metadata(#[from] XdsError),
    /// The signed VIHF is not a single `saml2:Assertion` element.
    #[error(transparent)]
    Vihf(#[from] BadVihf),
    /// The MIME boundary occurs inside a part (pick another one).
    #[error("the MIME boundary occurs inside the message")]
    BoundaryCollision,
    /// The boundary is not a valid MIME boundary (1-70 characters of `[0-9A-Za-z'()+_,-./:=?]`).
    #[error("invalid MIME boundary")]
    InvalidBoundary,
}

/// What the caller injects.
#[derive(Debug, Clone)]
pub struct Iti41Request<'a> {
    /// The metadata (document entry, submission set, associations).
    pub submission: &'a Submission,
    /// The document bytes (the CDA), sent as a binary MIME part.
    pub document: &'a [u8],
    /// The signed VIHF (`VihfSigner::sign`), inserted as is.
    pub vihf: &'a str,
    /// The submission-set signature: its document entry and the signed XAdES document ([`super::xades::sign`]).
    pub signature: Option<(&'a SignatureEntry, &'a [u8])>,
    /// The repository endpoint URL (`wsa:To`).
    pub to: &'a str,
    /// `wsa:MessageID`.
    pub message_id: uuid::Uuid,
    /// MIME boundary, e.g. `MIMEBoundary_<uuid>`.
    pub boundary: &'a str,
}

/// A built MTOM message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtomMessage {
    /// The HTTP `Content-Type` header value.
    pub content_type: String,
    /// The HTTP body.
    pub body: Vec<u8>,
    /// `Content-ID` of the root (SOAP) part, without angle brackets.
    pub root_id: String,
    /// `Content-ID` of the document part, without angle brackets.
    pub document_id: String,
    /// `Content-ID` of the signature part, when there is one.
    pub signature_id: Option<String>,
}

fn valid_boundary(b: &str) -> bool {
    (1..=70).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c))
}

fn include(w: &mut XmlWriter, entry_uuid: &str, content_id: &str) {
    w.start("xdsb:Document", &[("id", entry_uuid)]);
    w.empty(
        "xop:Include",
        &[
            ("xmlns:xop", XOP_NS),
            ("href", &format!("cid:{content_id}")),
        ],
    );
    w.end();
}

/// The SOAP envelope of the root part, the document referenced by `cid:<document_id>` and the signature (when
/// the request has one) by `cid:<signature_id>`.
pub fn envelope(
    req: &Iti41Request<'_>,
    document_id: &str,
    signature_id: &str,
) -> Result<String, Iti41Error> {
    let env = soap::Envelope {
        action: ACTION,
        message_id: req.message_id,
        to: req.to,
        vihf: req.vihf,
    };
    soap::write(&env, |w: &mut XmlWriter| -> Result<(), Iti41Error> {
        w.start(
            "xdsb:ProvideAndRegisterDocumentSetRequest",
            &[("xmlns:xdsb", XDSB_NS)],
        );
        submit::write_into_signed(w, req.submission, req.signature.map(|s| s.0))?;
        include(w, &req.submission.document.entry_uuid, document_id);
        if let Some((entry, _)) = req.signature {
            include(w, &entry.entry_uuid, signature_id);
        }
        w.end();
        Ok(())
    })
}

/// Builds the whole MTOM/XOP message.
pub fn build(req: &Iti41Request<'_>) -> Result<MtomMessage, Iti41Error> {
    if !valid_boundary(req.boundary) {
        return Err(Iti41Error::InvalidBoundary);
    }
    let root_id = format!("root.{}@segur-gateway", req.message_id.simple());
    let document_id = format!("doc0.{}@segur-gateway", req.message_id.simple());
    let signature_id = format!("sig0.{}@segur-gateway", req.message_id.simple());
    let soap = envelope(req, &document_id, &signature_id)?;
    let delimiter = format!("--{}", req.boundary);
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let collides = |bytes: &[u8]| finder.find(bytes).is_some();
    let signature = req.signature.map(|s| s.1).unwrap_or_default();
    if collides(soap.as_bytes()) || collides(req.document) || collides(signature) {
        return Err(Iti41Error::BoundaryCollision);
    }
    let root_type = format!("application/soap+xml; action=\\\"{ACTION}\\\"");
    let mut body = Vec::with_capacity(soap.len() + req.document.len() + signature.len() + 1024);
    let head = |body: &mut Vec<u8>, content_type: &str, id: &str| {
        body.extend_from_slice(
            format!(
                "{delimiter}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{id}>\r\n\r\n"
            )
            .as_bytes(),
        );
    };
    head(
        &mut body,
        &format!("application/xop+xml; charset=UTF-8; type=\"{root_type}\""),
        &root_id,
    );
    body.extend_from_slice(soap.as_bytes());
    body.extend_from_slice(b"\r\n");
    head(&mut body, "text/xml", &document_id);
    body.extend_from_slice(req.document);
    body.extend_from_slice(b"\r\n");
    if req.signature.is_some() {
        head(&mut body, "text/xml", &signature_id);
        body.extend_from_slice(signature);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("{delimiter}--\r\n").as_bytes());
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{}\"; start=\"<{root_id}>\"; \
         start-info=\"{root_type}\"",
        req.boundary
    );
    Ok(MtomMessage {
        content_type,
        body,
        root_id,
        document_id,
        signature_id: req.signature.map(|_| signature_id),
    })
}

#[cfg(test)]
mod tests;

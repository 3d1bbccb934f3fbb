//! The SOAP 1.2 envelope shared by every DMP request (`spec/dmp.md`, "Transport" and "VIHF"): WS-Addressing
//! headers and the signed VIHF in `wsse:Security`.
//!
//! Header order: `wsa:Action` (`mustUnderstand`), `wsa:MessageID` (`urn:uuid:…`), `wsa:ReplyTo` anonymous,
//! `wsa:To` (`mustUnderstand`), `wsse:Security` (`mustUnderstand`) with the assertion inserted byte for byte: its
//! signature uses exclusive C14N, so the surrounding namespaces do not change what was signed.

use crate::xmlw::XmlWriter;

/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing namespace.
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Security namespace.
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// The per-message values of the envelope.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// SOAP action (also `wsa:Action`).
    pub action: &'a str,
    /// `wsa:MessageID`.
    pub message_id: uuid::Uuid,
    /// `wsa:To`: the service URL.
    pub to: &'a str,
    /// The signed VIHF assertion.
    pub vihf: &'a str,
}

/// The signed VIHF is not one element without XML declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the VIHF must be one signed saml2:Assertion element without XML declaration")]
pub struct BadVihf;

/// Writes the envelope; `body` writes the content of `soap:Body`.
pub fn write<E: From<BadVihf>>(
    env: &Envelope<'_>,
    body: impl FnOnce(&mut XmlWriter) -> Result<(), E>,
) -> Result<String, E> {
    let vihf = env.vihf.trim();
    if !vihf.starts_with('<')
        || vihf.starts_with("<?")
        || !vihf.ends_with('>')
        || !vihf.contains("Assertion")
    {
        return Err(BadVihf.into());
    }
    let mut w = XmlWriter::new(false);
    w.start(
        "soap:Envelope",
        &[("xmlns:soap", SOAP12_NS), ("xmlns:wsa", WSA_NS)],
    );
    w.start("soap:Header", &[]);
    w.text_elem("wsa:Action", &[("soap:mustUnderstand", "true")], env.action);
    w.text_elem("wsa:MessageID", &[], &env.message_id.urn().to_string());
    w.start("wsa:ReplyTo", &[]);
    w.text_elem(
        "wsa:Address",
        &[],
        "http://www.w3.org/2005/08/addressing/anonymous",
    );
    w.end();
    w.text_elem("wsa:To", &[("soap:mustUnderstand", "true")], env.to);
    w.start(
        "wsse:Security",
        &[("xmlns:wsse", WSSE_NS), ("soap:mustUnderstand", "true")],
    );
    w.raw_xml(vihf);
    w.end();
    w.end();
    w.start("soap:Body", &[]);
    body(&mut w)?;
    w.end();
    w.end();
    Ok(w.finish())
}

/// The HTTP `Content-Type` of a plain (non-MTOM) SOAP 1.2 request with this action.
pub fn content_type(action: &str) -> String {
    format!("application/soap+xml; charset=UTF-8; action=\"{action}\"")
}

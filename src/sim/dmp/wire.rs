//! What the DMP simulator writes: SOAP 1.2 envelopes with a `RegistryResponse`, a TD0.2 answer
//! (`PRPA_IN201308UV02`, the shape [`crate::dmp::answer`] reads) or a SOAP fault.

use crate::dmp::answer::AccessResult;
use crate::dmp::soap::SOAP12_NS;
use crate::dmp::td02::HL7_NS;
use crate::ins::Ins;
use crate::xds::ns;
use crate::xmlw::XmlWriter;

/// One `RegistryError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// `errorCode` (`XDSRegistryMetadataError`…).
    pub code: &'static str,
    /// `codeContext`.
    pub context: String,
}

impl SimError {
    /// A new error.
    pub fn new(code: &'static str, context: impl Into<String>) -> Self {
        SimError {
            code,
            context: context.into(),
        }
    }
}

fn envelope(body: impl FnOnce(&mut XmlWriter)) -> String {
    let mut w = XmlWriter::new(false);
    w.start("soap:Envelope", &[("xmlns:soap", SOAP12_NS)]);
    w.start("soap:Body", &[]);
    body(&mut w);
    w.end();
    w.end();
    w.finish()
}

/// `Success` when `errors` is empty, else `Failure` with one `RegistryError` each.
pub fn registry_response(errors: &[SimError]) -> String {
    registry(errors, false)
}

/// A `Success` `RegistryResponse` carrying `warnings` (severity Warning): how the simulator answers the resend of
/// a document it already holds.
pub fn registry_success_with_warnings(warnings: &[SimError]) -> String {
    registry(warnings, true)
}

fn registry(listed: &[SimError], warnings: bool) -> String {
    envelope(|w| {
        let status = if listed.is_empty() || warnings {
            "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
        } else {
            "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
        };
        let severity = if warnings {
            "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"
        } else {
            "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
        };
        w.start(
            "rs:RegistryResponse",
            &[("xmlns:rs", ns::RS), ("status", status)],
        );
        if !listed.is_empty() {
            w.start("rs:RegistryErrorList", &[]);
            for e in listed {
                w.empty(
                    "rs:RegistryError",
                    &[
                        ("errorCode", e.code),
                        ("codeContext", &e.context),
                        ("severity", severity),
                    ],
                );
            }
            w.end();
        }
        w.end();
    })
}

/// The TD0.2 answer.
pub fn td02_answer(result: &AccessResult, patient: &Ins) -> String {
    envelope(|w| {
        w.start(
            "PRPA_IN201308UV02",
            &[("xmlns", HL7_NS), ("ITSVersion", "XML_1.0")],
        );
        w.empty(
            "id",
            &[("root", &uuid::Uuid::new_v4().hyphenated().to_string())],
        );
        w.empty(
            "interactionId",
            &[
                ("root", "2.16.840.1.113883.1.6"),
                ("extension", "PRPA_IN201308UV02"),
            ],
        );
        let (ack, authorisation, code) = match result {
            AccessResult::Exists { .. } => ("AA", Some("VALIDE"), "OK"),
            AccessResult::Absent => ("AA", None, "NF"),
            AccessResult::AccessRefused { .. } => ("AA", Some("INTERDITE"), "OK"),
        };
        if let Some(a) = authorisation {
            w.start("attentionLine", &[]);
            w.empty(
                "keyWordText",
                &[
                    ("code", "AUTORISATION"),
                    ("codeSystem", "1.2.250.1.213.4.1.2.6.1"),
                ],
            );
            w.empty(
                "value",
                &[
                    ("code", a),
                    ("codeSystem", "1.2.250.1.213.4.1.2.6.2"),
                    ("xsi:type", "CV"),
                    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                ],
            );
            w.end();
        }
        w.start("acknowledgement", &[("typeCode", ack)]);
        w.end();
        w.start(
            "controlActProcess",
            &[("classCode", "CACT"), ("moodCode", "EVN")],
        );
        if code == "OK" {
            w.start("subject", &[("typeCode", "SUBJ")]);
            w.start(
                "registrationEvent",
                &[("classCode", "REG"), ("moodCode", "EVN")],
            );
            w.start("subject1", &[("typeCode", "SBJ")]);
            w.start("patient", &[("classCode", "PAT")]);
            w.empty(
                "id",
                &[
                    ("root", patient.oid().as_str()),
                    ("extension", &patient.value()),
                ],
            );
            w.end();
            w.end();
            w.end();
            w.end();
        }
        w.start("queryAck", &[]);
        w.empty("queryResponseCode", &[("code", code)]);
        w.end();
        w.end();
        w.end();
    })
}

/// A SOAP 1.2 fault: `code` `Sender` or `Receiver`, a subcode and a reason.
pub fn fault(code: &str, subcode: &str, reason: &str) -> String {
    envelope(|w| {
        w.start("soap:Fault", &[]);
        w.start("soap:Code", &[]);
        w.text_elem("soap:Value", &[], &format!("soap:{code}"));
        w.start("soap:Subcode", &[]);
        w.text_elem(
            "soap:Value",
            &[("xmlns:dmp", "urn:segur:sim:dmp")],
            &format!("dmp:{subcode}"),
        );
        w.end();
        w.end();
        w.start("soap:Reason", &[]);
        w.text_elem("soap:Text", &[("xml:lang", "fr")], reason);
        w.end();
        w.end();
    })
}

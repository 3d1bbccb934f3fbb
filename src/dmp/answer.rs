//! Reading DMP answers: the TD0.2 answer (`PRPA_IN201308UV02`) into a typed [`AccessResult`], and SOAP 1.2 faults
//! into a typed [`DmpFault`].
//!
//! The reader is the INS module's bounded, namespace-resolving parser ([`crate::ins::soap`]): a DTD or entity
//! declaration is refused, sizes and depth are bounded, elements are matched by namespace and local name (any
//! prefix).
//!
//! TD0.2 answer shape read *(verify against the DMP integration guide's TD0.2 example)*: HL7 v3 transmission
//! wrapper `acknowledgement/typeCode` (`AA` accepted; `AE`/`AR` = access refused, the reason in
//! `acknowledgementDetail/text`), then `controlActProcess/queryAck/queryResponseCode` (`OK` = the DMP exists,
//! `NF` = no DMP), the patient in `controlActProcess/subject/registrationEvent/subject1/patient/id` (checked to be
//! the INS asked for), and the attention line (e.g. `AUTORISATION VALIDE`) in `acknowledgementDetail/text`.

use super::soap::SOAP12_NS;
use super::td02::HL7_NS;
use crate::ins::Ins;
use crate::ins::soap::{XmlElement, XmlLimits, parse_xml};
use serde::Serialize;

const LIMITS: XmlLimits = XmlLimits {
    max_bytes: 1024 * 1024,
    max_depth: 48,
    max_elements: 20_000,
};

/// What TD0.2 says about the patient's DMP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "dmp", rename_all = "snake_case")]
pub enum AccessResult {
    /// The DMP exists and this structure may write to it.
    Exists {
        /// The attention line (e.g. `AUTORISATION VALIDE`).
        detail: Option<String>,
    },
    /// The patient has no DMP.
    Absent,
    /// The DMP refuses this structure.
    AccessRefused {
        /// Why.
        detail: Option<String>,
    },
}

/// A SOAP 1.2 fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("DMP fault {code}{}: {reason}", subcode.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
pub struct DmpFault {
    /// `Code/Value` local name (`Sender`, `Receiver`…).
    pub code: String,
    /// `Subcode/Value`, when given.
    pub subcode: Option<String>,
    /// `Reason/Text`.
    pub reason: String,
}

impl DmpFault {
    /// `Receiver` faults are the server's trouble: trying later may work.
    pub fn is_transient(&self) -> bool {
        self.code == "Receiver"
    }
}

/// An answer that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// Not well-formed, DTD, too large…
    #[error("unreadable DMP answer: {0}")]
    Malformed(String),
    /// Well-formed but not the expected message.
    #[error("unexpected DMP answer: {0}")]
    Unexpected(String),
    /// The answer is about another patient.
    #[error("the TD0.2 answer is about another patient")]
    OtherPatient,
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn parse(input: &[u8]) -> Result<XmlElement, AnswerError> {
    parse_xml(input, &LIMITS).map_err(|e| AnswerError::Malformed(e.to_string()))
}

/// The fault in `input`, if it is a SOAP 1.2 fault.
pub fn parse_fault(input: &[u8]) -> Option<DmpFault> {
    let root = parse(input).ok()?;
    let fault = root.child(SOAP12_NS, "Body")?.child(SOAP12_NS, "Fault")?;
    let code = fault.child(SOAP12_NS, "Code")?;
    let value = code.child(SOAP12_NS, "Value")?.text();
    let subcode = code
        .child(SOAP12_NS, "Subcode")
        .and_then(|s| s.child(SOAP12_NS, "Value"))
        .map(|v| local(v.text()).to_string());
    let reason = fault
        .child(SOAP12_NS, "Reason")
        .and_then(|r| r.child(SOAP12_NS, "Text"))
        .map(|t| t.text().chars().take(512).collect())
        .unwrap_or_default();
    Some(DmpFault {
        code: local(value).to_string(),
        subcode,
        reason,
    })
}

/// Reads a TD0.2 answer about `patient`.
pub fn parse_td02(input: &[u8], patient: &Ins) -> Result<AccessResult, AnswerError> {
    let root = parse(input)?;
    let msg = root
        .child(SOAP12_NS, "Body")
        .and_then(|b| b.child(HL7_NS, "PRPA_IN201308UV02"))
        .ok_or_else(|| AnswerError::Unexpected("no PRPA_IN201308UV02 in the SOAP body".into()))?;
    let ack = msg
        .child(HL7_NS, "acknowledgement")
        .ok_or_else(|| AnswerError::Unexpected("no acknowledgement".into()))?;
    let detail = ack
        .child(HL7_NS, "acknowledgementDetail")
        .and_then(|d| d.child(HL7_NS, "text"))
        .map(|t| t.text().chars().take(256).collect::<String>());
    match ack.child(HL7_NS, "typeCode").and_then(|t| t.attr("code")) {
        Some("AA") => {}
        Some("AE" | "AR") => return Ok(AccessResult::AccessRefused { detail }),
        other => {
            return Err(AnswerError::Unexpected(format!(
                "acknowledgement typeCode {other:?}"
            )));
        }
    }
    let cap = msg
        .child(HL7_NS, "controlActProcess")
        .ok_or_else(|| AnswerError::Unexpected("no controlActProcess".into()))?;
    let code = cap
        .child(HL7_NS, "queryAck")
        .and_then(|q| q.child(HL7_NS, "queryResponseCode"))
        .and_then(|c| c.attr("code"));
    match code {
        Some("NF") => Ok(AccessResult::Absent),
        Some("OK") => {
            let id = cap
                .find(HL7_NS, "patient")
                .and_then(|p| p.child(HL7_NS, "id"))
                .ok_or_else(|| AnswerError::Unexpected("no patient id".into()))?;
            if id.attr("extension") != Some(patient.value().as_str())
                || id.attr("root") != Some(patient.oid().as_str())
            {
                return Err(AnswerError::OtherPatient);
            }
            Ok(AccessResult::Exists { detail })
        }
        other => Err(AnswerError::Unexpected(format!(
            "queryResponseCode {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::InsOid;

    fn ins() -> Ins {
        Ins::parse("275126322074974", InsOid::NirTest).expect("ins")
    }

    fn answer(ack: &str, code: &str, ext: &str) -> String {
        format!(
            r#"<e:Envelope xmlns:e="{SOAP12_NS}"><e:Body><h:PRPA_IN201308UV02 xmlns:h="{HL7_NS}"><h:acknowledgement><h:typeCode code="{ack}"/><h:acknowledgementDetail><h:text>AUTORISATION VALIDE</h:text></h:acknowledgementDetail></h:acknowledgement><h:controlActProcess><h:subject><h:registrationEvent><h:subject1><h:patient><h:id root="1.2.250.1.213.1.4.10" extension="{ext}"/></h:patient></h:subject1></h:registrationEvent></h:subject><h:queryAck><h:queryResponseCode code="{code}"/></h:queryAck></h:controlActProcess></h:PRPA_IN201308UV02></e:Body></e:Envelope>"#
        )
    }

    #[test]
    fn td02_answers_are_typed() {
        let p = ins();
        assert_eq!(
            parse_td02(answer("AA", "OK", "275126322074974").as_bytes(), &p),
            Ok(AccessResult::Exists {
                detail: Some("AUTORISATION VALIDE".into())
            })
        );
        assert_eq!(
            parse_td02(answer("AA", "NF", "").as_bytes(), &p),
            Ok(AccessResult::Absent)
        );
        assert!(matches!(
            parse_td02(answer("AE", "OK", "").as_bytes(), &p),
            Ok(AccessResult::AccessRefused { .. })
        ));
        assert_eq!(
            parse_td02(answer("AA", "OK", "250036912304548").as_bytes(), &p),
            Err(AnswerError::OtherPatient)
        );
        // Wrong namespace: not the HL7 message.
        let wrong = answer("AA", "OK", "275126322074974").replace(HL7_NS, "urn:other");
        assert!(matches!(
            parse_td02(wrong.as_bytes(), &p),
            Err(AnswerError::Unexpected(_))
        ));
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
            answer("AA", "OK", "275126322074974")
        );
        assert!(matches!(
            parse_td02(dtd.as_bytes(), &p),
            Err(AnswerError::Malformed(_))
        ));
    }

    #[test]
    fn faults_are_typed() {
        let f = format!(
            r#"<s:Envelope xmlns:s="{SOAP12_NS}"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>x:VIHF_INVALIDE</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="fr">signature</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#
        );
        let fault = parse_fault(f.as_bytes()).expect("fault");
        assert_eq!(fault.code, "Sender");
        assert_eq!(fault.subcode.as_deref(), Some("VIHF_INVALIDE"));
        assert!(!fault.is_transient());
        assert!(parse_fault(b"<a/>").is_none());
    }
}

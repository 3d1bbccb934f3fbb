//! Reading DMP answers: the TD0.2 answer (`PRPA_IN201308UV02`) into a typed [`AccessResult`], and SOAP 1.2 faults
//! into a typed [`DmpFault`].
//!
//! The reader is the INS module's bounded, namespace-resolving parser ([`crate::ins::soap`]): a DTD or entity
//! declaration is refused, sizes and depth are bounded, elements are matched by namespace and local name (any
//! prefix).
//!
//! TD0.2 answer shape read, checked against the CNAM DMP kit's example answer (`k-jefferson/Dehempe`, "package
//! dmp", `TD0.2 - Test d'existence_réponse.xml`): the HL7 v3 wrapper's `acknowledgement@typeCode` (an attribute:
//! `AA` accepted; `AE`/`AR` = refused, the reason in `acknowledgementDetail/text`); the attention lines
//! `attentionLine/keyWordText@code` + `value@code`, of which `AUTORISATION` gives the structure's authorisation
//! on the DMP (`VALIDE` in the example; `INTERDITE` = access refused; the detail returned is
//! `AUTORISATION <value>`); `controlActProcess/queryAck/queryResponseCode@code` (`OK` = the DMP exists, `NF` = no
//! DMP); the patient in `controlActProcess/subject/registrationEvent/subject1/patient`, whose `id`s (the example
//! has two: an INS-C, root `1.2.250.1.213.1.4.2`, then the NIR) must include the INS asked for.

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
    let authorisation = msg
        .children_in(HL7_NS, "attentionLine")
        .find(|l| {
            l.child(HL7_NS, "keyWordText").and_then(|k| k.attr("code")) == Some("AUTORISATION")
        })
        .and_then(|l| l.child(HL7_NS, "value"))
        .and_then(|v| v.attr("code"));
    let detail = authorisation
        .map(|a| format!("AUTORISATION {a}"))
        .or_else(|| {
            ack.child(HL7_NS, "acknowledgementDetail")
                .and_then(|d| d.child(HL7_NS, "text"))
                .map(|t| t.text().chars().take(256).collect::<String>())
        });
    match ack.attr("typeCode") {
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
            let p = cap
                .find(HL7_NS, "patient")
                .ok_or_else(|| AnswerError::Unexpected("no patient".into()))?;
            let value = patient.value();
            let oid = patient.oid();
            let same = p.children_in(HL7_NS, "id").any(|id| {
                id.attr("extension") == Some(value.as_str())
                    && id.attr("root") == Some(oid.as_str())
            });
            if !same {
                return Err(AnswerError::OtherPatient);
            }
            if authorisation == Some("INTERDITE") {
                return Ok(AccessResult::AccessRefused { detail });
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

    /// An answer in the shape of the CNAM kit's example (attention lines, `typeCode` attribute, an INS-C id
    /// before the NIR).
    fn answer_with(ack: &str, code: &str, ext: &str, authorisation: &str) -> String {
        format!(
            r#"<e:Envelope xmlns:e="{SOAP12_NS}"><e:Body><PRPA_IN201308UV02 xmlns="{HL7_NS}" ITSVersion="XML_1.0"><id root="0cc7f660-e7b5-4131-aee3-5ad75c0b32f2"/><attentionLine><keyWordText code="AUTORISATION" codeSystem="1.2.250.1.213.4.1.2.6.1"/><value code="{authorisation}" codeSystem="1.2.250.1.213.4.1.2.6.2" xsi:type="CV" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></attentionLine><attentionLine><keyWordText code="STATUT_MT" codeSystem="1.2.250.1.213.4.1.2.6.3"/><value value="true" xsi:type="BL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></attentionLine><acknowledgement typeCode="{ack}"><targetMessage><id root="1.2.3" extension="x"/></targetMessage></acknowledgement><controlActProcess classCode="CACT" moodCode="EVN"><reasonCode code="TEST_EXST" codeSystem="1.2.250.1.213.1.1.4.11"/><subject typeCode="SUBJ"><registrationEvent classCode="REG" moodCode="EVN"><subject1 typeCode="SBJ"><patient classCode="PAT"><id root="1.2.250.1.213.1.4.2" extension="1197854176879056415520"/><id root="1.2.250.1.213.1.4.10" extension="{ext}"/><statusCode code="active"/></patient></subject1></registrationEvent></subject><queryAck><queryResponseCode code="{code}"/></queryAck></controlActProcess></PRPA_IN201308UV02></e:Body></e:Envelope>"#
        )
    }

    fn answer(ack: &str, code: &str, ext: &str) -> String {
        answer_with(ack, code, ext, "VALIDE")
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
        assert_eq!(
            parse_td02(
                answer_with("AA", "OK", "275126322074974", "INTERDITE").as_bytes(),
                &p
            ),
            Ok(AccessResult::AccessRefused {
                detail: Some("AUTORISATION INTERDITE".into())
            })
        );
        // The old guess (a typeCode child element) is not what the DMP sends: refused as unexpected.
        let child = answer("AA", "OK", "275126322074974").replace(
            r#"<acknowledgement typeCode="AA">"#,
            r#"<acknowledgement><typeCode code="AA"/>"#,
        );
        assert!(matches!(
            parse_td02(child.as_bytes(), &p),
            Err(AnswerError::Unexpected(_))
        ));
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

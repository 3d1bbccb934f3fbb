//! TD0.2, "test access to the patient's DMP" (`spec/dmp.md`, section "TD0.2"): the HL7 v3 query
//! `PRPA_IN201307UV02` (Patient Registry Get Demographics Query) sent to the `patients` service with the reason
//! code `TEST_EXST`. Pure: ids and time are injected; the result is the SOAP 1.2 envelope to post with
//! [`super::soap::content_type`]`(`[`ACTION`]`)`.
//!
//! Message shape (HL7 v3 Normative Edition 2008, `MCCI_MT000100UV01` transmission wrapper and
//! `MCAI_MT700201UV01` control act, in schema order): `id`, `creationTime`, `interactionId`
//! (`2.16.840.1.113883.1.6` / `PRPA_IN201307UV02`), `processingCode` `P`, `processingModeCode` `T`,
//! `acceptAckCode` `AL`, `receiver` and `sender` devices, then `controlActProcess` (`code`
//! `PRPA_TE201307UV02`, `reasonCode` `TEST_EXST` / `1.2.250.1.213.1.1.4.11`, `queryByParameter` with the INS as
//! `parameterList/patientIdentifier/value` and `semanticsText` `Patient.id`).
//!
//! *(verify)* with the DMP integration guide: where the DMP expects `TEST_EXST` (here the control act's
//! `reasonCode`), and the receiver device id (here a parameter; the sender is the structure, `1<FINESS>` under
//! `1.2.250.1.71.4.2.2`). The answer (`PRPA_IN201308UV02`) is not parsed here yet.

use super::soap::{self, BadVihf};
use crate::finess::ID_NAT_STRUCT_OID;
use crate::ins::Ins;
use crate::xmlw::XmlWriter;
use time::{OffsetDateTime, UtcOffset};

/// SOAP action of TD0.2.
pub const ACTION: &str = "urn:hl7-org:v3:PRPA_IN201307UV02";
/// HL7 v3 namespace.
pub const HL7_NS: &str = "urn:hl7-org:v3";
/// Code system of the DMP reason codes.
pub const REASON_SYSTEM: &str = "1.2.250.1.213.1.1.4.11";

/// The values of one TD0.2 request.
#[derive(Debug, Clone)]
pub struct Td02Request<'a> {
    /// The patient.
    pub patient: &'a Ins,
    /// The structure's national id (`1<FINESS>`), the sending device.
    pub structure_id: &'a str,
    /// OID of the receiving device (the DMP).
    pub receiver_oid: &'a str,
    /// Message id (`id root`) and `wsa:MessageID`.
    pub message_id: uuid::Uuid,
    /// Query id.
    pub query_id: uuid::Uuid,
    /// `creationTime`.
    pub now: OffsetDateTime,
    /// The `patients` service URL (`wsa:To`).
    pub to: &'a str,
    /// The signed VIHF.
    pub vihf: &'a str,
}

fn hl7_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn device(w: &mut XmlWriter, role: &str, type_code: &str, id: &[(&str, &str)]) {
    w.start(role, &[("typeCode", type_code)]);
    w.start(
        "device",
        &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
    );
    w.empty("id", id);
    w.end();
    w.end();
}

/// Writes the `PRPA_IN201307UV02` element alone.
pub fn write_query(w: &mut XmlWriter, req: &Td02Request<'_>) {
    let message_id = req.message_id.hyphenated().to_string();
    w.start(
        "PRPA_IN201307UV02",
        &[("xmlns", HL7_NS), ("ITSVersion", "XML_1.0")],
    );
    w.empty("id", &[("root", &message_id)]);
    w.empty("creationTime", &[("value", &hl7_ts(req.now))]);
    w.empty(
        "interactionId",
        &[
            ("root", "2.16.840.1.113883.1.6"),
            ("extension", "PRPA_IN201307UV02"),
        ],
    );
    w.empty("processingCode", &[("code", "P")]);
    w.empty("processingModeCode", &[("code", "T")]);
    w.empty("acceptAckCode", &[("code", "AL")]);
    device(w, "receiver", "RCV", &[("root", req.receiver_oid)]);
    device(
        w,
        "sender",
        "SND",
        &[("root", ID_NAT_STRUCT_OID), ("extension", req.structure_id)],
    );
    w.start(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    );
    w.empty(
        "code",
        &[
            ("code", "PRPA_TE201307UV02"),
            ("codeSystem", "2.16.840.1.113883.1.6"),
        ],
    );
    w.empty(
        "reasonCode",
        &[("code", "TEST_EXST"), ("codeSystem", REASON_SYSTEM)],
    );
    w.start("queryByParameter", &[]);
    w.empty(
        "queryId",
        &[("root", &req.query_id.hyphenated().to_string())],
    );
    w.empty("statusCode", &[("code", "new")]);
    w.empty("responsePriorityCode", &[("code", "I")]);
    w.start("parameterList", &[]);
    w.start("patientIdentifier", &[]);
    let value = req.patient.value();
    w.empty(
        "value",
        &[("root", req.patient.oid().as_str()), ("extension", &value)],
    );
    w.text_elem("semanticsText", &[], "Patient.id");
    w.end();
    w.end();
    w.end();
    w.end();
    w.end();
}

/// The whole SOAP request.
pub fn build(req: &Td02Request<'_>) -> Result<String, BadVihf> {
    let env = soap::Envelope {
        action: ACTION,
        message_id: req.message_id,
        to: req.to,
        vihf: req.vihf,
    };
    soap::write(&env, |w: &mut XmlWriter| -> Result<(), BadVihf> {
        write_query(w, req);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::InsOid;
    use crate::ins::soap::{XmlLimits, parse_xml};
    use time::macros::datetime;

    #[test]
    fn request_carries_the_ins_and_test_exst() {
        let patient = Ins::parse("275126322074974", InsOid::NirTest).expect("INS");
        let vihf =
            r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1"/>"#;
        let xml = build(&Td02Request {
            patient: &patient,
            structure_id: "1630790004",
            receiver_oid: "1.2.250.1.213.4.1",
            message_id: uuid::Uuid::from_u128(5),
            query_id: uuid::Uuid::from_u128(6),
            now: datetime!(2026-12-02 10:30:00 +01:00),
            to: "https://localhost/si-dmp-server/v2/services/patients",
            vihf,
        })
        .expect("request");
        let limits = XmlLimits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 1000,
        };
        let env = parse_xml(xml.as_bytes(), &limits).expect("parses");
        let header = env.child(soap::SOAP12_NS, "Header").expect("Header");
        assert_eq!(
            header.child(soap::WSA_NS, "Action").expect("Action").text(),
            ACTION
        );
        assert!(header.child(soap::WSSE_NS, "Security").is_some());
        let q = env
            .child(soap::SOAP12_NS, "Body")
            .and_then(|b| b.child(HL7_NS, "PRPA_IN201307UV02"))
            .expect("query");
        let cap = q.child(HL7_NS, "controlActProcess").expect("control act");
        let reason = cap.child(HL7_NS, "reasonCode").expect("reasonCode");
        assert_eq!(reason.attr("code"), Some("TEST_EXST"));
        assert_eq!(reason.attr("codeSystem"), Some(REASON_SYSTEM));
        let value = cap
            .find(HL7_NS, "patientIdentifier")
            .and_then(|p| p.child(HL7_NS, "value"))
            .expect("patient identifier");
        assert_eq!(value.attr("extension"), Some("275126322074974"));
        assert_eq!(value.attr("root"), Some("1.2.250.1.213.1.4.10"));
        assert_eq!(
            q.child(HL7_NS, "creationTime")
                .and_then(|c| c.attr("value")),
            Some("20261202093000")
        );
        assert_eq!(
            build(&Td02Request {
                patient: &patient,
                structure_id: "1",
                receiver_oid: "1.2",
                message_id: uuid::Uuid::from_u128(5),
                query_id: uuid::Uuid::from_u128(6),
                now: datetime!(2026-12-02 10:30:00 +01:00),
                to: "x",
                vihf: "not xml",
            }),
            Err(BadVihf)
        );
    }
}

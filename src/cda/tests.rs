use super::sample::{SAMPLE_PDF, adrun_zoe};
use super::*;
use crate::ins::IdentityStatus;
use time::macros::datetime;

/// Accepts everything: for tests of the checks that come before validation.
struct AcceptAll;
impl SchemaValidator for AcceptAll {
    fn validate(&self, _xml: &[u8]) -> Result<(), SchemaError> {
        Ok(())
    }
}

fn ids() -> DocumentIds {
    DocumentIds::first(
        uuid::Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888),
        uuid::Uuid::from_u128(0x9999),
    )
}

const NOW: time::OffsetDateTime = datetime!(2026-12-02 10:30:00 +01:00);

fn build_n3(doc: &PpsDocument, ids: &DocumentIds) -> Result<Cda, CdaError> {
    build(doc, ids, Body::N3, NOW, &Xmllint::cda())
}

#[test]
fn n3_sample_passes_the_schema_and_follows_the_header_rules() {
    let cda = build_n3(&adrun_zoe(), &ids()).expect("valid N3");
    let x = cda.xml();
    // INS first in patientRole, then the local id.
    let ins_at = x
        .find(r#"<id root="1.2.250.1.213.1.4.10" extension="275126322074974"/>"#)
        .expect("INS");
    let local_at = x.find(r#"extension="R-000042""#).expect("local id");
    assert!(ins_at < local_at);
    assert!(x.find("<patientRole>").expect("patientRole") < ins_at);
    for needle in [
        r#"<family qualifier="BR">ADRUN</family>"#,
        r#"<given qualifier="BR">ZOE</given>"#,
        "<county>63220</county>",
        r#"<birthTime value="19751231"/>"#,
        r#"<id root="1.2.250.1.71.4.2.2" extension="1630790004"/>"#,
        r#"<id root="1.2.250.1.71.4.2.1" extension="810100000011"/>"#,
        r#"<signatureCode code="S"/>"#,
        r#"<id root="1.2.250.1.71.4.2.2" extension="1630789998"/>"#,
        r#"<standardIndustryClassCode code="MEDICO-SOCIAL""#,
        r#"<code code="SA17""#,
        r#"<templateId root="1.2.250.1.213.1.1.1.20" extension="2021.01"/>"#,
        r#"<setId root="2.25.39321"/>"#,
        r#"<versionNumber value="1"/>"#,
        r#"<effectiveTime value="20261202103000+0100"/>"#,
        r#"<low value="20261201"/>"#,
        "1.2.250.1.213.1.1.2.132",
        "1.2.250.1.213.1.1.2.157",
        "1.2.250.1.213.1.1.2.44",
        "1.2.250.1.213.1.1.2.158",
        "1.2.250.1.213.1.1.2.35",
        r#"moodCode="GOL""#,
        r#"moodCode="INT""#,
    ] {
        assert!(x.contains(needle), "missing {needle}");
    }
    assert!(!x.contains("RPLC"));
    assert_eq!(cda.level(), Level::N3);
    assert_eq!(
        cda.ids().id,
        format!("2.25.{}", 0x1111_2222_3333_4444_5555_6666_7777_8888_u128)
    );
}

#[test]
fn n1_carries_the_pdf_and_passes_the_schema() {
    let cda = build(
        &adrun_zoe(),
        &ids(),
        Body::N1 { pdf: SAMPLE_PDF },
        NOW,
        &Xmllint::cda(),
    )
    .expect("valid N1");
    let x = cda.xml();
    assert!(x.contains(r#"<text mediaType="application/pdf" representation="B64">JVBERi0"#));
    assert!(!x.contains("structuredBody"));
    assert!(x.contains(oid::XDS_SD_TEMPLATE));
    assert_eq!(cda.level().format_code(), "urn:ihe:iti:xds-sd:pdf:2008");
}

#[test]
fn n1_refuses_what_is_not_a_pdf() {
    let err = build(
        &adrun_zoe(),
        &ids(),
        Body::N1 { pdf: b"<html>" },
        NOW,
        &AcceptAll,
    )
    .unwrap_err();
    assert!(matches!(err, CdaError::NotPdf), "{err}");
}

#[test]
fn a_new_version_keeps_the_set_and_replaces_the_previous_id() {
    let v1 = ids();
    let v2 = v1.next(uuid::Uuid::from_u128(42));
    assert_eq!(v2.version, 2);
    let cda = build_n3(&adrun_zoe(), &v2).expect("valid v2");
    let x = cda.xml();
    assert!(x.contains(r#"<versionNumber value="2"/>"#));
    assert!(x.contains(&format!(r#"<setId root="{}"/>"#, v1.set_id)));
    let rplc = x
        .find(r#"<relatedDocument typeCode="RPLC">"#)
        .expect("RPLC");
    assert!(x[rplc..].contains(&format!(r#"<id root="{}"/>"#, v1.id)));
    // Schema order: relatedDocument after documentationOf, before componentOf.
    assert!(x.find("<documentationOf>").expect("documentationOf") < rplc);
    assert!(rplc < x.find("<componentOf>").expect("componentOf"));
}

#[test]
fn version_rules() {
    let doc = adrun_zoe();
    let mut bad = ids();
    bad.replaces = Some("1.2.3".into());
    assert!(matches!(
        build(&doc, &bad, Body::N3, NOW, &AcceptAll),
        Err(CdaError::Version { .. })
    ));
    let mut bad = ids();
    bad.version = 2;
    assert!(matches!(
        build(&doc, &bad, Body::N3, NOW, &AcceptAll),
        Err(CdaError::Version { .. })
    ));
    let mut bad = ids().next(uuid::Uuid::from_u128(7));
    bad.replaces = Some(bad.id.clone());
    assert!(matches!(
        build(&doc, &bad, Body::N3, NOW, &AcceptAll),
        Err(CdaError::Version { .. })
    ));
    let mut bad = ids();
    bad.id = "not-an-oid".into();
    assert!(matches!(
        build(&doc, &bad, Body::N3, NOW, &AcceptAll),
        Err(CdaError::NotAnOid { .. })
    ));
}

#[test]
fn only_a_qual_identity_is_accepted() {
    for status in [
        IdentityStatus::Prov,
        IdentityStatus::Recup,
        IdentityStatus::Vali,
    ] {
        let mut doc = adrun_zoe();
        doc.person.identity_status = status;
        let err = build(&doc, &ids(), Body::N3, NOW, &AcceptAll).unwrap_err();
        assert_eq!(err.code(), "dmp.identity_not_qualified");
    }
    let mut doc = adrun_zoe();
    doc.person.ins = None;
    assert!(matches!(
        build(&doc, &ids(), Body::N3, NOW, &AcceptAll),
        Err(CdaError::MissingIns)
    ));
    let mut doc = adrun_zoe();
    if let Some(ins) = doc.person.ins.as_mut() {
        ins.value = "275126322074975".into();
    }
    assert_eq!(
        build(&doc, &ids(), Body::N3, NOW, &AcceptAll)
            .unwrap_err()
            .code(),
        "ins.invalid_key"
    );
}

#[test]
fn structure_author_needs_a_legal_authenticator() {
    let mut doc = adrun_zoe();
    doc.author = Author::Structure {
        software: "segur-gateway".into(),
    };
    assert!(matches!(
        build(&doc, &ids(), Body::N3, NOW, &AcceptAll),
        Err(CdaError::NoLegalAuthenticator)
    ));
    doc.legal_authenticator = Some(Professional {
        id_nat: "810100000028".into(),
        family: "MARTIN".into(),
        given: "PAUL".into(),
        profession: None,
    });
    let cda = build_n3(&doc, &ids()).expect("device author passes the schema");
    assert!(
        cda.xml()
            .contains("<softwareName>segur-gateway</softwareName>")
    );
}

#[test]
fn period_must_be_ordered() {
    let mut doc = adrun_zoe();
    doc.period.end = Some(time::macros::date!(2026 - 01 - 01));
    assert!(matches!(
        build(&doc, &ids(), Body::N3, NOW, &AcceptAll),
        Err(CdaError::Period { .. })
    ));
}

#[test]
fn schema_failures_are_errors() {
    // A document the schema refuses: the validator reports it, with its messages.
    let err = Xmllint::cda()
        .validate(b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title/></ClinicalDocument>");
    let Err(SchemaError::Invalid { messages }) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert!(!messages.is_empty());
    let err = Xmllint::cda().validate(b"<not-closed>");
    assert!(matches!(err, Err(SchemaError::Invalid { .. })), "{err:?}");
    let err = Xmllint::new("/nonexistent.xsd").validate(b"<a/>");
    assert!(matches!(err, Err(SchemaError::Unavailable(_))));
}

#[test]
fn text_is_escaped_and_the_sample_round_trips_through_json() {
    let mut doc = adrun_zoe();
    doc.needs[0].label = "Douleur <aiguë> & \"chutes\"".into();
    let cda = build_n3(&doc, &ids()).expect("escaped text passes the schema");
    assert!(
        cda.xml()
            .contains("Douleur &lt;aiguë&gt; &amp; &quot;chutes&quot;")
    );
    let json = serde_json::to_string(&adrun_zoe()).expect("json");
    let back: PpsDocument = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, adrun_zoe());
    assert!(json.contains(r#""start":"2026-12-01""#), "{json}");
    let unknown = json.replacen("\"needs\"", "\"neds\"", 1);
    assert!(serde_json::from_str::<PpsDocument>(&unknown).is_err());
}

#[test]
fn oids() {
    assert!(is_oid("1.2.250.1.213.1.4.8"));
    assert!(is_oid("2.25.0"));
    assert!(!is_oid("1"));
    assert!(!is_oid("1..2"));
    assert!(!is_oid("1.02"));
    assert!(!is_oid("55A38EBB-53F6"));
}

use super::pps::{SubmissionIds, submission};
use super::*;
use crate::cda::sample::adrun_zoe;
use crate::cda::validate::schemas_dir;
use crate::cda::{Body, DocumentIds, SchemaValidator, Xmllint};
use time::macros::datetime;

fn sample(version2: bool) -> (Submission, String) {
    let doc = adrun_zoe();
    let v1 = DocumentIds::first(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
    let ids = if version2 {
        v1.next(uuid::Uuid::from_u128(3))
    } else {
        v1
    };
    let now = datetime!(2026-12-02 10:30:00 +01:00);
    let cda = crate::cda::build(&doc, &ids, Body::N3, now, &Xmllint::cda()).expect("cda");
    let sub_ids = SubmissionIds {
        set_entry: uuid::Uuid::from_u128(10),
        document_entry: uuid::Uuid::from_u128(11),
        set_unique: uuid::Uuid::from_u128(12),
        source_id: "1.2.250.1.999.2".into(),
        submission_time: now,
        replaces: version2.then(|| uuid::Uuid::from_u128(9).urn().to_string()),
    };
    let sub = submission(&doc, &cda, &sub_ids);
    let xml = write_submit_objects_request(&sub).expect("xml");
    (sub, xml)
}

fn lcm() -> Xmllint {
    Xmllint::new(schemas_dir().join("xds").join("ebRS").join("lcm.xsd"))
}

#[test]
fn submit_objects_request_passes_the_ebrs_schema() {
    let (_, xml) = sample(false);
    lcm()
        .validate(xml.as_bytes())
        .expect("valid against lcm.xsd");
    let (_, xml) = sample(true);
    lcm()
        .validate(xml.as_bytes())
        .expect("replacement valid against lcm.xsd");
}

#[test]
fn every_classification_and_identifier_is_there() {
    let (sub, xml) = sample(false);
    for s in [
        scheme::DOCUMENT_ENTRY_TYPE,
        scheme::CLASS_CODE,
        scheme::TYPE_CODE,
        scheme::FORMAT_CODE,
        scheme::FACILITY_TYPE_CODE,
        scheme::PRACTICE_SETTING_CODE,
        scheme::CONFIDENTIALITY_CODE,
        scheme::DOCUMENT_AUTHOR,
        scheme::DOCUMENT_PATIENT_ID,
        scheme::DOCUMENT_UNIQUE_ID,
        scheme::SUBMISSION_SET_NODE,
        scheme::SUBMISSION_SET_AUTHOR,
        scheme::CONTENT_TYPE_CODE,
        scheme::SUBMISSION_SET_PATIENT_ID,
        scheme::SOURCE_ID,
        scheme::SUBMISSION_SET_UNIQUE_ID,
    ] {
        assert!(xml.contains(s), "missing {s}");
    }
    let cx = "275126322074974^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH";
    assert!(xml.contains(&format!(r#"value="{cx}""#)), "patientId CX");
    assert!(
        xml.contains(&format!("<rim:Value>{cx}</rim:Value>")),
        "sourcePatientId"
    );
    // uniqueId = the CDA id root alone.
    assert!(xml.contains(&format!(r#"value="{}""#, sub.document.unique_id)));
    assert!(sub.document.unique_id.starts_with("2.25."));
    assert!(xml.contains(
        "<rim:Value>EHPAD LES TILLEULS (TEST)^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^1630790004</rim:Value>"
    ));
    assert!(
        xml.contains("810100000011^LEFEBVRE^CLAIRE^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS")
    );
    assert!(xml.contains(r#"nodeRepresentation="urn:asip:ci-sis:pps-paerpa:2017""#));
    assert!(xml.contains(r#"nodeRepresentation="SA17""#));
    assert!(xml.contains(r#"nodeRepresentation="18776-5""#));
    assert!(
        xml.contains("<rim:Value>20261202093000</rim:Value>"),
        "creationTime in UTC"
    );
    assert!(
        xml.contains("<rim:Value>20261201</rim:Value>"),
        "serviceStartTime"
    );
    assert!(xml.contains("<rim:Value>PID-5|ADRUN^ZOE^^^^^L</rim:Value>"));
    assert!(xml.contains("HasMember"));
    assert!(!xml.contains("RPLC"));
}

#[test]
fn replacement_adds_an_rplc_association() {
    let (sub, xml) = sample(true);
    assert!(xml.contains(&format!(
        r#"associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="{}" targetObject="{}""#,
        sub.document.entry_uuid,
        uuid::Uuid::from_u128(9).urn()
    )));
}

#[test]
fn bad_identifiers_are_refused() {
    let (sub, _) = sample(false);
    let mut bad = sub.clone();
    bad.document.entry_uuid = "Document01".into();
    assert!(matches!(
        write_submit_objects_request(&bad),
        Err(XdsError::NotUrnUuid { .. })
    ));
    let mut bad = sub.clone();
    bad.set.source_id = "abc".into();
    assert!(matches!(
        write_submit_objects_request(&bad),
        Err(XdsError::NotAnOid { .. })
    ));
    let mut bad = sub.clone();
    bad.replaces = Some(bad.document.entry_uuid.clone());
    assert_eq!(
        write_submit_objects_request(&bad),
        Err(XdsError::SelfReplacement)
    );
    let mut bad = sub;
    bad.document.author.institution_name = " ".into();
    assert!(matches!(
        write_submit_objects_request(&bad),
        Err(XdsError::Empty { .. })
    ));
}

#[test]
fn hl7_delimiters_are_escaped() {
    assert_eq!(submit::hl7_escape(r"A^B&C|D~E\F"), r"A\S\B\T\C\F\D\R\E\E\F");
}

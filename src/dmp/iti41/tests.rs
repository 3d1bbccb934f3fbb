use super::*;
use crate::cda::sample::adrun_zoe;
use crate::cda::{Body, DocumentIds, Xmllint};
use crate::ins::soap::{XmlLimits, parse_xml};
use crate::xds::pps::{SubmissionIds, submission};
use time::macros::datetime;

const VIHF: &str = r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0"/>"#;

fn sample() -> (Submission, String) {
    let doc = adrun_zoe();
    let ids = DocumentIds::first(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
    let now = datetime!(2026-12-02 10:30:00 +01:00);
    let cda = crate::cda::build(&doc, &ids, Body::N3, now, &Xmllint::cda()).expect("cda");
    let sub = submission(
        &doc,
        &cda,
        &SubmissionIds {
            set_entry: uuid::Uuid::from_u128(10),
            document_entry: uuid::Uuid::from_u128(11),
            set_unique: uuid::Uuid::from_u128(12),
            source_id: "1.2.250.1.999.2".into(),
            submission_time: now,
            replaces: None,
        },
    );
    (sub, cda.xml().to_owned())
}

/// Splits a multipart body into (headers, content) parts, as a server would.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<(String, &'a [u8])> {
    let delimiter = format!("\r\n--{boundary}");
    let mut data = body;
    // The body starts with the delimiter without its leading CRLF.
    let first = format!("--{boundary}\r\n");
    assert!(
        data.starts_with(first.as_bytes()),
        "body starts with the boundary"
    );
    data = &data[first.len()..];
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
            .expect("closing delimiter");
        let part = &data[..end];
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers end");
        out.push((
            String::from_utf8_lossy(&part[..split]).into_owned(),
            &part[split + 4..],
        ));
        data = &data[end + delimiter.len()..];
        if data.starts_with(b"--") {
            break;
        }
        data = data.strip_prefix(b"\r\n").expect("CRLF after delimiter");
    }
    out
}

#[test]
fn mtom_message_parses_back() {
    let (sub, cda) = sample();
    let req = Iti41Request {
        submission: &sub,
        document: cda.as_bytes(),
        vihf: VIHF,
        signature: None,
        to: "https://dmp.example/si-dmp-server/v2/services/repository",
        message_id: uuid::Uuid::from_u128(77),
        boundary: "MIMEBoundary_0123",
    };
    let msg = build(&req).expect("message");
    assert!(msg.content_type.starts_with(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"MIMEBoundary_0123\""
    ));
    assert!(
        msg.content_type
            .contains(&format!("start=\"<{}>\"", msg.root_id))
    );
    assert!(msg.content_type.contains("start-info=\"application/soap+xml; action=\\\"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b\\\"\""));
    let parts = parts(&msg.body, "MIMEBoundary_0123");
    assert_eq!(parts.len(), 2);
    assert!(
        parts[0].0.contains(
            "Content-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml"
        )
    );
    assert!(
        parts[0]
            .0
            .contains(&format!("Content-ID: <{}>", msg.root_id))
    );
    assert!(
        parts[1]
            .0
            .contains(&format!("Content-ID: <{}>", msg.document_id))
    );
    assert!(parts[1].0.contains("Content-Transfer-Encoding: binary"));
    // The document travels as raw bytes, not base64 in the envelope.
    assert_eq!(parts[1].1, cda.as_bytes());
    let soap = parse_xml(
        parts[0].1,
        &XmlLimits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 10_000,
        },
    )
    .expect("envelope parses");
    assert!(soap.is(SOAP12_NS, "Envelope"));
    let header = soap.child(SOAP12_NS, "Header").expect("Header");
    assert_eq!(
        header.child(WSA_NS, "Action").expect("Action").text(),
        ACTION
    );
    assert_eq!(
        header.child(WSA_NS, "MessageID").expect("MessageID").text(),
        uuid::Uuid::from_u128(77).urn().to_string()
    );
    let security = header.child(WSSE_NS, "Security").expect("Security");
    assert!(
        security
            .child("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")
            .is_some()
    );
    let request = soap
        .child(SOAP12_NS, "Body")
        .and_then(|b| b.child(XDSB_NS, "ProvideAndRegisterDocumentSetRequest"))
        .expect("request");
    assert!(
        request
            .child(crate::xds::ns::LCM, "SubmitObjectsRequest")
            .is_some()
    );
    let document = request.child(XDSB_NS, "Document").expect("Document");
    assert_eq!(document.attr("id"), Some(sub.document.entry_uuid.as_str()));
    let include = document.child(XOP_NS, "Include").expect("xop:Include");
    assert_eq!(
        include.attr("href"),
        Some(format!("cid:{}", msg.document_id).as_str())
    );
    assert!(document.text().is_empty());
}

#[test]
fn refuses_bad_boundaries_and_vihf() {
    let (sub, cda) = sample();
    let mut req = Iti41Request {
        submission: &sub,
        document: cda.as_bytes(),
        vihf: VIHF,
        signature: None,
        to: "https://dmp.example/",
        message_id: uuid::Uuid::from_u128(1),
        boundary: "bad boundary with spaces",
    };
    assert!(matches!(build(&req), Err(Iti41Error::InvalidBoundary)));
    req.boundary = "B";
    let doc = b"...--B...".to_vec();
    req.document = &doc;
    assert!(matches!(build(&req), Err(Iti41Error::BoundaryCollision)));
    req.document = cda.as_bytes();
    req.boundary = "MIMEBoundary_1";
    req.vihf = "<?xml version=\"1.0\"?><saml2:Assertion/>";
    assert!(matches!(build(&req), Err(Iti41Error::Vihf(_))));
}

/// Builds the message (signed or not), parses it back as the simulator does and runs its metadata rules.
fn simulator_verdict(signed: bool) -> Result<(), Vec<String>> {
    use crate::dmp::xades::{self, Signed, XadesRequest};
    use crate::xds::signature::SignatureEntry;
    let (sub, cda) = sample();
    let signer = crate::dmp::VihfSigner::new(crate::pki::testpki::sign()).expect("signer");
    let now = datetime!(2026-12-02 10:30:00 +01:00);
    let entry = SignatureEntry::for_set(&sub.set.entry_uuid, &sub.set.unique_id, now);
    let xml = xades::sign(
        &signer,
        &XadesRequest {
            submission_set: &sub.set.unique_id,
            documents: &[Signed {
                unique_id: &sub.document.unique_id,
                content: cda.as_bytes(),
            }],
            id: "sig-1",
            now,
        },
    )
    .expect("xades");
    let msg = build(&Iti41Request {
        submission: &sub,
        document: cda.as_bytes(),
        vihf: VIHF,
        signature: signed.then_some((&entry, xml.as_bytes())),
        to: "https://dmp.example/",
        message_id: uuid::Uuid::from_u128(78),
        boundary: "MIMEBoundary_sig",
    })
    .expect("message");
    assert_eq!(
        parts(&msg.body, "MIMEBoundary_sig").len(),
        if signed { 3 } else { 2 }
    );
    let mtom = crate::sim::dmp::mtom::parse(&msg.content_type, &msg.body).expect("mtom");
    let soap = parse_xml(
        &mtom.root,
        &XmlLimits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 10_000,
        },
    )
    .expect("envelope");
    let body = soap.child(SOAP12_NS, "Body").expect("Body");
    let patient = sub.document.patient.clone();
    let facts = crate::sim::dmp::vihf_check::VihfFacts {
        structure_id: signer.structure_id().to_owned(),
        patient_cx: patient.to_cx(),
        patient,
    };
    let ctx = crate::sim::dmp::trust::sandbox_context(false).expect("ctx");
    crate::sim::dmp::checks::check(body, &mtom, &facts, |_| true, &ctx)
        .map(|_| ())
        .map_err(|errors| errors.iter().map(|e| format!("{e:?}")).collect())
}

#[test]
fn the_simulator_accepts_a_signed_set_and_refuses_an_unsigned_one() {
    simulator_verdict(true).expect("signed submission accepted");
    let errors = simulator_verdict(false).expect_err("unsigned submission refused");
    assert!(
        errors.iter().any(|e| e.contains("not signed")),
        "{errors:?}"
    );
}

#[test]
fn the_signature_entry_is_in_the_metadata() {
    use crate::xds::signature::SignatureEntry;
    let (sub, _) = sample();
    let entry = SignatureEntry::for_set(
        &sub.set.entry_uuid,
        &sub.set.unique_id,
        datetime!(2026-12-02 10:30:00 UTC),
    );
    // Derived identifiers: a resend of the same submission carries the same ones.
    assert_eq!(
        entry,
        SignatureEntry::for_set(
            &sub.set.entry_uuid,
            &sub.set.unique_id,
            datetime!(2026-12-02 10:30:00 UTC)
        )
    );
    assert_eq!(entry.unique_id, format!("{}.1", sub.set.unique_id));
    let mut w = crate::xmlw::XmlWriter::fragment(false);
    crate::xds::submit::write_into_signed(&mut w, &sub, Some(&entry)).expect("metadata");
    let xml = w.finish();
    for needle in [
        "nodeRepresentation=\"urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1\"",
        "nodeRepresentation=\"http://www.w3.org/2000/09/xmldsig#\"",
        "nodeRepresentation=\"E1762\"",
        "nodeRepresentation=\"1.2.840.10065.1.12.1.14\"",
        "nodeRepresentation=\"MASQUE_PS\"",
        "nodeRepresentation=\"INVISIBLE_PATIENT\"",
        &format!("targetObject=\"{}\"", entry.entry_uuid),
        &format!(
            "associationType=\"urn:ihe:iti:2007:AssociationType:signs\" sourceObject=\"{}\" targetObject=\"{}\"",
            entry.entry_uuid, sub.set.entry_uuid
        ),
        &format!("value=\"{}\"", entry.unique_id),
    ] {
        assert!(xml.contains(needle), "missing {needle}");
    }
}

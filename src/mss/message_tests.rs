use super::*;
use crate::mss::sample::{SamplePps, sample_pps};
use mail_parser::{MessageParser, MimeHeaders};
use time::macros::datetime;

fn policy() -> Policy {
    Policy {
        nil: "SEGUR-GW-TEST-0001".into(),
        allowed_domains: vec!["mssante.fr".into()],
        max_bytes: DEFAULT_MAX_BYTES,
        sender: Sender {
            software: "segur-gateway test".into(),
            contact: "ehpad@ehpad.test.mssante.fr".into(),
        },
    }
}

fn outgoing<'a>(s: &'a SamplePps, to: Recipients, pdf: Option<&'a [u8]>) -> Outgoing<'a> {
    Outgoing {
        doc: &s.doc,
        cda: &s.cda,
        submission: &s.submission,
        pdf,
        from: "ehpad@ehpad.test.mssante.fr",
        to,
        body: "Bonjour, voici le plan personnalisé de coordination en santé.",
        ack: true,
        id: uuid::Uuid::from_u128(0x42),
        date: datetime!(2026-12-02 10:31:00 +01:00),
    }
}

fn doctor() -> Recipients {
    Recipients::Professionals(vec!["dr.martin@medecin.test.mssante.fr".into()])
}

#[test]
fn headers_subject_and_parts() {
    let s = sample_pps(None).expect("sample");
    let pdf = crate::cda::sample::SAMPLE_PDF;
    let built = build_message(&outgoing(&s, doctor(), Some(pdf)), &policy()).expect("message");
    let again = build_message(&outgoing(&s, doctor(), Some(pdf)), &policy()).expect("message");
    assert_eq!(built, again, "same input, same bytes");
    assert_eq!(
        built.message_id,
        "<00000000-0000-0000-0000-000000000042@ehpad.test.mssante.fr>"
    );
    let m = MessageParser::default()
        .parse(&built.bytes)
        .expect("parses");
    let h = |n: &str| m.header_raw(n).map(str::trim).map(str::to_owned);
    assert_eq!(h("X-MSS-NIL").as_deref(), Some("SEGUR-GW-TEST-0001"));
    assert_eq!(h("X-MSS-CODECDA").as_deref(), Some(s.doc.kind.code()));
    assert_eq!(h("X-MSS-INS").as_deref(), Some("O"));
    assert_eq!(h("X-MSS-MES"), None, "FIN only to patients");
    assert_eq!(
        h("Disposition-Notification-To").as_deref(),
        Some("ehpad@ehpad.test.mssante.fr")
    );
    assert_eq!(
        h("Return-Receipt-To").as_deref(),
        Some("ehpad@ehpad.test.mssante.fr")
    );
    assert_eq!(
        m.message_id(),
        Some("00000000-0000-0000-0000-000000000042@ehpad.test.mssante.fr")
    );
    let expected = format!(
        "XDM/1.0/DDM+{} ADRUN ZOE 31/12/1975",
        s.submission.document.title
    );
    assert_eq!(m.subject(), Some(expected.as_str()));
    let names: Vec<&str> = m
        .attachments()
        .filter_map(|a| a.attachment_name())
        .collect();
    assert_eq!(names, ["DOC0002.PDF", "DOC0001.XML", "IHE_XDM.ZIP"]);
    let zip = m
        .attachments()
        .find(|a| a.attachment_name() == Some("IHE_XDM.ZIP"))
        .expect("zip");
    let docs = crate::mss::read_package(zip.contents(), &Default::default()).expect("xdm");
    assert_eq!(docs[0].bytes, s.cda.xml().as_bytes());
    assert!(m.body_text(0).expect("text").contains("plan personnalisé"));
}

#[test]
fn no_ack_no_receipt_headers() {
    let s = sample_pps(None).expect("sample");
    let mut o = outgoing(&s, doctor(), None);
    o.ack = false;
    let built = build_message(&o, &policy()).expect("message");
    let m = MessageParser::default()
        .parse(&built.bytes)
        .expect("parses");
    assert!(m.header_raw("Disposition-Notification-To").is_none());
    assert!(m.header_raw("Return-Receipt-To").is_none());
    assert!(m.header_raw("X-MSS-NIL").is_some(), "NIL on every message");
}

#[test]
fn patient_mailbox_for_qual_only_with_fin() {
    let s = sample_pps(None).expect("sample");
    let built = build_message(&outgoing(&s, Recipients::Patient, None), &policy()).expect("qual");
    assert_eq!(built.to, ["275126322074974@patient.mssante.fr"]);
    let m = MessageParser::default()
        .parse(&built.bytes)
        .expect("parses");
    assert_eq!(m.header_raw("X-MSS-MES").map(str::trim), Some("FIN"));
    for status in [
        IdentityStatus::Prov,
        IdentityStatus::Vali,
        IdentityStatus::Recup,
    ] {
        let mut s2 = s.clone();
        s2.doc.person.identity_status = status;
        let err = build_message(&outgoing(&s2, Recipients::Patient, None), &policy())
            .expect_err("not qual");
        assert!(matches!(err, MessageError::NotQualified(_)), "{err}");
        let built = build_message(&outgoing(&s2, doctor(), None), &policy()).expect("pro");
        let m = MessageParser::default()
            .parse(&built.bytes)
            .expect("parses");
        assert_eq!(m.header_raw("X-MSS-INS").map(str::trim), Some("N"));
    }
    let mixed = Recipients::Professionals(vec![
        "dr.martin@medecin.test.mssante.fr".into(),
        "275126322074974@patient.mssante.fr".into(),
    ]);
    assert!(matches!(
        build_message(&outgoing(&s, mixed, None), &policy()),
        Err(MessageError::MixedRecipients)
    ));
}

#[test]
fn recipients_outside_the_mssante_domains_are_refused() {
    let s = sample_pps(None).expect("sample");
    for addr in [
        "someone@gmail.com",
        "x@evilmssante.fr",
        "x@mssante.fr.evil.com",
    ] {
        let err = build_message(
            &outgoing(&s, Recipients::Professionals(vec![addr.into()]), None),
            &policy(),
        )
        .expect_err(addr);
        assert!(
            matches!(err, MessageError::DomainNotAllowed(_)),
            "{addr}: {err}"
        );
    }
    for addr in ["not an address", "a@b@c"] {
        let err = build_message(
            &outgoing(&s, Recipients::Professionals(vec![addr.into()]), None),
            &policy(),
        )
        .expect_err(addr);
        assert!(matches!(err, MessageError::BadAddress(_)), "{addr}: {err}");
    }
    assert!(matches!(
        build_message(
            &outgoing(&s, Recipients::Professionals(vec![]), None),
            &policy()
        ),
        Err(MessageError::NoRecipient)
    ));
}

#[test]
fn size_limit_is_checked_before_sending() {
    let s = sample_pps(None).expect("sample");
    let big = vec![b'x'; 600_000];
    let small = Policy {
        max_bytes: 500_000,
        ..policy()
    };
    build_message(&outgoing(&s, doctor(), Some(&big[..100_000])), &small).expect("under");
    let err = build_message(&outgoing(&s, doctor(), Some(&big)), &small).expect_err("over");
    assert!(
        matches!(err, MessageError::TooLarge { max: 500_000, .. }),
        "{err}"
    );
    // The default is 25 MB.
    let huge = vec![b'x'; 25_000_001];
    let err = build_message(&outgoing(&s, doctor(), Some(&huge)), &policy()).expect_err("25 MB");
    assert!(
        matches!(
            err,
            MessageError::TooLarge {
                max: 25_000_000,
                ..
            }
        ),
        "{err}"
    );
}

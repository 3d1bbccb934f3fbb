use super::*;
use time::macros::datetime;

const SENT_ID: &str = "00000000-0000-0000-0000-000000000042@ehpad.test.mssante.fr";

fn dsn(action: DsnAction, status: &str) -> Vec<u8> {
    build_dsn(&DsnInput {
        reporting_mta: "mss-sim.localhost",
        from: "MAILER-DAEMON@medecin.test.mssante.fr",
        to: "ehpad@ehpad.test.mssante.fr",
        envelope_id: Some("00000000-0000-0000-0000-000000000042"),
        original_headers: &format!(
            "From: ehpad@ehpad.test.mssante.fr\r\nMessage-ID: <{SENT_ID}>\r\nSubject: x"
        ),
        recipients: &[(
            "dr.martin@medecin.test.mssante.fr".into(),
            action,
            status.into(),
            Some("550 5.1.1 no such user".into()),
        )],
        id: "dsn-1@mss-sim.localhost",
        date: datetime!(2026-12-02 10:32:00 UTC),
    })
}

fn mdn(error: Option<&str>) -> Vec<u8> {
    build_mdn(&MdnInput {
        from: "dr.martin@medecin.test.mssante.fr",
        to: "ehpad@ehpad.test.mssante.fr",
        original_message_id: SENT_ID,
        original_subject: "XDM/1.0/DDM+Plan personnalisé ADRUN ZOE 31/12/1975",
        error,
        reporting_ua: "segur-gateway test",
        id: "mdn-1@medecin.test.mssante.fr",
        date: datetime!(2026-12-02 10:40:00 UTC),
    })
}

#[test]
fn a_dsn_per_rfc_3464_is_parsed() {
    let Report::Dsn(d) = parse_report(&dsn(DsnAction::Delivered, "2.0.0")).expect("dsn") else {
        panic!("not a DSN")
    };
    assert_eq!(
        d.envelope_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000042")
    );
    assert_eq!(d.original_message_id.as_deref(), Some(SENT_ID));
    assert_eq!(d.recipients.len(), 1);
    assert_eq!(
        d.recipients[0].final_recipient,
        "dr.martin@medecin.test.mssante.fr"
    );
    assert_eq!(d.recipients[0].action, DsnAction::Delivered);
    assert_eq!(d.recipients[0].status, "2.0.0");
}

#[test]
fn a_postfix_style_bounce_is_parsed() {
    // Shaped like Postfix's bounce(8) output: folded Content-Type, X- fields, Arrival-Date, no ENVID.
    let bounce = "From: MAILER-DAEMON@mx.test.mssante.fr (Mail Delivery System)\r\n\
        Subject: Undelivered Mail Returned to Sender\r\nTo: ehpad@ehpad.test.mssante.fr\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\
        \tboundary=\"B1\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n--B1\r\n\
        Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
        I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n--B1\r\n\
        Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n\
        Reporting-MTA: dns; mx.test.mssante.fr\r\nX-Postfix-Queue-ID: 4Q2\r\n\
        Arrival-Date: Wed,  2 Dec 2026 10:31:00 +0100 (CET)\r\n\r\n\
        Final-Recipient: rfc822; nobody@medecin.test.mssante.fr\r\nOriginal-Recipient: rfc822;nobody@medecin.test.mssante.fr\r\n\
        Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: X-Postfix; unknown user:\r\n    \"nobody\"\r\n\r\n--B1\r\n\
        Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n\
        From: ehpad@ehpad.test.mssante.fr\r\nMessage-ID: <abc@ehpad.test.mssante.fr>\r\n\r\n--B1--\r\n";
    let Report::Dsn(d) = parse_report(bounce.as_bytes()).expect("bounce") else {
        panic!("not a DSN")
    };
    assert_eq!(d.envelope_id, None);
    assert_eq!(
        d.original_message_id.as_deref(),
        Some("abc@ehpad.test.mssante.fr")
    );
    assert_eq!(d.recipients[0].action, DsnAction::Failed);
    assert_eq!(d.recipients[0].status, "5.1.1");
    assert_eq!(
        d.recipients[0].diagnostic.as_deref(),
        Some("X-Postfix; unknown user: \"nobody\"")
    );
    let r = Report::Dsn(d);
    assert_eq!(r.reference(), Some("abc@ehpad.test.mssante.fr"));
    assert_eq!(MessageStatus::Sent.apply(&r), MessageStatus::Failed);
}

#[test]
fn an_mdn_per_rfc_8098_is_parsed() {
    let Report::Mdn(m) = parse_report(&mdn(None)).expect("mdn") else {
        panic!("not an MDN")
    };
    assert_eq!(m.original_message_id.as_deref(), Some(SENT_ID));
    assert_eq!(
        m.final_recipient.as_deref(),
        Some("dr.martin@medecin.test.mssante.fr")
    );
    assert_eq!(m.disposition, Disposition::Processed);
    let Report::Mdn(m) = parse_report(&mdn(Some("INS inconnu\r\ndans le DUI"))).expect("mdn")
    else {
        panic!("not an MDN")
    };
    assert_eq!(
        m.disposition,
        Disposition::Error("INS inconnu  dans le DUI".into())
    );
}

#[test]
fn statuses_move_sent_delivered_read_or_failed() {
    use MessageStatus::*;
    let delivered = parse_report(&dsn(DsnAction::Delivered, "2.0.0")).expect("dsn");
    let failed = parse_report(&dsn(DsnAction::Failed, "5.1.1")).expect("dsn");
    let delayed = parse_report(&dsn(DsnAction::Delayed, "4.4.1")).expect("dsn");
    let read = parse_report(&mdn(None)).expect("mdn");
    let error = parse_report(&mdn(Some("document illisible"))).expect("mdn");
    assert_eq!(Sent.apply(&delivered), Delivered);
    assert_eq!(Delivered.apply(&read), Read);
    assert_eq!(Read.apply(&delivered), Read, "a late DSN keeps read");
    assert_eq!(Sent.apply(&delayed), Sent);
    assert_eq!(Sent.apply(&failed), Failed);
    assert_eq!(Delivered.apply(&error), Failed);
    assert_eq!(Failed.apply(&read), Failed, "failed is final");
    assert_eq!(
        delivered.reference(),
        Some("00000000-0000-0000-0000-000000000042")
    );
    assert_eq!(read.reference(), Some(SENT_ID));
}

#[test]
fn other_messages_and_garbage_are_not_reports() {
    assert_eq!(
        parse_report(b"From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"),
        Err(ReportError::NotAReport)
    );
    let no_action = String::from_utf8(dsn(DsnAction::Delivered, "2.0.0"))
        .expect("utf-8")
        .replace("Action: delivered\r\n", "");
    assert_eq!(
        parse_report(no_action.as_bytes()),
        Err(ReportError::MissingField("Action"))
    );
    for junk in [
        &b""[..],
        b"\xff\xfe\x00",
        b"Content-Type: multipart/report\r\n\r\n--",
    ] {
        assert!(parse_report(junk).is_err());
    }
}

#[test]
fn xtext_round_trip() {
    assert_eq!(xtext_decode("a+2Bb+3Dc"), "a+b=c");
    assert_eq!(
        xtext_decode("+é+"),
        "+é+",
        "no panic on a multi-byte character"
    );
    assert_eq!(crate::mss::smtp::xtext("a+b=c"), "a+2Bb+3Dc");
}

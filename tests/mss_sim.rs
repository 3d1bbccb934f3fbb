//! MSSanté sending through the simulator: the gateway's SMTP client (STARTTLS, AUTH_CLI chain or XOAUTH2 with a
//! PSC token, DSN parameters) against the embedded SMTP server, and the DSN/MDN it produces read back into statuses.

mod common;

use segur_gateway::mss::message::{DEFAULT_MAX_BYTES, Outgoing, Policy, Recipients, build_message};
use segur_gateway::mss::report::{MessageStatus, Report, parse_report};
use segur_gateway::mss::sample::sample_pps;
use segur_gateway::mss::smtp::{
    MailTransport, Security, SendError, SmtpAuth, SmtpConfig, SmtpTransport,
};
use segur_gateway::mss::{BuiltMessage, Sender};
use segur_gateway::pki::{Identity, testpki};
use segur_gateway::secret::Secret;
use segur_gateway::sim::RunningSim;
use segur_gateway::sim::mss::Mailboxes;
use segur_gateway::sim::mss::smtp::SmtpSim;
use segur_gateway::sim::psc::SimPsc;
use std::sync::Arc;
use std::time::Duration;

const FROM: &str = "ehpad@ehpad.test.mssante.fr";
const PRO: &str = "899700218943";

struct Sim {
    running: RunningSim,
    boxes: Arc<Mailboxes>,
    psc: Arc<SimPsc>,
}

async fn sim() -> Sim {
    let boxes = Arc::new(Mailboxes::default());
    let psc = Arc::new(SimPsc::new().unwrap());
    let check = psc.clone();
    let smtp = SmtpSim::new(
        boxes.clone(),
        Arc::new(move |t: &str| check.check_access_token(t).map(str::to_owned)),
    )
    .unwrap();
    let running = smtp.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Sim {
        running,
        boxes,
        psc,
    }
}

fn transport(sim: &Sim, identity: Option<&Identity>, auth: SmtpAuth) -> SmtpTransport {
    SmtpTransport::new(SmtpConfig {
        host: "localhost".into(),
        port: sim.running.addr.port(),
        security: Security::Starttls,
        roots: testpki::roots().clone(),
        identity: identity.cloned(),
        auth,
        hello: "gateway.test".into(),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn message(to: &str, id: u128) -> BuiltMessage {
    let s = sample_pps(None).unwrap();
    build_message(
        &Outgoing {
            doc: &s.doc,
            cda: &s.cda,
            submission: &s.submission,
            pdf: None,
            from: FROM,
            to: Recipients::Professionals(vec![to.into()]),
            body: "PPS",
            ack: true,
            id: uuid::Uuid::from_u128(id),
            date: time::OffsetDateTime::now_utc(),
        },
        &Policy {
            nil: "SEGUR-TEST".into(),
            allowed_domains: vec!["mssante.fr".into()],
            max_bytes: DEFAULT_MAX_BYTES,
            sender: Sender {
                software: "test".into(),
                contact: FROM.into(),
            },
        },
    )
    .unwrap()
}

/// Status after reading every report in the sender's mailbox that refers to `m`.
fn status_of(boxes: &Mailboxes, m: &BuiltMessage) -> MessageStatus {
    let uuid = m
        .message_id
        .trim_matches(['<', '>'])
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let bare = m.message_id.trim_matches(['<', '>']).to_owned();
    boxes
        .messages(FROM)
        .iter()
        .filter_map(|mail| parse_report(&mail.bytes).ok())
        .filter(|r| r.reference() == Some(uuid.as_str()) || r.reference() == Some(bare.as_str()))
        .fold(MessageStatus::Sent, |s, r: Report| s.apply(&r))
}

#[tokio::test]
async fn auth_cli_over_starttls_delivers_and_reports_come_back() {
    let sim = sim().await;
    let t = transport(&sim, Some(testpki::auth_cli()), SmtpAuth::CertificateOnly);
    let m = message("dr.martin@medecin.test.mssante.fr", 1);
    let ok = t.submit(&m).await.expect("submitted");
    assert!(ok.dsn_requested, "the simulator announces DSN");
    assert!(ok.reply.starts_with("250"), "{}", ok.reply);
    let inbox = sim.boxes.messages("dr.martin@medecin.test.mssante.fr");
    assert_eq!(inbox.len(), 1);
    // lettre ends DATA with CRLF.CRLF after the message's own final CRLF: one blank line more, nothing else.
    assert!(
        inbox[0].bytes.starts_with(&m.bytes),
        "delivered byte for byte"
    );
    assert_eq!(&inbox[0].bytes[m.bytes.len()..], b"\r\n");
    // DSN (NOTIFY=SUCCESS, ENVID) + automatic MDN back in the sender's mailbox: sent → delivered → read.
    assert_eq!(sim.boxes.messages(FROM).len(), 2);
    assert_eq!(status_of(&sim.boxes, &m), MessageStatus::Read);

    let silent = message("noack.dr@medecin.test.mssante.fr", 2);
    t.submit(&silent).await.expect("submitted");
    assert_eq!(status_of(&sim.boxes, &silent), MessageStatus::Delivered);

    let bounced = message("unknown.dr@medecin.test.mssante.fr", 3);
    t.submit(&bounced).await.expect("accepted, bounced later");
    assert_eq!(status_of(&sim.boxes, &bounced), MessageStatus::Failed);
    assert!(
        sim.boxes
            .messages("unknown.dr@medecin.test.mssante.fr")
            .is_empty()
    );

    // AUTH EXTERNAL after the certificate works too.
    let ext = transport(&sim, Some(testpki::auth_cli()), SmtpAuth::External);
    ext.submit(&message("dr.martin@medecin.test.mssante.fr", 4))
        .await
        .expect("external");
}

#[tokio::test]
async fn no_or_wrong_client_certificate_is_refused() {
    let sim = sim().await;
    let m = message("dr.martin@medecin.test.mssante.fr", 10);
    let none = transport(&sim, None, SmtpAuth::CertificateOnly);
    let err = none.submit(&m).await.expect_err("no certificate, no login");
    assert!(
        matches!(&err, SendError::Refused { reply, permanent: true } if reply.contains("5.7.0")),
        "{err:?}"
    );
    let external = transport(&sim, None, SmtpAuth::External);
    let err = external
        .submit(&m)
        .await
        .expect_err("EXTERNAL without a certificate");
    assert!(matches!(err, SendError::Auth(_)), "{err:?}");
    let rogue = transport(
        &sim,
        Some(&common::rogue::client()),
        SmtpAuth::CertificateOnly,
    );
    let err = rogue
        .submit(&m)
        .await
        .expect_err("certificate from another PKI");
    assert!(
        matches!(err, SendError::Tls(_) | SendError::Io(_)),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
    assert_eq!(sim.boxes.total(), 0, "nothing delivered");
}

#[tokio::test]
async fn xoauth2_with_a_psc_token_and_an_expired_one() {
    let sim = sim().await;
    let m = message("dr.martin@medecin.test.mssante.fr", 20);
    let token = sim
        .psc
        .issue_access_token(PRO, Duration::from_secs(300))
        .unwrap();
    let t = transport(
        &sim,
        None,
        SmtpAuth::Xoauth2 {
            user: FROM.into(),
            token: Secret::new(token),
        },
    );
    t.submit(&m).await.expect("valid PSC token");
    let expired = sim.psc.issue_access_token(PRO, Duration::ZERO).unwrap();
    let t = transport(
        &sim,
        None,
        SmtpAuth::Xoauth2 {
            user: FROM.into(),
            token: Secret::new(expired),
        },
    );
    let err = t.submit(&m).await.expect_err("expired token");
    assert!(matches!(err, SendError::Auth(_)), "{err:?}");
    assert!(!err.is_transient());
    let t = transport(
        &sim,
        None,
        SmtpAuth::Xoauth2 {
            user: FROM.into(),
            token: Secret::new("forged"),
        },
    );
    assert!(matches!(t.submit(&m).await, Err(SendError::Auth(_))));
    assert_eq!(
        sim.boxes
            .messages("dr.martin@medecin.test.mssante.fr")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let sim = sim().await;
    let port = sim.running.addr.port();
    sim.running.stop().await;
    let t = SmtpTransport::new(SmtpConfig {
        host: "localhost".into(),
        port,
        security: Security::Starttls,
        roots: testpki::roots().clone(),
        identity: Some(testpki::auth_cli().clone()),
        auth: SmtpAuth::CertificateOnly,
        hello: "gateway.test".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = t
        .submit(&message("dr.martin@medecin.test.mssante.fr", 30))
        .await
        .expect_err("down");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_resent_message_id_is_accepted_but_delivered_once() {
    let sim = sim().await;
    let t = transport(&sim, Some(testpki::auth_cli()), SmtpAuth::CertificateOnly);
    let m = message("dr.martin@medecin.test.mssante.fr", 40);
    let first = t.submit(&m).await.expect("first");
    let again = t.submit(&m).await.expect("resend accepted");
    assert!(again.reply.starts_with("250"), "{again:?}");
    assert_eq!(first.reply, again.reply);
    assert_eq!(
        sim.boxes
            .messages("dr.martin@medecin.test.mssante.fr")
            .len(),
        1
    );
    assert_eq!(sim.boxes.duplicates(), 1);
    // Reports are not produced twice either (one DSN, one MDN).
    assert_eq!(sim.boxes.messages(FROM).len(), 2);
    // Another Message-ID from the same sender is delivered.
    t.submit(&message("dr.martin@medecin.test.mssante.fr", 41))
        .await
        .unwrap();
    assert_eq!(
        sim.boxes
            .messages("dr.martin@medecin.test.mssante.fr")
            .len(),
        2
    );
}

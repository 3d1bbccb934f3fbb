//! The MSSanté client against real mail servers: Debian's Postfix (submission, STARTTLS, client certificates from
//! the test ORGANISATIONS CA required) and Dovecot (IMAP, STARTTLS, login by client certificate), started on
//! loopback from configuration files written into a temp dir (`tests/common/mail_servers.rs`). The embedded
//! simulator must not be the only server the client has ever talked to.
//!
//! Without `postfix`/`dovecot` (or not root) the tests are skipped with a loud message, except under
//! `scripts/test` (`SEGUR_REQUIRE_MAIL_SERVERS`) or in CI (`CI`), where they fail.

mod common;
#[path = "common/mail_servers.rs"]
mod servers;

use mail_parser::{MessageParser, MimeHeaders};
use segur_gateway::mss::imap::{
    DEFAULT_ASIDE_FOLDER, DEFAULT_DONE_FOLDER, ImapAuth, ImapClient, ImapError, ImapSettings,
};
use segur_gateway::mss::incoming::parse_incoming;
use segur_gateway::mss::message::{DEFAULT_MAX_BYTES, Outgoing, Policy, Recipients, build_message};
use segur_gateway::mss::report::{MessageStatus, Report, parse_report};
use segur_gateway::mss::sample::sample_pps;
use segur_gateway::mss::smtp::{
    MailTransport, Security, SendError, SmtpAuth, SmtpConfig, SmtpTransport,
};
use segur_gateway::mss::{BuiltMessage, ReadLimits, Sender};
use segur_gateway::pki::{Identity, testpki};
use serde_json::{Value, json};
use servers::{MailServers, RECIPIENT, SENDER, UNKNOWN};
use std::time::{Duration, Instant};

/// The gateway's SMTP transport (the daemon's code path) pointed at Postfix's STARTTLS port.
fn transport(port: u16, identity: Option<&Identity>, auth: SmtpAuth) -> SmtpTransport {
    transport_with(port, Security::Starttls, identity, auth)
}

fn transport_with(
    port: u16,
    security: Security,
    identity: Option<&Identity>,
    auth: SmtpAuth,
) -> SmtpTransport {
    SmtpTransport::new(SmtpConfig {
        host: "localhost".into(),
        port,
        security,
        roots: testpki::roots().clone(),
        identity: identity.cloned(),
        auth,
        hello: "gateway.test".into(),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// The gateway's IMAP client settings (the daemon's reader uses the same client) for Dovecot's STARTTLS port:
/// the client certificate, then `AUTHENTICATE EXTERNAL`.
fn imap(port: u16, identity: Option<&Identity>) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port,
        security: Security::Starttls,
        roots: testpki::roots().clone(),
        identity: identity.cloned(),
        auth: ImapAuth::External,
        timeout: Duration::from_secs(10),
        max_message_bytes: DEFAULT_MAX_BYTES,
        batch: 10,
        done_folder: DEFAULT_DONE_FOLDER.into(),
        aside_folder: DEFAULT_ASIDE_FOLDER.into(),
        poll: Duration::from_secs(30),
    }
}

async fn connect(srv: &MailServers, identity: &Identity) -> ImapClient {
    ImapClient::connect(&imap(srv.imap_port, Some(identity)))
        .await
        .unwrap_or_else(|e| panic!("IMAP: {e}\n{}", srv.logs()))
}

/// Every message of INBOX through the gateway's IMAP client, each then moved to the done folder.
async fn read_and_file(c: &mut ImapClient) -> Vec<Vec<u8>> {
    let got = c.fetch_new().await.unwrap();
    for m in &got {
        c.move_to(m.uid, DEFAULT_DONE_FOLDER).await.unwrap();
    }
    assert!(
        c.fetch_new().await.unwrap().is_empty(),
        "INBOX emptied by the moves"
    );
    got.into_iter()
        .map(|m| m.bytes.expect("under the size limit"))
        .collect()
}

/// The sample PPS to `to`, acknowledgements asked.
fn message(to: &str, id: u128) -> BuiltMessage {
    message_from(SENDER, to, id)
}

/// The sample PPS from `from` to `to`, acknowledgements asked.
fn message_from(from: &str, to: &str, id: u128) -> BuiltMessage {
    let s = sample_pps(None).unwrap();
    build_message(
        &Outgoing {
            doc: &s.doc,
            cda: &s.cda,
            submission: &s.submission,
            pdf: None,
            from,
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
                contact: from.into(),
            },
        },
    )
    .unwrap()
}

/// The bytes of the `IHE_XDM.ZIP` attachment of a MIME message.
fn xdm_zip(mime: &[u8]) -> Vec<u8> {
    let msg = MessageParser::default().parse(mime).expect("MIME");
    msg.attachments()
        .find(|a| a.attachment_name() == Some("IHE_XDM.ZIP"))
        .expect("IHE_XDM.ZIP attached")
        .contents()
        .to_vec()
}

/// Status of `m` after the reports among `mails` that refer to it.
fn status_of(mails: &[Vec<u8>], m: &BuiltMessage) -> MessageStatus {
    let bare = m.message_id.trim_matches(['<', '>']).to_owned();
    let uuid = bare.split('@').next().unwrap().to_owned();
    mails
        .iter()
        .filter_map(|mail| parse_report(mail).ok())
        .filter(|r| r.reference() == Some(uuid.as_str()) || r.reference() == Some(bare.as_str()))
        .fold(MessageStatus::Sent, |s, r: Report| s.apply(&r))
}

#[tokio::test]
async fn pps_sent_through_postfix_is_read_back_through_dovecot_with_real_dsns() {
    if !servers::can_run("pps_sent_through_postfix_is_read_back_through_dovecot_with_real_dsns") {
        return;
    }
    let srv = MailServers::start().await;
    let t = transport(
        srv.smtp_port,
        Some(testpki::auth_cli()),
        SmtpAuth::CertificateOnly,
    );
    let m = message(RECIPIENT, 1);
    let ok = t
        .submit(&m)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.logs()));
    assert!(ok.reply.starts_with("250 "), "{}", ok.reply);
    assert!(ok.dsn_requested, "Postfix announces DSN");

    // Delivered by Postfix to Dovecot (LMTP), read back by the gateway's IMAP client with the recipient's
    // certificate, filed in the done folder (UID MOVE on Dovecot).
    srv.wait_for(RECIPIENT, 1).await;
    let mut reader = connect(&srv, testpki::auth_cli()).await;
    let inbox = read_and_file(&mut reader).await;
    reader.logout().await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(srv.maildir_folder(RECIPIENT, DEFAULT_DONE_FOLDER).len(), 1);
    assert!(srv.maildir(RECIPIENT).is_empty());
    let got = &inbox[0];
    // lettre ends DATA with CRLF.CRLF after the message's own final CRLF: one blank line more, nothing else.
    assert!(
        got.strip_suffix(b"\r\n")
            .is_some_and(|g| g.ends_with(&m.bytes)),
        "the message arrives as sent, after the headers the servers prepend"
    );
    assert_eq!(xdm_zip(got), xdm_zip(&m.bytes), "XDM package byte for byte");
    let incoming = parse_incoming(got, DEFAULT_MAX_BYTES, &ReadLimits::default()).unwrap();
    assert_eq!(incoming.from, SENDER);
    assert_eq!(
        incoming.disposition_notification_to.as_deref(),
        Some(SENDER)
    );
    let sample = sample_pps(None).unwrap();
    let cda = incoming
        .documents
        .iter()
        .find(|d| d.mime_type == "text/xml")
        .expect("the CDA in the package");
    assert_eq!(cda.bytes, sample.cda.xml().as_bytes());
    assert_eq!(cda.hash_ok, Some(true));

    // Postfix's success DSN (NOTIFY=SUCCESS, ENVID) in the sender's mailbox: sent → delivered.
    srv.wait_for(SENDER, 1).await;
    let mut app = connect(&srv, testpki::insi_auto()).await;
    let mut reports = read_and_file(&mut app).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(status_of(&reports, &m), MessageStatus::Delivered);

    // Unknown mailbox: accepted by Postfix, refused by Dovecot's LMTP, bounced with a failure DSN, which wakes
    // the reader's IDLE (long before its 25 s limit).
    let bounced = message(UNKNOWN, 2);
    let (idle, sent) = tokio::join!(
        async {
            let start = Instant::now();
            app.idle_or_wait(Duration::from_secs(25))
                .await
                .map(|()| start.elapsed())
        },
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            t.submit(&bounced).await
        }
    );
    sent.expect("accepted, bounced later");
    let waited = idle.unwrap();
    assert!(
        waited < Duration::from_secs(20),
        "IDLE not woken: {waited:?}"
    );
    for _ in 0..100 {
        let more = read_and_file(&mut app).await;
        reports.extend(more);
        if reports.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.logout().await;
    assert_eq!(reports.len(), 2, "one DSN per message\n{}", srv.logs());
    assert_eq!(status_of(&reports, &m), MessageStatus::Delivered);
    assert_eq!(status_of(&reports, &bounced), MessageStatus::Failed);
    let Some(Report::Dsn(dsn)) = reports.iter().filter_map(|r| parse_report(r).ok()).find(
        |r| matches!(r, Report::Dsn(d) if d.recipients.iter().any(|x| x.status.starts_with('5'))),
    ) else {
        panic!("no failure DSN")
    };
    assert!(
        dsn.recipients.iter().any(|r| r.final_recipient == UNKNOWN),
        "{dsn:?}"
    );
}

#[tokio::test]
async fn postfix_and_dovecot_refuse_missing_or_foreign_client_certificates() {
    if !servers::can_run("postfix_and_dovecot_refuse_missing_or_foreign_client_certificates") {
        return;
    }
    let srv = MailServers::start().await;
    let m = message(RECIPIENT, 10);
    let rogue = common::rogue::client();
    for (what, identity) in [("no certificate", None), ("another CA", Some(&rogue))] {
        let err = transport(srv.smtp_port, identity, SmtpAuth::CertificateOnly)
            .submit(&m)
            .await
            .expect_err(what);
        // Postfix asks for the certificate, lets TLS proceed, and refuses every recipient (permanently).
        assert!(
            matches!(&err, SendError::Refused { reply, permanent: true } if reply.contains("5.7.1")),
            "{what}: {err:?}"
        );
        assert!(!err.is_transient());
        let imap = ImapClient::connect(&imap(srv.imap_port, identity)).await;
        assert!(
            matches!(&imap, Err(ImapError::Auth(e)) if e.contains("certificate")),
            "{what}: Dovecot must refuse the login: {:?}",
            imap.err()
        );
    }
    // The same client with AUTH_CLI goes through, with STARTTLS and with implicit TLS: the refusals above are
    // about the certificate.
    let auth_cli = Some(testpki::auth_cli());
    for (port, security) in [
        (srv.smtp_port, Security::Starttls),
        (srv.smtps_port, Security::Implicit),
    ] {
        transport_with(port, security, auth_cli, SmtpAuth::CertificateOnly)
            .submit(&m)
            .await
            .unwrap_or_else(|e| panic!("{security:?}: {e}\n{}", srv.logs()));
    }
    assert_eq!(srv.wait_for(RECIPIENT, 2).await.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        srv.maildir(RECIPIENT).len(),
        2,
        "only the AUTH_CLI messages"
    );
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = common::http()
        .post(format!("{base}{path}"))
        .bearer_auth(common::KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(base: &str, path: &str) -> Value {
    let r = common::http()
        .get(format!("{base}{path}"))
        .bearer_auth(common::KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// A QUAL person (INSi simulator, then a high-trust document) and a stored N3 PPS about them: the document id.
async fn qual_pps(base: &str) -> String {
    let traits = json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"});
    let (s, p) = post(base, "/v1/persons", traits).await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let (s, b) = post(base, &format!("/v1/persons/{id}/insi"), json!({})).await;
    assert_eq!(s, 200, "{b}");
    let kind = json!({"kind": "passport"});
    let (s, b) = post(base, &format!("/v1/persons/{id}/identity-document"), kind).await;
    assert_eq!(s, 200, "{b}");
    let mut plan = serde_json::to_value(segur_gateway::cda::sample::adrun_zoe()).unwrap();
    let person = plan.as_object_mut().unwrap().remove("person").unwrap();
    plan["local_id"] = person["local_id"].clone();
    let (s, d) = post(
        base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    d["document_id"].as_str().unwrap().to_owned()
}

/// Polls `GET /v1/mss/messages/{id}` until `want` (bounded).
async fn wait_status(srv: &MailServers, base: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        last = get(base, &format!("/v1/mss/messages/{id}")).await;
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} never reached {want}: {last}\n{}", srv.logs());
}

/// The daemon itself, `[mss] smtp_host/smtp_port/imap_host/imap_port` pointing at Postfix and Dovecot (the
/// national services stay simulated): `POST /v1/mss/messages` goes through the outbox and Postfix into the
/// recipient's Dovecot mailbox; Postfix's DSNs, read by the daemon's IMAP reader from the application mailbox,
/// move the message to `delivered`, and the one to an unknown mailbox to `failed`.
#[tokio::test]
async fn daemon_sends_through_postfix_and_follows_its_dsns_through_dovecot() {
    if !servers::can_run("daemon_sends_through_postfix_and_follows_its_dsns_through_dovecot") {
        return;
    }
    let srv = MailServers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::sandbox_config(dir.path());
    config.mss.smtp_host = Some("localhost".into());
    config.mss.smtp_port = Some(srv.smtp_port);
    config.mss.imap_host = Some("localhost".into());
    config.mss.imap_port = Some(srv.imap_port);
    config.mss.from = Some(SENDER.into());
    config.mss.nil = Some("SEGUR-TEST".into());
    let d = common::start(config).await;
    let base = format!("http://{}", d.api_addr);
    let doc = qual_pps(&base).await;

    let mut ids = Vec::new();
    for to in [RECIPIENT, UNKNOWN] {
        let body = json!({"to": [to], "document_id": doc, "body": "Bonjour", "ack": true});
        let (s, b) = post(&base, "/v1/mss/messages", body).await;
        assert_eq!(s, 202, "{b}");
        ids.push(b["message_id"].as_str().unwrap().to_owned());
    }
    let delivered = srv.wait_for(RECIPIENT, 1).await;
    let incoming =
        parse_incoming(&delivered[0], DEFAULT_MAX_BYTES, &ReadLimits::default()).unwrap();
    assert_eq!(incoming.from, SENDER);
    assert!(
        incoming.message_id.starts_with(ids[0].as_str()),
        "{}",
        incoming.message_id
    );
    assert!(incoming.documents.iter().any(|x| x.mime_type == "text/xml"));
    let header = |name: &str| {
        MessageParser::default()
            .parse(&delivered[0])
            .and_then(|m| m.header_raw(name).map(|v| v.trim().to_owned()))
    };
    assert_eq!(header("X-MSS-NIL").as_deref(), Some("SEGUR-TEST"));
    assert_eq!(header("X-MSS-INS").as_deref(), Some("O"));

    wait_status(&srv, &base, &ids[0], "delivered").await;
    let failed = wait_status(&srv, &base, &ids[1], "failed").await;
    assert!(failed.to_string().contains("5.1.1"), "{failed}");
    // The reader filed both DSNs in the done folder, deleting nothing.
    for _ in 0..100 {
        if srv.maildir_folder(SENDER, DEFAULT_DONE_FOLDER).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(srv.maildir_folder(SENDER, DEFAULT_DONE_FOLDER).len(), 2);
    assert!(srv.maildir(SENDER).is_empty());
    d.shutdown().await;
}

/// The daemon receiving: a professional's software sends the sample PPS through Postfix to the structure's
/// mailbox; the daemon's reader takes it from Dovecot into `GET /v1/mss/inbox` (documents readable) and files it in
/// the done folder; `POST /v1/mss/inbox/{id}/ack` sends the MDN through Postfix back to the sender, whose software
/// reads it (with Postfix's success DSN) as read.
#[tokio::test]
async fn daemon_receives_a_pps_through_dovecot_and_acknowledges_it_through_postfix() {
    if !servers::can_run(
        "daemon_receives_a_pps_through_dovecot_and_acknowledges_it_through_postfix",
    ) {
        return;
    }
    let srv = MailServers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::sandbox_config(dir.path());
    config.mss.smtp_host = Some("localhost".into());
    config.mss.smtp_port = Some(srv.smtp_port);
    config.mss.imap_host = Some("localhost".into());
    config.mss.imap_port = Some(srv.imap_port);
    config.mss.from = Some(SENDER.into());
    config.mss.nil = Some("SEGUR-TEST".into());
    let d = common::start(config).await;
    let base = format!("http://{}", d.api_addr);

    let pps = message_from(RECIPIENT, SENDER, 20);
    transport(
        srv.smtp_port,
        Some(testpki::auth_cli()),
        SmtpAuth::CertificateOnly,
    )
    .submit(&pps)
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", srv.logs()));
    let mut listed = Value::Null;
    for _ in 0..400 {
        listed = get(&base, "/v1/mss/inbox").await;
        if !listed["messages"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = &listed["messages"][0];
    assert_eq!(received["status"], "received", "{listed}\n{}", srv.logs());
    assert_eq!(received["from"], RECIPIENT);
    let id = received["id"].as_str().unwrap();
    let full = get(&base, &format!("/v1/mss/inbox/{id}")).await;
    let cda = full["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["mime_type"] == "text/xml")
        .expect("the CDA");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cda["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, sample_pps(None).unwrap().cda.xml().as_bytes());
    assert_eq!(cda["hash_ok"], true);

    let (s, a) = post(&base, &format!("/v1/mss/inbox/{id}/ack"), json!({})).await;
    assert_eq!((s, a["mdn_sent"].as_bool()), (200, Some(true)), "{a}");
    // The sender's mailbox: Postfix's success DSN for the PPS, then the daemon's MDN (sent from `<>`: no DSN).
    srv.wait_for(RECIPIENT, 2).await;
    let mut sender_app = connect(&srv, testpki::auth_cli()).await;
    let reports = read_and_file(&mut sender_app).await;
    sender_app.logout().await;
    assert_eq!(reports.len(), 2, "{}", srv.logs());
    assert_eq!(status_of(&reports, &pps), MessageStatus::Read);
    assert!(
        reports
            .iter()
            .filter_map(|r| parse_report(r).ok())
            .any(|r| matches!(r, Report::Mdn(_))),
        "an MDN among {} reports",
        reports.len()
    );
    // The daemon filed the received message; nothing was deleted.
    for _ in 0..100 {
        if srv.maildir_folder(SENDER, DEFAULT_DONE_FOLDER).len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(srv.maildir_folder(SENDER, DEFAULT_DONE_FOLDER).len(), 1);
    assert!(srv.maildir(SENDER).is_empty());
    d.shutdown().await;
}

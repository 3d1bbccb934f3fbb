//! MSSanté receiving: the gateway's IMAP client (STARTTLS, AUTH_CLI + EXTERNAL or XOAUTH2 with a PSC token,
//! UID FETCH/MOVE, IDLE) against the embedded IMAP simulator.

mod common;

use segur_gateway::mss::imap::{
    DEFAULT_ASIDE_FOLDER, DEFAULT_DONE_FOLDER, ImapAuth, ImapClient, ImapError, ImapSettings,
};
use segur_gateway::mss::smtp::Security;
use segur_gateway::pki::{Identity, testpki};
use segur_gateway::secret::Secret;
use segur_gateway::sim::RunningSim;
use segur_gateway::sim::mss::Mailboxes;
use segur_gateway::sim::mss::imap::ImapSim;
use segur_gateway::sim::psc::SimPsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const APP: &str = "ehpad@ehpad.test.mssante.fr";
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
    let imap = ImapSim::new(
        boxes.clone(),
        Arc::new(move |t: &str| check.check_access_token(t).map(str::to_owned)),
        APP,
    )
    .unwrap();
    let running = imap.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Sim {
        running,
        boxes,
        psc,
    }
}

fn settings(sim: &Sim, identity: Option<&Identity>, auth: ImapAuth) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port: sim.running.addr.port(),
        security: Security::Starttls,
        roots: testpki::roots().clone(),
        identity: identity.cloned(),
        auth,
        timeout: Duration::from_secs(10),
        max_message_bytes: 10_000,
        batch: 2,
        done_folder: DEFAULT_DONE_FOLDER.into(),
        aside_folder: DEFAULT_ASIDE_FOLDER.into(),
        poll: Duration::from_secs(30),
    }
}

fn mail(n: usize, body_len: usize) -> Vec<u8> {
    format!(
        "From: a@b.test.mssante.fr\r\nTo: {APP}\r\nMessage-ID: <m{n}@test>\r\nSubject: {n}\r\n\r\n{}\r\n",
        "x".repeat(body_len)
    )
    .into_bytes()
}

#[tokio::test]
async fn fetch_in_batches_move_to_done_and_aside() {
    let sim = sim().await;
    sim.boxes.deliver(APP, mail(1, 10));
    sim.boxes.deliver(APP, mail(2, 20_000));
    sim.boxes.deliver(APP, mail(3, 30));
    sim.boxes.deliver("other@x.test.mssante.fr", mail(4, 10));
    let s = settings(&sim, Some(testpki::auth_cli()), ImapAuth::External);
    let mut c = ImapClient::connect(&s)
        .await
        .expect("certificate + EXTERNAL");

    let first = c.fetch_new().await.unwrap();
    assert_eq!(first.len(), 2, "batch of 2");
    assert_eq!(first[0].uid, 1);
    assert_eq!(first[0].bytes.as_deref(), Some(mail(1, 10).as_slice()));
    assert_eq!(first[1].uid, 2);
    assert!(first[1].bytes.is_none(), "over the limit: not downloaded");
    assert_eq!(first[1].size, mail(2, 20_000).len() as u64);
    // Not handled yet: read again, and not marked \Seen by BODY.PEEK[].
    assert_eq!(c.fetch_new().await.unwrap(), first);
    assert!(
        sim.boxes
            .folder(APP, "INBOX")
            .iter()
            .all(|m| m.flags.is_empty())
    );

    c.move_to(1, DEFAULT_DONE_FOLDER).await.unwrap();
    c.move_to(2, DEFAULT_ASIDE_FOLDER).await.unwrap();
    let next = c.fetch_new().await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].bytes.as_deref(), Some(mail(3, 30).as_slice()));
    c.move_to(next[0].uid, DEFAULT_DONE_FOLDER).await.unwrap();
    assert!(c.fetch_new().await.unwrap().is_empty());

    assert!(sim.boxes.folder(APP, "INBOX").is_empty());
    let done = sim.boxes.folder(APP, DEFAULT_DONE_FOLDER);
    assert_eq!(done.len(), 2);
    assert_eq!(*done[0].bytes, mail(1, 10));
    assert_eq!(*done[1].bytes, mail(3, 30));
    assert_eq!(sim.boxes.folder(APP, DEFAULT_ASIDE_FOLDER).len(), 1);
    assert_eq!(sim.boxes.messages(APP).len(), 3, "nothing deleted");
    assert_eq!(
        sim.boxes.folder("other@x.test.mssante.fr", "INBOX").len(),
        1
    );
    // A moved message no longer exists in INBOX: moving it again is a no-op.
    assert!(c.move_to(1, DEFAULT_DONE_FOLDER).await.is_ok());
    assert_eq!(sim.boxes.folder(APP, DEFAULT_DONE_FOLDER).len(), 2);
    c.logout().await;

    // A second session finds the folders already there.
    let mut c = ImapClient::connect(&s).await.expect("second session");
    assert!(c.fetch_new().await.unwrap().is_empty());
}

#[tokio::test]
async fn no_certificate_wrong_ca_and_expired_token_are_refused() {
    let sim = sim().await;
    sim.boxes.deliver(APP, mail(1, 10));
    let err = ImapClient::connect(&settings(&sim, None, ImapAuth::External))
        .await
        .expect_err("EXTERNAL without a certificate");
    assert!(matches!(err, ImapError::Auth(_)), "{err:?}");
    assert!(!err.is_transient());

    let err = ImapClient::connect(&settings(
        &sim,
        Some(&common::rogue::client()),
        ImapAuth::External,
    ))
    .await
    .expect_err("certificate from another PKI");
    assert!(
        matches!(err, ImapError::Tls(_) | ImapError::Io(_)),
        "{err:?}"
    );

    let token = |ttl| Secret::new(sim.psc.issue_access_token(PRO, ttl).unwrap());
    let xoauth2 = |token| ImapAuth::Xoauth2 {
        user: APP.into(),
        token,
    };
    let err = ImapClient::connect(&settings(&sim, None, xoauth2(token(Duration::ZERO))))
        .await
        .expect_err("expired token");
    assert!(matches!(err, ImapError::Auth(_)), "{err:?}");
    let err = ImapClient::connect(&settings(&sim, None, xoauth2(Secret::new("forged"))))
        .await
        .expect_err("forged token");
    assert!(matches!(err, ImapError::Auth(_)), "{err:?}");
    assert!(
        !format!("{err:?}{err}").contains("forged"),
        "no token in errors"
    );

    let mut c = ImapClient::connect(&settings(
        &sim,
        None,
        xoauth2(token(Duration::from_secs(300))),
    ))
    .await
    .expect("live PSC token");
    assert_eq!(c.fetch_new().await.unwrap().len(), 1);
}

#[tokio::test]
async fn idle_wakes_on_delivery() {
    let sim = sim().await;
    let s = settings(&sim, Some(testpki::auth_cli()), ImapAuth::External);
    let mut c = ImapClient::connect(&s).await.unwrap();
    assert!(c.fetch_new().await.unwrap().is_empty());
    let boxes = sim.boxes.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        boxes.deliver("someone-else@x.test.mssante.fr", mail(9, 10));
        tokio::time::sleep(Duration::from_millis(200)).await;
        boxes.deliver(APP, mail(1, 10));
    });
    let start = Instant::now();
    c.idle_or_wait(Duration::from_secs(30)).await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(450),
        "woke before the delivery: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "IDLE did not wake: {waited:?}"
    );
    assert_eq!(c.fetch_new().await.unwrap().len(), 1);
    // A delivery between two waits is not missed: the next wait returns at once.
    sim.boxes.deliver(APP, mail(2, 10));
    let start = Instant::now();
    c.idle_or_wait(Duration::from_secs(30)).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(c.fetch_new().await.unwrap().len(), 2);
    // Without news, IDLE ends at its timeout and the session stays usable.
    c.move_to(1, DEFAULT_DONE_FOLDER).await.unwrap();
    c.move_to(2, DEFAULT_DONE_FOLDER).await.unwrap();
    c.idle_or_wait(Duration::from_millis(300)).await.unwrap();
    assert!(c.fetch_new().await.unwrap().is_empty());
}

async fn line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut s = String::new();
    r.read_line(&mut s).await.unwrap();
    s
}

#[tokio::test]
async fn nothing_but_starttls_in_clear_and_login_refused() {
    let sim = sim().await;
    let tcp = tokio::net::TcpStream::connect(sim.running.addr)
        .await
        .unwrap();
    let (read, mut write) = tcp.into_split();
    let mut read = BufReader::new(read);
    assert!(line(&mut read).await.contains("STARTTLS"));
    write.write_all(b"a1 LOGIN ehpad secret\r\n").await.unwrap();
    assert!(line(&mut read).await.starts_with("a1 NO"));
    write.write_all(b"a2 SELECT INBOX\r\n").await.unwrap();
    assert!(line(&mut read).await.starts_with("a2 BAD"));
    write
        .write_all(b"a3 AUTHENTICATE XOAUTH2\r\n")
        .await
        .unwrap();
    assert!(line(&mut read).await.starts_with("a3 NO"));
    write.write_all(b"a4 LOGOUT\r\n").await.unwrap();
    assert!(line(&mut read).await.starts_with("* BYE"));
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let sim = sim().await;
    let s = settings(&sim, Some(testpki::auth_cli()), ImapAuth::External);
    sim.running.stop().await;
    let err = ImapClient::connect(&s).await.expect_err("down");
    assert!(err.is_transient(), "{err:?}");
}

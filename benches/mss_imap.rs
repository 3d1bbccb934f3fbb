//! MSSanté receiving benchmark: the gateway's IMAP client against the embedded IMAP simulator (STARTTLS, AUTH_CLI
//! + EXTERNAL), as the daemon's reader uses it.
//!
//! 1. Read + move: 200 messages waiting in INBOX (100 KB and 1 MB), fetched in batches of 20 with `BODY.PEEK[]`
//!    and each moved to the done folder with `UID MOVE`: messages/s;
//! 2. IDLE wake-up: time from a delivery to the end of the client's `IDLE` (median and worst of 20).
//!
//! Run: `cargo bench --bench mss_imap`.

use segur_gateway::mss::imap::{
    DEFAULT_ASIDE_FOLDER, DEFAULT_DONE_FOLDER, ImapAuth, ImapClient, ImapSettings,
};
use segur_gateway::mss::smtp::Security;
use segur_gateway::pki::testpki;
use segur_gateway::sim::mss::Mailboxes;
use segur_gateway::sim::mss::imap::ImapSim;
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 200;
const APP: &str = "ehpad@ehpad.test.mssante.fr";

fn mail(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: dr@medecin.test.mssante.fr\r\nTo: {APP}\r\nMessage-ID: <{i}@bench>\r\nSubject: {i}\r\n\r\n"
    )
    .into_bytes();
    let mut x: u32 = 0x1234_5678 ^ i as u32;
    while m.len() < size {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            m.push(b'A' + (x % 26) as u8);
        }
        m.extend_from_slice(b"\r\n");
    }
    m
}

#[tokio::main]
async fn main() {
    segur_gateway::pki::tls::install_default_provider();
    let boxes = Arc::new(Mailboxes::default());
    let sim = ImapSim::new(boxes.clone(), Arc::new(|_: &str| None), APP)
        .expect("sim")
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let settings = ImapSettings {
        host: "localhost".into(),
        port: sim.addr.port(),
        security: Security::Starttls,
        roots: testpki::roots().clone(),
        identity: Some(testpki::auth_cli().clone()),
        auth: ImapAuth::External,
        timeout: Duration::from_secs(30),
        max_message_bytes: 25_000_000,
        batch: 20,
        done_folder: DEFAULT_DONE_FOLDER.into(),
        aside_folder: DEFAULT_ASIDE_FOLDER.into(),
        poll: Duration::from_secs(60),
    };
    for size in [100_000usize, 1_000_000] {
        boxes.clear();
        for i in 0..N {
            boxes.deliver(APP, mail(i, size));
        }
        let t = Instant::now();
        let mut c = ImapClient::connect(&settings).await.expect("connect");
        let mut read = 0;
        loop {
            let batch = c.fetch_new().await.expect("fetch");
            if batch.is_empty() {
                break;
            }
            for m in batch {
                assert!(m.bytes.is_some());
                c.move_to(m.uid, DEFAULT_DONE_FOLDER).await.expect("move");
                read += 1;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(read, N);
        println!(
            "read + move {N} messages of {size} bytes (connect included): {secs:.2} s = {:.1} messages/s ({:.2} ms per message)",
            N as f64 / secs,
            secs * 1e3 / N as f64
        );
        c.logout().await;
    }

    boxes.clear();
    let mut c = ImapClient::connect(&settings).await.expect("connect");
    let mut waits = Vec::new();
    for i in 0..20 {
        let b = boxes.clone();
        let delivered = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let d = delivered.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            *d.lock().expect("lock") = Some(Instant::now());
            b.deliver(APP, mail(i, 1000));
        });
        c.idle_or_wait(Duration::from_secs(10)).await.expect("idle");
        let woke = Instant::now();
        let at = delivered.lock().expect("lock").expect("delivered");
        waits.push(woke.duration_since(at));
        for m in c.fetch_new().await.expect("fetch") {
            c.move_to(m.uid, DEFAULT_DONE_FOLDER).await.expect("move");
        }
    }
    waits.sort();
    println!(
        "IDLE wake-up after a delivery: median {:.2} ms, worst {:.2} ms (20 deliveries)",
        waits[10].as_secs_f64() * 1e3,
        waits[19].as_secs_f64() * 1e3
    );
    sim.stop().await;
}

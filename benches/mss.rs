//! MSSanté benchmark (issue #8): an N1 PPS carrying a 1 MB PDF, sent with the PDF attached for humans.
//!
//! 1. Build cost per message: XDM package (METADATA.XML + deflated zip of the CDA) + MIME message (lettre, base64
//!    of the PDF, the CDA and the zip), 200 times in process (the CDA itself is built and XSD-validated once);
//! 2. build + send 200 messages through the MSSanté simulator (STARTTLS, AUTH_CLI chain, DSN parameters, one
//!    connection per message as the gateway's sender does), with 1 and 4 concurrent senders: messages/s.
//!
//! Run: `cargo bench --bench mss` (needs `xmllint`).

use segur_gateway::cda::{self, Body, DocumentIds};
use segur_gateway::mss::message::{DEFAULT_MAX_BYTES, Outgoing, Policy, Recipients, build_message};
use segur_gateway::mss::smtp::{MailTransport, Security, SmtpAuth, SmtpConfig, SmtpTransport};
use segur_gateway::mss::{BuiltMessage, Sender};
use segur_gateway::pki::testpki;
use segur_gateway::sim::mss::Mailboxes;
use segur_gateway::sim::mss::smtp::SmtpSim;
use segur_gateway::xds::pps::{SubmissionIds, submission};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 200;
const FROM: &str = "ehpad@ehpad.test.mssante.fr";

fn pdf_1mb() -> Vec<u8> {
    let mut pdf = cda::sample::SAMPLE_PDF.to_vec();
    pdf.truncate(pdf.len() - "%%EOF\n".len());
    // Pseudo-random bytes in a comment: a PDF's streams are compressed, so zeros would flatter the zip.
    let mut x: u32 = 0x1234_5678;
    while pdf.len() < 1024 * 1024 - 8 {
        pdf.extend_from_slice(b"%");
        for _ in 0..63 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            pdf.push(b'!' + (x % 90) as u8);
        }
        pdf.push(b'\n');
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

fn policy() -> Policy {
    Policy {
        nil: "BENCH".into(),
        allowed_domains: vec!["mssante.fr".into()],
        max_bytes: DEFAULT_MAX_BYTES,
        sender: Sender {
            software: "segur-gateway bench".into(),
            contact: FROM.into(),
        },
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let plan = cda::sample::adrun_zoe();
    let pdf = pdf_1mb();
    let now = time::OffsetDateTime::now_utc();
    let doc = cda::build(
        &plan,
        &DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
        Body::N1 { pdf: &pdf },
        now,
        &cda::Xmllint::cda(),
    )
    .expect("N1 document");
    let sub = submission(
        &plan,
        &doc,
        &SubmissionIds {
            set_entry: uuid::Uuid::new_v4(),
            document_entry: uuid::Uuid::new_v4(),
            set_unique: uuid::Uuid::new_v4(),
            source_id: "1.2.250.1.999.9".into(),
            submission_time: now,
            replaces: None,
        },
    );
    let build: Arc<Box<Builder>> = Arc::new(build_owned(plan, doc, sub, pdf.clone()));

    // 1. Build cost.
    let t = Instant::now();
    let mut size = 0;
    for i in 0..N {
        size = build(i).bytes.len();
    }
    let build_ms = t.elapsed().as_secs_f64() * 1e3 / N as f64;
    println!(
        "build (XDM zip + MIME) of one message with a {} byte PDF: {:.2} ms per message, {} bytes ({} runs)",
        pdf.len(),
        build_ms,
        size,
        N
    );

    // 2. Build + send through the simulator.
    let boxes = Arc::new(Mailboxes::default());
    let sim = SmtpSim::new(boxes.clone(), Arc::new(|_: &str| None))
        .expect("sim")
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let transport = Arc::new(
        SmtpTransport::new(SmtpConfig {
            host: "localhost".into(),
            port: sim.addr.port(),
            security: Security::Starttls,
            roots: testpki::roots().clone(),
            identity: Some(testpki::auth_cli().clone()),
            auth: SmtpAuth::CertificateOnly,
            hello: "bench.localdomain".into(),
            timeout: Duration::from_secs(30),
        })
        .expect("transport"),
    );
    for senders in [1usize, 4] {
        boxes.clear();
        let t = Instant::now();
        let mut tasks = Vec::new();
        for s in 0..senders {
            let (transport, build, boxes) = (transport.clone(), build.clone(), boxes.clone());
            tasks.push(tokio::spawn(async move {
                for i in (s..N).step_by(senders) {
                    let m = build(i);
                    transport.submit(&m).await.expect("sent");
                    if i % 20 == 0 {
                        boxes.clear(); // keep memory flat: 200 messages of ~4 MB each
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("sender");
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "build + send through the simulator, {senders} sender(s): {N} messages in {secs:.2} s = {:.1} messages/s ({:.1} ms per message)",
            N as f64 / secs,
            secs * 1e3 / N as f64
        );
    }
    sim.stop().await;
}

type Builder = dyn Fn(usize) -> BuiltMessage + Send + Sync;

fn build_owned(
    plan: cda::PpsDocument,
    doc: cda::Cda,
    sub: segur_gateway::xds::Submission,
    pdf: Vec<u8>,
) -> Box<Builder> {
    Box::new(move |i| {
        build_message(
            &Outgoing {
                doc: &plan,
                cda: &doc,
                submission: &sub,
                pdf: Some(&pdf),
                from: FROM,
                to: Recipients::Professionals(vec![format!(
                    "dr{}@medecin.test.mssante.fr",
                    i % 10
                )]),
                body: "Bonjour, voici le PPS.",
                ack: true,
                id: uuid::Uuid::new_v4(),
                date: time::OffsetDateTime::now_utc(),
            },
            &policy(),
        )
        .expect("message")
    })
}

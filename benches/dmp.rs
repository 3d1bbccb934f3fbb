//! DMP benchmark (issue #7): one N1 PPS carrying a 1 MB PDF.
//!
//! 1. In process: build the XDS metadata + sign a fresh VIHF (bergshamra, RSA-SHA256, exclusive C14N) + sign the
//!    submission set (XAdES: C14N with comments of the 1.4 MB CDA for the manifest, RSA-SHA256) + build the ITI-41
//!    MTOM message (1 MB binary part), per operation;
//! 2. the same assertion template signed by `xmlsec1 --sign` as a process (Debian's xmlsec1, the reference
//!    implementation), per operation, in the same run: ratio 1 / 2 (target ≥ 3×);
//! 3. pushes per second to the DMP simulator over mutual TLS (VIHF verification, MTOM parsing, metadata checks,
//!    SQLite insert), 1 and 4 concurrent senders, with the 1 MB document; each push carries a new uniqueId.
//!
//! Run: `cargo bench --bench dmp` (needs `xmlsec1` and `xmllint`).

use segur_gateway::cda::{self, Body, DocumentIds};
use segur_gateway::dmp::client::DmpClient;
use segur_gateway::dmp::transport::HttpTransport;
use segur_gateway::dmp::vihf::assertion_template;
use segur_gateway::dmp::{Actor, Lps, VihfRequest, VihfSigner};
use segur_gateway::pki::testpki;
use segur_gateway::xds::pps::SubmissionIds;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pdf_1mb() -> Vec<u8> {
    let mut pdf = cda::sample::SAMPLE_PDF.to_vec();
    pdf.truncate(pdf.len() - "%%EOF\n".len());
    while pdf.len() < 1024 * 1024 - 8 {
        pdf.extend_from_slice(b"% padding comment line of a one-megabyte test PDF.........\n");
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

fn ids() -> SubmissionIds {
    SubmissionIds {
        set_entry: uuid::Uuid::new_v4(),
        document_entry: uuid::Uuid::new_v4(),
        set_unique: uuid::Uuid::new_v4(),
        source_id: "1.2.250.1.999.9".into(),
        submission_time: time::OffsetDateTime::now_utc(),
        replaces: None,
    }
}

fn per_op(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e3 / f64::from(n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    segur_gateway::pki::tls::install_default_provider();
    let lps = Lps {
        name: "segur-gateway".into(),
        version: "bench".into(),
        homologation_id: "BENCH".into(),
    };
    let signer = Arc::new(VihfSigner::new(testpki::sign()).expect("signer"));
    let plan = cda::sample::adrun_zoe();
    let pdf = pdf_1mb();
    let t = Instant::now();
    let doc = cda::build(
        &plan,
        &DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
        Body::N1 { pdf: &pdf },
        time::OffsetDateTime::now_utc(),
        &cda::Xmllint::cda(),
    )
    .expect("N1 document");
    println!(
        "N1 CDA with a {} byte PDF: {} bytes, built and XSD-validated (xmllint) in {:.1} ms (once)",
        pdf.len(),
        doc.xml().len(),
        t.elapsed().as_secs_f64() * 1e3
    );

    // 1. In process.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = segur_gateway::store::Store::open_sqlite(&dir.path().join("bench.db"))
        .await
        .expect("store");
    let mut sandbox = segur_gateway::config::SandboxConfig::default();
    for name in segur_gateway::sim::KNOWN {
        sandbox.ports.insert(name.to_string(), 0);
    }
    let sims = segur_gateway::sim::SimHost::start(
        &sandbox,
        segur_gateway::sim::SimContext {
            store: Some(store.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("simulators");
    let base = format!(
        "{}si-dmp-server/v2/services/",
        sims.url("dmp").expect("dmp simulator")
    );
    let transport = HttpTransport::new(
        testpki::roots(),
        testpki::auth_cli(),
        segur_gateway::http::Timeouts::default(),
    )
    .expect("transport");
    let client = DmpClient::new(
        Arc::new(transport),
        signer.clone(),
        lps.clone(),
        "SA17",
        &base,
    );
    let n = 200;
    for _ in 0..10 {
        let sub = segur_gateway::xds::pps::submission(&plan, &doc, &ids());
        client
            .iti41_message(&sub, doc.xml().as_bytes())
            .expect("message");
    }
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let sub = segur_gateway::xds::pps::submission(&plan, &doc, &ids());
        let (_, msg) = client
            .iti41_message(&sub, doc.xml().as_bytes())
            .expect("message");
        bytes = msg.body.len();
    }
    let ours = per_op(t.elapsed(), n);
    println!(
        "in process: metadata + signed VIHF + XAdES set signature + ITI-41 MTOM ({bytes} bytes): {ours:.3} ms/op over {n} ops"
    );
    let t = Instant::now();
    let patient = doc.ins().clone();
    for _ in 0..n {
        signer
            .sign(&VihfRequest {
                patient: &patient,
                actor: Actor::Automaton,
                secteur: "SA17",
                lps: &lps,
                id: uuid::Uuid::new_v4(),
                now: time::OffsetDateTime::now_utc(),
            })
            .expect("signed");
    }
    println!(
        "  of which VIHF signature alone: {:.3} ms/op",
        per_op(t.elapsed(), n)
    );

    // 2. xmlsec1 as a process, same template.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = assertion_template(
        &VihfRequest {
            patient: &patient,
            actor: Actor::Automaton,
            secteur: "SA17",
            lps: &lps,
            id: uuid::Uuid::new_v4(),
            now: time::OffsetDateTime::now_utc(),
        },
        signer.issuer(),
        signer.structure_id(),
    )
    .expect("template");
    let file = dir.path().join("template.xml");
    let out = dir.path().join("signed.xml");
    std::fs::write(&file, &template).expect("write");
    let key = format!(
        "{},{}",
        root.join("certs/sign.key").display(),
        root.join("certs/sign.pem").display()
    );
    let xmlsec = |check: bool| {
        let o = Command::new("xmlsec1")
            .args(["--sign", "--privkey-pem", &key])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            ])
            .arg("--output")
            .arg(&out)
            .arg(&file)
            .output()
            .expect("xmlsec1 installed");
        if check {
            assert!(
                o.status.success(),
                "xmlsec1: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    };
    xmlsec(true);
    let m = 50;
    let t = Instant::now();
    for _ in 0..m {
        xmlsec(false);
    }
    let theirs = per_op(t.elapsed(), m);
    println!(
        "xmlsec1 --sign of the same assertion template (process): {theirs:.3} ms/op over {m} ops"
    );
    println!(
        "ratio (xmlsec1 sign alone / our metadata + two signatures + MTOM): {:.1}x",
        theirs / ours
    );

    // 3. Pushes to the simulator.
    for workers in [1usize, 4] {
        let per_worker = 40;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let client = client.clone();
            let plan = plan.clone();
            let doc = doc.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_worker {
                    let mut sub = segur_gateway::xds::pps::submission(&plan, &doc, &ids());
                    sub.document.unique_id = cda::uuid_oid(uuid::Uuid::new_v4());
                    let r = client.push(&sub, doc.xml().as_bytes()).await.expect("push");
                    assert!(
                        matches!(r, segur_gateway::xds::RegistryResult::Success { .. }),
                        "{r:?}"
                    );
                }
            }));
        }
        for t in tasks {
            t.await.expect("worker");
        }
        let total = workers * per_worker;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "pushes to the DMP simulator (1 MB N1, mTLS, {workers} sender(s)): {total} in {secs:.2} s = {:.1} pushes/s",
            total as f64 / secs
        );
    }
    sims.stop().await;
    store.close().await;
}

//! Mutual TLS between the gateway's client configuration and a simulator, as with the national services:
//! success with the test AUTH_CLI certificate, and a clear error for each way it must fail.

mod common;

use rustls_pki_types::CertificateDer;
use segur_gateway::pki::{Identity, TrustRoots, testpki, tls};
use segur_gateway::sim::{RunningSim, start_https, tls_check};
use std::io::{Read, Write};
use std::sync::Arc;

fn client(roots: &TrustRoots, id: Option<&Identity>) -> reqwest::Client {
    tls::install_default_provider();
    let config = tls::client_config(roots, id).unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .build()
        .unwrap()
}

async fn sim_with(server_tls: rustls::ServerConfig) -> RunningSim {
    start_https(
        "tls_check",
        "test",
        tls_check::router(),
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(server_tls),
    )
    .await
    .unwrap()
}

async fn sandbox_sim() -> RunningSim {
    sim_with(tls::server_config(testpki::server(), Some(testpki::roots())).unwrap()).await
}

fn describe(e: &reqwest::Error) -> String {
    tls::describe(e)
}

#[tokio::test]
async fn handshake_succeeds_with_the_test_auth_cli_certificate() {
    let sim = sandbox_sim().await;
    let body: serde_json::Value = client(testpki::roots(), Some(testpki::insi_auto()))
        .get(&sim.info.url)
        .send()
        .await
        .expect("mutual TLS works")
        .json()
        .await
        .unwrap();
    assert_eq!(body["client_certificate"]["common_name"], "INSI-AUTO");
    assert_eq!(body["client_certificate"]["structure_id"], "1630790004");
    sim.stop().await;
}

#[tokio::test]
async fn no_client_certificate_is_refused_with_a_clear_error() {
    let sim = sandbox_sim().await;
    let err = client(testpki::roots(), None)
        .get(&sim.info.url)
        .send()
        .await
        .unwrap_err();
    let text = describe(&err);
    assert!(text.contains("requires a client certificate"), "{text}");
    sim.stop().await;
}

#[tokio::test]
async fn server_chaining_outside_the_igc_roots_is_refused() {
    let (_, rogue_server) = common::rogue::authority("localhost", true);
    let sim = sim_with(tls::server_config(&rogue_server, Some(testpki::roots())).unwrap()).await;
    let err = client(testpki::roots(), Some(testpki::insi_auto()))
        .get(&sim.info.url)
        .send()
        .await
        .unwrap_err();
    let text = describe(&err);
    assert!(
        text.contains("does not chain to the configured IGC Santé roots"),
        "{text}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let (rogue_roots, rogue_client) = common::rogue::authority("INSI-AUTO", false);
    let _ = rogue_roots;
    let sim = sandbox_sim().await;
    let err = client(testpki::roots(), Some(&rogue_client))
        .get(&sim.info.url)
        .send()
        .await
        .unwrap_err();
    let text = describe(&err);
    assert!(text.contains("refused our client certificate"), "{text}");
    sim.stop().await;
}

/// A TLS 1.1 ClientHello (legacy_version 0x0302, no supported_versions extension): the simulator must answer
/// with a fatal `protocol_version` alert.
#[tokio::test]
async fn simulator_refuses_a_tls_1_1_client() {
    let sim = sandbox_sim().await;
    let addr = sim.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
        hello.extend([0x42; 32]); // random
        hello.push(0); // session id
        // Suites: ECDHE-RSA-AES128-GCM-SHA256 (which rustls has), ECDHE-RSA-AES128-SHA, AES128-SHA.
        hello.extend([0x00, 0x06, 0xc0, 0x2f, 0xc0, 0x13, 0x00, 0x2f]);
        hello.extend([0x01, 0x00]); // compression: null
        // Extensions a real client sends, so that only the version is wrong.
        let ext: Vec<u8> = [
            &[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17][..], // supported_groups x25519, P-256
            &[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00][..],                         // ec_point_formats
            &[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x08, 0x04, 0x04, 0x01][..], // signature_algorithms
        ]
        .concat();
        hello.extend([(ext.len() >> 8) as u8, ext.len() as u8]);
        hello.extend(ext);
        let mut hs = vec![0x01, 0x00, (hello.len() >> 8) as u8, hello.len() as u8];
        hs.extend(hello);
        let mut record = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
        record.extend(hs);
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(&record).unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).unwrap();
        buf
    })
    .await
    .unwrap();
    assert_eq!(answer[0], 0x15, "expected an alert record, got {answer:?}");
    assert_eq!(&answer[3..5], &[0x00, 0x02]);
    assert_eq!(answer[5], 2, "fatal");
    assert_eq!(answer[6], 70, "protocol_version alert");
    sim.stop().await;
}

/// Our client against an independent server forced to TLS 1.1 (Debian's `openssl s_server`).
#[tokio::test]
async fn client_refuses_a_tls_1_1_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");
    let dir = tempfile::tempdir().unwrap();
    // openssl wants the key readable by itself only: copy it with mode 0600.
    let key = dir.path().join("server.key");
    std::fs::copy(format!("{certs}/server.key"), &key).unwrap();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-tls1_1",
            "-cipher",
            "ALL:@SECLEVEL=0",
            "-accept",
        ])
        .arg(port.to_string())
        .arg("-cert")
        .arg(format!("{certs}/server.pem"))
        .arg("-key")
        .arg(&key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is installed (scripts/test installs it)");
    // Wait until it listens.
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "openssl s_server did not start");
    let err = client(testpki::roots(), Some(testpki::insi_auto()))
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    let _ = server.kill();
    let _ = server.wait();
    let text = describe(&err);
    assert!(
        text.contains("TLS version") || text.contains("TLS 1.2"),
        "{text}"
    );
}

#[test]
fn insi_cn_rule() {
    assert!(testpki::insi_auto().check_insi_cn().is_ok());
    let err = testpki::auth_cli().check_insi_cn().unwrap_err().to_string();
    assert!(
        err.contains("INSI-AUTO or INSI-MANU") && err.contains("AUTH_CLI"),
        "{err}"
    );
}

#[test]
fn pkcs12_and_pem_files_load_with_the_same_identity() {
    let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let p12 = std::fs::read(certs.join("insi-auto.p12")).unwrap();
    let from_p12 =
        Identity::from_pkcs12(&p12, segur_gateway::pki::generate::TEST_P12_PASSWORD, "p12")
            .unwrap();
    assert_eq!(from_p12.info.sha256, testpki::insi_auto().info.sha256);
    assert_eq!(from_p12.chain.len(), 2, "leaf and intermediate");
    let wrong = Identity::from_pkcs12(&p12, "wrong", "p12")
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("wrong password"), "{wrong}");
    let _: Vec<CertificateDer> = from_p12.chain;
}

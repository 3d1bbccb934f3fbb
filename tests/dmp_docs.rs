//! The PPS and the VIHF checked by independent tools: Debian's `xmlsec1` verifies the signed VIHF against the test
//! root (and refuses it once one byte of an attribute changes); the `segur cda pps` / `segur dmp vihf` commands
//! produce what the library does. `scripts/test` installs `xmlsec1` and `xmllint`.

use segur_gateway::dmp::{Actor, Lps, VihfRequest, VihfSigner};
use segur_gateway::ins::{Ins, InsOid};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// `xmlsec1 --verify` of `xml` with the test ELEMENTAIRE root trusted and its ORGANISATIONS CA as intermediate;
/// `extra` adds options (id attributes, URL maps).
fn xmlsec(xml: &str, extra: &[std::ffi::OsString]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("signed.xml");
    std::fs::write(&file, xml).expect("write");
    Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(repo("certs/root-elementaire.pem"))
        .arg("--untrusted-pem")
        .arg(repo("certs/ca-elementaire-organisations.pem"))
        .args(extra)
        .arg(&file)
        .output()
        .expect("xmlsec1 is installed (scripts/test installs it)")
}

/// The VIHF: its `ID` attribute declared to xmlsec1.
fn xmlsec_verify(xml: &str) -> Output {
    xmlsec(
        xml,
        &[
            "--id-attr:ID".into(),
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion".into(),
        ],
    )
}

/// A submission-set signature: the XAdES `SignedProperties` and the `ds:Manifest` are referenced by `Id`,
/// declared to xmlsec1 (no DTD says they are ids); xmlsec1 also checks the manifest: its `urn:oid:<uniqueId>`
/// reference is mapped to the document's file, the submission set's (placeholder digest, no bytes) to an empty one.
fn xmlsec_verify_xades(xml: &str, unique_id: &str, document: &[u8]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("document.xml");
    std::fs::write(&doc, document).expect("write");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    xmlsec(
        xml,
        &[
            "--id-attr:Id".into(),
            "http://uri.etsi.org/01903/v1.1.1#:SignedProperties".into(),
            "--id-attr:Id".into(),
            "http://www.w3.org/2000/09/xmldsig#:Manifest".into(),
            format!("--url-map:urn:oid:{unique_id}").into(),
            doc.into_os_string(),
            "--url-map:urn:oid:1.2.250.1.999.1.41".into(),
            empty.into_os_string(),
        ],
    )
}

#[test]
fn xmlsec1_verifies_the_submission_set_signature() {
    use segur_gateway::dmp::xades::{Signed, XadesRequest, sign};
    let signer = VihfSigner::new(segur_gateway::pki::testpki::sign()).expect("signer");
    let cda = b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>";
    let signed = sign(
        &signer,
        &XadesRequest {
            submission_set: "1.2.250.1.999.1.41",
            documents: &[Signed {
                unique_id: "1.2.250.1.999.1.42",
                content: cda,
            }],
            id: "sig-xmlsec",
            now: time::OffsetDateTime::now_utc(),
        },
    )
    .expect("signed");
    let verify =
        |xml: &str, document: &[u8]| xmlsec_verify_xades(xml, "1.2.250.1.999.1.42", document);
    let ok = verify(&signed, cda);
    assert!(
        ok.status.success(),
        "xmlsec1 refused the submission-set signature: {}\n{signed}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // xmlsec1 reports manifest references apart (XML-DSig leaves their validation to the application). The
    // submission set's reference carries the kit's placeholder digest (the set has no bytes): 1 of 2 verifies,
    // the document's.
    let manifest_ok = |out: &Output| {
        String::from_utf8_lossy(&out.stderr).contains("Manifests References (ok/all): 1/2")
    };
    assert!(manifest_ok(&ok), "{}", String::from_utf8_lossy(&ok.stderr));
    // The document is not the one signed: the manifest reference fails.
    let other = verify(&signed, b"<ClinicalDocument/>");
    assert!(
        !manifest_ok(&other),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    // The manifest (one digest byte) and the signed properties are both covered.
    let digest = segur_gateway::dmp::xades::document_digest(cda).expect("digest");
    let mut other = digest.clone().into_bytes();
    other[0] = if other[0] == b'A' { b'B' } else { b'A' };
    let tampered = signed.replacen(&digest, std::str::from_utf8(&other).unwrap(), 1);
    assert_ne!(tampered, signed);
    assert!(!verify(&tampered, cda).status.success());
    let tampered = signed.replacen(
        "<xades:Description>Source<",
        "<xades:Description>Sourcf<",
        1,
    );
    assert_ne!(tampered, signed);
    assert!(!verify(&tampered, cda).status.success());
}

fn signed_vihf() -> String {
    let patient = Ins::parse("275126322074974", InsOid::NirTest).expect("INS");
    let lps = Lps {
        name: "segur-gateway".into(),
        version: "0.1.0".into(),
        homologation_id: "HOMOL-TEST-0001".into(),
    };
    let signer = VihfSigner::new(segur_gateway::pki::testpki::sign()).expect("signer");
    signer
        .sign(&VihfRequest {
            patient: &patient,
            actor: Actor::Automaton,
            secteur: "SA17",
            lps: &lps,
            id: uuid::Uuid::new_v4(),
            now: time::OffsetDateTime::now_utc(),
        })
        .expect("signed")
}

#[test]
fn xmlsec1_verifies_the_vihf_and_detects_a_changed_attribute() {
    let signed = signed_vihf();
    let ok = xmlsec_verify(&signed);
    assert!(
        ok.status.success(),
        "xmlsec1 refused the VIHF: {}\n{signed}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // One byte of one attribute value changed.
    let tampered = signed.replacen(">urn:dmp<", ">urn:dmq<", 1);
    assert_ne!(tampered, signed);
    let ko = xmlsec_verify(&tampered);
    assert!(!ko.status.success(), "xmlsec1 accepted a tampered VIHF");
    // Another byte, in the INS of the resource-id.
    let tampered = signed.replacen("275126322074974^^^", "275126322074975^^^", 1);
    assert_ne!(tampered, signed);
    assert!(!xmlsec_verify(&tampered).status.success());
}

#[test]
fn xmlsec1_refuses_a_vihf_from_an_untrusted_root() {
    // The same assertion verified against the STANDARD root only: the chain does not lead there.
    let signed = signed_vihf();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("vihf.xml");
    std::fs::write(&file, &signed).expect("write");
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(repo("certs/root-standard.pem"))
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .arg(&file)
        .output()
        .expect("xmlsec1");
    assert!(!out.status.success());
}

fn segur(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segur"))
        .args(args)
        .env_remove("SEGUR_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("segur runs")
}

#[test]
fn cli_prints_a_sample_pps_and_a_verifiable_vihf() {
    for level in ["n3", "n1"] {
        let o = segur(&["cda", "pps", "--sample", "--level", level]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let xml = String::from_utf8_lossy(&o.stdout);
        assert!(xml.contains("<family qualifier=\"BR\">ADRUN</family>"));
        assert_eq!(xml.contains("nonXMLBody"), level == "n1");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("vihf.xml");
    let o = segur(&[
        "dmp",
        "vihf",
        "--ins",
        "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let signed = std::fs::read_to_string(&out).expect("written");
    assert!(xmlsec_verify(&signed).status.success());
    // A plan from a file; a non-QUAL identity is refused with its code.
    let plan = segur(&["cda", "pps", "--sample-json"]);
    let mut json: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("sample json");
    json["person"]["identity_status"] = "PROV".into();
    let input = dir.path().join("plan.json");
    std::fs::write(&input, json.to_string()).expect("write");
    let o = segur(&["cda", "pps", "--input", input.to_str().expect("utf-8 path")]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("dmp.identity_not_qualified"));
    let o = segur(&[
        "dmp",
        "vihf",
        "--ins",
        "275126322074975",
        "--oid",
        "1.2.250.1.213.1.4.10",
    ]);
    assert!(!o.status.success(), "a wrong INS key is refused");
}

#[test]
fn the_vihf_still_verifies_inside_the_iti41_envelope() {
    use segur_gateway::cda::{self, Body, DocumentIds, Xmllint};
    use segur_gateway::dmp::iti41::{Iti41Request, build};
    use segur_gateway::xds::pps::{SubmissionIds, submission};
    let doc = cda::sample::adrun_zoe();
    let now = time::OffsetDateTime::now_utc();
    let ids = DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let built = cda::build(
        &doc,
        &ids,
        Body::N1 {
            pdf: cda::sample::SAMPLE_PDF,
        },
        now,
        &Xmllint::cda(),
    )
    .expect("cda");
    let sub = submission(
        &doc,
        &built,
        &SubmissionIds {
            set_entry: uuid::Uuid::new_v4(),
            document_entry: uuid::Uuid::new_v4(),
            set_unique: uuid::Uuid::new_v4(),
            source_id: "1.2.250.1.999.2".into(),
            submission_time: now,
            replaces: None,
        },
    );
    let vihf = signed_vihf();
    let msg = build(&Iti41Request {
        submission: &sub,
        document: built.xml().as_bytes(),
        vihf: &vihf,
        signature: None,
        to: "https://localhost/si-dmp-server/v2/services/repository",
        message_id: uuid::Uuid::new_v4(),
        boundary: "MIMEBoundary_test",
    })
    .expect("mtom");
    let body = String::from_utf8(msg.body).expect("utf-8 parts");
    let root = body
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|rest| rest.split("\r\n--MIMEBoundary_test").next())
        .expect("root part");
    assert!(root.starts_with("<?xml"));
    assert!(
        xmlsec_verify(root).status.success(),
        "VIHF signature broken by embedding"
    );
    let tampered = root.replacen(">INDIRECTE<", ">INDIRECTF<", 1);
    assert!(!xmlsec_verify(&tampered).status.success());
}

use super::*;
use crate::sim::dmp::trust::sandbox_context;

fn signer() -> VihfSigner {
    VihfSigner::new(crate::pki::testpki::sign()).expect("signer")
}

fn structure(s: &VihfSigner) -> String {
    s.structure_id().to_owned()
}

const SET: &str = "1.2.250.1.999.1.6";
const DOC: &str = "1.2.250.1.999.1.7";
const CDA: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument a='1'><!-- c -->plan</ClinicalDocument>";

fn request<'a>(documents: &'a [Signed<'a>]) -> XadesRequest<'a> {
    XadesRequest {
        submission_set: SET,
        documents,
        id: "sig-1",
        now: time::macros::datetime!(2026-12-02 10:00:00.5 UTC),
    }
}

fn signed(s: &VihfSigner) -> String {
    let docs = [Signed {
        unique_id: DOC,
        content: CDA,
    }];
    sign(s, &request(&docs)).expect("signed")
}

fn check(xml: &str, docs: &[(&str, &[u8])], structure: &str) -> Result<(), String> {
    let ctx = sandbox_context(false).expect("ctx");
    crate::sim::dmp::xades_check::check(&ctx, xml.as_bytes(), SET, docs, structure)
}

#[test]
fn document_digest_is_over_canonical_xml_with_comments() {
    let canonical = b"<ClinicalDocument a=\"1\"><!-- c -->plan</ClinicalDocument>";
    assert_eq!(document_digest(CDA).expect("digest"), digest(canonical));
    // The same document written differently digests the same; another comment does not.
    assert_eq!(
        document_digest(b"<ClinicalDocument a=\"1\"><!-- c -->plan</ClinicalDocument>").expect("d"),
        digest(canonical)
    );
    assert_ne!(
        document_digest(b"<ClinicalDocument a=\"1\"><!-- d -->plan</ClinicalDocument>").expect("d"),
        digest(canonical)
    );
    assert!(document_digest(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").is_err());
    assert!(document_digest(b"<a>").is_err());
}

#[test]
fn template_has_the_manifest_and_the_xades_properties() {
    let s = signer();
    let docs = [Signed {
        unique_id: DOC,
        content: CDA,
    }];
    let t = template(&request(&docs), s.chain()).expect("template");
    assert!(t.contains(
        r##"<ds:Reference Type="http://www.w3.org/2000/09/xmldsig#Manifest" URI="#IHEManifest">"##
    ));
    assert!(t.contains(r##"URI="#sig-1-SignedProperties""##));
    assert!(t.contains("<xades:SigningTime>2026-12-02T10:00:00Z</xades:SigningTime>"));
    assert!(t.contains("<xades:Identifier>urn:oid:1.2.840.10065.1.12.1.14</xades:Identifier>"));
    assert!(t.contains(
        r##"<ds:SignatureProperty Id="purposeOfSignature" Target="#sig-1">1.2.840.10065.1.12.1.14</ds:SignatureProperty>"##
    ));
    // The set first (placeholder digest), then the document, canonicalised with comments.
    let set = t
        .find(&format!("URI=\"urn:oid:{SET}\""))
        .expect("set reference");
    let doc = t
        .find(&format!("URI=\"urn:oid:{DOC}\""))
        .expect("document reference");
    assert!(set < doc);
    assert!(t.contains(&format!(
        r#"<ds:Reference URI="urn:oid:{DOC}"><ds:Transforms><ds:Transform Algorithm="{C14N_WITH_COMMENTS}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{}</ds:DigestValue>"#,
        document_digest(CDA).expect("digest")
    )));
    // Every certificate of the identity, the signing one first.
    let first = t.find("<xades:Cert>").expect("Cert");
    assert!(t[first..].contains(&format!(
        "<ds:DigestValue>{}</ds:DigestValue>",
        digest(s.certificate())
    )));
    assert_eq!(t.matches("<xades:Cert>").count(), s.chain().len());
    // Issuer in RFC 4514 order: the CA's CN first.
    assert!(t.contains("<ds:X509IssuerName>CN="), "{t}");
}

#[test]
fn signature_verifies_and_the_simulator_accepts_it() {
    let s = signer();
    check(&signed(&s), &[(DOC, CDA)], &structure(&s)).expect("valid signature");
}

#[test]
fn simulator_refuses_tampering_other_documents_and_other_structures() {
    let s = signer();
    let xml = signed(&s);
    let st = structure(&s);
    // A document that is not the one signed.
    let e = check(&xml, &[(DOC, b"<other/>")], &st).expect_err("digest");
    assert!(e.contains("digest"), "{e}");
    // A document the manifest does not name.
    let e = check(&xml, &[("1.2.250.1.999.1.8", CDA)], &st).expect_err("uri");
    assert!(e.contains("does not reference"), "{e}");
    // Two documents, one signed.
    let e = check(&xml, &[(DOC, CDA), ("1.2.9", CDA)], &st).expect_err("count");
    assert!(e.contains("references 1"), "{e}");
    // Another submission set.
    let ctx = sandbox_context(false).expect("ctx");
    let e = crate::sim::dmp::xades_check::check(&ctx, xml.as_bytes(), "1.2.3", &[(DOC, CDA)], &st)
        .expect_err("set");
    assert!(e.contains("submission set"), "{e}");
    // Manifest edited after signing (the digest of another document): SignedInfo no longer matches.
    let other = document_digest(b"<other/>").expect("digest");
    let tampered = xml.replacen(&document_digest(CDA).expect("digest"), &other, 1);
    assert_ne!(tampered, xml);
    assert!(check(&tampered, &[(DOC, b"<other/>")], &st).is_err());
    // Signing time edited: SignedProperties no longer match.
    let tampered = xml.replacen("2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z", 1);
    assert_ne!(tampered, xml);
    assert!(check(&tampered, &[(DOC, CDA)], &st).is_err());
    // Signed by the structure, but the VIHF speaks for another one.
    let e = check(&xml, &[(DOC, CDA)], "10123456789").expect_err("structure");
    assert!(e.contains("structure"), "{e}");
    // Not a signature at all, and a DTD.
    assert!(check("<a/>", &[], &st).is_err());
    assert!(check("<!DOCTYPE a [<!ENTITY x \"y\">]><a/>", &[], &st).is_err());
}

#[test]
fn a_signature_from_another_pki_is_refused() {
    let other =
        crate::pki::generate::TestPki::generate(time::OffsetDateTime::now_utc()).expect("pki");
    let identity = other
        .leaf_named("sign")
        .expect("sign leaf")
        .identity()
        .expect("identity");
    let s = VihfSigner::new(&identity).expect("signer");
    let e = check(&signed(&s), &[(DOC, CDA)], &structure(&s)).expect_err("untrusted");
    assert!(e.contains("signature"), "{e}");
}

//! The simulator's VIHF check (`spec/dmp.md`, "VIHF"): the assertion is cut out of the raw envelope, its
//! enveloped XML signature is verified with bergshamra against the test IGC Santé roots (the `X509Certificate` of
//! `KeyInfo` must chain to them through the ORGANISATIONS CAs, within its validity), the only reference must be
//! `#<Assertion ID>` and every digest computed locally; the attributes are then read **from the verified bytes**
//! (never from the surrounding envelope), so what is checked is what was signed.
//!
//! Choice: the assertion must declare the namespaces it uses itself (exclusive C14N makes that the natural
//! form; the gateway and the CNAM tokens do), since it is verified on its own.

use super::trust;
use crate::dmp::vihf::SAML_NS;
use crate::ins::Ins;
use crate::ins::soap::{XmlElement, XmlLimits, parse_xml};

const LIMITS: XmlLimits = XmlLimits {
    max_bytes: 256 * 1024,
    max_depth: 32,
    max_elements: 2_000,
};

/// What a valid VIHF says.
#[derive(Debug, Clone)]
pub struct VihfFacts {
    /// `Identifiant_Structure`.
    pub structure_id: String,
    /// `resource-id`, the patient.
    pub patient: Ins,
    /// `resource-id` as sent.
    pub patient_cx: String,
}

/// The verifier (build once: it holds the trust anchors).
pub struct VihfVerifier {
    ctx: bergshamra::DsigContext,
}

impl std::fmt::Debug for VihfVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VihfVerifier")
    }
}

impl VihfVerifier {
    /// Trusting the embedded test roots.
    pub fn sandbox() -> Result<Self, String> {
        Ok(VihfVerifier {
            ctx: trust::sandbox_context(true)?,
        })
    }

    /// Checks the VIHF found in `envelope` (the raw SOAP envelope text).
    pub fn check(&self, envelope: &str) -> Result<VihfFacts, String> {
        let assertion = cut_assertion(envelope).ok_or("no saml2:Assertion in wsse:Security")?;
        // Our bounded reader first: it refuses DTDs and entities before bergshamra sees anything.
        let root = parse_xml(assertion.as_bytes(), &LIMITS).map_err(|e| e.to_string())?;
        if !root.is(SAML_NS, "Assertion") {
            return Err("the VIHF is not a SAML 2.0 Assertion".into());
        }
        let id = root.attr("ID").ok_or("the assertion has no ID")?;
        trust::check_key_info(
            root.child(crate::dmp::vihf::DSIG_NS, "Signature")
                .ok_or("the assertion is not signed")?,
        )?;
        let result =
            bergshamra::verify(&self.ctx, assertion).map_err(|e| format!("signature: {e}"))?;
        match &result {
            bergshamra::VerifyResult::Valid {
                references,
                key_info,
                ..
            } => {
                if !result.all_reference_digests_verified()
                    || references.len() != 1
                    || references[0].uri != format!("#{id}")
                {
                    return Err("the signature must cover exactly the assertion".into());
                }
                trust::check_chain(&key_info.x509_chain)?;
            }
            bergshamra::VerifyResult::Invalid { reason } => {
                return Err(format!("invalid signature: {reason}"));
            }
        }
        facts(&root)
    }
}

/// The assertion's text: from its start tag to its end tag (assertions do not nest).
fn cut_assertion(envelope: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(p) = envelope[from..].find('<') {
        let start = from + p;
        let tag_end = start + envelope[start..].find(['>', ' ', '\t', '\r', '\n', '/'])?;
        let qname = &envelope[start + 1..tag_end];
        if qname == "Assertion" || qname.ends_with(":Assertion") {
            let close = format!("</{qname}>");
            let end = start + envelope[start..].find(&close)? + close.len();
            return Some(&envelope[start..end]);
        }
        from = start + 1;
    }
    None
}

fn attribute<'a>(root: &'a XmlElement, name: &str) -> Option<&'a XmlElement> {
    root.child(SAML_NS, "AttributeStatement")?
        .children_in(SAML_NS, "Attribute")
        .find(|a| a.attr("Name") == Some(name))
}

fn string_value<'a>(root: &'a XmlElement, name: &str) -> Option<&'a str> {
    attribute(root, name)?
        .child(SAML_NS, "AttributeValue")
        .map(XmlElement::text)
}

fn facts(root: &XmlElement) -> Result<VihfFacts, String> {
    if string_value(root, "VIHF_Version") != Some("3.0") {
        return Err("VIHF_Version must be 3.0".into());
    }
    if string_value(root, "Ressource_URN") != Some("urn:dmp") {
        return Err("Ressource_URN must be urn:dmp".into());
    }
    let structure_id = string_value(root, "Identifiant_Structure")
        .filter(|s| !s.is_empty())
        .ok_or("no Identifiant_Structure")?
        .to_string();
    let cx = string_value(root, "urn:oasis:names:tc:xacml:2.0:resource:resource-id")
        .ok_or("no resource-id")?;
    let patient = Ins::parse_cx(cx).map_err(|e| format!("resource-id: {e}"))?;
    Ok(VihfFacts {
        structure_id,
        patient,
        patient_cx: cx.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmp::{Actor, Lps, VihfRequest, VihfSigner};
    use crate::ins::InsOid;

    fn signed() -> String {
        sign_with(crate::pki::testpki::sign())
    }

    fn sign_with(identity: &crate::pki::Identity) -> String {
        let patient = Ins::parse("275126322074974", InsOid::NirTest).expect("INS");
        let lps = Lps {
            name: "segur-gateway".into(),
            version: "0.1.0".into(),
            homologation_id: "HOMOL".into(),
        };
        VihfSigner::new(identity)
            .expect("signer")
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
    fn verifies_and_detects_tampering() {
        let v = VihfVerifier::sandbox().expect("verifier");
        let s = signed();
        let env = format!("<s:Envelope xmlns:s=\"urn:x\"><s:Header>{s}</s:Header></s:Envelope>");
        let facts = v.check(&env).expect("valid");
        assert_eq!(facts.patient.value(), "275126322074974");
        let tampered = env.replacen("275126322074974^^^", "250036912304548^^^", 1);
        assert!(v.check(&tampered).is_err());
        let tampered = env.replacen(">urn:dmp<", ">urn:dmq<", 1);
        assert!(v.check(&tampered).is_err());
        assert!(v.check("<s:Envelope/>").is_err());
    }

    #[test]
    fn refuses_a_certificate_outside_the_trusted_roots() {
        // Same names, same shape, but another PKI: the signature itself is fine, the chain is not.
        let other =
            crate::pki::generate::TestPki::generate(time::OffsetDateTime::now_utc()).expect("pki");
        let identity = other
            .leaf_named("sign")
            .expect("sign leaf")
            .identity()
            .expect("identity");
        let env = format!(
            "<s:Envelope xmlns:s=\"urn:x\">{}</s:Envelope>",
            sign_with(&identity)
        );
        let v = VihfVerifier::sandbox().expect("verifier");
        assert!(
            v.check(&env).is_err(),
            "a VIHF from an untrusted PKI was accepted"
        );
    }

    #[test]
    fn refuses_a_key_beside_the_certificate() {
        // The signature value is over SignedInfo only, so a KeyValue added to KeyInfo leaves it intact: the key
        // must come from the certificate alone, whose chain is what is trusted.
        let env = format!("<s:Envelope xmlns:s=\"urn:x\">{}</s:Envelope>", signed());
        let v = VihfVerifier::sandbox().expect("verifier");
        v.check(&env).expect("valid as signed");
        let extra = env.replacen(
            "<ds:KeyInfo>",
            "<ds:KeyInfo><ds:KeyName>attacker</ds:KeyName>",
            1,
        );
        let e = v.check(&extra).expect_err("refused");
        assert!(e.contains("KeyInfo"), "{e}");
    }
}

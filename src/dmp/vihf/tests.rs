use super::*;
use crate::cda::{SchemaValidator, Xmllint, validate::schemas_dir};
use crate::ins::{Ins, InsOid};
use time::macros::datetime;

fn lps() -> Lps {
    Lps {
        name: "segur-gateway".into(),
        version: "0.1.0".into(),
        homologation_id: "HOMOL-TEST-0001".into(),
    }
}

fn ins() -> Ins {
    Ins::parse("275126322074974", InsOid::NirTest).expect("test INS")
}

fn request<'a>(patient: &'a Ins, lps: &'a Lps, actor: Actor) -> VihfRequest<'a> {
    VihfRequest {
        patient,
        actor,
        secteur: "SA17",
        lps,
        id: uuid::Uuid::from_u128(0xabc),
        now: datetime!(2026-12-02 10:30:00.123456 +01:00),
    }
}

#[test]
fn issuer_is_the_subject_most_specific_first() {
    let sign = crate::pki::testpki::sign();
    let dn = subject_dn(&sign.chain[0]).expect("dn");
    assert!(
        dn.starts_with("CN=SIGN,OU=1630790004,O=EHPAD LES TILLEULS (TEST),"),
        "{dn}"
    );
    assert!(dn.ends_with(",C=FR"), "{dn}");
    assert_eq!(dn_escape("A,B+C "), "A\\,B\\+C\\ ");
}

#[test]
fn template_has_every_attribute_in_order() {
    let (patient, lps) = (ins(), lps());
    let xml = assertion_template(
        &request(&patient, &lps, Actor::Automaton),
        "CN=SIGN",
        "1630790004",
    )
    .expect("t");
    assert!(xml.contains(r#"ID="_00000000-0000-0000-0000-000000000abc""#));
    assert!(
        xml.contains(r#"IssueInstant="2026-12-02T09:30:00.123Z""#),
        "{xml}"
    );
    let names = [
        "VIHF_Version",
        "Identifiant_Structure",
        "Secteur_Activite",
        "urn:oasis:names:tc:xspa:1.0:subject:subject-id",
        "urn:oasis:names:tc:xacml:2.0:subject:role",
        "Authentification_mode",
        "urn:oasis:names:tc:xacml:2.0:resource:resource-id",
        "Ressource_URN",
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
        "LPS_Nom",
        "LPS_Version",
        "LPS_ID_HOMOLOGATION_DMP",
    ];
    let mut at = 0;
    for n in names {
        let pos = xml
            .find(&format!(r#"Name="{n}""#))
            .unwrap_or_else(|| panic!("missing {n}"));
        assert!(pos > at, "{n} out of order");
        at = pos;
    }
    for needle in [
        ">3.0<",
        ">1630790004<",
        ">SA17^1.2.250.1.71.4.2.4<",
        r#"code="AUTOMATE" codeSystem="1.2.250.1.213.1.1.4.6""#,
        ">INDIRECTE<",
        ">275126322074974^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH<",
        ">urn:dmp<",
        r#"code="normal" codeSystem="1.2.250.1.213.1.1.4.248""#,
        ">HOMOL-TEST-0001<",
        "<saml2:NameID>1630790004</saml2:NameID>",
        "ac:classes:TLSClient",
    ] {
        assert!(xml.contains(needle), "missing {needle}");
    }
    // The signature sits right after the Issuer.
    assert!(xml.contains("</saml2:Issuer><ds:Signature"));
}

#[test]
fn professional_actor() {
    let (patient, lps) = (ins(), lps());
    let actor = Actor::Professional {
        id_nat: "810100000011".into(),
        name: "CLAIRE LEFEBVRE".into(),
        roles: vec![RoleCode {
            code: "60".into(),
            system: "1.2.250.1.71.1.2.7".into(),
            display: "Infirmier".into(),
        }],
    };
    let xml =
        assertion_template(&request(&patient, &lps, actor), "CN=SIGN", "1630790004").expect("t");
    assert!(xml.contains("<saml2:NameID>810100000011</saml2:NameID>"));
    assert!(xml.contains(">CLAIRE LEFEBVRE<"));
    assert!(!xml.contains("AUTOMATE"));
    let no_role = Actor::Professional {
        id_nat: "1".into(),
        name: "X".into(),
        roles: vec![],
    };
    assert!(matches!(
        assertion_template(&request(&patient, &lps, no_role), "CN=SIGN", "1"),
        Err(VihfError::NoRole)
    ));
}

#[test]
fn signed_assertion_passes_the_saml_schema_and_carries_the_certificate() {
    let (patient, lps) = (ins(), lps());
    let signer = VihfSigner::new(crate::pki::testpki::sign()).expect("signer");
    assert_eq!(signer.structure_id(), "1630790004");
    let signed = signer
        .sign(&request(&patient, &lps, Actor::Automaton))
        .expect("signed");
    assert!(!signed.contains("<ds:DigestValue></ds:DigestValue>"));
    assert!(!signed.contains("<ds:SignatureValue></ds:SignatureValue>"));
    assert!(!signed.contains("<ds:X509Certificate></ds:X509Certificate>"));
    // The HL7 `CE` type of `Role`/`PurposeOfUse` is not part of the SAML schema set, which makes xmllint refuse
    // `xsi:type="CE"`; everything else is checked against the SAML 2.0 schema.
    let schema = Xmllint::new(
        schemas_dir()
            .join("xds")
            .join("saml-schema-assertion-2.0.xsd"),
    );
    assert_eq!(signed.matches(r#" xsi:type="CE""#).count(), 2);
    let without_hl7_type = signed.replace(r#" xsi:type="CE""#, "");
    schema
        .validate(without_hl7_type.as_bytes())
        .expect("valid SAML assertion");
}

#[test]
fn a_psc_professional_becomes_the_actor() {
    use crate::psc::{Exercice, Professional};
    let mut p = Professional {
        sub: "f:psc:1".into(),
        national_id: Some(crate::psc::NationalId::parse("899700218943")),
        given_name: Some("CLAIRE".into()),
        family_name: Some("MARTIN".into()),
        exercices: vec![Exercice {
            profession: Some("10".into()),
            specialty: Some("SM54".into()),
            ..Exercice::default()
        }],
        ..Professional::default()
    };
    let Ok(Actor::Professional {
        id_nat,
        name,
        roles,
    }) = Actor::from_professional(&p)
    else {
        panic!("a professional");
    };
    assert_eq!(
        (id_nat.as_str(), name.as_str()),
        ("899700218943", "CLAIRE MARTIN")
    );
    assert_eq!(roles[0].code, "10");
    assert_eq!(roles[0].system, PROFESSION_SYSTEM);
    assert_eq!(roles[0].display, "Médecin");
    assert_eq!(roles[1].system, SPECIALTY_SYSTEM);
    p.exercices.clear();
    assert!(
        Actor::from_professional(&p).is_err(),
        "no profession, no DMP role"
    );
}

//! The VIHF: the signed SAML 2.0 assertion every DMP request carries in `wsse:Security` (`spec/dmp.md`, section
//! "VIHF").
//!
//! [`assertion_template`] writes the assertion (pure; identifiers and time injected); [`VihfSigner`] signs it with
//! the structure's `SIGN` certificate through bergshamra (pure Rust XML-DSig, `#![forbid(unsafe_code)]`).
//!
//! Shape, in SAML schema order: `Issuer` (`X509SubjectName` = the signing certificate's subject, RFC 4514 order,
//! most specific RDN first, as in the CNAM example tokens), `ds:Signature` right after it, `Subject/NameID`,
//! `AuthnStatement` (`AuthnContextClassRef` `…:ac:classes:TLSClient`: the structure authenticated by its
//! certificate), `AttributeStatement` with, in this order: `VIHF_Version` `3.0`, `Identifiant_Structure` (the
//! certificate's OU, `1<FINESS>`), `Secteur_Activite` (`<code>^1.2.250.1.71.4.2.4`), `subject-id`, `role`,
//! `Authentification_mode` `INDIRECTE`, `resource-id` (INS in CX form), `Ressource_URN` `urn:dmp`,
//! `purposeofuse` `normal`, `LPS_Nom`, `LPS_Version`, `LPS_ID_HOMOLOGATION_DMP`. Role and purpose of use are HL7
//! elements (`urn:hl7-org:v3`, `xsi:type="CE"`), as in the CNAM tokens (`Role`, `PurposeOfUse`); other values are
//! `xsi:type="xs:string"`, `xs` declared on each value like the CNAM tokens do.
//!
//! Acting person: with no professional connected the actor is the software, role `AUTOMATE` (code system
//! `1.2.250.1.213.1.1.4.6`), `NameID` = the structure id and `subject-id` = the software name; a professional from a
//! Pro Santé Connect session ([`Actor::Professional`]) gives `NameID` = the national id, `subject-id` = the name,
//! and the profession (and specialty) roles.
//!
//! Signature: enveloped, `Reference URI="#<ID>"`, transforms enveloped-signature then exclusive C14N, exclusive
//! C14N for `SignedInfo`, **RSA-SHA256 / SHA-256** (the 2019 CNAM tokens use SHA-1; the spec asks for SHA-256 unless
//! the current DMP guide says otherwise — *(verify)* with the current "Guide d'intégration DMP"), `KeyInfo/X509Data`
//! with the signing certificate alone (the verifier holds the IGC Santé chain). The signed text is written without
//! indentation.

use super::signing_key::{RsaSha256, fill_certificate};
use crate::ins::Ins;
use crate::pki::Identity;
use crate::xmlw::XmlWriter;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// HL7 v3 namespace (Role, PurposeOfUse).
pub const HL7_NS: &str = "urn:hl7-org:v3";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// Code system of the facility type (`Secteur_Activite`).
pub const SECTEUR_SYSTEM: &str = "1.2.250.1.71.4.2.4";
/// Code system of the `AUTOMATE` role.
pub const AUTOMATE_SYSTEM: &str = "1.2.250.1.213.1.1.4.6";

/// The software, as the DMP knows it (from the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lps {
    /// `LPS_Nom`.
    pub name: String,
    /// `LPS_Version`.
    pub version: String,
    /// `LPS_ID_HOMOLOGATION_DMP`: the DMP homologation number.
    pub homologation_id: String,
}

/// An HL7 coded role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleCode {
    /// Code.
    pub code: String,
    /// Code system OID.
    pub system: String,
    /// Display name.
    pub display: String,
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The software on its own (no professional connected): role `AUTOMATE`.
    Automaton,
    /// A professional from a Pro Santé Connect session.
    Professional {
        /// National id (`idNat_PS`), the `NameID`.
        id_nat: String,
        /// Display name (`subject-id`), e.g. `CLAIRE LEFEBVRE`.
        name: String,
        /// Profession and specialty roles (at least one).
        roles: Vec<RoleCode>,
    },
}

/// Code system of professions (TRE_G15-ProfessionSante), for the VIHF role of a professional.
pub const PROFESSION_SYSTEM: &str = "1.2.250.1.71.1.2.7";
/// Code system of specialties (TRE_R38-SpecialiteOrdinale).
pub const SPECIALTY_SYSTEM: &str = "1.2.250.1.71.4.2.5";

/// Display names of the common TRE_G15 professions (the code is shown for the others).
fn profession_display(code: &str) -> &str {
    match code {
        "10" => "Médecin",
        "21" => "Pharmacien",
        "40" => "Chirurgien-Dentiste",
        "50" => "Sage-Femme",
        "60" => "Infirmier",
        "70" => "Masseur-Kinésithérapeute",
        "80" => "Pédicure-Podologue",
        "91" => "Orthophoniste",
        "92" => "Orthoptiste",
        "93" => "Psychomotricien",
        "94" => "Ergothérapeute",
        "95" => "Audioprothésiste",
        "96" => "Opticien-Lunetier",
        other => other,
    }
}

impl Actor {
    /// The professional of a Pro Santé Connect session: `NameID` = the national id (`idNat_PS`, PSC's
    /// `SubjectNameID`), `subject-id` = given and family names, one role per exercised profession
    /// (`codeProfession`, TRE_G15) and specialty (`codeSavoirFaire`, TRE_R38). A professional without any
    /// profession cannot act in the DMP (error).
    pub fn from_professional(p: &crate::psc::Professional) -> Result<Actor, String> {
        let id_nat = p
            .national_id
            .as_ref()
            .map(|n| n.value.clone())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| p.sub.clone());
        let first = p.exercices.first();
        let given = p
            .given_name
            .clone()
            .or_else(|| first.and_then(|e| e.given_name.clone()));
        let family = p
            .family_name
            .clone()
            .or_else(|| first.and_then(|e| e.family_name.clone()));
        let name = [given, family]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let mut roles = Vec::new();
        for e in &p.exercices {
            if let Some(code) = e.profession.as_deref().filter(|c| !c.is_empty()) {
                roles.push(RoleCode {
                    code: code.to_owned(),
                    system: PROFESSION_SYSTEM.to_owned(),
                    display: profession_display(code).to_owned(),
                });
            }
            if let Some(code) = e.specialty.as_deref().filter(|c| !c.is_empty()) {
                roles.push(RoleCode {
                    code: code.to_owned(),
                    system: SPECIALTY_SYSTEM.to_owned(),
                    display: code.to_owned(),
                });
            }
        }
        roles.dedup();
        if roles.is_empty() {
            return Err("the professional has no profession in Pro Santé Connect".into());
        }
        Ok(Actor::Professional {
            id_nat,
            name: if name.is_empty() { p.sub.clone() } else { name },
            roles,
        })
    }
}

/// One assertion's values.
#[derive(Debug, Clone)]
pub struct VihfRequest<'a> {
    /// The patient (`resource-id`).
    pub patient: &'a Ins,
    /// Who acts.
    pub actor: Actor,
    /// `Secteur_Activite` code (J02, e.g. `SA17`) *(verify the médico-social value)*.
    pub secteur: &'a str,
    /// The software.
    pub lps: &'a Lps,
    /// Assertion `ID` (written `_<uuid>`, an NCName).
    pub id: uuid::Uuid,
    /// `IssueInstant` / `AuthnInstant`.
    pub now: OffsetDateTime,
}

/// Why an assertion could not be built or signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VihfError {
    /// The signing certificate has no structure id in its OU.
    #[error("the signing certificate {subject} has no structure id (OU)")]
    NoStructureId {
        /// Its subject.
        subject: String,
    },
    /// The certificate could not be read.
    #[error("signing certificate: {0}")]
    Certificate(String),
    /// The private key was refused by the signer.
    #[error("signing key: {0}")]
    Key(String),
    /// Signing failed.
    #[error("XML signature: {0}")]
    Sign(String),
    /// A professional actor without a role.
    #[error("a professional actor needs at least one role")]
    NoRole,
}

/// The RFC 4514 string of a certificate's subject (most specific RDN first), for `Issuer`.
pub fn subject_dn(cert_der: &[u8]) -> Result<String, VihfError> {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der)
        .map_err(|e| VihfError::Certificate(e.to_string()))?;
    dn_string(cert.subject())
}

/// A distinguished name in RFC 4514 order (most specific RDN first).
pub(crate) fn dn_string(dn: &x509_parser::x509::X509Name<'_>) -> Result<String, VihfError> {
    let mut parts = Vec::new();
    for rdn in dn.iter_rdn().collect::<Vec<_>>().into_iter().rev() {
        let mut atvs = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let name = match oid.as_str() {
                "2.5.4.3" => "CN".to_owned(),
                "2.5.4.6" => "C".to_owned(),
                "2.5.4.7" => "L".to_owned(),
                "2.5.4.8" => "ST".to_owned(),
                "2.5.4.10" => "O".to_owned(),
                "2.5.4.11" => "OU".to_owned(),
                "2.5.4.9" => "STREET".to_owned(),
                _ => oid,
            };
            let value = atv
                .as_str()
                .map_err(|e| VihfError::Certificate(format!("name {name}: {e}")))?;
            atvs.push(format!("{name}={}", dn_escape(value)));
        }
        parts.push(atvs.join("+"));
    }
    Ok(parts.join(","))
}

fn dn_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let t = t
        .replace_nanosecond(u32::from(t.millisecond()) * 1_000_000)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

fn string_attr(w: &mut XmlWriter, name: &str, value: &str) {
    w.start("saml2:Attribute", &[("Name", name)]);
    w.text_elem(
        "saml2:AttributeValue",
        &[("xmlns:xs", XS_NS), ("xsi:type", "xs:string")],
        value,
    );
    w.end();
}

fn ce_attr(w: &mut XmlWriter, name: &str, element: &str, codes: &[(&str, &str, &str)]) {
    w.start("saml2:Attribute", &[("Name", name)]);
    for (code, system, display) in codes {
        w.start("saml2:AttributeValue", &[]);
        w.empty(
            element,
            &[
                ("xmlns", HL7_NS),
                ("code", code),
                ("codeSystem", system),
                ("displayName", display),
                ("xsi:type", "CE"),
            ],
        );
        w.end();
    }
    w.end();
}

/// The unsigned assertion with its signature template (empty digest, signature and certificate), ready for
/// [`VihfSigner::sign`].
///
/// `issuer` is the signing certificate's subject ([`subject_dn`]), `structure_id` its OU.
pub fn assertion_template(
    req: &VihfRequest<'_>,
    issuer: &str,
    structure_id: &str,
) -> Result<String, VihfError> {
    let id = format!("_{}", req.id.hyphenated());
    let now = instant(req.now);
    let mut w = XmlWriter::fragment(false);
    w.start(
        "saml2:Assertion",
        &[
            ("xmlns:saml2", SAML_NS),
            ("xmlns:xsi", XSI_NS),
            ("ID", &id),
            ("IssueInstant", &now),
            ("Version", "2.0"),
        ],
    );
    w.text_elem(
        "saml2:Issuer",
        &[(
            "Format",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
        )],
        issuer,
    );
    signature_template(&mut w, &id);
    let (name_id, subject_name) = match &req.actor {
        Actor::Automaton => (structure_id, req.lps.name.as_str()),
        Actor::Professional {
            id_nat,
            name,
            roles,
        } => {
            if roles.is_empty() {
                return Err(VihfError::NoRole);
            }
            (id_nat.as_str(), name.as_str())
        }
    };
    w.start("saml2:Subject", &[]);
    w.text_elem("saml2:NameID", &[], name_id);
    w.end();
    w.start("saml2:AuthnStatement", &[("AuthnInstant", &now)]);
    w.start("saml2:AuthnContext", &[]);
    w.text_elem(
        "saml2:AuthnContextClassRef",
        &[],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
    );
    w.end();
    w.end();
    w.start("saml2:AttributeStatement", &[]);
    string_attr(&mut w, "VIHF_Version", "3.0");
    string_attr(&mut w, "Identifiant_Structure", structure_id);
    string_attr(
        &mut w,
        "Secteur_Activite",
        &format!("{}^{SECTEUR_SYSTEM}", req.secteur),
    );
    string_attr(
        &mut w,
        "urn:oasis:names:tc:xspa:1.0:subject:subject-id",
        subject_name,
    );
    match &req.actor {
        Actor::Automaton => ce_attr(
            &mut w,
            "urn:oasis:names:tc:xacml:2.0:subject:role",
            "Role",
            &[("AUTOMATE", AUTOMATE_SYSTEM, "Automate")],
        ),
        Actor::Professional { roles, .. } => {
            let codes: Vec<(&str, &str, &str)> = roles
                .iter()
                .map(|r| (r.code.as_str(), r.system.as_str(), r.display.as_str()))
                .collect();
            ce_attr(
                &mut w,
                "urn:oasis:names:tc:xacml:2.0:subject:role",
                "Role",
                &codes,
            );
        }
    }
    string_attr(&mut w, "Authentification_mode", "INDIRECTE");
    string_attr(
        &mut w,
        "urn:oasis:names:tc:xacml:2.0:resource:resource-id",
        &req.patient.to_cx(),
    );
    string_attr(&mut w, "Ressource_URN", "urn:dmp");
    ce_attr(
        &mut w,
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
        "PurposeOfUse",
        &[("normal", "1.2.250.1.213.1.1.4.248", "Accès normal")],
    );
    string_attr(&mut w, "LPS_Nom", &req.lps.name);
    string_attr(&mut w, "LPS_Version", &req.lps.version);
    string_attr(&mut w, "LPS_ID_HOMOLOGATION_DMP", &req.lps.homologation_id);
    w.end();
    w.end();
    Ok(w.finish())
}

fn signature_template(w: &mut XmlWriter, id: &str) {
    const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    w.start("ds:Signature", &[("xmlns:ds", DSIG_NS)]);
    w.start("ds:SignedInfo", &[]);
    w.empty("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)]);
    w.empty(
        "ds:SignatureMethod",
        &[(
            "Algorithm",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        )],
    );
    w.start("ds:Reference", &[("URI", &format!("#{id}"))]);
    w.start("ds:Transforms", &[]);
    w.empty(
        "ds:Transform",
        &[(
            "Algorithm",
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        )],
    );
    w.empty("ds:Transform", &[("Algorithm", EXC_C14N)]);
    w.end();
    w.empty(
        "ds:DigestMethod",
        &[("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")],
    );
    w.text_elem("ds:DigestValue", &[], "");
    w.end();
    w.end();
    w.text_elem("ds:SignatureValue", &[], "");
    w.start("ds:KeyInfo", &[]);
    w.start("ds:X509Data", &[]);
    w.text_elem("ds:X509Certificate", &[], "");
    w.end();
    w.end();
    w.end();
}

/// Signs assertions with the structure's `SIGN` certificate. Build once and reuse: the key is parsed and checked
/// once (`src/dmp/signing_key.rs`).
pub struct VihfSigner {
    ctx: bergshamra::DsigContext,
    chain: Vec<Vec<u8>>,
    issuer: String,
    structure_id: String,
}

impl std::fmt::Debug for VihfSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VihfSigner")
            .field("issuer", &self.issuer)
            .field("structure_id", &self.structure_id)
            .field("key", &"***")
            .finish()
    }
}

impl VihfSigner {
    /// A signer for the `SIGN` identity. Its certificate's OU must hold the structure id.
    pub fn new(sign: &Identity) -> Result<Self, VihfError> {
        let leaf = sign
            .chain
            .first()
            .ok_or_else(|| VihfError::Certificate("no certificate".into()))?;
        let structure_id = sign
            .info
            .organisational_unit
            .clone()
            .filter(|ou| !ou.is_empty())
            .ok_or_else(|| VihfError::NoStructureId {
                subject: sign.info.subject.clone(),
            })?;
        let issuer = subject_dn(leaf)?;
        let key = match sign.key() {
            rustls_pki_types::PrivateKeyDer::Pkcs8(k) => {
                RsaSha256::from_der(k.secret_pkcs8_der(), true)
            }
            rustls_pki_types::PrivateKeyDer::Pkcs1(k) => {
                RsaSha256::from_der(k.secret_pkcs1_der(), false)
            }
            _ => Err("only RSA keys (PKCS#8 or PKCS#1) are supported".into()),
        }
        .map_err(VihfError::Key)?;
        Ok(VihfSigner {
            ctx: bergshamra::DsigContext::new(bergshamra::KeysManager::new())
                .with_hsm_signer(Box::new(key)),
            chain: sign.chain.iter().map(|c| c.to_vec()).collect(),
            issuer,
            structure_id,
        })
    }

    /// The structure id (`Identifiant_Structure`), from the certificate's OU.
    pub fn structure_id(&self) -> &str {
        &self.structure_id
    }

    /// The `Issuer` value: the certificate's subject.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signing certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.chain[0]
    }

    /// The signing certificate then the CA certificates the identity came with (DER).
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// Signs a template (a document holding one `ds:Signature` with empty digest and signature values) with the
    /// `SIGN` key: also used for the submission-set signature ([`super::xades`]).
    pub(crate) fn sign_template(&self, template: String) -> Result<String, VihfError> {
        let template = fill_certificate(&template, &self.chain[0]).ok_or_else(|| {
            VihfError::Sign("the template has no empty ds:X509Certificate".into())
        })?;
        bergshamra::dsig::sign::sign_owned(&self.ctx, template)
            .map_err(|e| VihfError::Sign(e.to_string()))
    }

    /// Builds and signs the assertion.
    pub fn sign(&self, req: &VihfRequest<'_>) -> Result<String, VihfError> {
        self.sign_template(assertion_template(req, &self.issuer, &self.structure_id)?)
    }
}

#[cfg(test)]
mod tests;

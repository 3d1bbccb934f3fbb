//! INSi SOAP 1.2 messages, client side: the two search requests and the parser of the answers.
//!
//! Pure (style habit 1): no network, no clock, no randomness. The identifiers and the time a request carries come
//! in an [`Envelope`] built by the caller, so requests are deterministic in tests (habit 8). The transport
//! (`ins::transport`) sends what [`build_traits_request`] / [`build_vitale_request`] return with the
//! `Content-Type` of [`Operation::content_type`], and hands the answer's bytes to [`parse_response`].
//!
//! Follows `spec/ins.md`, section "INSi web service":
//!
//! - SOAP 1.2 (`http://www.w3.org/2003/05/soap-envelope`); the action travels as the `action` parameter of the
//!   `application/soap+xml` media type, never as a `SOAPAction` header.
//! - Headers, in this order: `ContexteBAM` (`urn:siram:bam:ctxbam`, `Version="01_02"`: `Id`, `Temps`,
//!   `Emetteur`, `COUVERTURE`), `ContexteLPS` (`urn:siram:lps:ctxlps`, `Nature="CTXLPS" Version="01_00"`: `Id`,
//!   `Temps`, `Emetteur`, `LPS` { `IDAM R="4"`, `Version`, `Instance`, `Nom` }), `wsa:Action`, `wsa:MessageID`
//!   (`uuid:<uuid>`). No `wsse:Security`: authentication is the mutual-TLS certificate.
//! - Bodies: `RECSANSVITALE` (`http://www.cnamts.fr/INSiRecSans`) and `RECVITALE`
//!   (`http://www.cnamts.fr/INSiRecVit`), children namespace-qualified.
//! - Answers: `RESULTAT` (`http://www.cnamts.fr/INSiResultat`) with `CR/CodeCR` `00` (one identity), `01` (none),
//!   `02` (several); or a SOAP 1.2 `Fault` whose `Detail` holds `siram:Erreur` (`urn:siram`).
//!
//! Message shapes checked against public material (facts only, no code taken):
//!
//! - the `ContexteBAM` / `ContexteLPS` schemas, `ROOT_ctxbam_CTXBAM_V01_02.xsd` and `ROOT_ctxlps_CTXLPS_V01_00.xsd`
//!   as published in the repository `padoa/tlsi-ins` (`src/fixtures/WSDL/xsd/CTX/`): `elementFormDefault=
//!   "qualified"`, so every child (`Id`, `Temps`, `Emetteur`, `COUVERTURE`, `LPS`, `IDAM`, …) is in the namespace
//!   of its context element; `COUVERTURE` is required (sent empty), the `Version` attribute is required, `IDAM`
//!   carries the `R` attribute;
//! - `INSi_RECVITALE_INS.xsd` (same repository, `src/fixtures/WSDL/xsd/ServiceIdentiteCertifiee/`):
//!   `MatriculeIndividu` and `MatriculeOD` are structures `{ NumIdentifiant, Cle, TypeMatricule? }`, children
//!   qualified in `http://www.cnamts.fr/INSiRecVit`;
//! - answers recorded from the CNAM test service in the same repository (`src/fixtures/REP_CR01.xml`,
//!   `src/fixtures/insi-client.fixture.ts`, `src/fixtures/persons/*.fixture.ts`): `RESULTAT` declares its
//!   namespace as the default one so its children are qualified; the `TIQ` block carries `ListePrenom` but **no
//!   `Prenom`**; `DateDeb`/`DateFin` of an `INSHISTO` come either before `IdIndividu` or after `OID`;
//! - faults recorded in the same repository (`src/fixtures/persons/aeion-coeur.fixture.ts`,
//!   `src/insi-client.service.test.ts`): `Code/Value` `S:Receiver`, `Code/Subcode/Value` a QName such as
//!   `S:siram_40` or `S:siram_100`, `Reason/Text xml:lang="en"`, and `Detail/siram:Erreur` with the attributes
//!   `severite` (e.g. `fatal`) and `code` (e.g. `insi_102`, `desir_550`), its text being the message.
//!
//! Parsing choices:
//!
//! - The answer is read with `quick_xml::NsReader` into a small bounded tree and every element the parser trusts is
//!   checked by namespace *and* local name; prefixes are free. Elements in another namespace are ignored, so a
//!   `RESULTAT` or `CR` in a foreign namespace is as good as absent (and the answer is refused as malformed).
//! - Children of `RESULTAT` are accepted qualified (`INSiResultat`) or unqualified (no namespace), whichever
//!   `elementFormDefault` the server uses — but only under a `RESULTAT` in the right namespace.
//! - Refused outright: any `DOCTYPE` (so no entity can be declared), an encoding other than UTF-8, undefined
//!   entity references, answers over [`MAX_RESPONSE_BYTES`], deeper than 32 levels or with more than 4096
//!   elements. Nothing here panics on any input.
//! - `TIQ/Prenom` is optional (see above): when absent, the first given name is the first word of `ListePrenom`.
//!   Values are kept as received (trimmed of XML white space); comparing them with local traits is
//!   [`crate::ins::compare`]'s job. `DateDeb`/`DateFin` are kept as received strings.
//! - The fault code kept is the most specific one: the `siram:Erreur` `code` attribute, else the `Subcode` value,
//!   else the `Code` value. The [`FaultKind`] comes from the detail code when it is a known one, otherwise from the
//!   subcode.

use std::fmt;

use crate::ins::{BirthDate, BirthPlace, Ins, InsError, InsOid, InsiTraits, Matricule, Sex};
use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// Namespace of the `ContexteBAM` header.
pub const CTXBAM_NS: &str = "urn:siram:bam:ctxbam";
/// Namespace of the `ContexteLPS` header.
pub const CTXLPS_NS: &str = "urn:siram:lps:ctxlps";
/// WS-Addressing namespace (`Action`, `MessageID`).
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";
/// Namespace of the traits search body `RECSANSVITALE`.
pub const REC_SANS_NS: &str = "http://www.cnamts.fr/INSiRecSans";
/// Namespace of the Carte Vitale search body `RECVITALE`.
pub const REC_VIT_NS: &str = "http://www.cnamts.fr/INSiRecVit";
/// Namespace of the answer body `RESULTAT`.
pub const RESULTAT_NS: &str = "http://www.cnamts.fr/INSiResultat";
/// Namespace of `siram:Erreur` in fault details.
pub const SIRAM_NS: &str = "urn:siram";

/// Largest answer [`parse_response`] reads (INSi answers are a few kilobytes).
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

const RESPONSE_LIMITS: XmlLimits = XmlLimits {
    max_bytes: MAX_RESPONSE_BYTES,
    max_depth: 32,
    max_elements: 4096,
};

/// Bytes of an unparsable answer kept in [`SoapError::Malformed`].
const EXCERPT_BYTES: usize = 512;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

/// The two INSi operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `rechercherInsAvecTraitsIdentite`: search by birth name, given name, sex, birth date (and place).
    TraitsSearch,
    /// `rechercherInsAvecCarteVitale`: search with the numbers read from a Carte Vitale.
    VitaleSearch,
}

impl Operation {
    /// The operation name of the WSDL.
    pub fn name(self) -> &'static str {
        match self {
            Operation::TraitsSearch => "rechercherInsAvecTraitsIdentite",
            Operation::VitaleSearch => "rechercherInsAvecCarteVitale",
        }
    }

    /// The SOAP action URN, sent in the `Content-Type` and in `wsa:Action`.
    pub fn action(self) -> &'static str {
        match self {
            Operation::TraitsSearch => {
                "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
            }
            Operation::VitaleSearch => {
                "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
            }
        }
    }

    /// The operation whose action URN is `action`, if any.
    pub fn from_action(action: &str) -> Option<Operation> {
        [Operation::TraitsSearch, Operation::VitaleSearch]
            .into_iter()
            .find(|op| op.action() == action)
    }

    /// The HTTP `Content-Type` of a request: SOAP 1.2 carries the action as a media-type parameter.
    pub fn content_type(self) -> String {
        format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            self.action()
        )
    }
}

/// Who calls INSi: the structure and the software, as the `ContexteBAM` / `ContexteLPS` headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LpsContext {
    /// Structure identifier sent as `Emetteur` in both contexts, e.g. `"1630790004"`.
    pub structure_id: String,
    /// Software authorisation number (`IDAM`, sent with `R="4"`).
    pub idam: String,
    /// Software name, used in `Nom` = `urn:lps:<name>:<version>`.
    pub software_name: String,
    /// Software version (`Version`, and in `Nom`).
    pub software_version: String,
    /// Installation identifier (`Instance`), a UUID chosen once per installation.
    pub instance: String,
}

/// The per-message values that would otherwise come from the clock and the random generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// A UUID (text) for `wsa:MessageID`, written `uuid:<message_id>` (a `uuid:` prefix already there is kept, not
    /// doubled).
    pub message_id: String,
    /// A UUID (text) for the `Id` of both `ContexteBAM` and `ContexteLPS`.
    pub context_id: String,
    /// `Temps` of both contexts, written in UTC with milliseconds and `Z`.
    pub timestamp: OffsetDateTime,
}

/// A traits search (`RECSANSVITALE`). Values are sent as given: normalise them first (the [`super::strategy`]
/// does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraitsQuery {
    /// `NomNaissance`.
    pub birth_name: String,
    /// `Prenom`: one given name, or the list of given names joined by spaces.
    pub given_name: String,
    /// `Sexe`.
    pub sex: Sex,
    /// `DateNaissance`, `YYYY-MM-DD` with `00` for unknown parts.
    pub birth_date: BirthDate,
    /// `LieuNaissance`, omitted when `None`.
    pub birth_place: Option<BirthPlace>,
}

/// A Carte Vitale search (`RECVITALE`). The keys of both numbers are computed from the matricules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitaleQuery {
    /// `MatriculeIndividu`: the number of the person (NIR or NIA).
    pub matricule_individu: Matricule,
    /// `MatriculeOD`: the number of the holder of the rights (ouvreur de droits).
    pub matricule_od: Matricule,
    /// `NomNaissance`.
    pub birth_name: String,
    /// `DateNaissance`.
    pub birth_date: BirthDate,
    /// `RangNaissance`: birth rank, distinguishing twins on the same card.
    pub rang_naissance: u8,
}

/// The SOAP envelope of a traits search (`rechercherInsAvecTraitsIdentite`).
pub fn build_traits_request(query: &TraitsQuery, lps: &LpsContext, env: &Envelope) -> String {
    let mut out = XmlOut::new();
    open_request(&mut out, Operation::TraitsSearch, lps, env);
    out.start("rs:RECSANSVITALE", &[("xmlns:rs", REC_SANS_NS)]);
    out.leaf("rs:NomNaissance", &[], &query.birth_name);
    out.leaf("rs:Prenom", &[], &query.given_name);
    out.leaf("rs:Sexe", &[], query.sex.as_str());
    out.leaf("rs:DateNaissance", &[], &query.birth_date.to_string());
    if let Some(place) = &query.birth_place {
        out.leaf("rs:LieuNaissance", &[], place.as_str());
    }
    out.end("rs:RECSANSVITALE");
    close_request(out)
}

/// The SOAP envelope of a Carte Vitale search (`rechercherInsAvecCarteVitale`).
pub fn build_vitale_request(query: &VitaleQuery, lps: &LpsContext, env: &Envelope) -> String {
    let mut out = XmlOut::new();
    open_request(&mut out, Operation::VitaleSearch, lps, env);
    out.start("rv:RECVITALE", &[("xmlns:rv", REC_VIT_NS)]);
    for (name, matricule) in [
        ("rv:MatriculeIndividu", &query.matricule_individu),
        ("rv:MatriculeOD", &query.matricule_od),
    ] {
        out.start(name, &[]);
        out.leaf("rv:NumIdentifiant", &[], matricule.expose());
        out.leaf("rv:Cle", &[], &format!("{:02}", matricule.key()));
        out.end(name);
    }
    out.leaf("rv:NomNaissance", &[], &query.birth_name);
    out.leaf("rv:DateNaissance", &[], &query.birth_date.to_string());
    out.leaf("rv:RangNaissance", &[], &query.rang_naissance.to_string());
    out.end("rv:RECVITALE");
    close_request(out)
}

/// Writes the envelope, the four headers and opens the body.
fn open_request(out: &mut XmlOut, op: Operation, lps: &LpsContext, env: &Envelope) {
    let temps = format_temps(env.timestamp);
    out.start("soap:Envelope", &[("xmlns:soap", SOAP12_NS)]);
    out.start("soap:Header", &[]);

    out.start(
        "ctxbam:ContexteBAM",
        &[("xmlns:ctxbam", CTXBAM_NS), ("Version", "01_02")],
    );
    out.leaf("ctxbam:Id", &[], &env.context_id);
    out.leaf("ctxbam:Temps", &[], &temps);
    out.leaf("ctxbam:Emetteur", &[], &lps.structure_id);
    out.empty("ctxbam:COUVERTURE", &[]);
    out.end("ctxbam:ContexteBAM");

    out.start(
        "ctxlps:ContexteLPS",
        &[
            ("xmlns:ctxlps", CTXLPS_NS),
            ("Nature", "CTXLPS"),
            ("Version", "01_00"),
        ],
    );
    out.leaf("ctxlps:Id", &[], &env.context_id);
    out.leaf("ctxlps:Temps", &[], &temps);
    out.leaf("ctxlps:Emetteur", &[], &lps.structure_id);
    out.start("ctxlps:LPS", &[]);
    out.leaf("ctxlps:IDAM", &[("R", "4")], &lps.idam);
    out.leaf("ctxlps:Version", &[], &lps.software_version);
    out.leaf("ctxlps:Instance", &[], &lps.instance);
    out.leaf(
        "ctxlps:Nom",
        &[],
        &format!("urn:lps:{}:{}", lps.software_name, lps.software_version),
    );
    out.end("ctxlps:LPS");
    out.end("ctxlps:ContexteLPS");

    out.leaf("wsa:Action", &[("xmlns:wsa", WSA_NS)], op.action());
    let message_id = if env.message_id.starts_with("uuid:") {
        env.message_id.clone()
    } else {
        format!("uuid:{}", env.message_id)
    };
    out.leaf("wsa:MessageID", &[("xmlns:wsa", WSA_NS)], &message_id);
    out.end("soap:Header");
    out.start("soap:Body", &[]);
}

fn close_request(mut out: XmlOut) -> String {
    out.end("soap:Body");
    out.end("soap:Envelope");
    out.finish()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC. A timestamp that cannot be moved to UTC (at the very edge of the supported
/// range) is written with its own fields.
pub(crate) fn format_temps(timestamp: OffsetDateTime) -> String {
    let t = timestamp
        .checked_to_offset(UtcOffset::UTC)
        .unwrap_or(timestamp);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A minimal XML writer: element names are trusted constants, text and attribute values are escaped
/// (`<`, `>`, `&`, `'`, `"`, CR) with `quick_xml::escape::escape`.
pub(crate) struct XmlOut {
    buf: String,
}

impl XmlOut {
    /// Starts a document with its UTF-8 declaration.
    pub(crate) fn new() -> XmlOut {
        XmlOut {
            buf: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        }
    }

    fn open_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(name);
        for (key, value) in attrs {
            self.buf.push(' ');
            self.buf.push_str(key);
            self.buf.push_str("=\"");
            self.buf.push_str(&escape(*value));
            self.buf.push('"');
        }
    }

    /// `<name attrs>`.
    pub(crate) fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open_tag(name, attrs);
        self.buf.push('>');
    }

    /// `</name>`.
    pub(crate) fn end(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// `<name attrs/>`.
    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open_tag(name, attrs);
        self.buf.push_str("/>");
    }

    /// `<name attrs>text</name>`.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.buf.push_str(&escape(text));
        self.end(name);
    }

    /// The document.
    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------------------

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one answer per INSi call; a box would only make matching on the identity clumsier"
)]
pub enum InsiResponse {
    /// `CodeCR` `00`: exactly one identity.
    Found(InsiIdentity),
    /// `CodeCR` `01`: no identity.
    NotFound,
    /// `CodeCR` `02`: several identities; the traits do not tell them apart.
    Multiple,
}

/// The identity INSi returned with `CodeCR` `00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsiIdentity {
    /// `INSACTIF`: the current INS and its assigning authority.
    pub ins: Ins,
    /// `INSACTIF/DateDeb`, when present, as received.
    pub ins_start: Option<String>,
    /// `INSACTIF/DateFin`, when present, as received.
    pub ins_end: Option<String>,
    /// `INSHISTO`: former INS of the person, in the order received.
    pub history: Vec<HistoricIns>,
    /// `TIQ`: the reference traits.
    pub traits: InsiTraits,
    /// `LibelleCR`.
    pub label: String,
}

/// A former INS (`INSHISTO`), with its validity dates when INSi gives them (kept as received, `YYYY-MM-DD` in
/// practice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricIns {
    /// The INS.
    pub ins: Ins,
    /// `DateDeb`.
    pub start: Option<String>,
    /// `DateFin`.
    pub end: Option<String>,
}

impl HistoricIns {
    /// The HL7 CX form of the INS. Sensitive: do not log.
    pub fn cx(&self) -> String {
        self.ins.to_cx()
    }
}

/// Family of an INSi fault, deciding what the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `siram_100`, `desir_550`: INSi does not know or does not allow this software (IDAM); configuration issue.
    UnknownSoftware,
    /// `siram_40`, `insi_102`: technical error on the INSi side; try again later.
    Technical,
    /// `DESIR_560`: the certificate's CN is not `INSI-AUTO` / `INSI-MANU`.
    CertificateNotAllowed,
    /// Any other code.
    Other,
}

impl FaultKind {
    /// The kind of one code, compared without regard to ASCII case (INSi writes both `desir_550` and
    /// `DESIR_560`).
    pub fn from_code(code: &str) -> FaultKind {
        let is = |known: &str| code.eq_ignore_ascii_case(known);
        if is("siram_100") || is("desir_550") {
            FaultKind::UnknownSoftware
        } else if is("siram_40") || is("insi_102") {
            FaultKind::Technical
        } else if is("desir_560") {
            FaultKind::CertificateNotAllowed
        } else {
            FaultKind::Other
        }
    }

    /// True only for technical errors: the same call may succeed later.
    pub fn is_transient(self) -> bool {
        self == FaultKind::Technical
    }
}

/// A SOAP 1.2 fault returned by INSi.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsiFault {
    /// The most specific code: `siram:Erreur/@code`, else the `Subcode` value, else the `Code` value (local part).
    pub code: String,
    /// The `Subcode` value (local part), e.g. `siram_40`, when present.
    pub subcode: Option<String>,
    /// The `siram:Erreur` text, else the `Reason` text.
    pub message: String,
    /// The first `Reason/Text`.
    pub reason: String,
    /// `siram:Erreur/@severite`, e.g. `fatal`.
    pub severity: Option<String>,
    /// The family of the fault.
    pub kind: FaultKind,
}

impl InsiFault {
    /// True when trying again later may work (technical errors only).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl fmt::Display for InsiFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Why an INSi answer could not be used.
///
/// [`SoapError::code`] gives a stable code for API answers. Neither `Display` nor `Debug` prints the raw answer,
/// which may hold personal data: the excerpt of [`SoapError::Malformed`] is read with [`RawExcerpt::expose`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoapError {
    /// INSi answered with a SOAP 1.2 fault (boxed to keep the error small).
    #[error("INSi answered with a fault: {0}")]
    Fault(Box<InsiFault>),
    /// The answer declares a DOCTYPE; DTDs (and so entity declarations) are refused.
    #[error("the INSi answer holds a DOCTYPE; DTDs and entity declarations are refused")]
    Dtd,
    /// The answer is not UTF-8, or declares another encoding.
    #[error("the INSi answer is not UTF-8: {reason}")]
    Encoding {
        /// What was found.
        reason: String,
    },
    /// The answer is larger, deeper or has more elements than the parser accepts.
    #[error("the INSi answer exceeds the limit of {limit} {what}")]
    TooLarge {
        /// Which limit: "bytes", "levels of nesting" or "elements".
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The answer is not well-formed XML, or not the SOAP 1.2 / `RESULTAT` shape expected.
    #[error("the INSi answer is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
        /// The start of the raw answer (at most 512 bytes, lossily decoded).
        excerpt: RawExcerpt,
    },
    /// An INS of the answer (`INSACTIF` or `INSHISTO`) is invalid: bad layout, wrong key or unknown OID.
    #[error("the INSi answer holds an invalid INS in {element}: {source}")]
    InvalidIns {
        /// `INSACTIF` or `INSHISTO`.
        element: &'static str,
        /// Why it was refused.
        #[source]
        source: InsError,
    },
    /// `CodeCR` is not `00`, `01` or `02`.
    #[error("INSi answered with the unknown result code {code:?} ({label})")]
    UnknownResultCode {
        /// `CodeCR` (cut to 16 characters).
        code: String,
        /// `LibelleCR`.
        label: String,
    },
}

impl SoapError {
    /// Stable code for API answers (never changes once published).
    pub fn code(&self) -> &'static str {
        match self {
            SoapError::Fault(_) => "insi.fault",
            SoapError::Dtd => "insi.dtd_refused",
            SoapError::Encoding { .. } => "insi.unsupported_encoding",
            SoapError::TooLarge { .. } => "insi.response_too_large",
            SoapError::Malformed { .. } => "insi.malformed_response",
            SoapError::InvalidIns { .. } => "insi.invalid_ins",
            SoapError::UnknownResultCode { .. } => "insi.unknown_result_code",
        }
    }

    /// True when trying again later may work: technical faults only.
    pub fn is_transient(&self) -> bool {
        match self {
            SoapError::Fault(fault) => fault.is_transient(),
            _ => false,
        }
    }

    /// The fault, if INSi answered with one.
    pub fn fault(&self) -> Option<&InsiFault> {
        match self {
            SoapError::Fault(fault) => Some(fault),
            _ => None,
        }
    }

    fn from_xml(error: XmlError, raw: &[u8]) -> SoapError {
        match error {
            XmlError::Dtd => SoapError::Dtd,
            XmlError::Encoding(reason) => SoapError::Encoding { reason },
            XmlError::TooLarge { what, limit } => SoapError::TooLarge { what, limit },
            XmlError::Malformed(reason) => malformed(reason, raw),
        }
    }
}

fn malformed(reason: impl Into<String>, raw: &[u8]) -> SoapError {
    SoapError::Malformed {
        reason: reason.into(),
        excerpt: excerpt(raw),
    }
}

/// The start of an unusable answer, kept for diagnostics (style habit 4). It may hold personal data (names, INS),
/// so `Debug` shows only its length; the text is an explicit call.
#[derive(Clone, PartialEq, Eq)]
pub struct RawExcerpt(String);

impl RawExcerpt {
    /// The excerpt: the first 512 bytes of the answer, lossily decoded. Sensitive: do not log as is.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawExcerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawExcerpt(<{} bytes>)", self.0.len())
    }
}

/// The first [`EXCERPT_BYTES`] bytes, lossily decoded.
fn excerpt(raw: &[u8]) -> RawExcerpt {
    let end = raw.len().min(EXCERPT_BYTES);
    RawExcerpt(String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned())
}

/// Parses an INSi answer body: `RESULTAT` or SOAP 1.2 fault.
pub fn parse_response(xml: &[u8]) -> Result<InsiResponse, SoapError> {
    let root = parse_xml(xml, &RESPONSE_LIMITS).map_err(|e| SoapError::from_xml(e, xml))?;
    let payload = soap_payload(&root).map_err(|reason| malformed(reason, xml))?;
    if payload.is(SOAP12_NS, "Fault") {
        let fault = parse_fault(payload).map_err(|reason| malformed(reason, xml))?;
        return Err(SoapError::Fault(Box::new(fault)));
    }
    if !payload.is(RESULTAT_NS, "RESULTAT") {
        return Err(malformed(
            format!(
                "the Body holds {}, expected RESULTAT in {RESULTAT_NS} or a SOAP 1.2 Fault",
                payload.describe()
            ),
            xml,
        ));
    }
    parse_resultat(payload, xml)
}

/// The single element of the SOAP 1.2 `Body` of `root`.
pub(crate) fn soap_payload(root: &XmlElement) -> Result<&XmlElement, String> {
    if !root.is(SOAP12_NS, "Envelope") {
        return Err(format!(
            "the root element is {}, expected a SOAP 1.2 Envelope",
            root.describe()
        ));
    }
    let mut bodies = root.children_in(SOAP12_NS, "Body");
    let body = bodies.next().ok_or("the Envelope has no SOAP 1.2 Body")?;
    if bodies.next().is_some() {
        return Err("the Envelope has several Body elements".to_owned());
    }
    let mut content = body.children.iter();
    let payload = content.next().ok_or("the Body is empty")?;
    if content.next().is_some() {
        return Err("the Body holds several elements".to_owned());
    }
    Ok(payload)
}

fn parse_fault(fault: &XmlElement) -> Result<InsiFault, String> {
    let code_el = fault
        .child(SOAP12_NS, "Code")
        .ok_or("the Fault has no Code")?;
    let value = code_el
        .child(SOAP12_NS, "Value")
        .map(|v| qname_local(v.text()).to_owned())
        .filter(|v| !v.is_empty())
        .ok_or("the Fault Code has no Value")?;
    let subcode = code_el
        .child(SOAP12_NS, "Subcode")
        .and_then(|s| s.child(SOAP12_NS, "Value"))
        .map(|v| qname_local(v.text()).to_owned())
        .filter(|v| !v.is_empty());
    let reason = fault
        .child(SOAP12_NS, "Reason")
        .and_then(|r| r.child(SOAP12_NS, "Text"))
        .map(|t| t.text().to_owned())
        .unwrap_or_default();
    let erreur = fault
        .child(SOAP12_NS, "Detail")
        .and_then(|d| d.find(SIRAM_NS, "Erreur"));
    let detail_code = erreur
        .and_then(|e| e.attr("code"))
        .map(|c| xml_trim(c).to_owned())
        .filter(|c| !c.is_empty());
    let severity = erreur
        .and_then(|e| e.attr("severite"))
        .map(|s| xml_trim(s).to_owned());
    let detail_message = erreur
        .map(|e| e.text().to_owned())
        .filter(|m| !m.is_empty());

    let kind = detail_code
        .as_deref()
        .map(FaultKind::from_code)
        .filter(|k| *k != FaultKind::Other)
        .or_else(|| subcode.as_deref().map(FaultKind::from_code))
        .unwrap_or(FaultKind::Other);
    let code = detail_code.or_else(|| subcode.clone()).unwrap_or(value);
    Ok(InsiFault {
        code,
        subcode,
        message: detail_message.unwrap_or_else(|| reason.clone()),
        reason,
        severity,
        kind,
    })
}

/// The local part of a QName written as text, e.g. `siram_40` for `S:siram_40`.
fn qname_local(value: &str) -> &str {
    value.rsplit(':').next().unwrap_or(value)
}

/// A child of a `RESULTAT` element: qualified in `INSiResultat` or unqualified.
fn r_child<'a>(parent: &'a XmlElement, local: &str) -> Option<&'a XmlElement> {
    parent.children.iter().find(|c| is_r(c, local))
}

fn is_r(el: &XmlElement, local: &str) -> bool {
    el.local == local && el.ns.as_deref().is_none_or(|ns| ns == RESULTAT_NS)
}

fn r_text<'a>(parent: &'a XmlElement, local: &str) -> Option<&'a str> {
    r_child(parent, local).map(XmlElement::text)
}

fn parse_resultat(resultat: &XmlElement, raw: &[u8]) -> Result<InsiResponse, SoapError> {
    let cr = r_child(resultat, "CR").ok_or_else(|| malformed("RESULTAT has no CR", raw))?;
    let code = r_text(cr, "CodeCR").ok_or_else(|| malformed("CR has no CodeCR", raw))?;
    let label = r_text(cr, "LibelleCR").unwrap_or_default().to_owned();
    match code {
        "00" => parse_individu(resultat, label, raw).map(InsiResponse::Found),
        "01" => Ok(InsiResponse::NotFound),
        "02" => Ok(InsiResponse::Multiple),
        other => Err(SoapError::UnknownResultCode {
            code: other.chars().take(16).collect(),
            label,
        }),
    }
}

fn parse_individu(
    resultat: &XmlElement,
    label: String,
    raw: &[u8],
) -> Result<InsiIdentity, SoapError> {
    let individu = r_child(resultat, "INDIVIDU")
        .ok_or_else(|| malformed("CodeCR is 00 but RESULTAT has no INDIVIDU", raw))?;
    let active =
        r_child(individu, "INSACTIF").ok_or_else(|| malformed("INDIVIDU has no INSACTIF", raw))?;
    let (ins, ins_start, ins_end) = parse_ins_entry(active, "INSACTIF", raw)?;
    let history = individu
        .children
        .iter()
        .filter(|c| is_r(c, "INSHISTO"))
        .map(|h| {
            parse_ins_entry(h, "INSHISTO", raw).map(|(ins, start, end)| HistoricIns {
                ins,
                start,
                end,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tiq = r_child(individu, "TIQ").ok_or_else(|| malformed("INDIVIDU has no TIQ", raw))?;
    let traits = parse_tiq(tiq).map_err(|reason| malformed(reason, raw))?;
    Ok(InsiIdentity {
        ins,
        ins_start,
        ins_end,
        history,
        traits,
        label,
    })
}

fn parse_ins_entry(
    entry: &XmlElement,
    element: &'static str,
    raw: &[u8],
) -> Result<(Ins, Option<String>, Option<String>), SoapError> {
    let missing = |what: &str| malformed(format!("{element} has no {what}"), raw);
    let id = r_child(entry, "IdIndividu").ok_or_else(|| missing("IdIndividu"))?;
    let number =
        r_text(id, "NumIdentifiant").ok_or_else(|| missing("IdIndividu/NumIdentifiant"))?;
    let key = r_text(id, "Cle").ok_or_else(|| missing("IdIndividu/Cle"))?;
    let oid = r_text(entry, "OID").ok_or_else(|| missing("OID"))?;
    let invalid = |source| SoapError::InvalidIns { element, source };
    let oid: InsOid = oid.parse().map_err(invalid)?;
    let matricule = Matricule::parse(number).map_err(invalid)?;
    let ins = Ins::parse(&format!("{}{key}", matricule.expose()), oid).map_err(invalid)?;
    let date = |local| {
        r_text(entry, local)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
    };
    Ok((ins, date("DateDeb"), date("DateFin")))
}

fn parse_tiq(tiq: &XmlElement) -> Result<InsiTraits, String> {
    let required = |local: &str| {
        r_text(tiq, local)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or(format!("TIQ has no {local}"))
    };
    let optional = |local: &str| {
        r_text(tiq, local)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let list = optional("ListePrenom");
    let first = optional("Prenom").or_else(|| {
        list.as_deref()
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_owned)
    });
    let Some(first_given_name) = first else {
        return Err("TIQ has neither Prenom nor ListePrenom".to_owned());
    };
    Ok(InsiTraits {
        birth_name: required("NomNaissance")?,
        given_names: list.unwrap_or_else(|| first_given_name.clone()),
        first_given_name,
        sex: required("Sexe")?,
        birth_date: required("DateNaissance")?,
        birth_place: optional("LieuNaissance"),
    })
}

// ---------------------------------------------------------------------------------------------------------------
// A bounded, namespace-resolved XML tree (shared with the simulator's server side)
// ---------------------------------------------------------------------------------------------------------------

/// Limits applied while reading a document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XmlLimits {
    /// Largest document, in bytes.
    pub(crate) max_bytes: usize,
    /// Deepest nesting of elements.
    pub(crate) max_depth: usize,
    /// Most elements in the document.
    pub(crate) max_elements: usize,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XmlError {
    /// A DOCTYPE was found.
    Dtd,
    /// Not UTF-8, or another encoding declared.
    Encoding(String),
    /// A limit was exceeded.
    TooLarge {
        /// Which one.
        what: &'static str,
        /// Its value.
        limit: usize,
    },
    /// Not well-formed.
    Malformed(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Dtd => f.write_str("DOCTYPE and entity declarations are refused"),
            XmlError::Encoding(reason) => write!(f, "not UTF-8: {reason}"),
            XmlError::TooLarge { what, limit } => write!(f, "more than {limit} {what}"),
            XmlError::Malformed(reason) => write!(f, "not well-formed XML: {reason}"),
        }
    }
}

/// An element with its resolved namespace, unprefixed attributes, element children and concatenated text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlElement {
    /// Namespace name, `None` when the element is in no namespace.
    pub(crate) ns: Option<String>,
    /// Local name.
    pub(crate) local: String,
    /// Attributes other than namespace declarations.
    pub(crate) attrs: Vec<XmlAttr>,
    /// Element children, in document order.
    pub(crate) children: Vec<XmlElement>,
    /// Character data directly inside the element (entities and CDATA resolved), concatenated.
    pub(crate) text: String,
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlAttr {
    /// The prefix, if the attribute name had one (`xml` for `xml:lang`).
    pub(crate) prefix: Option<String>,
    /// Local name.
    pub(crate) local: String,
    /// Normalised value, entities resolved.
    pub(crate) value: String,
}

impl XmlElement {
    /// Whether the element is `{ns}local`.
    pub(crate) fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// The first child `{ns}local`.
    pub(crate) fn child(&self, ns: &str, local: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// All children `{ns}local`.
    pub(crate) fn children_in<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The first descendant `{ns}local`, depth first.
    pub(crate) fn find(&self, ns: &str, local: &str) -> Option<&XmlElement> {
        self.children.iter().find_map(|c| {
            if c.is(ns, local) {
                Some(c)
            } else {
                c.find(ns, local)
            }
        })
    }

    /// The value of an unprefixed attribute.
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.prefix.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The text, without leading and trailing XML white space.
    pub(crate) fn text(&self) -> &str {
        xml_trim(&self.text)
    }

    /// `{namespace}local` for messages, cut to a reasonable length.
    pub(crate) fn describe(&self) -> String {
        let full = match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => format!("{} (no namespace)", self.local),
        };
        full.chars().take(160).collect()
    }
}

/// Trims XML white space (space, tab, CR, LF).
pub(crate) fn xml_trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Reads a whole document into a tree, refusing DTDs, non-UTF-8 input and anything over the limits.
pub(crate) fn parse_xml(input: &[u8], limits: &XmlLimits) -> Result<XmlElement, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            what: "bytes",
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input)
        .map_err(|e| XmlError::Encoding(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut elements = 0usize;

    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (resolved(ns), event),
            Err(e) => return Err(XmlError::Malformed(cut(&e.to_string()))),
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(XmlError::Malformed("more than one root element".to_owned()));
            }
            Event::Start(start) => {
                elements += 1;
                check_counts(elements, stack.len() + 1, limits)?;
                stack.push(element(&start, ns?)?);
            }
            Event::Empty(start) => {
                elements += 1;
                check_counts(elements, stack.len() + 1, limits)?;
                let el = element(&start, ns?)?;
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(XmlError::Malformed("unexpected end tag".to_owned()));
                };
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.into_inner())?,
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        _ => {
                            return Err(XmlError::Malformed(format!(
                                "invalid character reference &{};",
                                cut(&r)
                            )));
                        }
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => {
                            return Err(XmlError::Malformed(format!(
                                "undefined entity &{};",
                                cut(&r)
                            )));
                        }
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::Decl(decl) => match decl.encoding() {
                None => {}
                Some(Ok(enc)) if enc.eq_ignore_ascii_case("utf-8") => {}
                Some(Ok(enc)) => {
                    return Err(XmlError::Encoding(format!(
                        "declared encoding {:?}",
                        cut(&enc)
                    )));
                }
                Some(Err(e)) => {
                    return Err(XmlError::Malformed(cut(&format!("XML declaration: {e}"))));
                }
            },
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::Malformed(format!(
            "truncated document: {} is not closed",
            open.describe()
        )));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".to_owned()))
}

fn check_counts(elements: usize, depth: usize, limits: &XmlLimits) -> Result<(), XmlError> {
    if elements > limits.max_elements {
        return Err(XmlError::TooLarge {
            what: "elements",
            limit: limits.max_elements,
        });
    }
    if depth > limits.max_depth {
        return Err(XmlError::TooLarge {
            what: "levels of nesting",
            limit: limits.max_depth,
        });
    }
    Ok(())
}

/// The namespace of an element, owned; an undeclared prefix is an error.
fn resolved(ns: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(ns.into_inner().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "undeclared namespace prefix {:?}",
            cut(&prefix)
        ))),
    }
}

fn element(start: &BytesStart<'_>, ns: Option<String>) -> Result<XmlElement, XmlError> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed(cut(&format!("attribute: {e}"))))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (local, prefix) = attr.key.decompose();
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Malformed(cut(&format!("attribute value: {e}"))))?;
        attrs.push(XmlAttr {
            prefix: prefix.map(|p| p.into_inner().to_owned()),
            local: local.into_inner().to_owned(),
            value: value.into_owned(),
        });
    }
    Ok(XmlElement {
        ns,
        local: start.local_name().into_inner().to_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn attach(stack: &mut [XmlElement], root: &mut Option<XmlElement>, el: XmlElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [XmlElement], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if xml_trim(text).is_empty() => Ok(()),
        None => Err(XmlError::Malformed(
            "text outside the root element".to_owned(),
        )),
    }
}

/// Cuts a message part taken from the input to 120 characters.
fn cut(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::InsOid;

    fn lps() -> LpsContext {
        LpsContext {
            structure_id: "1630790004".to_owned(),
            idam: "IDAM-TEST-01".to_owned(),
            software_name: "segur-gateway".to_owned(),
            software_version: "0.1.0".to_owned(),
            instance: "6f1c1a52-3d2e-4d5b-9a55-0c8f2f3e8a11".to_owned(),
        }
    }

    fn env() -> Envelope {
        Envelope {
            message_id: "11111111-1111-4111-8111-111111111111".to_owned(),
            context_id: "22222222-2222-4222-8222-222222222222".to_owned(),
            timestamp: time::macros::datetime!(2025-03-04 10:11:12.345 +01:00),
        }
    }

    fn adrun() -> TraitsQuery {
        TraitsQuery {
            birth_name: "ADRUN".to_owned(),
            given_name: "ZOE".to_owned(),
            sex: Sex::Female,
            birth_date: BirthDate::new(1975, 12, 31).expect("valid date"),
            birth_place: "63220".parse().ok(),
        }
    }

    fn tree(xml: &str) -> XmlElement {
        parse_xml(xml.as_bytes(), &RESPONSE_LIMITS).expect("well-formed")
    }

    fn names(el: &XmlElement) -> Vec<(String, String)> {
        el.children
            .iter()
            .map(|c| (c.ns.clone().unwrap_or_default(), c.local.clone()))
            .collect()
    }

    fn pair(ns: &str, local: &str) -> (String, String) {
        (ns.to_owned(), local.to_owned())
    }

    #[test]
    fn operations() {
        assert_eq!(
            Operation::TraitsSearch.content_type(),
            "application/soap+xml; charset=utf-8; \
             action=\"urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite\""
        );
        assert_eq!(
            Operation::VitaleSearch.action(),
            "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
        );
        for op in [Operation::TraitsSearch, Operation::VitaleSearch] {
            assert_eq!(Operation::from_action(op.action()), Some(op));
            assert!(op.action().ends_with(op.name()));
        }
        assert_eq!(Operation::from_action("urn:other"), None);
    }

    #[test]
    fn temps_is_utc_with_milliseconds() {
        assert_eq!(format_temps(env().timestamp), "2025-03-04T09:11:12.345Z");
        assert_eq!(
            format_temps(time::macros::datetime!(2025-12-31 23:59:59.9999 -02:00)),
            "2026-01-01T01:59:59.999Z"
        );
    }

    #[test]
    fn traits_request_structure() {
        let xml = build_traits_request(&adrun(), &lps(), &env());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(!xml.contains("wsse"), "{xml}");
        assert!(!xml.contains("Security"), "{xml}");
        let root = tree(&xml);
        assert!(root.is(SOAP12_NS, "Envelope"));
        assert_eq!(
            names(&root),
            vec![pair(SOAP12_NS, "Header"), pair(SOAP12_NS, "Body")]
        );

        let header = root.child(SOAP12_NS, "Header").expect("header");
        assert_eq!(
            names(header),
            vec![
                pair(CTXBAM_NS, "ContexteBAM"),
                pair(CTXLPS_NS, "ContexteLPS"),
                pair(WSA_NS, "Action"),
                pair(WSA_NS, "MessageID"),
            ]
        );

        let bam = header.child(CTXBAM_NS, "ContexteBAM").expect("bam");
        assert_eq!(bam.attr("Version"), Some("01_02"));
        assert_eq!(
            names(bam),
            vec![
                pair(CTXBAM_NS, "Id"),
                pair(CTXBAM_NS, "Temps"),
                pair(CTXBAM_NS, "Emetteur"),
                pair(CTXBAM_NS, "COUVERTURE"),
            ]
        );
        let text = |el: &XmlElement, ns: &str, local: &str| {
            el.child(ns, local).map(|c| c.text().to_owned())
        };
        assert_eq!(
            text(bam, CTXBAM_NS, "Id").as_deref(),
            Some("22222222-2222-4222-8222-222222222222")
        );
        assert_eq!(
            text(bam, CTXBAM_NS, "Temps").as_deref(),
            Some("2025-03-04T09:11:12.345Z")
        );
        assert_eq!(
            text(bam, CTXBAM_NS, "Emetteur").as_deref(),
            Some("1630790004")
        );
        let couverture = bam.child(CTXBAM_NS, "COUVERTURE").expect("couverture");
        assert!(couverture.children.is_empty() && couverture.text().is_empty());

        let ctx = header.child(CTXLPS_NS, "ContexteLPS").expect("lps");
        assert_eq!(ctx.attr("Nature"), Some("CTXLPS"));
        assert_eq!(ctx.attr("Version"), Some("01_00"));
        assert_eq!(
            names(ctx),
            vec![
                pair(CTXLPS_NS, "Id"),
                pair(CTXLPS_NS, "Temps"),
                pair(CTXLPS_NS, "Emetteur"),
                pair(CTXLPS_NS, "LPS"),
            ]
        );
        assert_eq!(
            text(ctx, CTXLPS_NS, "Id").as_deref(),
            Some("22222222-2222-4222-8222-222222222222")
        );
        let soft = ctx.child(CTXLPS_NS, "LPS").expect("LPS");
        assert_eq!(
            names(soft),
            vec![
                pair(CTXLPS_NS, "IDAM"),
                pair(CTXLPS_NS, "Version"),
                pair(CTXLPS_NS, "Instance"),
                pair(CTXLPS_NS, "Nom"),
            ]
        );
        let idam = soft.child(CTXLPS_NS, "IDAM").expect("IDAM");
        assert_eq!((idam.attr("R"), idam.text()), (Some("4"), "IDAM-TEST-01"));
        assert_eq!(
            text(soft, CTXLPS_NS, "Nom").as_deref(),
            Some("urn:lps:segur-gateway:0.1.0")
        );
        assert_eq!(
            text(header, WSA_NS, "Action").as_deref(),
            Some(Operation::TraitsSearch.action())
        );
        assert_eq!(
            text(header, WSA_NS, "MessageID").as_deref(),
            Some("uuid:11111111-1111-4111-8111-111111111111")
        );

        let body = root.child(SOAP12_NS, "Body").expect("body");
        let rec = body
            .child(REC_SANS_NS, "RECSANSVITALE")
            .expect("RECSANSVITALE");
        assert_eq!(
            names(rec),
            vec![
                pair(REC_SANS_NS, "NomNaissance"),
                pair(REC_SANS_NS, "Prenom"),
                pair(REC_SANS_NS, "Sexe"),
                pair(REC_SANS_NS, "DateNaissance"),
                pair(REC_SANS_NS, "LieuNaissance"),
            ]
        );
        let values: Vec<&str> = rec.children.iter().map(XmlElement::text).collect();
        assert_eq!(values, ["ADRUN", "ZOE", "F", "1975-12-31", "63220"]);
    }

    #[test]
    fn traits_request_without_place_and_with_unknown_date_parts() {
        let mut q = adrun();
        q.birth_place = None;
        q.birth_date = BirthDate::new(1975, 12, 0).expect("valid");
        let root = tree(&build_traits_request(&q, &lps(), &env()));
        let rec = root
            .child(SOAP12_NS, "Body")
            .and_then(|b| b.child(REC_SANS_NS, "RECSANSVITALE"))
            .expect("body");
        assert!(rec.child(REC_SANS_NS, "LieuNaissance").is_none());
        assert_eq!(
            rec.child(REC_SANS_NS, "DateNaissance")
                .map(XmlElement::text),
            Some("1975-12-00")
        );
        // A message id already written `uuid:…` is not prefixed twice.
        let mut e = env();
        e.message_id = "uuid:abc".to_owned();
        let root = tree(&build_traits_request(&q, &lps(), &e));
        assert_eq!(
            root.find(WSA_NS, "MessageID").map(XmlElement::text),
            Some("uuid:abc")
        );
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut q = adrun();
        q.birth_name = "D'AEION <&> \"X\"".to_owned();
        let mut l = lps();
        l.idam = "A\"B<C>&'".to_owned();
        l.software_name = "soft&co".to_owned();
        let xml = build_traits_request(&q, &l, &env());
        assert!(
            xml.contains("D&apos;AEION &lt;&amp;&gt; &quot;X&quot;"),
            "{xml}"
        );
        let root = tree(&xml);
        let rec = root
            .child(SOAP12_NS, "Body")
            .and_then(|b| b.child(REC_SANS_NS, "RECSANSVITALE"))
            .expect("body");
        assert_eq!(
            rec.child(REC_SANS_NS, "NomNaissance").map(XmlElement::text),
            Some("D'AEION <&> \"X\"")
        );
        let soft = root.find(CTXLPS_NS, "LPS").expect("LPS");
        assert_eq!(
            soft.child(CTXLPS_NS, "IDAM").map(XmlElement::text),
            Some("A\"B<C>&'")
        );
        assert_eq!(
            soft.child(CTXLPS_NS, "Nom").map(XmlElement::text),
            Some("urn:lps:soft&co:0.1.0")
        );
    }

    #[test]
    fn vitale_request_structure() {
        let q = VitaleQuery {
            matricule_individu: Matricule::parse("2751263220749").expect("valid"),
            matricule_od: Matricule::parse("297022A020778").expect("valid"),
            birth_name: "ADRUN".to_owned(),
            birth_date: BirthDate::new(1975, 12, 31).expect("valid"),
            rang_naissance: 1,
        };
        let xml = build_vitale_request(&q, &lps(), &env());
        let root = tree(&xml);
        let header = root.child(SOAP12_NS, "Header").expect("header");
        assert_eq!(
            header.child(WSA_NS, "Action").map(XmlElement::text),
            Some(Operation::VitaleSearch.action())
        );
        let rec = root
            .child(SOAP12_NS, "Body")
            .and_then(|b| b.child(REC_VIT_NS, "RECVITALE"))
            .expect("RECVITALE");
        assert_eq!(
            names(rec),
            vec![
                pair(REC_VIT_NS, "MatriculeIndividu"),
                pair(REC_VIT_NS, "MatriculeOD"),
                pair(REC_VIT_NS, "NomNaissance"),
                pair(REC_VIT_NS, "DateNaissance"),
                pair(REC_VIT_NS, "RangNaissance"),
            ]
        );
        let number = |local: &str| {
            let m = rec.child(REC_VIT_NS, local).expect("matricule");
            (
                m.child(REC_VIT_NS, "NumIdentifiant")
                    .map(|e| e.text().to_owned()),
                m.child(REC_VIT_NS, "Cle").map(|e| e.text().to_owned()),
            )
        };
        assert_eq!(
            number("MatriculeIndividu"),
            (Some("2751263220749".to_owned()), Some("74".to_owned()))
        );
        assert_eq!(
            number("MatriculeOD"),
            (Some("297022A020778".to_owned()), Some("78".to_owned()))
        );
        assert_eq!(
            rec.child(REC_VIT_NS, "RangNaissance").map(XmlElement::text),
            Some("1")
        );
    }

    const ADRUN_00: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">
  <env:Body xmlns:env="http://www.w3.org/2003/05/soap-envelope">
    <RESULTAT xmlns="http://www.cnamts.fr/INSiResultat" xmlns:ns0="http://www.cnamts.fr/INSiRecVit">
      <CR><CodeCR>00</CodeCR><LibelleCR>OK</LibelleCR></CR>
      <INDIVIDU>
        <INSACTIF>
          <IdIndividu><NumIdentifiant>2751263220749</NumIdentifiant><Cle>74</Cle></IdIndividu>
          <OID>1.2.250.1.213.1.4.10</OID>
        </INSACTIF>
        <TIQ>
          <NomNaissance>ADRUN</NomNaissance>
          <Prenom>ZOE</Prenom>
          <ListePrenom>ZOE</ListePrenom>
          <Sexe>F</Sexe>
          <DateNaissance>1975-12-31</DateNaissance>
          <LieuNaissance>63220</LieuNaissance>
        </TIQ>
      </INDIVIDU>
    </RESULTAT>
  </env:Body>
</soap:Envelope>"#;

    fn found(xml: &str) -> InsiIdentity {
        match parse_response(xml.as_bytes()) {
            Ok(InsiResponse::Found(identity)) => identity,
            other => panic!("expected an identity, got {other:?}"),
        }
    }

    #[test]
    fn cr_00_qualified_children() {
        let id = found(ADRUN_00);
        assert_eq!(id.ins.value(), "275126322074974");
        assert_eq!(id.ins.oid(), InsOid::NirTest);
        assert_eq!(
            (id.ins_start.as_deref(), id.ins_end.as_deref()),
            (None, None)
        );
        assert!(id.history.is_empty());
        assert_eq!(id.label, "OK");
        assert_eq!(
            id.traits,
            InsiTraits {
                birth_name: "ADRUN".to_owned(),
                first_given_name: "ZOE".to_owned(),
                given_names: "ZOE".to_owned(),
                sex: "F".to_owned(),
                birth_date: "1975-12-31".to_owned(),
                birth_place: Some("63220".to_owned()),
            }
        );
    }

    #[test]
    fn cr_00_unqualified_children_history_and_nia() {
        // Prefixed RESULTAT, unqualified children (elementFormDefault="unqualified"), no Prenom in TIQ,
        // INSHISTO dates before and after the number, odd white space.
        let xml = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">
  <e:Header/>
  <e:Body>
    <r:RESULTAT xmlns:r="http://www.cnamts.fr/INSiResultat">
      <CR><CodeCR> 00 </CodeCR><LibelleCR>OK</LibelleCR></CR>
      <INDIVIDU>
        <INSACTIF>
          <IdIndividu><NumIdentifiant>1090799139042</NumIdentifiant><Cle>11</Cle>
            <TypeMatricule>NIA</TypeMatricule></IdIndividu>
          <OID>1.2.250.1.213.1.4.9</OID>
          <DateDeb>2009-08-01</DateDeb>
        </INSACTIF>
        <INSHISTO>
          <DateDeb>2009-07-20</DateDeb><DateFin>2009-07-31</DateFin>
          <IdIndividu><NumIdentifiant>1090763220512</NumIdentifiant><Cle>23</Cle></IdIndividu>
          <OID>1.2.250.1.213.1.4.10</OID>
        </INSHISTO>
        <INSHISTO>
          <IdIndividu><NumIdentifiant>1090763220177</NumIdentifiant><Cle>67</Cle></IdIndividu>
          <OID>1.2.250.1.213.1.4.10</OID>
          <DateFin>2009-07-19</DateFin>
        </INSHISTO>
        <TIQ>
          <NomNaissance>PROVISOIRE</NomNaissance>
          <ListePrenom>MATRICULE JEAN</ListePrenom>
          <Sexe>M</Sexe>
          <DateNaissance>2009-07-01</DateNaissance>
        </TIQ>
      </INDIVIDU>
    </r:RESULTAT>
  </e:Body>
</e:Envelope>"#;
        let id = found(xml);
        assert_eq!(id.ins.oid(), InsOid::Nia);
        assert!(id.ins.oid().is_nia());
        assert_eq!(id.ins.value(), "109079913904211");
        assert_eq!(id.ins_start.as_deref(), Some("2009-08-01"));
        assert_eq!(id.ins_end, None);
        assert_eq!(id.history.len(), 2);
        assert_eq!(id.history[0].ins.value(), "109076322051223");
        assert_eq!(
            (id.history[0].start.as_deref(), id.history[0].end.as_deref()),
            (Some("2009-07-20"), Some("2009-07-31"))
        );
        assert_eq!(
            id.history[0].cx(),
            "109076322051223^^^&1.2.250.1.213.1.4.10&ISO^NH"
        );
        assert_eq!(id.history[1].ins.value(), "109076322017767");
        assert_eq!(id.history[1].start, None);
        assert_eq!(id.history[1].end.as_deref(), Some("2009-07-19"));
        assert_eq!(id.traits.first_given_name, "MATRICULE");
        assert_eq!(id.traits.given_names, "MATRICULE JEAN");
        assert_eq!(id.traits.birth_place, None);
    }

    fn resultat(code: &str) -> String {
        format!(
            "<S:Envelope xmlns:S=\"{SOAP12_NS}\"><S:Body>\
             <RESULTAT xmlns=\"{RESULTAT_NS}\"><CR><CodeCR>{code}</CodeCR>\
             <LibelleCR>label</LibelleCR></CR></RESULTAT></S:Body></S:Envelope>"
        )
    }

    #[test]
    fn cr_01_and_02() {
        assert_eq!(
            parse_response(resultat("01").as_bytes()),
            Ok(InsiResponse::NotFound)
        );
        assert_eq!(
            parse_response(resultat("02").as_bytes()),
            Ok(InsiResponse::Multiple)
        );
        let err = parse_response(resultat("07").as_bytes()).expect_err("unknown code");
        assert_eq!(
            err,
            SoapError::UnknownResultCode {
                code: "07".to_owned(),
                label: "label".to_owned()
            }
        );
        assert_eq!(err.code(), "insi.unknown_result_code");
        // 00 without INDIVIDU.
        let err = parse_response(resultat("00").as_bytes()).expect_err("no INDIVIDU");
        assert_eq!(err.code(), "insi.malformed_response");
    }

    #[test]
    fn invalid_ins_in_answer() {
        let bad_key = ADRUN_00.replace("<Cle>74</Cle>", "<Cle>75</Cle>");
        let err = parse_response(bad_key.as_bytes()).expect_err("bad key");
        assert!(matches!(
            err,
            SoapError::InvalidIns {
                element: "INSACTIF",
                source: InsError::KeyMismatch {
                    expected: 74,
                    found: 75
                }
            }
        ));
        assert_eq!(err.code(), "insi.invalid_ins");
        let bad_oid = ADRUN_00.replace("1.2.250.1.213.1.4.10", "1.2.3");
        assert_eq!(
            parse_response(bad_oid.as_bytes()).map_err(|e| e.code()),
            Err("insi.invalid_ins")
        );
    }

    #[test]
    fn wrong_namespaces() {
        // RESULTAT in another namespace.
        let xml = ADRUN_00.replace(RESULTAT_NS, "http://example.org/other");
        let err = parse_response(xml.as_bytes()).expect_err("foreign RESULTAT");
        assert_eq!(err.code(), "insi.malformed_response");
        // SOAP 1.1 envelope.
        let xml = ADRUN_00.replace(SOAP12_NS, "http://schemas.xmlsoap.org/soap/envelope/");
        let err = parse_response(xml.as_bytes()).expect_err("SOAP 1.1");
        match err {
            SoapError::Malformed { reason, excerpt } => {
                assert!(reason.contains("SOAP 1.2 Envelope"), "{reason}");
                assert!(excerpt.expose().starts_with("<?xml"), "{excerpt:?}");
            }
            other => panic!("{other:?}"),
        }
        // A CR in a foreign namespace is ignored: the answer has no CR.
        let xml = ADRUN_00.replace(
            "<CR>",
            "<CR xmlns=\"urn:evil\"><CodeCR>02</CodeCR></CR><CR xmlns=\"urn:evil2\">",
        );
        let err = parse_response(xml.as_bytes()).expect_err("foreign CR");
        assert_eq!(err.code(), "insi.malformed_response");
        // A foreign TIQ before the right one is skipped.
        let xml = ADRUN_00.replace(
            "<TIQ>",
            "<TIQ xmlns=\"urn:evil\"><NomNaissance>EVIL</NomNaissance></TIQ><TIQ>",
        );
        assert_eq!(found(&xml).traits.birth_name, "ADRUN");
    }

    fn fault(subcode: &str, detail_code: &str, message: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP12_NS}\">\
             <env:Body xmlns:S=\"{SOAP12_NS}\" xmlns:env=\"{SOAP12_NS}\"><S:Fault>\
             <S:Code><S:Value>S:Receiver</S:Value><S:Subcode><S:Value>S:{subcode}</S:Value></S:Subcode></S:Code>\
             <S:Reason><S:Text xml:lang=\"fr\">Service indisponible</S:Text></S:Reason>\
             <S:Detail><siram:Erreur xmlns:siram=\"urn:siram\" severite=\"fatal\" code=\"{detail_code}\">\
             {message}</siram:Erreur></S:Detail></S:Fault></env:Body></soap:Envelope>"
        )
    }

    fn fault_of(xml: &str) -> InsiFault {
        match parse_response(xml.as_bytes()) {
            Err(SoapError::Fault(f)) => *f,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    #[test]
    fn faults_per_code_family() {
        let f = fault_of(&fault(
            "siram_40",
            "insi_102",
            "Erreur technique d&apos;appel",
        ));
        assert_eq!(f.code, "insi_102");
        assert_eq!(f.subcode.as_deref(), Some("siram_40"));
        assert_eq!(f.message, "Erreur technique d'appel");
        assert_eq!(f.reason, "Service indisponible");
        assert_eq!(f.severity.as_deref(), Some("fatal"));
        assert_eq!(f.kind, FaultKind::Technical);
        assert!(f.is_transient());
        let err = SoapError::Fault(Box::new(f));
        assert!(err.is_transient());
        assert_eq!(err.code(), "insi.fault");

        let f = fault_of(&fault("siram_100", "desir_550", "Logiciel inconnu"));
        assert_eq!(
            (f.code.as_str(), f.kind),
            ("desir_550", FaultKind::UnknownSoftware)
        );
        assert!(!f.is_transient());

        let f = fault_of(&fault("siram_100", "DESIR_560", "Certificat"));
        assert_eq!(f.kind, FaultKind::CertificateNotAllowed);
        assert!(!SoapError::Fault(Box::new(f)).is_transient());

        // Unknown detail code: the subcode decides.
        let f = fault_of(&fault("siram_40", "xyz_1", "?"));
        assert_eq!((f.code.as_str(), f.kind), ("xyz_1", FaultKind::Technical));
        let f = fault_of(&fault("siram_999", "xyz_1", "?"));
        assert_eq!(f.kind, FaultKind::Other);

        // No detail at all: the subcode is the code, the reason the message.
        let xml = format!(
            "<s:Envelope xmlns:s=\"{SOAP12_NS}\"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value>\
             <s:Subcode><s:Value>s:siram_100</s:Value></s:Subcode></s:Code>\
             <s:Reason><s:Text xml:lang=\"en\">Denied</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
        );
        let f = fault_of(&xml);
        assert_eq!(f.code, "siram_100");
        assert_eq!(f.message, "Denied");
        assert_eq!(f.kind, FaultKind::UnknownSoftware);

        // siram:Erreur in the wrong namespace is ignored.
        let xml = fault("siram_40", "DESIR_560", "x").replace("urn:siram", "urn:other");
        let f = fault_of(&xml);
        assert_eq!(
            (f.code.as_str(), f.kind),
            ("siram_40", FaultKind::Technical)
        );

        // A fault without Code is malformed.
        let xml =
            format!("<s:Envelope xmlns:s=\"{SOAP12_NS}\"><s:Body><s:Fault/></s:Body></s:Envelope>");
        assert_eq!(
            parse_response(xml.as_bytes()).map_err(|e| e.code()),
            Err("insi.malformed_response")
        );
    }

    #[test]
    fn doctype_and_entities_refused() {
        let billion = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
             <!ENTITY lol2 \"&lol;&lol;&lol;\">]>{}",
            resultat("01")
        );
        assert_eq!(parse_response(billion.as_bytes()), Err(SoapError::Dtd));
        let external = format!(
            "<!DOCTYPE x SYSTEM \"file:///etc/passwd\">{}",
            resultat("01")
        );
        let err = parse_response(external.as_bytes()).expect_err("dtd");
        assert_eq!(err.code(), "insi.dtd_refused");
        // An entity used without declaration.
        let undeclared = resultat("01").replace("label", "&xxe;");
        assert_eq!(
            parse_response(undeclared.as_bytes()).map_err(|e| e.code()),
            Err("insi.malformed_response")
        );
        // Character references and predefined entities are fine.
        let chars = resultat("01").replace("<CodeCR>01", "<CodeCR>&#48;&#x31;");
        assert_eq!(parse_response(chars.as_bytes()), Ok(InsiResponse::NotFound));
    }

    #[test]
    fn encodings() {
        let latin1 = format!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{}",
            resultat("01")
        );
        assert!(matches!(
            parse_response(latin1.as_bytes()),
            Err(SoapError::Encoding { .. })
        ));
        let mut bytes = resultat("01").into_bytes();
        bytes.push(0xE9);
        assert_eq!(
            parse_response(&bytes).map_err(|e| e.code()),
            Err("insi.unsupported_encoding")
        );
        let bom = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            resultat("02")
        );
        assert_eq!(parse_response(bom.as_bytes()), Ok(InsiResponse::Multiple));
    }

    #[test]
    fn truncated_and_garbage() {
        for cut_at in [0, 10, 100, ADRUN_00.len() / 2, ADRUN_00.len() - 1] {
            let err = parse_response(&ADRUN_00.as_bytes()[..cut_at]).expect_err("truncated");
            assert_eq!(err.code(), "insi.malformed_response", "cut at {cut_at}");
        }
        let err = parse_response(b"<html><body>502 Bad Gateway</body></html>").expect_err("html");
        match err {
            SoapError::Malformed { excerpt, .. } => {
                assert!(excerpt.expose().contains("502 Bad Gateway"));
            }
            other => panic!("{other:?}"),
        }
        let long = vec![b'x'; 4000];
        match parse_response(&long) {
            Err(SoapError::Malformed { excerpt, .. }) => assert_eq!(excerpt.expose().len(), 512),
            other => panic!("{other:?}"),
        }
        for garbage in [
            "",
            "   ",
            "<",
            "<a",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<x:a/>",
            "<a>&#0;</a>",
            "<a b='1' b='2'/>",
        ] {
            let err = parse_response(garbage.as_bytes()).expect_err(garbage);
            assert_eq!(err.code(), "insi.malformed_response", "{garbage:?}");
        }
    }

    #[test]
    fn limits() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(
            parse_response(deep.as_bytes()),
            Err(SoapError::TooLarge {
                what: "levels of nesting",
                limit: 32
            })
        );
        let wide = format!("<a>{}</a>", "<b/>".repeat(5000));
        assert_eq!(
            parse_response(wide.as_bytes()).map_err(|e| e.code()),
            Err("insi.response_too_large")
        );
        let big = vec![b' '; MAX_RESPONSE_BYTES + 1];
        assert_eq!(
            parse_response(&big),
            Err(SoapError::TooLarge {
                what: "bytes",
                limit: MAX_RESPONSE_BYTES
            })
        );
    }

    #[test]
    fn display_does_not_leak_the_answer() {
        let err = parse_response(b"<a>2751263220749</b>").expect_err("malformed");
        assert!(!err.to_string().contains("2751263220749"), "{err}");
        let debug = format!("{err:?}");
        assert!(!debug.contains("2751263220749"), "{debug}");
        assert!(debug.contains("RawExcerpt(<20 bytes>)"), "{debug}");
    }

    #[test]
    fn odd_input_never_panics() {
        let pieces = [
            "<",
            ">",
            "/",
            "&",
            ";",
            "#",
            "x",
            ":",
            "\"",
            "'",
            "=",
            " ",
            "<!",
            "<?",
            "?>",
            "]]>",
            "<![CDATA[",
            "é",
            "\u{feff}",
            "xmlns:a=\"u\"",
            "<a:b ",
            "</",
            "&#x",
            "&amp",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}{c}");
                    let _ = parse_response(s.as_bytes());
                    let wrapped = ADRUN_00.replace("ADRUN", &s);
                    let _ = parse_response(wrapped.as_bytes());
                }
            }
        }
    }
}

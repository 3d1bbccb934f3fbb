//! INSi simulator, server side of the SOAP protocol: reads requests, writes answers. Pure: no I/O.
//!
//! Follows `spec/ins.md`, section "INSi web service". A request is accepted from **any conformant client**: any
//! namespace prefixes, white space between headers, headers in any order, other headers (e.g. a `wsse:Security`
//! some clients add) ignored. What is checked, and the fault each failure gives ([`SimFault`]):
//!
//! | check | fault code |
//! |---|---|
//! | `Content-Type` is `application/soap+xml` with an `action` parameter naming the body's operation (and `charset`, if any, UTF-8) | `siram_40` |
//! | body: well-formed, UTF-8, no DOCTYPE, within [`MAX_REQUEST_BYTES`], a SOAP 1.2 `Envelope` with one `Body` element, `RECSANSVITALE` or `RECVITALE` in its namespace with qualified children | `siram_40` |
//! | a SOAP `Header` holding one `ctxlps:ContexteLPS` (`Version`, `Id`, `Temps`, `LPS/IDAM` not empty) | `siram_100` when the header, the context, `LPS` or `IDAM` is missing; `siram_40` otherwise |
//! | one `ctxbam:ContexteBAM` (`Version`, `Id`, `Temps`, `COUVERTURE`) | `siram_40` |
//! | `wsa:Action` equal to the operation's action, `wsa:MessageID` not empty | `siram_40` |
//!
//! Whether the IDAM is known (`desir_550`) and whether the client certificate may call INSi (`DESIR_560`) are
//! decided by the callers, which hold that configuration and the TLS session.
//!
//! Answers are written as the CNAM test service writes them (see [`crate::ins::soap`] for the sources):
//! `RESULTAT` declaring its namespace as the default one, `INDIVIDU/INSACTIF/INSHISTO*/TIQ`; faults with a
//! `Code/Value` (`Receiver` for `siram_40`, `Sender` otherwise), a `Subcode` QName (`soap:siram_40`,
//! `soap:siram_100`), a French `Reason` and `Detail/siram:Erreur severite="fatal" code="…"`. Unlike the recorded
//! CNAM answers, the `TIQ` written here also carries `Prenom` (the first word of `ListePrenom`), as the spec lists
//! it; the client accepts both.

use std::fmt;

use crate::ins::Ins;
use crate::ins::soap::{
    CTXBAM_NS, CTXLPS_NS, Operation, REC_SANS_NS, REC_VIT_NS, RESULTAT_NS, SIRAM_NS, SOAP12_NS,
    WSA_NS, XmlElement, XmlLimits, XmlOut, parse_xml, soap_payload,
};

use super::data::{Identity, SimAnswer};

/// Largest request body the simulator reads.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

const REQUEST_LIMITS: XmlLimits = XmlLimits {
    max_bytes: MAX_REQUEST_BYTES,
    max_depth: 32,
    max_elements: 2048,
};

/// A fault the simulator answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFault {
    /// The code written in `siram:Erreur/@code`: `siram_40`, `siram_100`, `insi_102`, `desir_550`, `DESIR_560`, …
    pub code: &'static str,
    /// The message written in `siram:Erreur`.
    pub message: String,
}

impl SimFault {
    /// `siram_40`: the request cannot be processed (malformed, inconsistent).
    pub fn technical(message: impl Into<String>) -> SimFault {
        SimFault {
            code: "siram_40",
            message: message.into(),
        }
    }

    /// `siram_100`: no usable software context (`ContexteLPS`).
    pub fn unknown_software(message: impl Into<String>) -> SimFault {
        SimFault {
            code: "siram_100",
            message: message.into(),
        }
    }

    /// `DESIR_560`: the client certificate's CN is not `INSI-AUTO` / `INSI-MANU` (decided by the HTTP layer).
    pub fn certificate_not_allowed() -> SimFault {
        SimFault::from_code("DESIR_560")
    }

    /// A fault with the simulator's standard message for `code`.
    pub fn from_code(code: &'static str) -> SimFault {
        let message = match code {
            "insi_102" => {
                "Erreur technique lors de la recherche par traits d'identité (simulateur)."
            }
            "desir_550" => "Numéro d'autorisation du logiciel (IDAM) inconnu du simulateur.",
            "DESIR_560" => {
                "Le certificat présenté n'est pas un certificat INSI-AUTO ou INSI-MANU (simulateur)."
            }
            "siram_100" => "Contexte du logiciel absent ou inutilisable (simulateur).",
            "siram_40" => "Requête impossible à traiter (simulateur).",
            _ => "Erreur du simulateur INSi.",
        };
        SimFault {
            code,
            message: message.to_owned(),
        }
    }

    /// The `Subcode` written with this code: `siram_*` codes are their own subcode; `desir_550` and `DESIR_560`
    /// (access refused) go under `siram_100`; anything else under `siram_40`.
    pub fn subcode(&self) -> &'static str {
        let code = self.code;
        if code.len() > 6
            && code
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("siram_"))
        {
            code
        } else if code.eq_ignore_ascii_case("desir_550") || code.eq_ignore_ascii_case("desir_560") {
            "siram_100"
        } else {
            "siram_40"
        }
    }
}

impl fmt::Display for SimFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The `ContexteBAM` header, values as received (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBamContext {
    /// `Version` attribute.
    pub version: String,
    /// `Id`.
    pub id: String,
    /// `Temps`.
    pub time: String,
    /// `Emetteur`, when present.
    pub emitter: Option<String>,
}

/// The `ContexteLPS` header, values as received (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLpsContext {
    /// `Version` attribute.
    pub version: String,
    /// `Nature` attribute, when present.
    pub nature: Option<String>,
    /// `Id`.
    pub id: String,
    /// `Temps`.
    pub time: String,
    /// `Emetteur`, when present.
    pub emitter: Option<String>,
    /// `LPS/IDAM`, the software authorisation number.
    pub idam: String,
    /// `LPS/IDAM/@R`, when present.
    pub idam_r: Option<String>,
    /// `LPS/Version`, when present.
    pub software_version: Option<String>,
    /// `LPS/Instance`, when present.
    pub instance: Option<String>,
    /// `LPS/Nom`, when present.
    pub name: Option<String>,
}

/// A traits search as received: raw strings, trimmed; normalising is the lookup's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTraitsQuery {
    /// `NomNaissance`.
    pub birth_name: String,
    /// `Prenom`.
    pub given_name: String,
    /// `Sexe`.
    pub sex: String,
    /// `DateNaissance`.
    pub birth_date: String,
    /// `LieuNaissance`, when present and not empty.
    pub birth_place: Option<String>,
}

/// A matricule of a Carte Vitale search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMatricule {
    /// `NumIdentifiant`.
    pub number: String,
    /// `Cle`, when present.
    pub key: Option<String>,
}

/// A Carte Vitale search as received (every element is optional in the schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimVitaleQuery {
    /// `MatriculeIndividu`.
    pub matricule_individu: Option<SimMatricule>,
    /// `MatriculeOD`.
    pub matricule_od: Option<SimMatricule>,
    /// `NomNaissance`.
    pub birth_name: Option<String>,
    /// `DateNaissance`.
    pub birth_date: Option<String>,
    /// `RangNaissance`.
    pub rang_naissance: Option<String>,
}

/// The search asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimQuery {
    /// `RECSANSVITALE`.
    Traits(SimTraitsQuery),
    /// `RECVITALE`.
    Vitale(SimVitaleQuery),
}

/// A request the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// The operation, as the body, the `Content-Type` and `wsa:Action` agree.
    pub operation: Operation,
    /// `wsa:MessageID`.
    pub message_id: String,
    /// `ContexteBAM`.
    pub bam: SimBamContext,
    /// `ContexteLPS`.
    pub lps: SimLpsContext,
    /// The search.
    pub query: SimQuery,
}

/// Reads and checks a request (see the module documentation for the checks and their faults).
pub fn parse_request(content_type: Option<&str>, body: &[u8]) -> Result<SimRequest, SimFault> {
    let action = content_type_action(content_type)?;
    let root = parse_xml(body, &REQUEST_LIMITS)
        .map_err(|e| SimFault::technical(format!("unreadable request: {e}")))?;
    let payload = soap_payload(&root).map_err(SimFault::technical)?;
    let (operation, query) = if payload.is(REC_SANS_NS, "RECSANSVITALE") {
        (
            Operation::TraitsSearch,
            SimQuery::Traits(traits_query(payload)?),
        )
    } else if payload.is(REC_VIT_NS, "RECVITALE") {
        (
            Operation::VitaleSearch,
            SimQuery::Vitale(vitale_query(payload)),
        )
    } else {
        return Err(SimFault::technical(format!(
            "unknown operation: the Body holds {}",
            payload.describe()
        )));
    };
    if action != operation.action() {
        return Err(SimFault::technical(format!(
            "the Content-Type action {:?} does not match the body operation {}",
            cut(&action),
            operation.name()
        )));
    }

    let header = root
        .child(SOAP12_NS, "Header")
        .ok_or_else(|| SimFault::unknown_software("no SOAP Header: ContexteLPS is missing"))?;
    let lps = unique(header, CTXLPS_NS, "ContexteLPS")?
        .ok_or_else(|| SimFault::unknown_software("ContexteLPS is missing"))?;
    let lps = lps_context(lps)?;
    let bam = unique(header, CTXBAM_NS, "ContexteBAM")?
        .ok_or_else(|| SimFault::technical("ContexteBAM is missing"))?;
    let bam = bam_context(bam)?;
    let wsa_action = unique(header, WSA_NS, "Action")?
        .ok_or_else(|| SimFault::technical("wsa:Action is missing"))?;
    if wsa_action.text() != operation.action() {
        return Err(SimFault::technical(format!(
            "wsa:Action {:?} does not match the body operation {}",
            cut(wsa_action.text()),
            operation.name()
        )));
    }
    let message_id = unique(header, WSA_NS, "MessageID")?
        .map(|m| m.text().to_owned())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| SimFault::technical("wsa:MessageID is missing or empty"))?;

    Ok(SimRequest {
        operation,
        message_id,
        bam,
        lps,
        query,
    })
}

/// The `action` parameter of a SOAP 1.2 `Content-Type`.
fn content_type_action(content_type: Option<&str>) -> Result<String, SimFault> {
    let content_type = content_type.ok_or_else(|| {
        SimFault::technical("no Content-Type: expected application/soap+xml; action=\"…\"")
    })?;
    let mut parts = split_params(content_type).into_iter();
    let media = parts.next().unwrap_or_default();
    if !media.trim().eq_ignore_ascii_case("application/soap+xml") {
        return Err(SimFault::technical(format!(
            "Content-Type {:?} is not application/soap+xml (SOAP 1.2)",
            cut(media.trim())
        )));
    }
    let mut action = None;
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "action" => action = Some(value),
            "charset" if !value.eq_ignore_ascii_case("utf-8") => {
                return Err(SimFault::technical(format!(
                    "charset {:?} is not utf-8",
                    cut(&value)
                )));
            }
            _ => {}
        }
    }
    action.ok_or_else(|| SimFault::technical("the Content-Type has no action parameter"))
}

/// Splits a header value on `;` outside quoted strings.
fn split_params(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let (mut quoted, mut escaped) = (false, false);
    for ch in value.chars() {
        let mut push = true;
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(String::new());
                push = false;
            }
            _ => {}
        }
        if push && let Some(last) = parts.last_mut() {
            last.push(ch);
        }
    }
    parts
}

/// Removes the quotes of a quoted-string and its backslash escapes.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for ch in inner.chars() {
        if !escaped && ch == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(ch);
    }
    out
}

/// The single header `{ns}local`, if present; a repeated one is refused.
fn unique<'a>(
    header: &'a XmlElement,
    ns: &'a str,
    local: &'a str,
) -> Result<Option<&'a XmlElement>, SimFault> {
    let mut found = header.children_in(ns, local);
    let first = found.next();
    if found.next().is_some() {
        return Err(SimFault::technical(format!(
            "the header {local} is repeated"
        )));
    }
    Ok(first)
}

/// The trimmed, non-empty text of the child `{ns}local`.
fn text_of(parent: &XmlElement, ns: &str, local: &str) -> Option<String> {
    parent
        .child(ns, local)
        .map(|c| c.text().to_owned())
        .filter(|t| !t.is_empty())
}

fn required(parent: &XmlElement, ns: &str, local: &str) -> Result<String, SimFault> {
    text_of(parent, ns, local).ok_or_else(|| {
        SimFault::technical(format!(
            "{} has no {local} in {ns}, or it is empty",
            parent.local
        ))
    })
}

fn version_attr(el: &XmlElement) -> Result<String, SimFault> {
    el.attr("Version")
        .map(str::to_owned)
        .ok_or_else(|| SimFault::technical(format!("{} has no Version attribute", el.local)))
}

fn lps_context(ctx: &XmlElement) -> Result<SimLpsContext, SimFault> {
    let soft = ctx
        .child(CTXLPS_NS, "LPS")
        .ok_or_else(|| SimFault::unknown_software("ContexteLPS has no LPS"))?;
    let idam_el = soft.child(CTXLPS_NS, "IDAM");
    let idam = idam_el
        .map(|i| i.text().to_owned())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| SimFault::unknown_software("ContexteLPS has no IDAM, or it is empty"))?;
    Ok(SimLpsContext {
        version: version_attr(ctx)?,
        nature: ctx.attr("Nature").map(str::to_owned),
        id: required(ctx, CTXLPS_NS, "Id")?,
        time: required(ctx, CTXLPS_NS, "Temps")?,
        emitter: text_of(ctx, CTXLPS_NS, "Emetteur"),
        idam,
        idam_r: idam_el.and_then(|i| i.attr("R")).map(str::to_owned),
        software_version: text_of(soft, CTXLPS_NS, "Version"),
        instance: text_of(soft, CTXLPS_NS, "Instance"),
        name: text_of(soft, CTXLPS_NS, "Nom"),
    })
}

fn bam_context(ctx: &XmlElement) -> Result<SimBamContext, SimFault> {
    if ctx.child(CTXBAM_NS, "COUVERTURE").is_none() {
        return Err(SimFault::technical("ContexteBAM has no COUVERTURE"));
    }
    Ok(SimBamContext {
        version: version_attr(ctx)?,
        id: required(ctx, CTXBAM_NS, "Id")?,
        time: required(ctx, CTXBAM_NS, "Temps")?,
        emitter: text_of(ctx, CTXBAM_NS, "Emetteur"),
    })
}

fn traits_query(body: &XmlElement) -> Result<SimTraitsQuery, SimFault> {
    Ok(SimTraitsQuery {
        birth_name: required(body, REC_SANS_NS, "NomNaissance")?,
        given_name: required(body, REC_SANS_NS, "Prenom")?,
        sex: required(body, REC_SANS_NS, "Sexe")?,
        birth_date: required(body, REC_SANS_NS, "DateNaissance")?,
        birth_place: text_of(body, REC_SANS_NS, "LieuNaissance"),
    })
}

fn vitale_query(body: &XmlElement) -> SimVitaleQuery {
    let matricule = |local: &str| {
        let m = body.child(REC_VIT_NS, local)?;
        Some(SimMatricule {
            number: text_of(m, REC_VIT_NS, "NumIdentifiant")?,
            key: text_of(m, REC_VIT_NS, "Cle"),
        })
    };
    SimVitaleQuery {
        matricule_individu: matricule("MatriculeIndividu"),
        matricule_od: matricule("MatriculeOD"),
        birth_name: text_of(body, REC_VIT_NS, "NomNaissance"),
        birth_date: text_of(body, REC_VIT_NS, "DateNaissance"),
        rang_naissance: text_of(body, REC_VIT_NS, "RangNaissance"),
    }
}

/// Cuts a value taken from the request to 120 characters for messages.
fn cut(s: &str) -> String {
    s.chars().take(120).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------------------

/// A search result to write as `RESULTAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimResult<'a> {
    /// `00` with the identity.
    Found(&'a Identity),
    /// `01`.
    NotFound,
    /// `02`.
    Multiple,
}

/// A `RESULTAT` answer envelope.
pub fn build_result(result: &SimResult<'_>) -> String {
    let (code, label) = match result {
        SimResult::Found(_) => ("00", "OK"),
        SimResult::NotFound => ("01", "Aucune identite trouvee"),
        SimResult::Multiple => ("02", "Plusieurs identites trouvees"),
    };
    let mut out = XmlOut::new();
    out.start("soap:Envelope", &[("xmlns:soap", SOAP12_NS)]);
    out.start("soap:Body", &[]);
    out.start("RESULTAT", &[("xmlns", RESULTAT_NS)]);
    out.start("CR", &[]);
    out.leaf("CodeCR", &[], code);
    out.leaf("LibelleCR", &[], label);
    out.end("CR");
    if let SimResult::Found(identity) = result {
        out.start("INDIVIDU", &[]);
        write_ins(
            &mut out,
            "INSACTIF",
            &identity.ins,
            identity.ins_start.as_deref(),
            identity.ins_end.as_deref(),
        );
        for former in &identity.history {
            write_ins(
                &mut out,
                "INSHISTO",
                &former.ins,
                former.start.as_deref(),
                former.end.as_deref(),
            );
        }
        out.start("TIQ", &[]);
        out.leaf("NomNaissance", &[], &identity.birth_name);
        out.leaf("Prenom", &[], identity.first_given_name());
        out.leaf("ListePrenom", &[], &identity.given_names);
        out.leaf("Sexe", &[], identity.sex.as_str());
        out.leaf("DateNaissance", &[], &identity.birth_date.to_string());
        if let Some(place) = &identity.birth_place {
            out.leaf("LieuNaissance", &[], place.as_str());
        }
        out.end("TIQ");
        out.end("INDIVIDU");
    }
    out.end("RESULTAT");
    out.end("soap:Body");
    out.end("soap:Envelope");
    out.finish()
}

fn write_ins(out: &mut XmlOut, element: &str, ins: &Ins, start: Option<&str>, end: Option<&str>) {
    out.start(element, &[]);
    out.start("IdIndividu", &[]);
    out.leaf("NumIdentifiant", &[], ins.matricule().expose());
    out.leaf("Cle", &[], &format!("{:02}", ins.key()));
    out.end("IdIndividu");
    out.leaf("OID", &[], ins.oid().as_str());
    if let Some(start) = start {
        out.leaf("DateDeb", &[], start);
    }
    if let Some(end) = end {
        out.leaf("DateFin", &[], end);
    }
    out.end(element);
}

/// A SOAP 1.2 fault envelope with `siram:Erreur` in its detail.
pub fn build_fault(fault: &SimFault) -> String {
    let subcode = fault.subcode();
    let (role, reason) = match subcode {
        "siram_40" => (
            "soap:Receiver",
            "Le service est momentanément indisponible, veuillez réessayer plus tard (simulateur).",
        ),
        "siram_100" => (
            "soap:Sender",
            "L'accès au service est refusé à ce logiciel (simulateur).",
        ),
        _ => ("soap:Sender", "La requête a été refusée (simulateur)."),
    };
    let mut out = XmlOut::new();
    out.start("soap:Envelope", &[("xmlns:soap", SOAP12_NS)]);
    out.start("soap:Body", &[]);
    out.start("soap:Fault", &[]);
    out.start("soap:Code", &[]);
    out.leaf("soap:Value", &[], role);
    out.start("soap:Subcode", &[]);
    out.leaf("soap:Value", &[], &format!("soap:{subcode}"));
    out.end("soap:Subcode");
    out.end("soap:Code");
    out.start("soap:Reason", &[]);
    out.leaf("soap:Text", &[("xml:lang", "fr")], reason);
    out.end("soap:Reason");
    out.start("soap:Detail", &[]);
    out.leaf(
        "siram:Erreur",
        &[
            ("xmlns:siram", SIRAM_NS),
            ("severite", "fatal"),
            ("code", fault.code),
        ],
        &fault.message,
    );
    out.end("soap:Detail");
    out.end("soap:Fault");
    out.end("soap:Body");
    out.end("soap:Envelope");
    out.finish()
}

/// The answer envelope for what the lookup decided: `RESULTAT` or fault.
pub fn build_answer(answer: &SimAnswer<'_>) -> String {
    match answer {
        SimAnswer::Found(identity) => build_result(&SimResult::Found(identity)),
        SimAnswer::NotFound => build_result(&SimResult::NotFound),
        SimAnswer::Multiple => build_result(&SimResult::Multiple),
        SimAnswer::Fault(code) => build_fault(&SimFault::from_code(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::soap::{
        Envelope, FaultKind, InsiResponse, LpsContext, SoapError, TraitsQuery, VitaleQuery,
        build_traits_request, build_vitale_request, parse_response,
    };
    use crate::ins::strategy::{AttemptOutcome, BirthPlacePolicy, Strategy};
    use crate::ins::{BirthDate, InsOid, Matricule, Sex, StrictTraits};
    use crate::sim::insi::data::SimData;

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
            message_id: "00000000-0000-0000-0000-000000000001".to_owned(),
            context_id: "00000000-0000-0000-0000-000000000002".to_owned(),
            timestamp: time::macros::datetime!(2025-03-04 09:11:12.345 UTC),
        }
    }

    fn traits_ct() -> String {
        Operation::TraitsSearch.content_type()
    }

    fn adrun_request() -> String {
        let q = TraitsQuery {
            birth_name: "ADRUN".to_owned(),
            given_name: "ZOE".to_owned(),
            sex: Sex::Female,
            birth_date: BirthDate::new(1975, 12, 31).expect("valid"),
            birth_place: "63220".parse().ok(),
        };
        build_traits_request(&q, &lps(), &env())
    }

    fn data() -> SimData {
        SimData::embedded().expect("embedded identities load")
    }

    #[test]
    fn our_traits_request_parses() {
        let req = parse_request(Some(&traits_ct()), adrun_request().as_bytes()).expect("accepted");
        assert_eq!(req.operation, Operation::TraitsSearch);
        assert_eq!(req.message_id, "uuid:00000000-0000-0000-0000-000000000001");
        assert_eq!(
            req.bam,
            SimBamContext {
                version: "01_02".to_owned(),
                id: "00000000-0000-0000-0000-000000000002".to_owned(),
                time: "2025-03-04T09:11:12.345Z".to_owned(),
                emitter: Some("1630790004".to_owned()),
            }
        );
        assert_eq!(req.lps.idam, "IDAM-TEST-01");
        assert_eq!(req.lps.idam_r.as_deref(), Some("4"));
        assert_eq!(req.lps.nature.as_deref(), Some("CTXLPS"));
        assert_eq!(req.lps.version, "01_00");
        assert_eq!(req.lps.name.as_deref(), Some("urn:lps:segur-gateway:0.1.0"));
        assert_eq!(req.lps.emitter.as_deref(), Some("1630790004"));
        assert_eq!(
            req.query,
            SimQuery::Traits(SimTraitsQuery {
                birth_name: "ADRUN".to_owned(),
                given_name: "ZOE".to_owned(),
                sex: "F".to_owned(),
                birth_date: "1975-12-31".to_owned(),
                birth_place: Some("63220".to_owned()),
            })
        );
    }

    #[test]
    fn our_vitale_request_parses() {
        let q = VitaleQuery {
            matricule_individu: Matricule::parse("2751263220749").expect("valid"),
            matricule_od: Matricule::parse("2751263220749").expect("valid"),
            birth_name: "ADRUN".to_owned(),
            birth_date: BirthDate::new(1975, 12, 31).expect("valid"),
            rang_naissance: 1,
        };
        let xml = build_vitale_request(&q, &lps(), &env());
        let ct = Operation::VitaleSearch.content_type();
        let req = parse_request(Some(&ct), xml.as_bytes()).expect("accepted");
        assert_eq!(req.operation, Operation::VitaleSearch);
        let SimQuery::Vitale(v) = &req.query else {
            panic!("not a vitale query: {:?}", req.query);
        };
        let expected = Some(SimMatricule {
            number: "2751263220749".to_owned(),
            key: Some("74".to_owned()),
        });
        assert_eq!(v.matricule_individu, expected);
        assert_eq!(v.rang_naissance.as_deref(), Some("1"));
        match data().lookup_vitale(v) {
            SimAnswer::Found(identity) => assert_eq!(identity.birth_name, "ADRUN"),
            other => panic!("{other:?}"),
        }
        // A traits action with a vitale body is refused.
        let err = parse_request(Some(&traits_ct()), xml.as_bytes()).expect_err("mismatch");
        assert_eq!(err.code, "siram_40");
    }

    /// Another client's style: default namespaces, white space and comments, headers in another order, an extra
    /// `wsse:Security` header, unquoted action, upper-case media type.
    const OTHER_CLIENT: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope">
  <Header>
    <!-- addressing first -->
    <a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">urn:uuid:5d7e</a:MessageID>
    <a:Action xmlns:a="http://www.w3.org/2005/08/addressing">
      urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite
    </a:Action>
    <wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>
    <ContexteLPS xmlns="urn:siram:lps:ctxlps" Version="01_00" Nature="CTXLPS">
      <Id>lps-1</Id>
      <Temps>2025-03-04T09:11:12.345Z</Temps>
      <LPS>
        <IDAM R="4"> OTHER-IDAM </IDAM>
        <Version>7</Version>
      </LPS>
    </ContexteLPS>
    <b:ContexteBAM xmlns:b="urn:siram:bam:ctxbam" Version="01_02">
      <b:Id>bam-1</b:Id>
      <b:Temps>2025-03-04T09:11:12.345Z</b:Temps>
      <b:COUVERTURE></b:COUVERTURE>
    </b:ContexteBAM>
  </Header>
  <Body>
    <RECSANSVITALE xmlns="http://www.cnamts.fr/INSiRecSans">
      <NomNaissance>TCHITCHI</NomNaissance>
      <Prenom>OLA</Prenom>
      <Sexe>F</Sexe>
      <DateNaissance>1936-06-21</DateNaissance>
      <LieuNaissance></LieuNaissance>
    </RECSANSVITALE>
  </Body>
</Envelope>"#;

    const OTHER_CT: &str = "Application/SOAP+XML;charset=UTF-8;action=urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite";

    #[test]
    fn other_client_style_parses() {
        let req = parse_request(Some(OTHER_CT), OTHER_CLIENT.as_bytes()).expect("accepted");
        assert_eq!(req.message_id, "urn:uuid:5d7e");
        assert_eq!(req.lps.idam, "OTHER-IDAM");
        assert_eq!(req.lps.emitter, None);
        assert_eq!(req.lps.instance, None);
        assert_eq!(req.bam.emitter, None);
        let SimQuery::Traits(q) = &req.query else {
            panic!("{:?}", req.query);
        };
        assert_eq!(
            (q.given_name.as_str(), q.birth_place.as_deref()),
            ("OLA", None)
        );
        assert_eq!(data().lookup(q), SimAnswer::NotFound);
    }

    fn fault_code(ct: Option<&str>, body: &str) -> &'static str {
        match parse_request(ct, body.as_bytes()) {
            Ok(req) => panic!("accepted: {req:?}"),
            Err(fault) => fault.code,
        }
    }

    #[test]
    fn missing_headers() {
        let ct = Some(OTHER_CT);
        let cut_between = |start: &str, end: &str| {
            let from = OTHER_CLIENT.find(start).expect("start");
            let to = OTHER_CLIENT.find(end).expect("end") + end.len();
            format!("{}{}", &OTHER_CLIENT[..from], &OTHER_CLIENT[to..])
        };
        let no_lps = cut_between("<ContexteLPS", "</ContexteLPS>");
        assert_eq!(fault_code(ct, &no_lps), "siram_100");
        let no_idam = OTHER_CLIENT.replace("<IDAM R=\"4\"> OTHER-IDAM </IDAM>", "<IDAM R=\"4\"/>");
        assert_eq!(fault_code(ct, &no_idam), "siram_100");
        let no_soft = cut_between("<LPS>", "</LPS>");
        assert_eq!(fault_code(ct, &no_soft), "siram_100");
        let no_header = cut_between("<Header>", "</Header>");
        assert_eq!(fault_code(ct, &no_header), "siram_100");
        let no_bam = cut_between("<b:ContexteBAM", "</b:ContexteBAM>");
        assert_eq!(fault_code(ct, &no_bam), "siram_40");
        let no_couverture = OTHER_CLIENT.replace("<b:COUVERTURE></b:COUVERTURE>", "");
        assert_eq!(fault_code(ct, &no_couverture), "siram_40");
        let no_action = cut_between("<a:Action", "</a:Action>");
        assert_eq!(fault_code(ct, &no_action), "siram_40");
        let no_id = cut_between("<a:MessageID", "</a:MessageID>");
        assert_eq!(fault_code(ct, &no_id), "siram_40");
        let no_version = OTHER_CLIENT.replace(" Version=\"01_02\"", "");
        assert_eq!(fault_code(ct, &no_version), "siram_40");
        // The LPS context in the wrong namespace is as good as missing.
        let wrong_ns = OTHER_CLIENT.replace("urn:siram:lps:ctxlps", "urn:siram:lps:other");
        assert_eq!(fault_code(ct, &wrong_ns), "siram_100");
        // Repeated context.
        let twice = OTHER_CLIENT.replace(
            "<b:ContexteBAM",
            "<b:ContexteBAM xmlns:b=\"urn:siram:bam:ctxbam\" Version=\"01_02\"><b:Id>x</b:Id>\
             <b:Temps>t</b:Temps><b:COUVERTURE/></b:ContexteBAM><b:ContexteBAM",
        );
        assert_eq!(fault_code(ct, &twice), "siram_40");
    }

    #[test]
    fn action_mismatches() {
        let vitale_ct = Operation::VitaleSearch.content_type();
        assert_eq!(fault_code(Some(&vitale_ct), &adrun_request()), "siram_40");
        let wrong_wsa = adrun_request().replace(
            ">urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite<",
            ">urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale<",
        );
        assert_eq!(fault_code(Some(&traits_ct()), &wrong_wsa), "siram_40");
        let err = parse_request(Some(&vitale_ct), adrun_request().as_bytes()).expect_err("x");
        assert!(
            err.message.contains("rechercherInsAvecTraitsIdentite"),
            "{err}"
        );
    }

    #[test]
    fn content_types() {
        let body = adrun_request();
        assert_eq!(fault_code(None, &body), "siram_40");
        let soap11 = "text/xml; charset=utf-8";
        assert_eq!(fault_code(Some(soap11), &body), "siram_40");
        assert_eq!(fault_code(Some("application/soap+xml"), &body), "siram_40");
        let latin1 = format!(
            "application/soap+xml; charset=iso-8859-1; action=\"{}\"",
            Operation::TraitsSearch.action()
        );
        assert_eq!(fault_code(Some(&latin1), &body), "siram_40");
        // Quoted parameters may hold ';' and escapes.
        let odd = format!(
            "application/soap+xml; foo=\"a;b\\\"c\"; action=\"{}\"",
            Operation::TraitsSearch.action()
        );
        assert!(parse_request(Some(&odd), body.as_bytes()).is_ok());
        assert_eq!(split_params("a; b=\"x;y\"; c"), ["a", " b=\"x;y\"", " c"]);
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn body_checks() {
        let ct = Some(OTHER_CT);
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            OTHER_CLIENT.trim_start_matches("<?xml version='1.0' encoding='utf-8'?>")
        );
        let err = parse_request(ct, dtd.as_bytes()).expect_err("dtd");
        assert_eq!(err.code, "siram_40");
        assert!(err.message.contains("DOCTYPE"), "{err}");
        // Unqualified body children are not conformant.
        let unqualified = OTHER_CLIENT
            .replace(
                "<RECSANSVITALE xmlns=\"http://www.cnamts.fr/INSiRecSans\">",
                "<r:RECSANSVITALE xmlns:r=\"http://www.cnamts.fr/INSiRecSans\">",
            )
            .replace("</RECSANSVITALE>", "</r:RECSANSVITALE>");
        assert_eq!(fault_code(ct, &unqualified), "siram_40");
        let soap11 = OTHER_CLIENT.replace(SOAP12_NS, "http://schemas.xmlsoap.org/soap/envelope/");
        assert_eq!(fault_code(ct, &soap11), "siram_40");
        let unknown = OTHER_CLIENT.replace("RECSANSVITALE", "RECAUTRE");
        assert_eq!(fault_code(ct, &unknown), "siram_40");
        let no_sex = OTHER_CLIENT.replace("<Sexe>F</Sexe>", "");
        assert_eq!(fault_code(ct, &no_sex), "siram_40");
        for cut_at in [0, 50, OTHER_CLIENT.len() / 2, OTHER_CLIENT.len() - 3] {
            assert_eq!(fault_code(ct, &OTHER_CLIENT[..cut_at]), "siram_40");
        }
        let big = " ".repeat(MAX_REQUEST_BYTES + 1);
        assert_eq!(fault_code(ct, &big), "siram_40");
    }

    fn response(xml: &str) -> Result<InsiResponse, SoapError> {
        parse_response(xml.as_bytes())
    }

    #[test]
    fn round_trip_identities() {
        let data = data();
        for identity in data.identities() {
            let xml = build_result(&SimResult::Found(identity));
            let Ok(InsiResponse::Found(parsed)) = response(&xml) else {
                panic!("{}: {xml}", identity.birth_name);
            };
            assert_eq!(parsed.ins, identity.ins);
            assert_eq!(parsed.ins_start, identity.ins_start);
            assert_eq!(parsed.ins_end, identity.ins_end);
            assert_eq!(parsed.history, identity.history);
            assert_eq!(parsed.traits, identity.insi_traits());
            assert_eq!(parsed.label, "OK");
        }
        assert_eq!(
            response(&build_result(&SimResult::NotFound)),
            Ok(InsiResponse::NotFound)
        );
        assert_eq!(
            response(&build_result(&SimResult::Multiple)),
            Ok(InsiResponse::Multiple)
        );
    }

    #[test]
    fn faults_round_trip() {
        let cases = [
            (
                SimFault::from_code("insi_102"),
                "siram_40",
                FaultKind::Technical,
            ),
            (
                SimFault::technical("x < y & z"),
                "siram_40",
                FaultKind::Technical,
            ),
            (
                SimFault::unknown_software("no LPS"),
                "siram_100",
                FaultKind::UnknownSoftware,
            ),
            (
                SimFault::from_code("desir_550"),
                "siram_100",
                FaultKind::UnknownSoftware,
            ),
            (
                SimFault::certificate_not_allowed(),
                "siram_100",
                FaultKind::CertificateNotAllowed,
            ),
            (
                SimFault::from_code("sim_other"),
                "siram_40",
                FaultKind::Technical,
            ),
        ];
        for (fault, subcode, kind) in cases {
            assert_eq!(fault.subcode(), subcode, "{fault}");
            match response(&build_fault(&fault)) {
                Err(SoapError::Fault(f)) => {
                    assert_eq!(f.code, fault.code);
                    assert_eq!(f.subcode.as_deref(), Some(subcode));
                    assert_eq!(f.message, fault.message);
                    assert_eq!(f.severity.as_deref(), Some("fatal"));
                    assert_eq!(f.kind, kind, "{fault}");
                }
                other => panic!("{fault}: {other:?}"),
            }
        }
    }

    /// The whole loop: strategy → request → simulator → answer → parser → strategy.
    fn search(
        traits: &StrictTraits,
        policy: BirthPlacePolicy,
    ) -> (Strategy, Option<InsiResponse>, Option<SoapError>) {
        let data = data();
        let mut strategy = Strategy::with_policy(traits, policy);
        let (mut last, mut error) = (None, None);
        while let Some(query) = strategy.next() {
            let body = build_traits_request(&query, &lps(), &env());
            let answer = match parse_request(Some(&traits_ct()), body.as_bytes()) {
                Ok(SimRequest {
                    query: SimQuery::Traits(q),
                    ..
                }) => build_answer(&data.lookup(&q)),
                Ok(other) => panic!("{other:?}"),
                Err(fault) => build_fault(&fault),
            };
            match parse_response(answer.as_bytes()) {
                Ok(response) => {
                    strategy.record_response(&response);
                    last = Some(response);
                }
                Err(e) => {
                    strategy.record(AttemptOutcome::Error);
                    error = Some(e);
                }
            }
        }
        (strategy, last, error)
    }

    fn local(
        birth_name: &str,
        given: &[&str],
        sex: Sex,
        date: &str,
        place: Option<&str>,
    ) -> StrictTraits {
        StrictTraits {
            birth_name: birth_name.to_owned(),
            given_names: given.iter().map(|g| (*g).to_owned()).collect(),
            first_given_name: given.first().copied().unwrap_or_default().to_owned(),
            sex,
            birth_date: date.parse().expect("valid date"),
            birth_place: place.and_then(|p| p.parse().ok()),
        }
    }

    #[test]
    fn end_to_end_searches() {
        let policy = BirthPlacePolicy::FromFirstAttempt;
        let t = local(
            "TCHITCHI",
            &["OLA", "CATARINA"],
            Sex::Female,
            "1936-06-21",
            None,
        );
        let (s, last, _) = search(&t, policy);
        assert_eq!(s.outcome(), Some(AttemptOutcome::Found));
        assert_eq!(s.attempts().len(), 2);
        let Some(InsiResponse::Found(id)) = last else {
            panic!("{last:?}");
        };
        assert_eq!(id.ins.value(), "236066322083656");
        assert_eq!(id.traits.given_names, "CATARINA BELLA");

        let t = local(
            "DE VINCI",
            &["LEONARDO"],
            Sex::Male,
            "2014-02-01",
            Some("99127"),
        );
        let (s, last, _) = search(&t, BirthPlacePolicy::WhenSeveralFound);
        let outcomes: Vec<_> = s
            .attempts()
            .iter()
            .map(|a| (a.outcome, a.with_birth_place))
            .collect();
        assert_eq!(
            outcomes,
            [
                (AttemptOutcome::Multiple, false),
                (AttemptOutcome::Found, true)
            ]
        );
        let Some(InsiResponse::Found(id)) = last else {
            panic!("{last:?}");
        };
        assert_eq!(id.traits.birth_place.as_deref(), Some("99127"));

        let t = local("DE VINCI", &["LEONARDO"], Sex::Male, "2014-02-01", None);
        let (s, _, _) = search(&t, policy);
        assert_eq!(s.outcome(), Some(AttemptOutcome::Multiple));

        let t = local("HOUILLES", &["PIERRE"], Sex::Male, "1993-01-27", None);
        let (s, _, _) = search(&t, policy);
        assert_eq!(s.outcome(), Some(AttemptOutcome::NotFound));

        let t = local("D'AEION", &["COEUR"], Sex::Male, "1987-01-25", None);
        let (s, _, error) = search(&t, policy);
        assert_eq!(s.outcome(), Some(AttemptOutcome::Error));
        let fault = error.as_ref().and_then(SoapError::fault).expect("a fault");
        assert_eq!(
            (fault.code.as_str(), fault.kind),
            ("insi_102", FaultKind::Technical)
        );

        let t = local("PROVISOIRE", &["MATRICULE"], Sex::Male, "2009-07-01", None);
        let (_, last, _) = search(&t, policy);
        let Some(InsiResponse::Found(id)) = last else {
            panic!("{last:?}");
        };
        assert_eq!(id.ins.oid(), InsOid::Nia);

        let t = local(
            "ECETINSI",
            &["PIERRE-ALAIN"],
            Sex::Male,
            "2009-07-14",
            Some("63220"),
        );
        let (_, last, _) = search(&t, policy);
        let Some(InsiResponse::Found(id)) = last else {
            panic!("{last:?}");
        };
        assert_eq!(id.history.len(), 2);
    }

    #[test]
    fn odd_requests_never_panic() {
        let pieces = [
            "<",
            ">",
            "&",
            ";",
            "\"",
            "=",
            "<!",
            "]]>",
            "é",
            "xmlns=\"\"",
            "</",
            "\\",
        ];
        let base = adrun_request();
        for a in pieces {
            for b in pieces {
                let s = format!("{a}{b}{a}");
                let _ = parse_request(Some(&s), s.as_bytes());
                let _ = parse_request(Some(&traits_ct()), base.replace("ADRUN", &s).as_bytes());
                let _ = parse_request(Some(&traits_ct()), base.replace("ctxlps:", &s).as_bytes());
            }
        }
    }
}

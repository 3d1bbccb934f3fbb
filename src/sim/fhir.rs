//! `fhir`: an Annuaire Santé FHIR API look-alike serving `Organization` resources from the loaded FINESS index, so
//! the Annuaire client (`segur-annuaire`) can be exercised without an API key or network.
//!
//! # What it answers
//!
//! `GET /Organization` (relative to wherever the router is mounted) with the search parameters the gateway uses
//! (`spec/finess.md`, section "Annuaire Santé FHIR API"), all criteria ANDed:
//!
//! - `identifier`: `system|value` or a bare value; systems `https://finess.esante.gouv.fr` (what the Annuaire
//!   publishes), `http://finess.sante.gouv.fr` (older spelling) and `urn:oid:1.2.250.1.71.4.2.2` (idNat_Struct,
//!   `1` + FINESS). Comma-separated values are ORed, as in FHIR.
//! - `name`: every word must begin a word of the name ([`FinessIndex::search`], closed structures included, at most
//!   [`MAX_NAME_MATCHES`] results).
//! - `partof`: `Organization/<id>`, `<id>`, an identifier token or a bare FINESS of a legal entity: its sites.
//! - `type`: `system|code` or `code`, matched against the codings of `Organization.type` (`LEGAL-ENTITY` /
//!   `GEOGRAPHICAL-ENTITY`, TRE_R66 category, TRE_R72 legal status), plus `FINEJ`/`FINEG`.
//! - `_count` (page size, default [`DEFAULT_COUNT`], at most [`MAX_COUNT`]) and `_offset` (first match of the page,
//!   from 0). The real server pages with opaque `_getpages` tokens; clients must follow `link[next]` and never
//!   build page URLs, which is what this simulator checks by using a different parameter.
//!
//! The answer is a `searchset` Bundle (`application/fhir+json`) with `total`, `link` `self` (and `next` when more
//! matches follow) and entries `{fullUrl, resource, search: {mode: match}}`. Other parameters are ignored (FHIR's
//! lenient handling). When an API key is configured, a request without the right `ESANTE-API-KEY` gets 401 and an
//! `OperationOutcome`; with no index loaded, 503.
//!
//! # Organization shape
//!
//! As the Annuaire publishes it (ANS IG `ansforge/IG-fhir-annuaire`, FR Core; sources in `segur-annuaire`'s crate
//! documentation): id `org-<FINESS>` (clients must not read the FINESS from the id), identifiers FINESS (type
//! `FINEJ`/`FINEG`) and idNat_Struct (type `IDNST`), `type` codings for the organisation type, the category and
//! (legal entities) the legal status, `partOf` the legal entity of a site, `address`, `telecom`.
//!
//! Built with `serde_json` only: the main crate does not depend on fhir-sdk (slow to build; see
//! `notes/dependencies.md`).
//!
//! # Mounting
//!
//! [`router`] takes the index through a getter (the daemon's hot-reloadable `(generation, index)`), so reloads are
//! seen without rebuilding the router. Links are absolute: `http://<Host header><mount path>` unless
//! [`router_with_base`] gives the public base (needed behind HTTPS or a proxy).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::finess::id::Finess;
use crate::finess::index::{FinessIndex, SearchQuery, Structure};
use crate::finess::model::Address;

/// Where the router reads the current index: `None` while none is loaded; `(generation, index)` otherwise.
pub type IndexSource = Arc<dyn Fn() -> Option<Arc<(i64, FinessIndex)>> + Send + Sync>;

/// FINESS identifier system the Annuaire publishes.
pub const FINESS_SYSTEM: &str = "https://finess.esante.gouv.fr";
/// Older FINESS system spellings accepted in searches.
pub const LEGACY_FINESS_SYSTEMS: &[&str] = &[
    "http://finess.sante.gouv.fr",
    "http://finess.esante.gouv.fr",
];
/// idNat_Struct system.
pub const ID_NAT_STRUCT_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
/// `identifier.type` code system (FR Core v2-0203: `FINEJ`, `FINEG`, `IDNST`).
pub const IDENTIFIER_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
/// Organisation type code system (FR Core v2-3307: `LEGAL-ENTITY`, `GEOGRAPHICAL-ENTITY`).
pub const ORGANIZATION_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307";
/// FINESS establishment category (NOS TRE_R66).
pub const CATEGORY_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement";
/// FINESS legal status (NOS TRE_R72).
pub const LEGAL_STATUS_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R72-FinessStatutJuridique/FHIR/TRE-R72-FinessStatutJuridique";

/// Page size when `_count` is absent.
pub const DEFAULT_COUNT: usize = 10;
/// Largest page size served (a larger `_count` is lowered to it).
pub const MAX_COUNT: usize = 100;
/// Most name matches considered for one search.
pub const MAX_NAME_MATCHES: usize = 10_000;
/// Prefix of the resource ids (`org-<FINESS>`).
const ID_PREFIX: &str = "org-";
/// Media type of every answer.
const FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

#[derive(Clone)]
struct SimState {
    index: IndexSource,
    api_key: Option<Arc<str>>,
    public_base: Option<Arc<str>>,
}

/// The router (`GET /Organization`); links are built from the `Host` header, over `http`.
/// `api_key`: when `Some`, requests must carry it in `ESANTE-API-KEY`.
pub fn router(index: IndexSource, api_key: Option<String>) -> Router {
    router_with_base(index, api_key, None)
}

/// As [`router`], with the public base URL of the mount point (e.g. `https://127.0.0.1:9442/fhir/v2`) used in
/// `link` and `fullUrl` instead of `http://<Host>`.
pub fn router_with_base(
    index: IndexSource,
    api_key: Option<String>,
    public_base: Option<String>,
) -> Router {
    let state = SimState {
        index,
        api_key: api_key.map(Arc::from),
        public_base: public_base.map(|b| Arc::from(b.trim_end_matches('/'))),
    };
    Router::new()
        .route("/Organization", get(search))
        .with_state(state)
}

async fn search(
    State(state): State<SimState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(expected) = &state.api_key {
        let given = headers.get("esante-api-key").and_then(|v| v.to_str().ok());
        if given != Some(&**expected) {
            return fhir_response(
                StatusCode::UNAUTHORIZED,
                operation_outcome("security", "missing or invalid ESANTE-API-KEY"),
            );
        }
    }
    let params = match SearchParams::parse(&pairs) {
        Ok(params) => params,
        Err(message) => {
            return fhir_response(
                StatusCode::BAD_REQUEST,
                operation_outcome("invalid", &message),
            );
        }
    };
    let Some(loaded) = (state.index)() else {
        return fhir_response(
            StatusCode::SERVICE_UNAVAILABLE,
            operation_outcome("transient", "no FINESS index loaded yet"),
        );
    };
    let index = &loaded.1;
    let base = match &state.public_base {
        Some(base) => base.to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let mount = uri.path().strip_suffix("/Organization").unwrap_or("");
            format!("http://{host}{mount}")
        }
    };
    let matches = find(index, &params);
    fhir_response(
        StatusCode::OK,
        search_bundle(&matches, &params, &pairs, &base),
    )
}

fn fhir_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

/// The search parameters understood, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchParams {
    /// `identifier` tokens (ORed).
    pub identifier: Option<Vec<String>>,
    /// `name`.
    pub name: Option<String>,
    /// `partof`.
    pub partof: Option<String>,
    /// `type` tokens (ORed).
    pub type_: Option<Vec<String>>,
    /// Page size.
    pub count: usize,
    /// First match of the page.
    pub offset: usize,
}

impl SearchParams {
    /// Reads the query pairs; repeated parameters AND in FHIR, only the last one is kept here.
    pub fn parse(pairs: &[(String, String)]) -> Result<SearchParams, String> {
        let mut params = SearchParams {
            count: DEFAULT_COUNT,
            ..SearchParams::default()
        };
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "identifier" => params.identifier = Some(list(value)),
                "name" => params.name = Some(value.clone()),
                "partof" => params.partof = Some(value.trim().to_owned()),
                "type" => params.type_ = Some(list(value)),
                "_count" => {
                    let count: usize = value
                        .parse()
                        .map_err(|_| format!("_count: not a number: {value:?}"))?;
                    params.count = count.clamp(1, MAX_COUNT);
                }
                "_offset" => {
                    params.offset = value
                        .parse()
                        .map_err(|_| format!("_offset: not a number: {value:?}"))?;
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

/// The FINESS an identifier token designates, if its system is one of ours and its value valid.
/// Bare values: 9 characters are a FINESS, 10 an idNat_Struct.
pub fn finess_of_identifier(token: &str) -> Option<Finess> {
    match token.split_once('|') {
        Some((system, value))
            if system == FINESS_SYSTEM || LEGACY_FINESS_SYSTEMS.contains(&system) =>
        {
            Finess::parse(value).ok()
        }
        Some((ID_NAT_STRUCT_SYSTEM, value)) => Finess::from_id_nat_struct(value).ok(),
        Some(("", _)) | None => {
            let value = token.rsplit('|').next().unwrap_or(token);
            match value.len() {
                9 => Finess::parse(value).ok(),
                10 => Finess::from_id_nat_struct(value).ok(),
                _ => None,
            }
        }
        Some(_) => None,
    }
}

/// The legal entity a `partof` value designates: `Organization/org-<FINESS>`, `org-<FINESS>`, an identifier token.
pub fn finess_of_partof(value: &str) -> Option<Finess> {
    let id = value.strip_prefix("Organization/").unwrap_or(value);
    match id.strip_prefix(ID_PREFIX) {
        Some(finess) => Finess::parse(finess).ok(),
        None => finess_of_identifier(id),
    }
}

/// Resource id of a structure.
pub fn resource_id(finess: &Finess) -> String {
    format!("{ID_PREFIX}{finess}")
}

type Key = (Finess, bool);

fn key(s: &Structure<'_>) -> Key {
    (s.finess(), s.as_entity().is_some())
}

/// Every structure matching `params`, in a stable order (identifier order, the index's ranking for names, the
/// index's order otherwise).
pub fn find<'a>(index: &'a FinessIndex, params: &SearchParams) -> Vec<Structure<'a>> {
    let mut found: Option<Vec<Structure<'a>>> = None;
    let mut narrow = |candidates: Vec<Structure<'a>>| {
        found = Some(match found.take() {
            None => candidates,
            Some(current) => {
                let keep: HashSet<Key> = candidates.iter().map(key).collect();
                current
                    .into_iter()
                    .filter(|s| keep.contains(&key(s)))
                    .collect()
            }
        });
    };
    if let Some(tokens) = &params.identifier {
        let mut seen = HashSet::new();
        let hits = tokens
            .iter()
            .filter_map(|t| finess_of_identifier(t))
            .filter_map(|f| index.get(&f))
            .filter(|s| seen.insert(key(s)))
            .collect();
        narrow(hits);
    }
    if let Some(partof) = &params.partof {
        let sites = match finess_of_partof(partof) {
            Some(ej) => index
                .establishments_of(&ej)
                .map(Structure::Establishment)
                .collect(),
            None => Vec::new(),
        };
        narrow(sites);
    }
    if let Some(name) = &params.name {
        let query = SearchQuery::new(name)
            .include_closed(true)
            .limit(MAX_NAME_MATCHES);
        narrow(
            index
                .search(&query)
                .into_iter()
                .map(|hit| hit.structure)
                .collect(),
        );
    }
    let mut found = found.unwrap_or_else(|| {
        let data = index.dataset();
        data.entities
            .iter()
            .map(Structure::Entity)
            .chain(data.establishments.iter().map(Structure::Establishment))
            .collect()
    });
    if let Some(tokens) = &params.type_ {
        found.retain(|s| {
            let codings = type_codings(s);
            tokens.iter().any(|token| {
                let (system, code) = match token.split_once('|') {
                    Some((system, code)) => (Some(system), code),
                    None => (None, token.as_str()),
                };
                let kind = if s.as_entity().is_some() {
                    "FINEJ"
                } else {
                    "FINEG"
                };
                (system.is_none_or(|sys| sys == IDENTIFIER_TYPE_SYSTEM) && code == kind)
                    || codings
                        .iter()
                        .any(|(sys, c, _)| *c == code && system.is_none_or(|wanted| wanted == *sys))
            })
        });
    }
    found
}

/// `(system, code, display)` of each `Organization.type` coding of a structure.
fn type_codings<'a>(s: &Structure<'a>) -> Vec<(&'static str, &'a str, Option<&'a str>)> {
    let mut codings = Vec::new();
    match s {
        Structure::Entity(ej) => {
            codings.push((
                ORGANIZATION_TYPE_SYSTEM,
                "LEGAL-ENTITY",
                Some("Entité juridique"),
            ));
            if let Some(status) = ej.legal_status() {
                codings.push((LEGAL_STATUS_SYSTEM, status.code, status.label));
            }
            if let Some(category) = ej.category() {
                codings.push((CATEGORY_SYSTEM, category, ej.category_label()));
            }
        }
        Structure::Establishment(et) => {
            codings.push((
                ORGANIZATION_TYPE_SYSTEM,
                "GEOGRAPHICAL-ENTITY",
                Some("Entité géographique"),
            ));
            if let Some(category) = et.category() {
                codings.push((CATEGORY_SYSTEM, category, et.category_label()));
            }
        }
    }
    codings
}

/// The `Organization` resource of a structure.
pub fn organization_json(s: &Structure<'_>) -> Value {
    let finess = s.finess();
    let (kind, address, phone) = match s {
        Structure::Entity(ej) => ("FINEJ", ej.address(), ej.phone()),
        Structure::Establishment(et) => ("FINEG", et.address(), et.phone()),
    };
    let id_type =
        |code: &str| json!({ "coding": [{ "system": IDENTIFIER_TYPE_SYSTEM, "code": code }] });
    let types: Vec<Value> = type_codings(s)
        .into_iter()
        .map(|(system, code, display)| {
            let mut coding = json!({ "system": system, "code": code });
            if let Some(display) = display {
                coding["display"] = json!(display);
            }
            json!({ "coding": [coding] })
        })
        .collect();
    let mut org = json!({
        "resourceType": "Organization",
        "id": resource_id(&finess),
        "identifier": [
            { "use": "official", "type": id_type(kind), "system": FINESS_SYSTEM, "value": finess.as_str() },
            { "use": "official", "type": id_type("IDNST"), "system": ID_NAT_STRUCT_SYSTEM,
              "value": finess.to_id_nat_struct() },
        ],
        "active": s.active(),
        "type": types,
        "name": s.name(),
    });
    if let Some(address) = address_json(&address) {
        org["address"] = json!([address]);
    }
    if let Some(phone) = phone {
        org["telecom"] = json!([{ "system": "phone", "value": phone }]);
    }
    if let Structure::Establishment(et) = s {
        org["partOf"] = json!({
            "reference": format!("Organization/{}", resource_id(&et.entity)),
            "identifier": { "system": FINESS_SYSTEM, "value": et.entity.as_str() },
        });
    }
    org
}

/// `Organization.address` from a FINESS address: street line, then complement and lieu-dit; the city is the
/// postal line without its code. `None` when nothing is known.
pub fn address_json(address: &Address) -> Option<Value> {
    let street: Vec<&str> = [
        address.number,
        address.number_suffix,
        address.street_type,
        address.street,
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect();
    let street = street.join(" ");
    let lines: Vec<&str> = [Some(street.as_str()), address.complement, address.locality]
        .into_iter()
        .flatten()
        .filter(|l| !l.is_empty())
        .collect();
    let postal_code = address.postal_code;
    let city = address.postal_line.map(|line| {
        postal_code
            .and_then(|code| line.strip_prefix(code))
            .unwrap_or(line)
            .trim()
    });
    if lines.is_empty() && postal_code.is_none() && city.is_none() {
        return None;
    }
    let mut value = json!({ "line": lines });
    if let Some(code) = postal_code {
        value["postalCode"] = json!(code);
    }
    if let Some(city) = city.filter(|c| !c.is_empty()) {
        value["city"] = json!(city);
    }
    value["country"] = json!("FR");
    Some(value)
}

/// The `searchset` Bundle of one page of `matches`: `pairs` are the request's query parameters (repeated in the
/// links, `_offset` replaced), `base` the mount point's absolute URL.
pub fn search_bundle(
    matches: &[Structure<'_>],
    params: &SearchParams,
    pairs: &[(String, String)],
    base: &str,
) -> Value {
    let start = params.offset.min(matches.len());
    let end = (start + params.count).min(matches.len());
    let link = |offset: usize| {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "_offset")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if offset > 0 {
            query.push(format!("_offset={offset}"));
        }
        if query.is_empty() {
            format!("{base}/Organization")
        } else {
            format!("{base}/Organization?{}", query.join("&"))
        }
    };
    let mut links = vec![json!({ "relation": "self", "url": link(params.offset) })];
    if end < matches.len() {
        links.push(json!({ "relation": "next", "url": link(end) }));
    }
    let entries: Vec<Value> = matches[start..end]
        .iter()
        .map(|s| {
            json!({
                "fullUrl": format!("{base}/Organization/{}", resource_id(&s.finess())),
                "resource": organization_json(s),
                "search": { "mode": "match" },
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": matches.len(),
        "link": links,
        "entry": entries,
    })
}

/// An `OperationOutcome` with one error issue.
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }],
    })
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finess::model::{
        Dataset, Establishment, EstablishmentText, LegalEntity, LegalEntityText, LegalStatus,
    };

    const EJ: &str = "630790004";

    fn entity() -> LegalEntity {
        let text = LegalEntityText {
            name: "ASSOCIATION LES TILLEULS",
            address: Address {
                number: Some("12"),
                street_type: Some("R"),
                street: Some("DES LILAS"),
                locality: Some("BP 12"),
                postal_code: Some("63000"),
                postal_line: Some("63000 CLERMONT FERRAND"),
                ..Address::default()
            },
            phone: Some("0473000000"),
            legal_status: Some(LegalStatus {
                code: "60",
                label: Some("Association"),
            }),
            ..LegalEntityText::default()
        };
        LegalEntity::new(Finess::parse(EJ).unwrap(), &text).unwrap()
    }

    fn site(finess: &str, name: &str) -> Establishment {
        let text = EstablishmentText {
            name,
            category: Some("500"),
            category_label: Some("EHPAD"),
            ..EstablishmentText::default()
        };
        Establishment::new(
            Finess::parse(finess).unwrap(),
            Finess::parse(EJ).unwrap(),
            &text,
        )
        .unwrap()
    }

    /// Valid FINESS numbers (Luhn key) of department 63 for the sites.
    fn sites() -> Vec<String> {
        (1..=40u32)
            .map(|n| format!("6300{n:04}"))
            .filter_map(|stem| {
                (0..10)
                    .map(|k| format!("{stem}{k}"))
                    .find(|f| Finess::parse(f).is_ok())
            })
            .take(3)
            .collect()
    }

    fn index() -> (FinessIndex, Vec<String>) {
        let sites = sites();
        let data = Dataset {
            entities: vec![entity()],
            establishments: vec![
                site(&sites[0], "EHPAD LES TILLEULS"),
                site(&sites[1], "EHPAD LES ROSES"),
                site(&sites[2], "SSIAD DU PUY"),
            ],
        };
        (FinessIndex::build(data), sites)
    }

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn search(index: &FinessIndex, query: &[(&str, &str)]) -> Value {
        let pairs = pairs(query);
        let params = SearchParams::parse(&pairs).unwrap();
        let found = find(index, &params);
        search_bundle(&found, &params, &pairs, "http://sim/fhir")
    }

    fn finesses(bundle: &Value) -> Vec<String> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["resource"]["identifier"][0]["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn identifiers_of_every_system() {
        let (index, sites) = index();
        for token in [
            format!("{FINESS_SYSTEM}|{EJ}"),
            format!("http://finess.sante.gouv.fr|{EJ}"),
            format!("{ID_NAT_STRUCT_SYSTEM}|1{EJ}"),
            EJ.to_owned(),
            format!("1{EJ}"),
        ] {
            let bundle = search(&index, &[("identifier", &token)]);
            assert_eq!(finesses(&bundle), [EJ], "{token}");
            assert_eq!(bundle["total"], 1);
        }
        assert_eq!(
            search(&index, &[("identifier", "urn:oid:9.9|630790004")])["total"],
            0
        );
        let both = format!("{EJ},{FINESS_SYSTEM}|{}", sites[0]);
        assert_eq!(
            finesses(&search(&index, &[("identifier", &both)])),
            [EJ.to_owned(), sites[0].clone()]
        );
    }

    #[test]
    fn organization_shape() {
        let (index, sites) = index();
        let ej = &search(&index, &[("identifier", EJ)])["entry"][0];
        assert_eq!(
            ej["fullUrl"],
            format!("http://sim/fhir/Organization/org-{EJ}")
        );
        let org = &ej["resource"];
        assert_eq!(org["id"], format!("org-{EJ}"));
        assert_eq!(org["identifier"][0]["type"]["coding"][0]["code"], "FINEJ");
        assert_eq!(org["identifier"][1]["system"], ID_NAT_STRUCT_SYSTEM);
        assert_eq!(org["identifier"][1]["value"], format!("1{EJ}"));
        assert_eq!(org["type"][0]["coding"][0]["code"], "LEGAL-ENTITY");
        assert_eq!(org["type"][1]["coding"][0]["system"], LEGAL_STATUS_SYSTEM);
        assert_eq!(
            org["address"][0]["line"],
            json!(["12 R DES LILAS", "BP 12"])
        );
        assert_eq!(org["address"][0]["postalCode"], "63000");
        assert_eq!(org["address"][0]["city"], "CLERMONT FERRAND");
        assert_eq!(org["telecom"][0]["value"], "0473000000");
        assert!(org.get("partOf").is_none());

        let site = &search(&index, &[("identifier", &sites[0])])["entry"][0]["resource"];
        assert_eq!(site["identifier"][0]["type"]["coding"][0]["code"], "FINEG");
        assert_eq!(site["type"][0]["coding"][0]["code"], "GEOGRAPHICAL-ENTITY");
        assert_eq!(
            site["type"][1]["coding"][0],
            json!({"system": CATEGORY_SYSTEM, "code": "500", "display": "EHPAD"})
        );
        assert_eq!(
            site["partOf"]["reference"],
            format!("Organization/org-{EJ}")
        );
        assert!(site.get("address").is_none());
    }

    #[test]
    fn partof_name_type_and_paging() {
        let (index, sites) = index();
        for partof in [
            format!("Organization/org-{EJ}"),
            format!("org-{EJ}"),
            EJ.to_owned(),
        ] {
            assert_eq!(
                search(&index, &[("partof", &partof)])["total"],
                3,
                "{partof}"
            );
        }
        let page1 = search(
            &index,
            &[
                ("partof", &format!("Organization/org-{EJ}")),
                ("_count", "2"),
            ],
        );
        assert_eq!(finesses(&page1), sites[..2]);
        let next = page1["link"][1]["url"].as_str().unwrap();
        assert_eq!(page1["link"][1]["relation"], "next");
        assert_eq!(
            next,
            format!(
                "http://sim/fhir/Organization?partof=Organization%2Forg-{EJ}&_count=2&_offset=2"
            )
        );
        let page2 = search(
            &index,
            &[
                ("partof", &format!("Organization/org-{EJ}")),
                ("_count", "2"),
                ("_offset", "2"),
            ],
        );
        assert_eq!(finesses(&page2), sites[2..]);
        assert_eq!(page2["link"].as_array().unwrap().len(), 1);

        let ehpad = search(&index, &[("name", "ehpad")]);
        assert_eq!(ehpad["total"], 2);
        assert_eq!(
            search(&index, &[("name", "ehpad"), ("partof", "org-999999999")])["total"],
            0
        );
        assert_eq!(search(&index, &[("type", "LEGAL-ENTITY")])["total"], 1);
        assert_eq!(
            search(&index, &[("type", &format!("{CATEGORY_SYSTEM}|500"))])["total"],
            3
        );
        assert_eq!(
            search(&index, &[("type", "FINEG"), ("name", "ssiad")])["total"],
            1
        );
        assert_eq!(search(&index, &[])["total"], 4);
        assert_eq!(
            search(&index, &[])["link"][0]["url"],
            "http://sim/fhir/Organization"
        );
    }

    #[test]
    fn parameters_and_outcome() {
        assert_eq!(
            SearchParams::parse(&pairs(&[("_count", "0")]))
                .unwrap()
                .count,
            1
        );
        assert_eq!(
            SearchParams::parse(&pairs(&[("_count", "5000")]))
                .unwrap()
                .count,
            MAX_COUNT
        );
        assert!(SearchParams::parse(&pairs(&[("_count", "x")])).is_err());
        assert!(SearchParams::parse(&pairs(&[("_offset", "-1")])).is_err());
        assert_eq!(
            SearchParams::parse(&pairs(&[("_format", "json")]))
                .unwrap()
                .count,
            DEFAULT_COUNT
        );
        assert_eq!(
            operation_outcome("security", "no")["issue"][0]["code"],
            "security"
        );
        assert_eq!(encode("a b|c/é"), "a%20b%7Cc%2F%C3%A9");
    }
}

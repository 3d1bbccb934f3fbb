//! Online FINESS lookups through the Annuaire Santé FHIR API (`segur-annuaire`), answered in the same JSON shape
//! as the national-file index (`GET /v1/finess/{id}`).
//!
//! Follows `spec/finess.md`, section "Annuaire Santé FHIR API": `Organization?identifier=<FINESS system>|<id>`,
//! `name=`, `type=`, `partof=`, `next` links followed by the client.
//!
//! # Choices
//!
//! - **The national file stays the default source.** The daemon asks the Annuaire only when the caller says so
//!   ([`Source::Online`], or [`Source::Auto`] when the local index has nothing), and only when an API base is
//!   configured (`finess.fhir_base_url`; in sandbox mode the embedded FHIR simulator). Online answers carry
//!   `"source": "annuaire"` so a DUI never mistakes them for the imported file.
//! - **Same shape, fewer facts.** The Annuaire publishes no legal status label or coordinates in what the client
//!   reads; those fields are absent. The category label, family and Ségur eligibility come from the same table as
//!   for the file ([`Category`]). A legal entity's establishments are fetched with `partof=Organization/<id>`
//!   (at most [`MAX_PAGES`] pages); a site's legal entity is given as the Annuaire reference it names, not read
//!   from the id (the id format is the server's business).
//! - **Transport trust**: the production API presents a public web certificate, so the client built by
//!   [`client`] trusts the system roots there; in the sandbox it trusts the embedded test roots.

use serde_json::{Value, json};
use std::time::Duration;

use segur_annuaire::{AnnuaireClient, AnnuaireError, FINESS_SYSTEM, Org, OrgQuery};

use super::{Category, Finess};

/// Pages fetched at most for one online answer.
pub const MAX_PAGES: usize = 10;

/// Where `GET /v1/finess…` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The imported national file only (default).
    #[default]
    Local,
    /// The Annuaire Santé API only.
    Online,
    /// The national file, then the Annuaire when the file has no answer.
    Auto,
}

/// A client for the Annuaire at `base_url`: system roots (`trust = None`) or the given rustls configuration.
pub fn client(
    base_url: &str,
    api_key: Option<String>,
    trust: Option<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<AnnuaireClient, AnnuaireError> {
    let url = reqwest::Url::parse(base_url)
        .map_err(|e| AnnuaireError::InvalidBaseUrl(format!("{base_url}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !loopback {
        return Err(AnnuaireError::InvalidBaseUrl(format!(
            "{base_url}: the Annuaire API key travels with every request, so https is required"
        )));
    }
    // Without a preconfigured TLS backend reqwest uses the process-wide rustls provider: make sure there is one.
    crate::pki::tls::install_default_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout);
    if let Some(config) = trust {
        builder = builder.tls_backend_preconfigured(config);
    }
    let http = builder
        .build()
        .map_err(|e| AnnuaireError::Transport(e.to_string()))?;
    AnnuaireClient::new(base_url, api_key, http)
}

/// The structure with this FINESS number on the Annuaire (`None` when it has none), in the API's JSON shape.
pub async fn lookup(
    client: &AnnuaireClient,
    finess: &Finess,
) -> Result<Option<Value>, AnnuaireError> {
    let query = OrgQuery {
        identifier: Some(format!("{FINESS_SYSTEM}|{finess}")),
        ..OrgQuery::default()
    };
    let wanted = finess.to_string();
    let orgs = client.organizations(&query).await?;
    let Some(org) = orgs
        .into_iter()
        .find(|o| o.finess.as_deref() == Some(&wanted))
    else {
        return Ok(None);
    };
    let mut value = org_json(&org);
    if is_entity(&org) {
        let sites = client
            .organizations(&OrgQuery {
                partof: Some(format!("Organization/{}", org.id)),
                count: Some(100),
                max_pages: MAX_PAGES,
                ..OrgQuery::default()
            })
            .await?;
        value["eligible_segur_ms"] = json!(sites.iter().any(|s| eligible(s.category.as_deref())));
        value["establishments"] = Value::Array(sites.iter().map(org_json).collect());
    } else {
        value["entity"] = org
            .partof
            .as_ref()
            .map_or(Value::Null, |r| json!({ "reference": r }));
    }
    Ok(Some(value))
}

/// Structures whose name starts with the words of `name`, optionally of a category, at most `limit`.
pub async fn search(
    client: &AnnuaireClient,
    name: &str,
    category: Option<&str>,
    department: Option<&str>,
    limit: usize,
) -> Result<Vec<Value>, AnnuaireError> {
    let query = OrgQuery {
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        type_: category.map(|c| format!("{}|{c}", segur_annuaire::CATEGORY_SYSTEM)),
        count: Some(limit.clamp(1, 100) as u32),
        max_pages: MAX_PAGES,
        ..OrgQuery::default()
    };
    let orgs = client.organizations(&query).await?;
    Ok(orgs
        .iter()
        .filter(|o| department.is_none_or(|d| in_department(o, d)))
        .take(limit)
        .map(org_json)
        .collect())
}

fn is_entity(org: &Org) -> bool {
    org.kind.as_deref() == Some("FINEJ")
}

fn eligible(code: Option<&str>) -> bool {
    code.and_then(Category::lookup)
        .is_some_and(|c| c.eligible_segur_ms)
}

/// Whether the postal code puts the structure in department `d` (`2A`/`2B`: postal codes `20…`; overseas: the
/// three digits).
fn in_department(org: &Org, d: &str) -> bool {
    let Some(code) = org.address.as_ref().and_then(|a| a.postal_code.as_deref()) else {
        return false;
    };
    match d {
        "2A" | "2B" => code.starts_with("20"),
        _ => code.starts_with(d),
    }
}

/// One Annuaire organisation in the shape of the index answers (`finess`, `kind`, `name`, `category`, …).
pub fn org_json(org: &Org) -> Value {
    let category = org.category.as_deref().map_or(Value::Null, |code| {
        let info = Category::lookup(code);
        json!({
            "code": code,
            "label": info.map(|i| i.label.to_string()),
            "family": info.map(|i| i.family),
        })
    });
    let address = org.address.as_ref().map_or(Value::Null, |a| {
        json!({
            "lines": a.lines,
            "postal_code": a.postal_code,
            "city": a.city,
        })
    });
    let mut v = json!({
        "finess": org.finess,
        "kind": if is_entity(org) { "EJ" } else { "ET" },
        "name": org.name,
        "category": category,
        "address": address,
        "id_nat_struct": org.id_nat_struct,
        "source": "annuaire",
        "annuaire_id": org.id,
    });
    if !is_entity(org) {
        v["eligible_segur_ms"] = json!(eligible(org.category.as_deref()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use segur_annuaire::OrgAddress;

    fn site(category: &str, postal: &str) -> Org {
        Org {
            id: "org-630790004".into(),
            finess: Some("630790004".into()),
            id_nat_struct: Some("1630790004".into()),
            name: "EHPAD LES TILLEULS".into(),
            kind: Some("FINEG".into()),
            category: Some(category.into()),
            partof: Some("Organization/org-630789998".into()),
            address: Some(OrgAddress {
                lines: vec!["12 RUE DES LILAS".into()],
                postal_code: Some(postal.into()),
                city: Some("CLERMONT-FERRAND".into()),
            }),
        }
    }

    #[test]
    fn site_maps_to_the_index_shape_with_eligibility() {
        let v = org_json(&site("500", "63000"));
        assert_eq!(v["kind"], "ET");
        assert_eq!(v["finess"], "630790004");
        assert_eq!(v["category"]["code"], "500");
        assert!(v["category"]["label"].is_string(), "{v}");
        assert_eq!(v["eligible_segur_ms"], true);
        assert_eq!(v["address"]["postal_code"], "63000");
        assert_eq!(v["source"], "annuaire");
        // A hospital category is not médico-social.
        assert_eq!(org_json(&site("355", "63000"))["eligible_segur_ms"], false);
    }

    #[test]
    fn entity_has_no_site_fields_and_department_filter_reads_postal_codes() {
        let mut ej = site("500", "20090");
        ej.kind = Some("FINEJ".into());
        ej.category = None;
        let v = org_json(&ej);
        assert_eq!(v["kind"], "EJ");
        assert!(v.get("eligible_segur_ms").is_none());
        assert!(in_department(&ej, "2A"));
        assert!(!in_department(&ej, "63"));
        assert!(in_department(&site("500", "97411"), "974"));
    }
}

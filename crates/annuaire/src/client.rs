//! The transport: one `GET` per page through fhir-sdk's R4B client, following `next` links.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhir_sdk::client::{Client, RequestSettings};
use fhir_sdk::r4b::resources::Organization;
use fhir_sdk::version::FhirR4B;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderName, HeaderValue};

use crate::AnnuaireError;
use crate::org::{Org, OrgPage, page_from_bundle};

/// Base URL of the production Annuaire Santé FHIR API.
pub const PRODUCTION_BASE_URL: &str = "https://gateway.api.esante.gouv.fr/fhir/v2/";

/// The header carrying the API key (`ESANTE-API-KEY`; header names are case-insensitive).
const API_KEY_HEADER: &str = "esante-api-key";
/// What is asked for: FHIR JSON, without the `fhirVersion=4.3` fhir-sdk's R4B client would add.
const ACCEPT_FHIR_JSON: &str = "application/fhir+json";

/// An Annuaire API key: `Debug` never shows it; the raw value only through [`ApiKey::secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The raw key, for the header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Criteria of an `Organization` search; every `Some` criterion is sent, the server ANDs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgQuery {
    /// `identifier` token: `system|value` (e.g. `https://finess.esante.gouv.fr|630790004`,
    /// `urn:oid:1.2.250.1.71.4.2.2|1630790004`) or a bare value.
    pub identifier: Option<String>,
    /// `name` (raison sociale; the server matches the beginning of the name).
    pub name: Option<String>,
    /// `type` token, e.g. `GEOGRAPHICAL-ENTITY` or `<TRE_R66 system>|500`.
    pub type_: Option<String>,
    /// `partof`: the parent legal entity, `Organization/<id>`.
    pub partof: Option<String>,
    /// `_count`: page size asked of the server (the server may cap it); `None` leaves its default.
    pub count: Option<u32>,
    /// Pages fetched at most (0 counts as 1). The search stops there even if the server has more
    /// ([`OrgSearch::truncated`] tells).
    pub max_pages: usize,
}

impl Default for OrgQuery {
    /// No criterion, server page size, one page.
    fn default() -> OrgQuery {
        OrgQuery {
            identifier: None,
            name: None,
            type_: None,
            partof: None,
            count: None,
            max_pages: 1,
        }
    }
}

/// The result of [`AnnuaireClient::search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSearch {
    /// Organisations of every page fetched, in server order.
    pub orgs: Vec<Org>,
    /// `Bundle.total` of the first page, when the server counts.
    pub total: Option<u32>,
    /// Pages fetched.
    pub pages: usize,
    /// Whether the server had more pages than `max_pages` allowed.
    pub truncated: bool,
}

/// The URL of the first page of `query` under `base` (`{base}Organization?…`, parameters in a fixed order).
pub fn search_url(base: &Url, query: &OrgQuery) -> Url {
    let mut url = base
        .join("Organization")
        .expect("a relative path joins any http(s) base");
    {
        let mut pairs = url.query_pairs_mut();
        let criteria = [
            ("identifier", &query.identifier),
            ("name", &query.name),
            ("type", &query.type_),
            ("partof", &query.partof),
        ];
        for (key, value) in criteria {
            if let Some(value) = value {
                pairs.append_pair(key, value);
            }
        }
        if let Some(count) = query.count {
            pairs.append_pair("_count", &count.to_string());
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

/// One page fetch, as shown to a [`PageObserver`].
#[derive(Debug)]
pub struct PageFetch<'a> {
    /// The URL asked for.
    pub url: &'a Url,
    /// The page as FHIR JSON (the parsed Bundle serialised again), or the error.
    pub result: Result<String, String>,
    /// How long it took.
    pub duration: Duration,
}

/// Sees every page fetch (evidence recording by the gateway); never called when not set.
pub type PageObserver = Arc<dyn Fn(PageFetch<'_>) + Send + Sync>;

/// Client of the Annuaire Santé FHIR API. Cheap to clone (shares the HTTP client).
#[derive(Clone)]
pub struct AnnuaireClient {
    fhir: Client<FhirR4B>,
    base: Url,
    observer: Option<PageObserver>,
}

impl fmt::Debug for AnnuaireClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnnuaireClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl AnnuaireClient {
    /// A client for the API at `base_url` (e.g. [`PRODUCTION_BASE_URL`]; a missing final `/` is added), sending
    /// `api_key` in `ESANTE-API-KEY` when given, over `http` (the gateway's shared reqwest client: TLS settings,
    /// proxy and timeouts are its own).
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        http: reqwest::Client,
    ) -> Result<Self, AnnuaireError> {
        let mut base = Url::parse(base_url)
            .map_err(|e| AnnuaireError::InvalidBaseUrl(format!("{base_url}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(AnnuaireError::InvalidBaseUrl(format!(
                "{base_url}: not an http(s) URL"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        // Retries are the caller's decision (`AnnuaireError::is_transient`), not fhir-sdk's fixed 3 × 1 s.
        let mut settings = RequestSettings::default().retries(0);
        if let Some(key) = api_key.map(ApiKey::new) {
            let mut value =
                HeaderValue::from_str(key.secret()).map_err(|_| AnnuaireError::InvalidApiKey)?;
            value.set_sensitive(true);
            settings = settings.header(HeaderName::from_static(API_KEY_HEADER), value);
        }
        let fhir = Client::<FhirR4B>::builder()
            .base_url(base.clone())
            .client(http)
            .request_settings(settings)
            .build()
            .map_err(|e| AnnuaireError::InvalidBaseUrl(e.to_string()))?;
        Ok(AnnuaireClient {
            fhir,
            base,
            observer: None,
        })
    }

    /// Shows every page fetch to `observer` (off by default).
    pub fn with_observer(mut self, observer: PageObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The base URL, normalised (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Searches organisations, following `next` links up to `query.max_pages`; the organisations only.
    pub async fn organizations(&self, query: &OrgQuery) -> Result<Vec<Org>, AnnuaireError> {
        Ok(self.search(query).await?.orgs)
    }

    /// Searches organisations, following `next` links up to `query.max_pages`, and says whether it stopped early.
    ///
    /// A `next` link is resolved against the page it came from; one to another origin is refused
    /// ([`AnnuaireError::ForeignNextLink`]: the API key would go with it); a link already fetched ends the search.
    pub async fn search(&self, query: &OrgQuery) -> Result<OrgSearch, AnnuaireError> {
        let max_pages = query.max_pages.max(1);
        let mut url = search_url(&self.base, query);
        let mut seen = HashSet::new();
        let mut result = OrgSearch {
            orgs: Vec::new(),
            total: None,
            pages: 0,
            truncated: false,
        };
        loop {
            seen.insert(url.clone());
            let page = self.fetch_page(url.clone()).await?;
            result.pages += 1;
            if result.pages == 1 {
                result.total = page.total;
            }
            result.orgs.extend(page.orgs);
            let Some(next) = page.next else { break };
            let next = url
                .join(&next)
                .map_err(|e| AnnuaireError::Decode(format!("bad next link {next:?}: {e}")))?;
            if next.origin() != self.base.origin() {
                return Err(AnnuaireError::ForeignNextLink(next.to_string()));
            }
            if seen.contains(&next) {
                break;
            }
            if result.pages >= max_pages {
                result.truncated = true;
                break;
            }
            url = next;
        }
        Ok(result)
    }

    /// One page: `GET url` with our `Accept` (fhir-sdk adds the API key from its request settings).
    async fn fetch_page(&self, url: Url) -> Result<OrgPage, AnnuaireError> {
        let started = Instant::now();
        let asked = url.clone();
        let page = self
            .fhir
            .search_custom::<Organization, _>(move |http| {
                http.get(url).header(ACCEPT, ACCEPT_FHIR_JSON)
            })
            .await;
        if let Some(observe) = &self.observer {
            let result = match &page {
                Ok(p) => serde_json::to_string(p.bundle()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            observe(PageFetch {
                url: &asked,
                result,
                duration: started.elapsed(),
            });
        }
        Ok(page_from_bundle(page?.bundle()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_page_url() {
        let base = Url::parse(PRODUCTION_BASE_URL).unwrap();
        let query = OrgQuery {
            identifier: Some("https://finess.esante.gouv.fr|630790004".into()),
            count: Some(2),
            ..OrgQuery::default()
        };
        assert_eq!(
            search_url(&base, &query).as_str(),
            "https://gateway.api.esante.gouv.fr/fhir/v2/Organization?\
             identifier=https%3A%2F%2Ffiness.esante.gouv.fr%7C630790004&_count=2"
        );
        let all = search_url(&base, &OrgQuery::default());
        assert_eq!(
            all.as_str(),
            "https://gateway.api.esante.gouv.fr/fhir/v2/Organization"
        );
        let query = OrgQuery {
            name: Some("EHPAD les Tilleuls".into()),
            type_: Some("GEOGRAPHICAL-ENTITY".into()),
            partof: Some("Organization/org-1".into()),
            ..OrgQuery::default()
        };
        assert_eq!(
            search_url(&base, &query).query(),
            Some("name=EHPAD+les+Tilleuls&type=GEOGRAPHICAL-ENTITY&partof=Organization%2Forg-1")
        );
    }

    #[test]
    fn new_normalises_and_rejects() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let client = AnnuaireClient::new("https://h/fhir/v2", None, http.clone()).unwrap();
        assert_eq!(client.base_url().as_str(), "https://h/fhir/v2/");
        assert!(matches!(
            AnnuaireClient::new("ftp://h/", None, http.clone()),
            Err(AnnuaireError::InvalidBaseUrl(_))
        ));
        assert!(matches!(
            AnnuaireClient::new("not a url", None, http.clone()),
            Err(AnnuaireError::InvalidBaseUrl(_))
        ));
        assert!(matches!(
            AnnuaireClient::new("https://h/", Some("a\nb".into()), http),
            Err(AnnuaireError::InvalidApiKey)
        ));
    }

    #[test]
    fn api_key_debug_is_redacted() {
        let key = ApiKey::new("s3cret");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(key.secret(), "s3cret");
    }
}

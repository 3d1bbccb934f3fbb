//! Provider metadata: discovery with the PSC wallet path, JWKS, cached with a refresh interval.
//!
//! PSC publishes its discovery document at `{issuer}/.well-known/wallet-openid-configuration` (spec `psc.md`), and its
//! `authorization_endpoint` is on another host (`wallet.…`) than the issuer (`auth.…`). `openidconnect`'s own
//! `discover_async` only knows the standard path, so the document is fetched here — wallet path first, then the
//! standard `/.well-known/openid-configuration` when the wallet path answers 404 (other OIDC providers, tests) — and
//! deserialised into `openidconnect`'s [`ProviderMetadata`], which checks the required fields. The issuer in the
//! document must equal the configured issuer (OpenID Connect Discovery §4.3). Nothing requires the endpoints to share
//! the issuer's host.

use super::PscError;
use super::http::OidcHttp;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, ProviderMetadata};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The PSC path of the discovery document, relative to the issuer.
pub const WALLET_DISCOVERY: &str = "/.well-known/wallet-openid-configuration";
/// The standard path (fallback).
pub const STANDARD_DISCOVERY: &str = "/.well-known/openid-configuration";

/// Discovery fields `openidconnect` does not model: end-session (RP-initiated logout) and CIBA.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PscExtraMetadata {
    /// RP-Initiated Logout 1.0 §2.1.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// CIBA Core 1.0 §4.
    #[serde(default)]
    pub backchannel_authentication_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for PscExtraMetadata {}

/// Provider metadata with the PSC extras.
pub type PscMetadata = ProviderMetadata<
    PscExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The URLs tried for discovery, in order: the configured override alone, else wallet path then standard path.
pub fn discovery_urls(issuer: &str, override_url: Option<&str>) -> Vec<String> {
    match override_url {
        Some(u) => vec![u.to_string()],
        None => {
            let base = issuer.trim_end_matches('/');
            vec![
                format!("{base}{WALLET_DISCOVERY}"),
                format!("{base}{STANDARD_DISCOVERY}"),
            ]
        }
    }
}

/// Parses a discovery document and checks its issuer (pure).
pub fn parse_discovery(
    body: &[u8],
    expected_issuer: &str,
    url: &str,
) -> Result<PscMetadata, PscError> {
    let metadata: PscMetadata = serde_json::from_slice(body).map_err(|e| PscError::Discovery {
        url: url.to_string(),
        message: format!("not a valid OpenID provider document: {e}"),
    })?;
    let got = metadata.issuer().as_str().trim_end_matches('/');
    if got != expected_issuer.trim_end_matches('/') {
        return Err(PscError::Discovery {
            url: url.to_string(),
            message: format!("issuer {got:?} is not the configured {expected_issuer:?}"),
        });
    }
    Ok(metadata)
}

async fn get(http: &OidcHttp, url: &str) -> Result<(u16, Vec<u8>), PscError> {
    http.send(http.inner().get(url).header("accept", "application/json"))
        .await
        .map_err(|e| PscError::Unavailable(format!("{url}: {e}")))
}

/// Fetches discovery (with fallback) and the JWKS.
pub async fn fetch(
    http: &OidcHttp,
    issuer: &str,
    override_url: Option<&str>,
) -> Result<PscMetadata, PscError> {
    let urls = discovery_urls(issuer, override_url);
    let mut last = None;
    for url in &urls {
        let (status, body) = get(http, url).await?;
        match status {
            200 => {
                let metadata = parse_discovery(&body, issuer, url)?;
                let jwks_url = metadata.jwks_uri().to_string();
                let (status, body) = get(http, &jwks_url).await?;
                if status != 200 {
                    return Err(PscError::Discovery {
                        url: jwks_url,
                        message: format!("HTTP {status}"),
                    });
                }
                let jwks: CoreJsonWebKeySet =
                    serde_json::from_slice(&body).map_err(|e| PscError::Discovery {
                        url: jwks_url,
                        message: format!("not a JWK set: {e}"),
                    })?;
                return Ok(metadata.set_jwks(jwks));
            }
            404 => last = Some(url.clone()),
            other => {
                return Err(PscError::Discovery {
                    url: url.clone(),
                    message: format!("HTTP {other}"),
                });
            }
        }
    }
    Err(PscError::Discovery {
        url: last.unwrap_or_default(),
        message: "no discovery document (404 on every path)".into(),
    })
}

/// Discovery + JWKS kept in memory and fetched again after `refresh`.
#[derive(Debug)]
pub struct MetadataCache {
    issuer: String,
    override_url: Option<String>,
    refresh: Duration,
    current: RwLock<Option<(Instant, Arc<PscMetadata>)>>,
}

impl MetadataCache {
    /// An empty cache.
    pub fn new(issuer: String, override_url: Option<String>, refresh: Duration) -> Self {
        MetadataCache {
            issuer,
            override_url,
            refresh,
            current: RwLock::new(None),
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The cached metadata, fetched when missing or older than the refresh interval. When a refresh fails the
    /// previous copy is kept and used (a provider hiccup must not break logins in progress).
    pub async fn get(&self, http: &OidcHttp) -> Result<Arc<PscMetadata>, PscError> {
        let cached = self.current.read().ok().and_then(|c| c.clone());
        if let Some((at, m)) = &cached
            && at.elapsed() < self.refresh
        {
            return Ok(m.clone());
        }
        match fetch(http, &self.issuer, self.override_url.as_deref()).await {
            Ok(m) => {
                let m = Arc::new(m);
                if let Ok(mut c) = self.current.write() {
                    *c = Some((Instant::now(), m.clone()));
                }
                Ok(m)
            }
            Err(e) => match cached {
                Some((_, m)) => {
                    tracing::warn!(error = %e, "PSC metadata refresh failed; keeping the previous copy");
                    Ok(m)
                }
                None => Err(e),
            },
        }
    }

    /// Forgets the cached copy (next use fetches again), e.g. after a signature from an unknown key.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.current.write() {
            *c = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_tries_wallet_then_standard_path_unless_overridden() {
        let urls = discovery_urls("https://auth.example/realms/w/", None);
        assert_eq!(
            urls,
            [
                "https://auth.example/realms/w/.well-known/wallet-openid-configuration",
                "https://auth.example/realms/w/.well-known/openid-configuration"
            ]
        );
        assert_eq!(discovery_urls("x", Some("https://o/d")), ["https://o/d"]);
    }

    #[test]
    fn authorization_endpoint_on_another_host_and_wrong_issuer() {
        let doc = serde_json::json!({
            "issuer": "https://auth.example/realms/w",
            "authorization_endpoint": "https://wallet.example/auth",
            "token_endpoint": "https://auth.example/realms/w/token",
            "jwks_uri": "https://auth.example/realms/w/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "end_session_endpoint": "https://auth.example/realms/w/logout"
        });
        let body = serde_json::to_vec(&doc).unwrap();
        let m = parse_discovery(&body, "https://auth.example/realms/w", "u").unwrap();
        assert_eq!(
            m.authorization_endpoint().as_str(),
            "https://wallet.example/auth"
        );
        assert_eq!(
            m.additional_metadata().end_session_endpoint.as_deref(),
            Some("https://auth.example/realms/w/logout")
        );
        let err = parse_discovery(&body, "https://evil.example", "u").unwrap_err();
        assert_eq!(err.code(), "psc.discovery");
        assert_eq!(
            parse_discovery(b"{", "x", "u").unwrap_err().code(),
            "psc.discovery"
        );
    }
}

//! Pro Santé Connect (PSC) login: OpenID Connect with the `openidconnect` crate, typed professional identity,
//! server-side sessions, CIBA. Contract: `shared/spec/psc.md`; protocols: OpenID Connect Core 1.0, RFC 7636 (PKCE),
//! RP-Initiated Logout 1.0, CIBA Core 1.0.
//!
//! - [`metadata`]: discovery at `{issuer}/.well-known/wallet-openid-configuration`, falling back to the standard
//!   path; JWKS; cached with a refresh interval.
//! - [`flow`]: authorization code + PKCE S256 + state + nonce, `acr_values=eidas1`; the ID token is verified by
//!   `openidconnect` (RS256/ES256 through the JWKS, HS256 with the client secret; issuer, audience, expiry, nonce)
//!   and its `acr` must be the configured one (`eidas1`); UserInfo as JSON or signed JWT; refresh; logout.
//! - [`ciba`]: back-channel login pushed to the e-CPS app, polling honouring `interval` and `slow_down`.
//! - [`professional`]: the typed identity; [`session`]: the server-side store with idle/absolute timeouts.
//!
//! Choices:
//! - The state (CSRF token), PKCE verifier and nonce stay in the daemon, keyed by `state`, and are bound to the
//!   browser with a random cookie: a callback whose state is unknown, expired, already used, or started in another
//!   browser is refused (`psc.state_mismatch`).
//! - All back-channel calls go through [`http::OidcHttp`], the project's reqwest client. Its trust roots are
//!   `psc.trust_roots` (default: `pki.trust_roots`). *(verify)* The production PSC hosts present publicly trusted
//!   web certificates, not IGC Santé ones: a real site points `psc.trust_roots` at the system bundle. Mutual TLS
//!   (`psc.certificate`, default none) is presented when configured, which the spec says production may expect at
//!   the token endpoint *(verify per realm)*.
//! - CIBA: the endpoint comes from the discovery field `backchannel_authentication_endpoint` (the spec's
//!   `{issuer}/protocol/openid-connect/ext/ciba/auth` is Keycloak's, which publishes it there) *(verify)*.
//! - Sessions live in memory only (the spec allows memory or encryption at rest): a daemon restart ends them and
//!   professionals log in again; nothing secret is ever written to disk.
//! - Tokens never leave the daemon and are never logged: `openidconnect`'s token types and [`Secret`] redact
//!   `Debug`; errors never include a token.

pub mod ciba;
mod error;
pub mod flow;
pub mod http;
pub mod metadata;
pub mod professional;
pub mod session;

pub use error::PscError;
pub use flow::{LoginDone, LoginStart, Psc, SessionView};
pub use professional::{Activity, Exercice, NationalId, NationalIdKind, Professional};

use crate::secret::Secret;
use openidconnect::url::Url;

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic.
    #[default]
    Basic,
    /// `client_secret_post`: in the form body.
    Post,
}

/// Which `return_to` URLs the login accepts.
#[derive(Debug, Clone, Default)]
pub struct ReturnToPolicy {
    /// URL prefixes (scheme, host, port equal; path starting with the prefix's path).
    pub allow: Vec<String>,
    /// Also accept any `http(s)` URL on a loopback host (sandbox).
    pub loopback: bool,
}

impl ReturnToPolicy {
    /// Checks `return_to` (pure).
    pub fn check(&self, return_to: &str) -> Result<Url, PscError> {
        let refused = || PscError::ReturnToRefused(return_to.to_string());
        let url = Url::parse(return_to).map_err(|_| refused())?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(refused());
        }
        let loopback = match url.host() {
            Some(openidconnect::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if self.loopback && loopback {
            return Ok(url);
        }
        let allowed = self
            .allow
            .iter()
            .filter_map(|a| Url::parse(a).ok())
            .any(|a| {
                a.scheme() == url.scheme()
                    && a.host_str() == url.host_str()
                    && a.port_or_known_default() == url.port_or_known_default()
                    && url.path().starts_with(a.path())
            });
        if allowed { Ok(url) } else { Err(refused()) }
    }
}

/// Everything the client needs, built from `[psc]` (see [`crate::config::PscConfig`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer.
    pub issuer: String,
    /// Discovery URL override.
    pub discovery_url: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client secret (also the HS256 key).
    pub client_secret: Option<Secret>,
    /// Token endpoint authentication.
    pub client_auth: ClientAuth,
    /// Our callback.
    pub redirect_uri: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
    /// Required `acr`.
    pub acr: String,
    /// `return_to` policy.
    pub return_to: ReturnToPolicy,
    /// Metadata refresh interval.
    pub metadata_refresh: std::time::Duration,
    /// How long a started login waits for its callback.
    pub login_timeout: time::Duration,
    /// Session timeouts.
    pub sessions: session::Timeouts,
    /// Refresh the access token when it expires within this margin.
    pub refresh_margin: time::Duration,
}

impl Settings {
    /// Defaults for `issuer` / `client_id`, with the spec's scope and acr.
    pub fn new(issuer: &str, client_id: &str, redirect_uri: &str) -> Settings {
        Settings {
            issuer: issuer.to_string(),
            discovery_url: None,
            client_id: client_id.to_string(),
            client_secret: None,
            client_auth: ClientAuth::Basic,
            redirect_uri: redirect_uri.to_string(),
            scopes: vec!["scope_all".into()],
            acr: "eidas1".into(),
            return_to: ReturnToPolicy::default(),
            metadata_refresh: std::time::Duration::from_secs(3600),
            login_timeout: time::Duration::minutes(10),
            sessions: session::Timeouts {
                idle: time::Duration::minutes(30),
                absolute: time::Duration::hours(12),
            },
            refresh_margin: time::Duration::seconds(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_allow_list_and_loopback() {
        let p = ReturnToPolicy {
            allow: vec!["https://dui.example/app/".into()],
            loopback: false,
        };
        assert!(p.check("https://dui.example/app/done?x=1").is_ok());
        for bad in [
            "https://dui.example/other",
            "https://dui.example.evil/app/",
            "http://dui.example/app/",
            "https://dui.example:444/app/",
            "https://u@dui.example/app/",
            "javascript:alert(1)",
            "/relative",
            "http://127.0.0.1:3000/",
        ] {
            assert_eq!(
                p.check(bad).unwrap_err().code(),
                "psc.return_to_refused",
                "{bad}"
            );
        }
        let sandbox = ReturnToPolicy {
            allow: vec![],
            loopback: true,
        };
        assert!(sandbox.check("http://127.0.0.1:3000/cb").is_ok());
        assert!(sandbox.check("http://localhost/cb").is_ok());
        assert!(sandbox.check("http://[::1]:1/").is_ok());
        assert!(sandbox.check("http://10.0.0.1/").is_err());
    }
}

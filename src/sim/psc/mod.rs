//! The Pro Santé Connect simulator: a real OpenID Connect provider on loopback, shaped like the PSC realm
//! (`shared/spec/psc.md`).
//!
//! - Issuer `https://127.0.0.1:<port>/auth/realms/esante-wallet`; discovery **only** at the wallet path
//!   (`/.well-known/wallet-openid-configuration`, the standard path answers 404 as PSC's does not advertise it);
//!   the authorization endpoint is on **another host name**, `https://localhost:<port>/auth`, as PSC's
//!   `wallet.…` host differs from its `auth.…` issuer host.
//! - Authorization code with PKCE (S256 checked), `acr_values`, nonce; an HTML page listing the
//!   [`professionals`] (a form a person can click in a browser; the tests post it); token endpoint with
//!   `client_secret_basic` and `client_secret_post`, refresh tokens (rotated); UserInfo as JSON or signed JWT;
//!   end-session (`GET`/`POST`, `id_token_hint`); CIBA (`…/ext/ciba/auth`, poll mode with `slow_down`).
//! - ID tokens RS256 with a key generated at start, in the background (JWKS at `…/certs`), or HS256 with the
//!   client secret.
//! - Misbehaviours for tests ([`Behaviour`]): wrong `acr`, corrupted signature, HS256 with a wrong secret, expired
//!   ID token, wrong nonce, refused refresh, short-lived access tokens; changed at run time with `PUT /sim/behaviour` (JSON), read with `GET /sim/behaviour`.
//!   `POST /sim/ciba/decide` (`login_hint`, `decision=approve|deny`) plays the professional's e-CPS app;
//!   `GET /sim/stats` counts end-session and refresh calls; `POST /sim/rotate-key` replaces the signing key.
//!
//! **TLS choice.** The other simulators require a client certificate, as their national services do. This one
//! serves HTTPS with the test server certificate but does *not* require a client certificate: its authorize page is
//! opened by a browser, which has no IGC Santé certificate, and a provider cannot require one on some paths only
//! within one TLS handshake. Back-channel calls from the gateway still run over the same HTTPS with the test roots.
//! A browser shows a warning for the test certificate; trust `certs/test-roots.pem` or accept it once.

pub mod jwt;
pub mod professionals;
mod server;

pub use server::{Behaviour, SimPsc, router};

/// Client id the simulator accepts (the sandbox configuration uses it).
pub const CLIENT_ID: &str = "segur-sandbox";
/// Its secret (also the HS256 key).
pub const CLIENT_SECRET: &str = "sandbox-secret-not-for-production";
/// The realm path of the issuer.
pub const REALM: &str = "/auth/realms/esante-wallet";

/// Starts the simulator on `addr` (port 0 = any free port).
pub async fn start(
    addr: std::net::SocketAddr,
    faults: crate::sim::faults::Faults,
) -> Result<(crate::sim::RunningSim, std::sync::Arc<SimPsc>), crate::sim::SimError> {
    let state = std::sync::Arc::new(SimPsc::new().map_err(crate::sim::SimError::Data)?);
    state.generate_key_in_background();
    let tls = std::sync::Arc::new(crate::pki::tls::server_config(
        crate::pki::testpki::server(),
        None,
    )?);
    let running = crate::sim::start_https(
        "psc",
        "Pro Santé Connect OpenID provider (wallet discovery, authorize page, token, UserInfo, end-session, CIBA)",
        faults.apply(router(state.clone())),
        addr,
        tls,
    )
    .await?;
    state.set_port(running.addr.port());
    Ok((running, state))
}

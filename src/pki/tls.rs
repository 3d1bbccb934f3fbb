//! rustls configurations for mutual TLS with the national services and for the simulators.
//!
//! Client side ([`client_config`]): trust anchors = the configured IGC Santé roots only, TLS 1.2 and 1.3 only
//! (rustls has no TLS 1.1 at all), the structure's `AUTH_CLI` chain presented when asked, ALPN `http/1.1` (the
//! SOAP services speak HTTP/1.1). The ring provider is passed explicitly, so no process-wide default is needed.
//!
//! Server side ([`server_config`]): what the national services do — a server certificate from IGC Santé and, when
//! `client_roots` is given, a **required** client certificate chaining to those roots.
//!
//! [`describe`] turns the error chain of a failed connection into one sentence an IT admin can act on.

use super::{Identity, PkiError, TrustRoots};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};
use std::sync::Arc;

/// Installs ring as the process-wide rustls provider (idempotent). The gateway's own configurations name their
/// provider explicitly; this is for HTTP clients built without one (reqwest needs a default to exist).
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Client configuration trusting only `roots`, presenting `identity` when the server asks for a certificate.
pub fn client_config(
    roots: &TrustRoots,
    identity: Option<&Identity>,
) -> Result<ClientConfig, PkiError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_root_certificates(roots.root_store()?);
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key().clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Server configuration presenting `identity`; with `client_roots`, a client certificate chaining to them is
/// required (no anonymous client gets past the handshake).
pub fn server_config(
    identity: &Identity,
    client_roots: Option<&TrustRoots>,
) -> Result<ServerConfig, PkiError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS)?;
    let builder = match client_roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots.root_store()?),
                provider(),
            )
            .build()
            .map_err(|e| PkiError::Generate(format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_single_cert(identity.chain.clone(), identity.key().clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One sentence explaining a failed TLS connection, found by walking the error's sources for a rustls error.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    match find_rustls(err) {
        Some(tls) => describe_rustls(tls),
        None => {
            let mut text = err.to_string();
            let mut src = err.source();
            while let Some(s) = src {
                text.push_str(": ");
                text.push_str(&s.to_string());
                src = s.source();
            }
            text
        }
    }
}

/// The TLS explanation of a failed connection, when TLS is what failed.
pub fn tls_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    find_rustls(err).map(describe_rustls)
}

/// Walks an error chain for a rustls error. Connectors box their causes, and a `Box<dyn Error>` used as an error
/// hides the boxed value from both `downcast_ref` and `source()`: unwrap such boxes and io errors explicitly.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 32 {
            return None;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(found) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| find_rustls(inner))
        {
            return Some(found);
        }
        cur = e.source();
    }
    None
}

fn describe_rustls(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => "the server certificate does not chain to the configured IGC Santé \
             roots (pki.trust_roots): wrong environment, or a machine in between intercepting TLS"
            .into(),
        E::InvalidCertificate(C::Expired) | E::InvalidCertificate(C::ExpiredContext { .. }) => {
            "the server certificate has expired".into()
        }
        E::InvalidCertificate(C::NotValidForName) | E::InvalidCertificate(C::NotValidForNameContext { .. }) => {
            "the server certificate does not name the host in the configured URL".into()
        }
        E::InvalidCertificate(other) => format!("the server certificate was refused: {other:?}"),
        E::AlertReceived(A::CertificateRequired) | E::AlertReceived(A::HandshakeFailure) => {
            "the server requires a client certificate (pki.auth_cli) and none acceptable was presented".into()
        }
        E::AlertReceived(A::UnknownCA) | E::AlertReceived(A::BadCertificate) => "the server refused our client \
             certificate: it is not issued by a CA it trusts (test vs production IGC Santé branch?)"
            .into(),
        E::AlertReceived(A::CertificateExpired) => "the server says our client certificate has expired".into(),
        E::AlertReceived(A::ProtocolVersion) => {
            "the server refused the TLS version (TLS 1.2 or later is required on both sides)".into()
        }
        E::PeerIncompatible(p) => format!("the server cannot speak TLS 1.2 or later with us: {p:?}"),
        other => format!("TLS failure: {other}"),
    }
}

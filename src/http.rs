//! The HTTP client every protocol transport uses: reqwest over rustls, trust = the configured IGC Santé roots only,
//! the structure's `AUTH_CLI` certificate presented for mutual TLS, keep-alive, explicit timeouts.

use crate::pki::{Identity, PkiError, TrustRoots, tls};
use std::time::Duration;

/// Timeouts of a service.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To establish the TCP + TLS connection.
    pub connect: Duration,
    /// For the whole exchange.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(30),
        }
    }
}

/// A client for one national service.
pub fn mtls_client(
    roots: &TrustRoots,
    identity: Option<&Identity>,
    timeouts: Timeouts,
) -> Result<reqwest::Client, PkiError> {
    let config = tls::client_config(roots, identity)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .pool_idle_timeout(Duration::from_secs(60))
        .no_proxy()
        .http1_only()
        .build()
        .map_err(|e| PkiError::Generate(format!("HTTP client: {e}")))
}

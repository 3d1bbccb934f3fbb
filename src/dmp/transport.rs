//! How DMP messages travel (`spec/dmp.md`, "Transport"): one trait with one required method, an HTTPS
//! implementation over the project's mutual-TLS client ([`crate::http::mtls_client`], the `AUTH_CLI` certificate),
//! and a stub that records requests and replays scripted answers.
//!
//! The request carries its own URL (TD0.2 goes to `patients`, ITI-41 to `repository`) and its complete
//! `Content-Type` (SOAP 1.2 with `action`, or MTOM `multipart/related`). Retries: one, only when the connection
//! could not be established (nothing was sent); an ITI-41 that may have reached the DMP is never resent here.

use crate::http::{Timeouts, mtls_client};
pub use crate::ins::transport::{BoxFuture, SoapReply};
use crate::pki::{Identity, PkiError, TrustRoots, tls};
use std::collections::VecDeque;
use std::sync::Mutex;

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct DmpRequest {
    /// Service URL.
    pub url: String,
    /// `Content-Type`.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Transport failures.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DmpTransportError {
    /// The TCP connection could not be established (after one retry).
    #[error("cannot reach the DMP at {url}: {reason}")]
    Connect {
        /// Endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed (trust, client certificate).
    #[error("TLS with the DMP at {url} failed: {reason}")]
    Tls {
        /// Endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// No complete answer in time.
    #[error("the DMP did not answer in time ({url})")]
    Timeout {
        /// Endpoint.
        url: String,
    },
    /// The exchange broke.
    #[error("DMP exchange with {url} failed: {reason}")]
    Io {
        /// Endpoint.
        url: String,
        /// Why.
        reason: String,
    },
}

impl DmpTransportError {
    /// True when trying again later may work.
    pub fn is_transient(&self) -> bool {
        !matches!(self, DmpTransportError::Tls { .. })
    }
}

/// Sends DMP requests.
pub trait DmpTransport: Send + Sync + std::fmt::Debug {
    /// Sends one request and returns the raw answer, whatever its HTTP status.
    fn send(&self, request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>>;
}

/// HTTPS with mutual TLS.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport trusting `roots` only and presenting `identity` (`AUTH_CLI`).
    pub fn new(
        roots: &TrustRoots,
        identity: &Identity,
        timeouts: Timeouts,
    ) -> Result<Self, PkiError> {
        Ok(HttpTransport {
            client: mtls_client(roots, Some(identity), timeouts)?,
        })
    }

    async fn post_once(&self, r: &DmpRequest) -> Result<SoapReply, reqwest::Error> {
        crate::ins::transport::post(&self.client, &r.url, &r.content_type, r.body.clone()).await
    }

    fn classify(url: &str, e: &reqwest::Error) -> DmpTransportError {
        let url = url.to_string();
        if let Some(reason) = tls::tls_cause(e) {
            DmpTransportError::Tls { url, reason }
        } else if e.is_timeout() {
            DmpTransportError::Timeout { url }
        } else if e.is_connect() {
            DmpTransportError::Connect {
                url,
                reason: tls::describe(e),
            }
        } else {
            DmpTransportError::Io {
                url,
                reason: tls::describe(e),
            }
        }
    }
}

impl DmpTransport for HttpTransport {
    fn send(&self, request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>> {
        Box::pin(async move {
            match self.post_once(&request).await {
                Ok(r) => Ok(r),
                Err(e) if e.is_connect() && tls::tls_cause(&e).is_none() => self
                    .post_once(&request)
                    .await
                    .map_err(|e| Self::classify(&request.url, &e)),
                Err(e) => Err(Self::classify(&request.url, &e)),
            }
        })
    }
}

/// A test double: replays scripted answers in order and records every request.
#[derive(Debug, Default)]
pub struct StubTransport {
    replies: Mutex<VecDeque<Result<SoapReply, DmpTransportError>>>,
    /// Requests received, in order.
    pub requests: Mutex<Vec<DmpRequest>>,
}

impl StubTransport {
    /// A stub answering `replies` in order.
    pub fn new(replies: impl IntoIterator<Item = Result<SoapReply, DmpTransportError>>) -> Self {
        StubTransport {
            replies: Mutex::new(replies.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// A SOAP answer with `status`.
    pub fn reply(status: u16, body: impl Into<Vec<u8>>) -> Result<SoapReply, DmpTransportError> {
        Ok(SoapReply {
            status,
            content_type: Some("application/soap+xml; charset=utf-8".into()),
            body: body.into(),
        })
    }
}

impl DmpTransport for StubTransport {
    fn send(&self, request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        let next = self.replies.lock().ok().and_then(|mut r| r.pop_front());
        Box::pin(async move {
            next.unwrap_or_else(|| {
                Err(DmpTransportError::Io {
                    url: "stub".into(),
                    reason: "no scripted answer left".into(),
                })
            })
        })
    }
}

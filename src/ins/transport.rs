//! How INSi SOAP messages travel: one trait, one required method (style habit 2), an HTTPS implementation with
//! mutual TLS, and a stub that records requests and replays scripted answers (habit 3).
//!
//! HTTP facts (spec "INSi web service"): `POST` to the endpoint with `Content-Type: application/soap+xml;
//! charset=utf-8; action="urn:ServiceIdentiteCertifiee:1.0.0:<operation>"` — SOAP 1.2 carries the action as a
//! media-type parameter, there is no `SOAPAction` header. Authentication is the `AUTH_CLI` certificate, whose CN
//! must be `INSI-AUTO` or `INSI-MANU` ([`HttpTransport::new`] checks it before any call).
//!
//! Retries: one, and only when the connection could not be established (nothing was sent, so a second attempt
//! cannot duplicate anything); timeouts and answers are never retried here.

use crate::http::{Timeouts, mtls_client};
use crate::pki::{Identity, PkiError, TrustRoots, tls};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A boxed future, so transports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A SOAP request ready to send.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    /// `Content-Type` with the action parameter.
    pub content_type: String,
    /// The envelope.
    pub body: String,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct SoapReply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// One SOAP POST over `client`: the whole answer, whatever its status (SOAP faults come with 4xx/5xx), read into
/// a [`SoapReply`]. Shared by the INSi and DMP transports.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Result<SoapReply, reqwest::Error> {
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await?.to_vec();
    Ok(SoapReply {
        status,
        content_type,
        body,
    })
}

/// Transport failures.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection could not be established (after one retry).
    #[error("cannot reach INSi at {url}: {reason}")]
    Connect {
        /// Endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed (trust, client certificate, version).
    #[error("TLS with INSi at {url} failed: {reason}")]
    Tls {
        /// Endpoint.
        url: String,
        /// Explanation.
        reason: String,
    },
    /// No complete answer in time.
    #[error("INSi did not answer within the configured timeout ({url})")]
    Timeout {
        /// Endpoint.
        url: String,
    },
    /// INSi answered an HTTP error without a SOAP message (a proxy or load balancer in front of it, usually).
    #[error("INSi at {url} answered HTTP {status} without a SOAP message")]
    Status {
        /// Endpoint.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The connection broke while exchanging.
    #[error("INSi exchange with {url} failed: {reason}")]
    Io {
        /// Endpoint.
        url: String,
        /// Why.
        reason: String,
    },
}

impl TransportError {
    /// True when trying again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Tls { .. } => false,
            TransportError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => true,
        }
    }
}

/// Sends INSi SOAP requests.
pub trait InsiTransport: Send + Sync + std::fmt::Debug {
    /// Sends one request and returns the raw answer, whatever its HTTP status.
    fn send(&self, request: SoapRequest) -> BoxFuture<'_, Result<SoapReply, TransportError>>;

    /// Where requests go, for messages.
    fn endpoint(&self) -> &str {
        "INSi"
    }
}

/// HTTPS with mutual TLS.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: String,
}

impl HttpTransport {
    /// A transport to `url`, trusting `roots` only and presenting `identity`, whose CN must satisfy the INSi rule.
    pub fn new(
        url: &str,
        roots: &TrustRoots,
        identity: &Identity,
        timeouts: Timeouts,
    ) -> Result<Self, PkiError> {
        identity.check_insi_cn()?;
        Ok(HttpTransport {
            client: mtls_client(roots, Some(identity), timeouts)?,
            url: url.to_string(),
        })
    }

    async fn post_once(&self, request: &SoapRequest) -> Result<SoapReply, reqwest::Error> {
        post(
            &self.client,
            &self.url,
            &request.content_type,
            request.body.clone(),
        )
        .await
    }

    fn classify(&self, e: &reqwest::Error) -> TransportError {
        let url = self.url.clone();
        if let Some(reason) = tls::tls_cause(e) {
            return TransportError::Tls { url, reason };
        }
        if e.is_timeout() {
            return TransportError::Timeout { url };
        }
        if e.is_connect() {
            return TransportError::Connect {
                url,
                reason: tls::describe(e),
            };
        }
        TransportError::Io {
            url,
            reason: tls::describe(e),
        }
    }
}

impl InsiTransport for HttpTransport {
    fn endpoint(&self) -> &str {
        &self.url
    }

    fn send(&self, request: SoapRequest) -> BoxFuture<'_, Result<SoapReply, TransportError>> {
        Box::pin(async move {
            match self.post_once(&request).await {
                Ok(r) => Ok(r),
                Err(e) if e.is_connect() && tls::tls_cause(&e).is_none() => {
                    tracing::debug!(error = %tls::describe(&e), "INSi connection failed, retrying once");
                    self.post_once(&request)
                        .await
                        .map_err(|e| self.classify(&e))
                }
                Err(e) => Err(self.classify(&e)),
            }
        })
    }
}

/// A test double: replays scripted answers in order and records every request.
#[derive(Debug, Default)]
pub struct StubTransport {
    replies: Mutex<VecDeque<Result<SoapReply, TransportError>>>,
    /// Requests received, in order.
    pub requests: Mutex<Vec<SoapRequest>>,
}

impl StubTransport {
    /// A stub that will answer with `replies`, in order.
    pub fn new(replies: impl IntoIterator<Item = Result<SoapReply, TransportError>>) -> Self {
        StubTransport {
            replies: Mutex::new(replies.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// A `200 OK` SOAP answer.
    pub fn ok(body: impl Into<Vec<u8>>) -> Result<SoapReply, TransportError> {
        Ok(SoapReply {
            status: 200,
            content_type: Some("application/soap+xml; charset=utf-8".into()),
            body: body.into(),
        })
    }
}

impl InsiTransport for StubTransport {
    fn send(&self, request: SoapRequest) -> BoxFuture<'_, Result<SoapReply, TransportError>> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        let next = self.replies.lock().ok().and_then(|mut r| r.pop_front());
        Box::pin(async move {
            next.unwrap_or_else(|| {
                Err(TransportError::Io {
                    url: "stub".into(),
                    reason: "no scripted answer left".into(),
                })
            })
        })
    }
}

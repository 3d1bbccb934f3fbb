//! An optional recorder of what goes over the wire to the national services, for evidence reports
//! (`segur scenario run`, [`crate::scenario`]).
//!
//! Off by default and zero cost when off: the daemon wraps its transports only when
//! [`crate::daemon::StartOptions::recorder`] is set ([`RecordingInsi`], [`RecordingDmp`], [`RecordingMail`] for
//! MSSanté submissions, and the PSC HTTP adapter
//! through [`crate::psc::Psc::with_recorder`], the Annuaire Santé client through [`fhir_observer`]); otherwise
//! nothing is copied.
//!
//! # Choices
//!
//! - **Raw bytes, masked later.** An [`Exchange`] holds what travelled, capped at [`MAX_BODY`] bytes per body; it
//!   may hold tokens and full INS. Whoever shows it masks it first (the scenario report does, in
//!   [`crate::scenario::mask`]). Recorders must never log exchanges.
//! - **Annuaire Santé FHIR** lookups are seen through the client's page observer ([`fhir_observer`]): fhir-sdk
//!   does not expose the raw answer, so the recorded body is the parsed Bundle serialised again (same content,
//!   not byte for byte), and a failed page shows the client's error without an HTTP status.

use crate::dmp::transport::{DmpRequest, DmpTransport, DmpTransportError};
use crate::ins::transport::{BoxFuture, InsiTransport, SoapReply, SoapRequest, TransportError};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use time::OffsetDateTime;

/// Bytes of a body kept at most.
pub const MAX_BODY: usize = 64 * 1024;

/// One request/response with a national service.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// `insi`, `dmp`, `psc`…
    pub service: &'static str,
    /// HTTP method.
    pub method: String,
    /// Request URL.
    pub url: String,
    /// Request `Content-Type`.
    pub request_content_type: Option<String>,
    /// Request body (lossy UTF-8, capped).
    pub request_body: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Answer `Content-Type`.
    pub response_content_type: Option<String>,
    /// Answer body (lossy UTF-8, capped).
    pub response_body: String,
    /// Transport failure, when no answer came.
    pub error: Option<String>,
    /// When the request left.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long the exchange took.
    pub duration_ms: f64,
}

/// Where exchanges go.
pub trait ExchangeRecorder: Send + Sync + std::fmt::Debug {
    /// Keeps one exchange.
    fn record(&self, exchange: Exchange);
}

/// A shared recorder.
pub type Recorder = Arc<dyn ExchangeRecorder>;

/// Keeps exchanges in memory until [`MemoryRecorder::drain`].
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    exchanges: Mutex<Vec<Exchange>>,
}

impl MemoryRecorder {
    /// Takes every exchange recorded so far.
    pub fn drain(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ExchangeRecorder for MemoryRecorder {
    fn record(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(exchange);
    }
}

/// Lossy UTF-8 of at most [`MAX_BODY`] bytes.
pub fn capped(bytes: &[u8]) -> String {
    let cut = bytes.len().min(MAX_BODY);
    let mut s = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    if bytes.len() > cut {
        s.push_str(&format!("\n… ({} bytes in all)", bytes.len()));
    }
    s
}

/// An exchange being timed.
pub struct Pending {
    started_at: OffsetDateTime,
    start: Instant,
    exchange: Exchange,
}

impl Pending {
    /// Starts timing a request.
    pub fn start(
        service: &'static str,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Pending {
        let started_at = OffsetDateTime::now_utc();
        Pending {
            started_at,
            start: Instant::now(),
            exchange: Exchange {
                service,
                method: method.to_string(),
                url: url.to_string(),
                request_content_type: content_type.map(str::to_string),
                request_body: capped(body),
                status: None,
                response_content_type: None,
                response_body: String::new(),
                error: None,
                started_at,
                duration_ms: 0.0,
            },
        }
    }

    /// Ends with an answer (or a failure) and hands the exchange to `recorder`.
    pub fn finish(
        self,
        recorder: &dyn ExchangeRecorder,
        answer: Result<(u16, Option<&str>, &[u8]), String>,
    ) {
        let elapsed = self.start.elapsed();
        self.finish_after(recorder, answer, elapsed);
    }

    /// [`Self::finish`] with a duration measured elsewhere.
    fn finish_after(
        mut self,
        recorder: &dyn ExchangeRecorder,
        answer: Result<(u16, Option<&str>, &[u8]), String>,
        elapsed: std::time::Duration,
    ) {
        self.exchange.started_at = self.started_at;
        self.exchange.duration_ms = elapsed.as_secs_f64() * 1e3;
        match answer {
            Ok((status, ct, body)) => {
                self.exchange.status = Some(status);
                self.exchange.response_content_type = ct.map(str::to_string);
                self.exchange.response_body = capped(body);
            }
            Err(e) => self.exchange.error = Some(e),
        }
        recorder.record(self.exchange);
    }
}

/// An observer of the Annuaire Santé client that records each page fetch as an exchange.
pub fn fhir_observer(recorder: Recorder) -> segur_annuaire::PageObserver {
    Arc::new(move |fetch: segur_annuaire::PageFetch<'_>| {
        let duration = time::Duration::try_from(fetch.duration).unwrap_or_default();
        let mut p = Pending::start("fhir", "GET", fetch.url.as_str(), None, b"");
        p.started_at -= duration;
        p.exchange.started_at = p.started_at;
        let answer = match &fetch.result {
            Ok(json) => Ok((200, Some("application/fhir+json"), json.as_bytes())),
            Err(e) => Err(e.clone()),
        };
        p.finish_after(recorder.as_ref(), answer, fetch.duration);
    })
}

fn reply_view(r: &SoapReply) -> (u16, Option<&str>, &[u8]) {
    (r.status, r.content_type.as_deref(), &r.body)
}

/// An INSi transport that records every exchange of the transport it wraps.
#[derive(Debug)]
pub struct RecordingInsi {
    inner: Arc<dyn InsiTransport>,
    recorder: Recorder,
}

impl RecordingInsi {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn InsiTransport>, recorder: Recorder) -> Self {
        RecordingInsi { inner, recorder }
    }
}

impl InsiTransport for RecordingInsi {
    fn send(&self, request: SoapRequest) -> BoxFuture<'_, Result<SoapReply, TransportError>> {
        Box::pin(async move {
            let p = Pending::start(
                "insi",
                "POST",
                self.inner.endpoint(),
                Some(&request.content_type),
                request.body.as_bytes(),
            );
            let r = self.inner.send(request).await;
            p.finish(
                self.recorder.as_ref(),
                r.as_ref().map(reply_view).map_err(|e| e.to_string()),
            );
            r
        })
    }

    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }
}

/// A DMP transport that records every exchange of the transport it wraps.
#[derive(Debug)]
pub struct RecordingDmp {
    inner: Arc<dyn DmpTransport>,
    recorder: Recorder,
}

impl RecordingDmp {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn DmpTransport>, recorder: Recorder) -> Self {
        RecordingDmp { inner, recorder }
    }
}

impl DmpTransport for RecordingDmp {
    fn send(&self, request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>> {
        Box::pin(async move {
            let p = Pending::start(
                "dmp",
                "POST",
                &request.url,
                Some(&request.content_type),
                &request.body,
            );
            let r = self.inner.send(request).await;
            p.finish(
                self.recorder.as_ref(),
                r.as_ref().map(reply_view).map_err(|e| e.to_string()),
            );
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::transport::StubTransport;

    #[tokio::test]
    async fn records_request_answer_and_failure() {
        let rec = Arc::new(MemoryRecorder::default());
        let stub = Arc::new(StubTransport::new([StubTransport::ok("<ok/>")]));
        let t = RecordingInsi::new(stub, rec.clone());
        let req = SoapRequest {
            content_type: "application/soap+xml".into(),
            body: "<q/>".into(),
        };
        t.send(req.clone()).await.unwrap();
        assert!(t.send(req).await.is_err(), "stub has no answer left");
        let got = rec.drain();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].request_body.as_str(), got[0].status),
            ("<q/>", Some(200))
        );
        assert_eq!(got[0].response_body, "<ok/>");
        assert!(
            got[1]
                .error
                .as_deref()
                .unwrap()
                .contains("no scripted answer")
        );
        assert!(rec.drain().is_empty());
    }

    #[test]
    fn bodies_are_capped() {
        let big = vec![b'a'; MAX_BODY + 10];
        let s = capped(&big);
        assert!(s.len() < MAX_BODY + 40 && s.ends_with("bytes in all)"));
    }
}

/// An MSSanté submission transport that records every message it submits: the SMTP envelope and the start of
/// the message (request), the server's final reply (response).
#[derive(Debug)]
pub struct RecordingMail {
    inner: Arc<dyn crate::mss::smtp::MailTransport>,
    recorder: Recorder,
    /// `smtp://host:port`, shown as the exchange URL.
    url: String,
}

impl RecordingMail {
    /// Wraps `inner`, which submits to `url`.
    pub fn new(
        inner: Arc<dyn crate::mss::smtp::MailTransport>,
        recorder: Recorder,
        url: String,
    ) -> Self {
        RecordingMail {
            inner,
            recorder,
            url,
        }
    }
}

impl crate::mss::smtp::MailTransport for RecordingMail {
    fn submit<'a>(
        &'a self,
        message: &'a crate::mss::message::BuiltMessage,
    ) -> BoxFuture<'a, Result<crate::mss::smtp::Accepted, crate::mss::smtp::SendError>> {
        Box::pin(async move {
            let mut request = format!("MAIL FROM:<{}>\r\n", message.from).into_bytes();
            for to in &message.to {
                request.extend_from_slice(format!("RCPT TO:<{to}>\r\n").as_bytes());
            }
            request.extend_from_slice(b"DATA\r\n");
            let end = message.bytes.len().min(MAX_BODY);
            request.extend_from_slice(&message.bytes[..end]);
            let p = Pending::start("mss", "SMTP", &self.url, Some("message/rfc822"), &request);
            let result = self.inner.submit(message).await;
            match &result {
                Ok(accepted) => {
                    let status = accepted
                        .reply
                        .get(..3)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(250);
                    p.finish(
                        self.recorder.as_ref(),
                        Ok((status, Some("text/plain"), accepted.reply.as_bytes())),
                    );
                }
                Err(e) => p.finish(self.recorder.as_ref(), Err(e.to_string())),
            }
            result
        })
    }
}

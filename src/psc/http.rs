//! `openidconnect`'s [`AsyncHttpClient`] over the project's reqwest client, so every PSC exchange (discovery, JWKS,
//! token, UserInfo) goes through one HTTP/TLS stack: the configured trust roots and, when configured, the
//! structure's certificate presented for mutual TLS.

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

/// Why an HTTP exchange failed (before any OAuth error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connection, TLS or timeout.
    #[error("{0}")]
    Transport(String),
    /// The request could not be built.
    #[error("bad request: {0}")]
    Build(String),
}

/// The adapter.
#[derive(Debug, Clone)]
pub struct OidcHttp {
    client: reqwest::Client,
    recorder: Option<crate::exchange::Recorder>,
}

impl OidcHttp {
    /// Wraps a client (from [`crate::http::mtls_client`] or any other).
    pub fn new(client: reqwest::Client) -> Self {
        OidcHttp {
            client,
            recorder: None,
        }
    }

    /// Records every exchange made through [`Self::call`] and [`Self::send`] (evidence reports).
    pub fn with_recorder(mut self, recorder: crate::exchange::Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Sends a request built on [`Self::inner`]: status and body, recorded when a recorder is set.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
        let request = request.build().map_err(|e| crate::pki::tls::describe(&e))?;
        let pending = self.recorder.as_ref().map(|_| start(&request));
        let r = async {
            let response = self.client.execute(request).await?;
            let status = response.status().as_u16();
            let ct = content_type(response.headers());
            Ok::<_, reqwest::Error>((status, ct, response.bytes().await?.to_vec()))
        }
        .await
        .map_err(|e| crate::pki::tls::describe(&e));
        if let (Some(p), Some(rec)) = (pending, &self.recorder) {
            p.finish(
                rec.as_ref(),
                r.as_ref()
                    .map(|(s, ct, b)| (*s, ct.as_deref(), b.as_slice()))
                    .map_err(String::clone),
            );
        }
        r.map(|(s, _, b)| (s, b))
    }

    /// The wrapped client, for the exchanges `openidconnect` does not cover (discovery with fallback, CIBA).
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request =
            reqwest::Request::try_from(request).map_err(|e| HttpError::Build(e.to_string()))?;
        let pending = self.recorder.as_ref().map(|_| start(&request));
        let response = match self.client.execute(request).await {
            Ok(r) => r,
            Err(e) => {
                let e = crate::pki::tls::describe(&e);
                if let (Some(p), Some(rec)) = (pending, &self.recorder) {
                    p.finish(rec.as_ref(), Err(e.clone()));
                }
                return Err(HttpError::Transport(e));
            }
        };
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let status = response.status().as_u16();
        let ct = content_type(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::Transport(crate::pki::tls::describe(&e)))?;
        if let (Some(p), Some(rec)) = (pending, &self.recorder) {
            p.finish(rec.as_ref(), Ok((status, ct.as_deref(), &body)));
        }
        builder
            .body(body.to_vec())
            .map_err(|e| HttpError::Build(e.to_string()))
    }
}

fn start(request: &reqwest::Request) -> crate::exchange::Pending {
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or_default();
    crate::exchange::Pending::start(
        "psc",
        request.method().as_str(),
        request.url().as_str(),
        content_type(request.headers()).as_deref(),
        body,
    )
}

fn content_type(h: &reqwest::header::HeaderMap) -> Option<String> {
    h.get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}

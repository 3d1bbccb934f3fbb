//! Latency and failure injection for any simulator (`sandbox.latency_ms.<name>`, `sandbox.failure_rate.<name>`),
//! so reliability tests (retries, timeouts, outbox) run against the same servers as everything else.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// What to inject.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Added before each answer.
    pub latency: Duration,
    /// Share of requests answered `503 Service Unavailable`.
    pub failure_rate: f64,
}

impl Faults {
    /// From the sandbox configuration, for simulator `name`.
    pub fn from_config(config: &crate::config::SandboxConfig, name: &str) -> Self {
        Faults {
            latency: Duration::from_millis(config.latency_ms.get(name).copied().unwrap_or(0)),
            failure_rate: config.failure_rate.get(name).copied().unwrap_or(0.0),
        }
    }

    /// True when nothing is injected.
    pub fn is_none(&self) -> bool {
        self.latency.is_zero() && self.failure_rate <= 0.0
    }

    /// Wraps `router` with the injection.
    pub fn apply(self, router: axum::Router) -> axum::Router {
        if self.is_none() {
            return router;
        }
        router.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                if !self.latency.is_zero() {
                    tokio::time::sleep(self.latency).await;
                }
                if self.failure_rate > 0.0 && rand::random::<f64>() < self.failure_rate {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "injected failure (sandbox.failure_rate)",
                    )
                        .into_response();
                }
                let r: Response = next.run(req).await;
                r
            },
        ))
    }
}

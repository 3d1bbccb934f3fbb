//! `/metrics`: Prometheus text exposition (prometheus-client).
//!
//! Now: HTTP requests by method, matched route and status; request latency by route; the days left on each
//! configured certificate; outbox jobs per status (read from the store at each scrape, so every daemon of a fleet
//! shows the shared queue), attempts by kind and outcome, and attempt latency by service.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Method.
    pub method: String,
    /// Matched route template (never the raw path: it could hold identifiers).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels with a route only.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Matched route template.
    pub route: String,
}

/// Labels of a job status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// `queued`, `sending`, `done`, `failed`, `cancelled`.
    pub status: String,
}

/// Labels of a certificate.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CertLabels {
    /// Role (`auth_cli`, `sign`).
    pub role: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Requests served.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency.
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Days left on each certificate.
    pub cert_days_left: Family<CertLabels, Gauge>,
    /// Outbox jobs per status.
    pub queue_depth: Family<StatusLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("segur");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let cert_days_left = Family::<CertLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests served by the local API",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Latency of the local API",
            latency.clone(),
        );
        registry.register(
            "certificate_days_left",
            "Days before each configured certificate expires",
            cert_days_left.clone(),
        );
        let queue_depth = Family::<StatusLabels, Gauge>::default();
        registry.register("outbox_jobs", "Outbox jobs per status", queue_depth.clone());
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            cert_days_left,
            queue_depth,
        }
    }
}

impl Metrics {
    /// Registers the outbox's attempt counter and latency histogram.
    pub fn register_outbox(&self, m: &crate::outbox::OutboxMetrics) {
        if let Ok(mut reg) = self.registry.lock() {
            reg.register(
                "outbox_attempts",
                "Outbox send attempts by job kind and outcome (done, retry, failed)",
                m.attempts.clone(),
            );
            reg.register(
                "outbox_attempt_duration_seconds",
                "Duration of one send attempt by service",
                m.latency.clone(),
            );
        }
    }

    /// Sets the queue depth gauges (statuses not listed are 0).
    pub fn set_queue_depth(&self, counts: &[(String, i64)]) {
        for s in ["queued", "sending", "done", "failed", "cancelled"] {
            let n = counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
            self.queue_depth
                .get_or_create(&StatusLabels { status: s.into() })
                .set(n);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        }
        out
    }
}

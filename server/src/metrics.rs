//! Prometheus metrics, served as text on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of an answered HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    pub status: u16,
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub logins: Counter,
    pub logins_failed: Counter,
    /// Sessions still valid; refreshed from the database at each scrape (it is shared by all
    /// instances, so only the database knows).
    pub sessions_active: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dialer");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let logins = Counter::default();
        let logins_failed = Counter::default();
        let sessions_active = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", http_requests.clone());
        registry.register("logins", "Successful logins", logins.clone());
        registry.register("logins_failed", "Failed login attempts", logins_failed.clone());
        registry.register(
            "sessions_active",
            "Login sessions not yet expired",
            sessions_active.clone(),
        );
        Metrics { registry, http_requests, logins, logins_failed, sessions_active }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A bounded label for an HTTP method (custom methods would otherwise make new series).
pub fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::HEAD => "HEAD",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::default();
        m.http_requests.get_or_create(&HttpLabels { method: "GET", status: 200 }).inc();
        m.logins_failed.inc();
        let text = m.render();
        assert!(
            text.contains("dialer_http_requests_total{method=\"GET\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("dialer_logins_failed_total 1"), "{text}");
        assert!(text.contains("# TYPE dialer_sessions_active gauge"), "{text}");
    }
}

//! Prometheus metrics, served as text on `/metrics`: the web side's (requests, logins,
//! sessions) and the dialer runtime's ([`DialerMetrics`]: how late its timers run, what its
//! journal writes).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
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
    /// The dialer runtime's.
    pub dialer: DialerMetrics,
}

/// What the dialer runtime counts: clones share the counts, so the runtime holds one and the
/// registry another. A runtime started without a registry (tests) counts into its own.
#[derive(Clone, Debug)]
pub struct DialerMetrics {
    /// How long after its deadline the engine's timer was handled: pacing decisions, ring
    /// timeouts and wrap-ups run late by this much when the runtime is busy.
    pub timer_lag: Histogram,
    /// Transactions the journal writer committed, and the records they held.
    pub journal_commits: Counter,
    pub journal_records: Counter,
}

impl DialerMetrics {
    /// The timer lag's bucket bounds, in seconds.
    pub const LAG_BOUNDS: [f64; 8] = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0];

    /// Notes that a timer was handled `lag` after its deadline.
    pub fn timer_ran_late(&self, lag: Duration) {
        self.timer_lag.observe(lag.as_secs_f64());
    }

    /// Notes one commit of `records` journal records.
    pub fn journal_committed(&self, records: usize) {
        self.journal_commits.inc();
        self.journal_records.inc_by(records as u64);
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "engine_timer_lag_seconds",
            "How long after its deadline the dialer engine's timer was handled",
            self.timer_lag.clone(),
        );
        registry.register(
            "journal_commits",
            "Transactions the dialer journal committed",
            self.journal_commits.clone(),
        );
        registry.register(
            "journal_records",
            "Dialer records (attempts, outcomes, state changes) the journal stored",
            self.journal_records.clone(),
        );
    }
}

impl Default for DialerMetrics {
    fn default() -> Self {
        DialerMetrics {
            timer_lag: Histogram::new(Self::LAG_BOUNDS),
            journal_commits: Counter::default(),
            journal_records: Counter::default(),
        }
    }
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
        let dialer = DialerMetrics::default();
        dialer.register(&mut registry);
        Metrics { registry, http_requests, logins, logins_failed, sessions_active, dialer }
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

    #[test]
    fn the_dialers_counts_reach_the_registry_through_its_clone() {
        let m = Metrics::default();
        let runtime = m.dialer.clone();
        runtime.timer_ran_late(Duration::from_millis(3));
        runtime.timer_ran_late(Duration::from_millis(300));
        runtime.journal_committed(7);
        let text = m.render();
        assert!(text.contains("dialer_engine_timer_lag_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("dialer_engine_timer_lag_seconds_bucket{le=\"1.0\"} 2"), "{text}");
        assert!(text.contains("dialer_engine_timer_lag_seconds_count 2"), "{text}");
        assert!(text.contains("dialer_journal_commits_total 1"), "{text}");
        assert!(text.contains("dialer_journal_records_total 7"), "{text}");
    }
}

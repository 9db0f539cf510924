//! What the runtime records about every tool call: the audit log (one JSON
//! line per `tools/call`) and the counters behind `GET /metrics`.
//!
//! # Security
//! The audit log records a SHA-256 of the canonical arguments, never the
//! arguments themselves unless the operator opts in: arguments can hold
//! file contents and secrets.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    io::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where audit lines go.
pub struct Audit {
    out: Mutex<Box<dyn Write + Send>>,
    /// Also log the raw arguments (operator opt-in).
    pub include_arguments: bool,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("include_arguments", &self.include_arguments)
            .finish_non_exhaustive()
    }
}

/// One finished `tools/call`, as the audit log records it.
#[derive(Debug, Clone)]
pub struct CallRecord<'a> {
    /// Who called: the client's name, and its address over HTTP.
    pub client: String,
    /// The session id, or `stdio`.
    pub session: String,
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// The tool.
    pub tool: &'a str,
    /// The arguments as received.
    pub arguments: &'a Value,
    /// How long the call took.
    pub duration: Duration,
    /// `ok`, `error`, `timeout`, `cancelled`, `panic`, `refused`.
    pub outcome: &'static str,
    /// Bytes of content returned.
    pub bytes: usize,
}

impl Audit {
    /// An audit log writing to `out`.
    pub fn new(out: Box<dyn Write + Send>, include_arguments: bool) -> Self {
        Self {
            out: Mutex::new(out),
            include_arguments,
        }
    }

    /// Write one JSON line for `record`. A failing sink is reported once per
    /// call on the tracing log and never fails the call.
    pub fn record(&self, record: &CallRecord<'_>) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let mut line = json!({
            "ts_ms": timestamp,
            "client": record.client,
            "session": record.session,
            "transport": record.transport,
            "tool": record.tool,
            "args_sha256": arguments_digest(record.arguments),
            "duration_ms": record.duration.as_secs_f64() * 1000.0,
            "outcome": record.outcome,
            "bytes": record.bytes,
        });
        if self.include_arguments {
            line["arguments"] = record.arguments.clone();
        }
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        if let Err(error) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            tracing::warn!(%error, "cannot write the audit log");
        }
    }
}

/// SHA-256 (hex) of the arguments in canonical form: object keys sorted at
/// every depth, no whitespace. Equal arguments give equal digests whatever
/// order the client sent the keys in.
pub fn arguments_digest(arguments: &Value) -> String {
    let canonical = canonical(arguments).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(key, value)| (key, canonical(value)))
                .collect();
            let mut out = serde_json::Map::new();
            for (key, value) in sorted {
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Upper bounds of the latency histogram, in seconds: from a cached read to
/// a browser scrape near its deadline.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0,
];

#[derive(Debug, Default)]
struct ToolStats {
    outcomes: BTreeMap<&'static str, u64>,
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// Counters for `GET /metrics` (Prometheus text format 0.0.4).
#[derive(Debug, Default)]
pub struct Metrics {
    tools: Mutex<BTreeMap<String, ToolStats>>,
    /// Sessions open now.
    pub sessions: AtomicU64,
    /// Requests refused for authentication.
    pub auth_refusals: AtomicU64,
    /// Requests refused by the rate limiter.
    pub rate_limited: AtomicU64,
}

impl Metrics {
    /// Count a finished call.
    pub fn observe(&self, tool: &str, outcome: &'static str, duration: Duration) {
        let Ok(mut tools) = self.tools.lock() else {
            return;
        };
        let stats = tools.entry(tool.to_string()).or_default();
        *stats.outcomes.entry(outcome).or_default() += 1;
        let seconds = duration.as_secs_f64();
        for (bucket, bound) in stats.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        stats.count += 1;
        stats.sum_seconds += seconds;
    }

    /// The exposition text, with `inflight` and any server-specific lines.
    pub fn render(&self, inflight: usize, extra: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP moat_tool_calls_total Tool calls by tool and outcome.\n# TYPE moat_tool_calls_total counter\n");
        let tools = self.tools.lock().map(|tools| {
            tools
                .iter()
                .map(|(name, stats)| {
                    (
                        name.clone(),
                        stats.outcomes.clone(),
                        stats.buckets,
                        stats.count,
                        stats.sum_seconds,
                    )
                })
                .collect::<Vec<_>>()
        });
        let tools = tools.unwrap_or_default();
        for (name, outcomes, _, _, _) in &tools {
            for (outcome, count) in outcomes {
                let _ = writeln!(
                    out,
                    "moat_tool_calls_total{{tool=\"{name}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP moat_tool_call_seconds Tool call latency.\n# TYPE moat_tool_call_seconds histogram\n");
        for (name, _, buckets, count, sum) in &tools {
            for (bound, bucket) in LATENCY_BUCKETS.iter().zip(buckets) {
                let _ = writeln!(
                    out,
                    "moat_tool_call_seconds_bucket{{tool=\"{name}\",le=\"{bound}\"}} {bucket}"
                );
            }
            let _ = writeln!(
                out,
                "moat_tool_call_seconds_bucket{{tool=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "moat_tool_call_seconds_sum{{tool=\"{name}\"}} {sum}");
            let _ = writeln!(
                out,
                "moat_tool_call_seconds_count{{tool=\"{name}\"}} {count}"
            );
        }
        let _ = write!(
            out,
            "# HELP moat_inflight_calls Tool calls running now.\n# TYPE moat_inflight_calls gauge\nmoat_inflight_calls {inflight}\n\
             # HELP moat_sessions Sessions open now.\n# TYPE moat_sessions gauge\nmoat_sessions {}\n\
             # HELP moat_auth_refusals_total Requests refused for a missing or wrong token.\n# TYPE moat_auth_refusals_total counter\nmoat_auth_refusals_total {}\n\
             # HELP moat_rate_limited_total Requests refused by the rate limiter.\n# TYPE moat_rate_limited_total counter\nmoat_rate_limited_total {}\n",
            self.sessions.load(Ordering::Relaxed),
            self.auth_refusals.load(Ordering::Relaxed),
            self.rate_limited.load(Ordering::Relaxed),
        );
        out.push_str(extra);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key order does not change the digest; values do.
    #[test]
    fn digest_is_canonical() {
        let a = json!({"path": "a", "opts": {"x": 1, "y": [1, {"b": 2, "a": 1}]}});
        let b = json!({"opts": {"y": [1, {"a": 1, "b": 2}], "x": 1}, "path": "a"});
        assert_eq!(arguments_digest(&a), arguments_digest(&b));
        assert_ne!(
            arguments_digest(&a),
            arguments_digest(&json!({"path": "b"}))
        );
        assert_eq!(arguments_digest(&a).len(), 64);
    }

    /// The exposition has counters, a histogram and gauges.
    #[test]
    fn metrics_render() {
        let metrics = Metrics::default();
        metrics.observe("read_text_file", "ok", Duration::from_millis(3));
        metrics.observe("read_text_file", "error", Duration::from_secs(2));
        let text = metrics.render(1, "");
        assert!(text.contains("moat_tool_calls_total{tool=\"read_text_file\",outcome=\"ok\"} 1"));
        assert!(
            text.contains("moat_tool_call_seconds_bucket{tool=\"read_text_file\",le=\"0.005\"} 1")
        );
        assert!(text.contains("moat_tool_call_seconds_count{tool=\"read_text_file\"} 2"));
        assert!(text.contains("moat_inflight_calls 1"));
    }
}

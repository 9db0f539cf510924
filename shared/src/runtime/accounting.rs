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
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long the end of serving waits for queued audit lines to reach the
/// sink: far more than writing a few lines takes, short enough that a stuck
/// sink (a full pipe nobody reads) cannot hold the exit.
const AUDIT_DRAIN_WAIT: Duration = Duration::from_secs(2);

/// How long the writer thread lets records gather after writing some:
/// woken for every record, it cost each call a wake-up of a second thread
/// (two futex calls, a context switch, a write to the sink) on the way to
/// its answer. A server of 1,000 calls a second queues ten records in that
/// time; a lone call's line still reaches the sink within this wait.
const AUDIT_GATHER_WAIT: Duration = Duration::from_millis(10);

/// Records queued for the writer thread before a call waits for room: a
/// sink that stalls (a full stderr pipe nobody reads) then slows calls, as
/// a synchronous write would, instead of growing the queue without bound.
const AUDIT_QUEUE_RECORDS: usize = 1024;

/// Where audit lines go.
///
/// Lines are built and written on their own thread (`moat-audit`): a call
/// only queues its record, so the digest, the JSON and a slow or blocked
/// sink never hold a runtime worker. Lines queued together are written with
/// one write and one flush. The thread starts with the first record, not
/// with the server: a thread start is a tenth of the time from spawn to
/// the `initialize` answer, and a session may never call a tool.
pub struct Audit {
    /// The sink, until the first record starts the writer thread.
    out: Output,
    sink: OnceLock<Sink>,
    /// Also log the raw arguments (operator opt-in).
    pub include_arguments: bool,
}

/// How records reach the sink.
enum Sink {
    /// The writer thread's queue.
    Queue(mpsc::SyncSender<Job>),
    /// The writer thread could not be started: written by the caller.
    Inline(Output),
}

/// The sink itself, shared with the writer thread so that a thread that
/// cannot start leaves it to the caller.
type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// What the writer thread is asked to do.
enum Job {
    /// Write this record.
    Record(Box<Owned>),
    /// Answer once everything queued before is written.
    Drain(mpsc::SyncSender<()>),
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
    /// The arguments as received (owned: they go to the writer thread).
    pub arguments: Value,
    /// How long the call took.
    pub duration: Duration,
    /// `ok`, `error`, `timeout`, `cancelled`, `panic`, `refused`.
    pub outcome: &'static str,
    /// Bytes of content returned.
    pub bytes: usize,
}

/// A [`CallRecord`] owned, with its time, on its way to the writer thread.
struct Owned {
    timestamp_ms: u128,
    client: String,
    session: String,
    transport: &'static str,
    tool: String,
    arguments: Value,
    duration: Duration,
    outcome: &'static str,
    bytes: usize,
}

impl Owned {
    /// The audit line (without its newline).
    fn line(&self, include_arguments: bool) -> Value {
        let mut line = json!({
            "ts_ms": self.timestamp_ms,
            "client": self.client,
            "session": self.session,
            "transport": self.transport,
            "tool": self.tool,
            "args_sha256": arguments_digest(&self.arguments),
            "duration_ms": self.duration.as_secs_f64() * 1000.0,
            "outcome": self.outcome,
            "bytes": self.bytes,
        });
        if include_arguments {
            line["arguments"] = self.arguments.clone();
        }
        line
    }
}

impl Audit {
    /// An audit log writing to `out`, from its own thread.
    pub fn new(out: Box<dyn Write + Send>, include_arguments: bool) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
            sink: OnceLock::new(),
            include_arguments,
        }
    }

    /// The writer thread's queue, the thread started on first use.
    fn sink(&self) -> &Sink {
        self.sink.get_or_init(|| {
            let (queue, jobs) = mpsc::sync_channel(AUDIT_QUEUE_RECORDS);
            let thread_out = self.out.clone();
            let include_arguments = self.include_arguments;
            let started = std::thread::Builder::new()
                .name("moat-audit".into())
                .spawn(move || write_lines(&thread_out, &jobs, include_arguments));
            match started {
                Ok(_) => Sink::Queue(queue),
                Err(error) => {
                    tracing::warn!(%error, "cannot start the audit thread; writing audit lines inline");
                    Sink::Inline(self.out.clone())
                }
            }
        })
    }

    /// Queue one line for `record`. A failing sink is reported on the
    /// tracing log and never fails the call.
    pub fn record(&self, record: CallRecord<'_>) {
        let owned = Owned {
            timestamp_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis()),
            client: record.client,
            session: record.session,
            transport: record.transport,
            tool: record.tool.to_string(),
            arguments: record.arguments,
            duration: record.duration,
            outcome: record.outcome,
            bytes: record.bytes,
        };
        match self.sink() {
            Sink::Queue(queue) => {
                if queue.send(Job::Record(Box::new(owned))).is_err() {
                    tracing::warn!("the audit thread is gone; an audit line was lost");
                }
            }
            Sink::Inline(out) => {
                let Ok(mut out) = out.lock() else {
                    return;
                };
                let line = owned.line(self.include_arguments);
                if let Err(error) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                    tracing::warn!(%error, "cannot write the audit log");
                }
            }
        }
    }

    /// Wait (at most [`AUDIT_DRAIN_WAIT`]) until every line queued so far
    /// is written: the end of serving calls it so the last calls' lines
    /// are not lost when the process exits.
    pub fn drain(&self) {
        // Nothing recorded yet: nothing to wait for.
        let Some(Sink::Queue(queue)) = self.sink.get() else {
            return;
        };
        let (done, drained) = mpsc::sync_channel(1);
        if queue.send(Job::Drain(done)).is_ok() && drained.recv_timeout(AUDIT_DRAIN_WAIT).is_err() {
            tracing::warn!("audit lines still queued at exit");
        }
    }
}

/// The writer thread: until every [`Audit`] handle is gone.
fn write_lines(out: &Output, jobs: &mpsc::Receiver<Job>, include_arguments: bool) {
    let mut buffer = Vec::new();
    let mut drained = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut job = Some(first);
        while let Some(next) = job {
            match next {
                Job::Record(record) => {
                    // Writing to a Vec cannot fail.
                    let _ = writeln!(buffer, "{}", record.line(include_arguments));
                }
                Job::Drain(done) => drained.push(done),
            }
            job = jobs.try_recv().ok();
        }
        if !buffer.is_empty()
            && let Ok(mut out) = out.lock()
            && let Err(error) = out.write_all(&buffer).and_then(|()| out.flush())
        {
            tracing::warn!(%error, "cannot write the audit log");
        }
        buffer.clear();
        let waited = !drained.is_empty();
        for done in drained.drain(..) {
            let _ = done.send(());
        }
        // A drain (the end of serving) is not kept waiting.
        if !waited {
            std::thread::sleep(AUDIT_GATHER_WAIT);
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
        // The key is allocated once per tool, not once per call.
        if !tools.contains_key(tool) {
            tools.insert(tool.to_string(), ToolStats::default());
        }
        let Some(stats) = tools.get_mut(tool) else {
            return;
        };
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

    /// A sink that collects what the writer thread writes.
    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<Vec<u8>>>);

    impl Write for Collected {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Records queued off the call path reach the sink, one JSON line each
    /// and in call order, by the time `drain` returns.
    #[test]
    fn queued_records_are_written_in_order_by_drain() {
        let sink = Collected::default();
        let audit = Audit::new(Box::new(sink.clone()), false);
        let arguments = json!({"path": "a.txt"});
        for tool in ["first", "second", "third"] {
            audit.record(CallRecord {
                client: "c".into(),
                session: "stdio".into(),
                transport: "stdio",
                tool,
                arguments: arguments.clone(),
                duration: Duration::from_millis(1),
                outcome: "ok",
                bytes: 3,
            });
        }
        audit.drain();
        let written = sink.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        let lines: Vec<Value> = String::from_utf8_lossy(&written)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        let tools: Vec<&str> = lines
            .iter()
            .filter_map(|line| line["tool"].as_str())
            .collect();
        assert_eq!(tools, ["first", "second", "third"]);
        assert_eq!(lines[0]["args_sha256"], arguments_digest(&arguments));
        assert!(lines[0].get("arguments").is_none(), "{}", lines[0]);
    }

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

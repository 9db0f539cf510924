//! moat-scrape as a fleet: three `--stateless` replicas sharing a real
//! `redis-server` (`[fleet] redis_url`), each test's requests spread over
//! them round-robin as a load balancer would, as raw Streamable HTTP
//! POSTs. A continuation is served by another replica without a second
//! fetch, a client's rate limit and a host's politeness limit hold across
//! the fleet, and the fleet keeps answering when Redis is killed.
//!
//! Each test starts its own `redis-server` on a free loopback port with a
//! temporary directory; the binary must be installed (scripts/test.sh
//! installs it): without it the tests fail, saying so.

use std::{
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use moat_tests::{
    HttpServer,
    fake_sites::{FakeServer, Hit, Reply, article_html},
    metric,
};
use serde_json::{Value, json};

/// Replicas behind the pretend load balancer.
const REPLICAS: usize = 3;

/// A `redis-server` of this test's own, killed on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}): install it (apt-get install redis-server; scripts/test.sh does)"
                )
            });
        let redis = Self {
            child,
            port,
            _dir: dir,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p PORT ARGS...`'s output lines.
    fn cli(&self, args: &[&str]) -> Vec<String> {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs (it comes with redis-server)");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Three replicas with one policy, and a round-robin balancer in front.
struct Fleet {
    replicas: Vec<HttpServer>,
    next: AtomicUsize,
    served: Vec<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl Fleet {
    /// Replicas opening `site`, sharing `redis`, with `extra` policy text.
    fn start(site: &FakeServer, redis: &Redis, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "[url]\nallow_private = [\"{}\"]\n\n[fleet]\nredis_url = \"{}\"\nkey_prefix = \"fleet-test:\"\n{extra}",
                site.authority(),
                redis.url()
            ),
        )
        .expect("write policy");
        let policy = policy.display().to_string();
        let replicas = (0..REPLICAS)
            .map(|_| {
                HttpServer::start("moat-scrape", &["--policy", &policy], &["--stateless"])
                    .expect("replica starts")
            })
            .collect();
        Self {
            replicas,
            next: AtomicUsize::new(0),
            served: (0..REPLICAS).map(|_| AtomicUsize::new(0)).collect(),
            _dir: dir,
        }
    }

    /// POST one JSON-RPC message to the next replica: which one, the HTTP
    /// status and the JSON body (`Null` when there is none).
    async fn post(&self, message: &Value) -> (usize, u16, Value) {
        let replica = self.next.fetch_add(1, Ordering::SeqCst) % REPLICAS;
        self.served[replica].fetch_add(1, Ordering::SeqCst);
        let response = self.replicas[replica]
            .post_mcp(
                &[("MCP-Protocol-Version", "2025-11-25")],
                message.to_string(),
            )
            .await;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (replica, status, body)
    }

    /// Call `tool` on the next replica: which one, and the call's result.
    async fn call(&self, tool: &str, arguments: Value) -> (usize, Value) {
        let (replica, status, body) = self
            .post(&json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}
            }))
            .await;
        assert_eq!(status, 200, "replica {replica}: {body}");
        (replica, body["result"].clone())
    }

    /// Requests each replica was sent.
    fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|count| count.load(Ordering::SeqCst))
            .collect()
    }
}

/// A fake site: robots.txt allowing everything, a long article, and slow
/// pages (`/slow/N`, 300 ms each) to see requests overlap.
async fn site() -> FakeServer {
    FakeServer::start(|hit: &Hit| {
        if hit.target == "/robots.txt" {
            Reply::ok("text/plain", "User-agent: *\nAllow: /\n")
        } else if hit.target == "/long" {
            Reply::ok("text/html", article_html())
        } else if let Some(n) = hit.target.strip_prefix("/slow/") {
            Reply::Delayed(
                Duration::from_millis(300),
                Box::new(Reply::ok(
                    "text/html",
                    format!("<html><body><main><p>Slow page {n}, read in full by the scraper today.</p></main></body></html>"),
                )),
            )
        } else {
            Reply::not_found()
        }
    })
    .await
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

/// A continuation call landing on another replica reads the page replica
/// A fetched, from Redis: the site served the page once for three calls on
/// three replicas, and robots.txt once for the whole fleet.
#[tokio::test(flavor = "multi_thread")]
async fn continuation_is_served_by_another_replica_without_a_refetch() {
    let site = site().await;
    let redis = Redis::start();
    let fleet = Fleet::start(&site, &redis, "");
    let url = format!("{}/long", site.base());
    let (first_replica, first) = fleet
        .call("scrape", json!({ "url": url, "max_length": 1500 }))
        .await;
    assert!(!is_error(&first), "{first}");
    let mut next = first["structuredContent"]["next_start_index"].clone();
    assert!(next.is_u64(), "the page was cut: {first}");
    let mut replicas = vec![first_replica];
    for _ in 0..2 {
        let (replica, more) = fleet
            .call(
                "scrape",
                json!({ "url": url, "max_length": 1500, "start_index": next }),
            )
            .await;
        assert!(!is_error(&more), "{more}");
        assert_eq!(more["structuredContent"]["cached"], true, "{more}");
        assert_eq!(more["structuredContent"]["start_index"], next, "{more}");
        next = more["structuredContent"]["next_start_index"].clone();
        replicas.push(replica);
    }
    replicas.sort_unstable();
    replicas.dedup();
    assert_eq!(replicas.len(), REPLICAS, "three calls, three replicas");
    let fetches = site.hits_on("/long");
    eprintln!(
        "fleet continuation: requests per replica {:?}, page fetches for 3 calls {fetches}, robots.txt fetches {}",
        fleet.served(),
        site.hits_on("/robots.txt")
    );
    assert_eq!(fetches, 1, "a continuation fetched the page again");
    assert_eq!(site.hits_on("/robots.txt"), 1);
    // Every key carries the policy's prefix and a TTL, and none names the
    // page's URL (keys are hashes).
    let keys = redis.cli(&["--scan"]);
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.starts_with("fleet-test:"), "{key}");
        assert!(!key.contains("/long"), "{key}");
        let ttl: i64 = redis.cli(&["pttl", &key])[0].parse().expect("a number");
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
    }
}

/// One client's rate limit (a burst of 6, refilling one request per 1,000
/// s) holds across the fleet: of 12 requests spread over three replicas,
/// 6 pass and 6 get 429. Three separate limits would have let all 12
/// through.
#[tokio::test(flavor = "multi_thread")]
async fn a_clients_rate_limit_holds_across_the_fleet() {
    let site = site().await;
    let redis = Redis::start();
    let fleet = Fleet::start(
        &site,
        &redis,
        "\n[http]\nrate_per_second = 0.001\nrate_burst = 6\n",
    );
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let mut refused = 0;
    for _ in 0..12 {
        let (_, status, _) = fleet.post(&list).await;
        if status == 429 {
            refused += 1;
        }
    }
    eprintln!(
        "fleet rate limit: requests per replica {:?}, refused {refused} of 12 (burst 6)",
        fleet.served()
    );
    assert_eq!(refused, 6);
}

/// One host's politeness limit (2 requests in flight) holds across the
/// fleet: nine slow pages asked at once through three replicas all arrive,
/// and the site never served more than two at a time. Three separate
/// limits would have allowed six.
#[tokio::test(flavor = "multi_thread")]
async fn a_hosts_politeness_limit_holds_across_the_fleet() {
    let site = site().await;
    let redis = Redis::start();
    let fleet = Fleet::start(
        &site,
        &redis,
        "\n[scrape]\nrespect_robots = false\n\n[scrape.politeness]\nper_host_concurrency = 2\nper_host_per_second = 1000.0\n",
    );
    let calls = (0..9).map(|n| {
        let fleet = &fleet;
        let url = format!("{}/slow/{n}", site.base());
        async move { fleet.call("scrape", json!({ "url": url })).await }
    });
    for (_, result) in futures::future::join_all(calls).await {
        assert!(!is_error(&result), "{result}");
    }
    eprintln!(
        "fleet politeness: requests per replica {:?}, site requests {}, most at once {} (limit 2)",
        fleet.served(),
        site.hits_on("/slow/"),
        site.peak_connections()
    );
    assert_eq!(site.hits_on("/slow/"), 9);
    assert!(
        site.peak_connections() <= 2,
        "the site served {} requests at once",
        site.peak_connections()
    );
}

/// Redis killed mid-run: every replica still answers scrapes and
/// continuations (from its own memory), says so in its log, and counts
/// the fallbacks in `/metrics`.
#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_keeps_answering_when_redis_dies() {
    let site = site().await;
    let mut redis = Redis::start();
    let fleet = Fleet::start(&site, &redis, "");
    let url = format!("{}/long", site.base());
    let (_, before) = fleet
        .call("scrape", json!({ "url": url, "max_length": 1500 }))
        .await;
    assert!(!is_error(&before), "{before}");
    redis.kill();
    for n in 0..REPLICAS * 2 {
        let (replica, after) = fleet
            .call(
                "scrape",
                json!({ "url": format!("{}/slow/{n}", site.base()), "max_length": 1500 }),
            )
            .await;
        assert!(!is_error(&after), "replica {replica}: {after}");
    }
    for (replica, server) in fleet.replicas.iter().enumerate() {
        let metrics = server.metrics().await;
        let fallbacks: u64 = metric(&metrics, "moat_scrape_fleet_fallbacks_total").unwrap_or(0);
        eprintln!("replica {replica} after Redis died: {fallbacks} fallbacks");
        assert!(fallbacks > 0, "replica {replica}: {metrics}");
        assert!(
            metrics.contains("moat_scrape_fleet_redis_up 0"),
            "replica {replica}: {metrics}"
        );
        assert!(
            server.log().contains("Redis does not answer"),
            "replica {replica} logged no warning: {}",
            server.log()
        );
    }
}

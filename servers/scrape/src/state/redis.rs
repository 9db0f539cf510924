//! The Redis backend: the same contract as [`super::memory`], shared by
//! every replica that names the same Redis.
//!
//! Each operation is one Lua script, so it is atomic across replicas and
//! takes its clock from Redis (`TIME`), not from replicas whose clocks may
//! differ. It must never write a key without a TTL, never keep more
//! entries of a kind than its bound (an index sorted set per kind evicts
//! the oldest), and never write a key outside the operator's prefix.

use std::time::Duration;

use super::resp::{Pool, Reply, RespError};

/// `KEYS[1]` value key, `KEYS[2]` the kind's index; `ARGV` value, TTL in
/// ms, capacity. Stores the value, indexes it by time, and deletes the
/// oldest entries past the capacity.
const PUT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
  for _, key in ipairs(old) do redis.call('DEL', key) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
";

/// `KEYS[1]` the bucket; `ARGV` per second, burst, longest TTL in ms.
/// Answers the wait in seconds before one more request would be allowed
/// ("0" when this one is).
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[3]), math.ceil(burst / rate * 1000) + 1000))
return tostring(wait)
";

/// `KEYS[1]` the pacing key; `ARGV` interval and longest wait, in ms.
/// Books the next start and answers the wait in ms, or "-1" (nothing
/// booked) past the longest wait.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1])) or 0)
local wait = slot - now
if wait > tonumber(ARGV[2]) then return '-1' end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil(wait + interval) + 1000)
return tostring(wait)
";

/// `KEYS[1]` the permit set; `ARGV` holder, limit, lease in ms. Drops
/// expired leases, then takes a permit when fewer than the limit are held.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Longest a rate-limit bucket is kept: a day, past any refill time a
/// policy would set.
const MAX_BUCKET_TTL_MS: u64 = 24 * 3600 * 1000;

/// Milliseconds for Redis, at least 1 (`PX 0` is an error).
fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

/// The Redis backend.
#[derive(Debug)]
pub struct Redis {
    pool: Pool,
}

impl Redis {
    /// A backend over `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn eval(&self, script: &str, keys: &[&str], args: &[&[u8]]) -> Result<Reply, RespError> {
        let count = keys.len().to_string();
        let mut command: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), count.as_bytes()];
        command.extend(keys.iter().map(|key| key.as_bytes()));
        command.extend_from_slice(args);
        self.pool.command(&command).await
    }

    /// The value under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RespError> {
        match self.pool.command(&[b"GET", key.as_bytes()]).await? {
            Reply::Bulk(bytes) => Ok(Some(bytes)),
            _ => Ok(None),
        }
    }

    /// Keep `value` under `key` for `ttl`, with at most `capacity` keys in
    /// the kind's `index`.
    pub async fn put(
        &self,
        key: &str,
        index: &str,
        value: &[u8],
        ttl: Duration,
        capacity: usize,
    ) -> Result<(), RespError> {
        self.eval(
            PUT,
            &[key, index],
            &[
                value,
                millis(ttl).as_bytes(),
                capacity.to_string().as_bytes(),
            ],
        )
        .await
        .map(drop)
    }

    /// Take one request from the token bucket `key`.
    pub async fn take(
        &self,
        key: &str,
        per_second: f64,
        burst: f64,
    ) -> Result<Result<(), Duration>, RespError> {
        let reply = self
            .eval(
                TAKE,
                &[key],
                &[
                    per_second.to_string().as_bytes(),
                    burst.to_string().as_bytes(),
                    MAX_BUCKET_TTL_MS.to_string().as_bytes(),
                ],
            )
            .await?;
        let wait = number(&reply)?;
        Ok(if wait <= 0.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(wait))
        })
    }

    /// Book the next start under `key`.
    pub async fn reserve(
        &self,
        key: &str,
        interval: Duration,
        max_wait: Duration,
    ) -> Result<Option<Duration>, RespError> {
        let interval = interval.as_secs_f64() * 1000.0;
        let max_wait = max_wait.as_secs_f64() * 1000.0;
        let reply = self
            .eval(
                RESERVE,
                &[key],
                &[
                    interval.to_string().as_bytes(),
                    max_wait.to_string().as_bytes(),
                ],
            )
            .await?;
        let wait = number(&reply)?;
        Ok((wait >= 0.0).then(|| Duration::from_secs_f64(wait / 1000.0)))
    }

    /// Take one of `limit` permits under `key`.
    pub async fn acquire(
        &self,
        key: &str,
        holder: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<bool, RespError> {
        let reply = self
            .eval(
                ACQUIRE,
                &[key],
                &[
                    holder.as_bytes(),
                    limit.to_string().as_bytes(),
                    millis(lease).as_bytes(),
                ],
            )
            .await?;
        Ok(reply == Reply::Integer(1))
    }

    /// Give back `holder`'s permit under `key`.
    pub async fn release(&self, key: &str, holder: &str) -> Result<(), RespError> {
        self.pool
            .command(&[b"ZREM", key.as_bytes(), holder.as_bytes()])
            .await
            .map(drop)
    }
}

/// A script's numeric answer.
fn number(reply: &Reply) -> Result<f64, RespError> {
    reply
        .text()
        .and_then(|text| text.parse::<f64>().ok())
        .ok_or_else(|| RespError::Io("a script answered something other than a number".into()))
}

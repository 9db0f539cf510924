//! A minimal Redis client: RESP2 commands over one TCP stream, and a small
//! pool of idle connections.
//!
//! Its job is to send a command as an array of bulk strings and read one
//! reply, within a deadline, and to keep a few connections open for reuse.
//! It must never connect except through the network funnel
//! ([`net::operator_stream`]), never read a reply larger than its caps, and
//! never reuse a connection after an error (its stream may be mid-reply).

use std::{sync::Mutex, time::Duration};

use moat_shared::net;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// Largest bulk reply read: the biggest value stored
/// ([`super::MAX_VALUE_BYTES`]) with room to spare.
const MAX_BULK_BYTES: usize = 2 * super::MAX_VALUE_BYTES;

/// Most elements in an array reply: the scripts answer with at most a
/// few; more means the stream is not what we think it is.
const MAX_ARRAY_ITEMS: usize = 64;

/// Longest status or error line read.
const MAX_LINE_BYTES: usize = 4096;

/// Idle connections kept for reuse: enough for the calls of a busy replica
/// to overlap without reconnecting, few enough that a fleet does not
/// exhaust Redis's `maxclients` (10,000 by default).
const MAX_IDLE: usize = 8;

/// Why a command failed. Each renders as one line; none carries a value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RespError {
    /// No connection could be made.
    #[error("{0}")]
    Connect(String),
    /// The connection broke, or the reply was not RESP.
    #[error("{0}")]
    Io(String),
    /// Redis answered with an error.
    #[error("Redis answered: {0}")]
    Server(String),
    /// No reply within the deadline.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Null bulk string or null array.
    Nil,
    /// `+OK` and other status lines.
    Status(String),
    /// `:N`.
    Integer(i64),
    /// `$N` bytes.
    Bulk(Vec<u8>),
    /// `*N` replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text (bulk or status), for script results.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(bytes) => String::from_utf8(bytes.clone()).ok(),
            Reply::Status(text) => Some(text.clone()),
            Reply::Integer(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// Where the Redis server is and how to log in.
#[derive(Clone)]
pub struct Address {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database number (`SELECT`).
    pub database: u32,
    /// `AUTH` password, from the environment; never logged.
    pub password: Option<String>,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.database)
    }
}

/// One open connection.
struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    async fn open(address: &Address, timeout: Duration) -> Result<Self, RespError> {
        let stream = net::operator_stream(&address.host, address.port, timeout)
            .await
            .map_err(|error| RespError::Connect(error.to_string()))?;
        let mut connection = Self {
            stream: BufReader::new(stream),
        };
        if let Some(password) = &address.password {
            connection
                .command(&[b"AUTH", password.as_bytes()])
                .await
                .map_err(|error| match error {
                    // Redis's own message may quote nothing secret, but
                    // say only what failed.
                    RespError::Server(_) => RespError::Connect("AUTH was refused".into()),
                    other => other,
                })?;
        }
        if address.database != 0 {
            connection
                .command(&[b"SELECT", address.database.to_string().as_bytes()])
                .await?;
        }
        Ok(connection)
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, RespError> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.stream.get_mut().write_all(&request).await?;
        let reply = self.read().await?;
        match reply {
            Err(message) => Err(RespError::Server(message)),
            Ok(reply) => Ok(reply),
        }
    }

    /// One reply; a server error is the inner `Err`.
    async fn read(&mut self) -> Result<Result<Reply, String>, RespError> {
        let line = self.line().await?;
        let (kind, rest) = line.split_at(1);
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| RespError::Io("a RESP length is not a number".into()))
        };
        Ok(Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => return Ok(Err(rest.to_string())),
            ":" => Reply::Integer(number()?),
            "$" => {
                let Ok(length) = usize::try_from(number()?) else {
                    return Ok(Ok(Reply::Nil));
                };
                if length > MAX_BULK_BYTES {
                    return Err(RespError::Io(format!(
                        "a reply of {length} bytes is larger than {MAX_BULK_BYTES}"
                    )));
                }
                let mut bytes = vec![0; length + 2];
                self.stream.read_exact(&mut bytes).await?;
                bytes.truncate(length);
                Reply::Bulk(bytes)
            }
            "*" => {
                let Ok(count) = usize::try_from(number()?) else {
                    return Ok(Ok(Reply::Nil));
                };
                if count > MAX_ARRAY_ITEMS {
                    return Err(RespError::Io(format!(
                        "an array reply of {count} items is longer than {MAX_ARRAY_ITEMS}"
                    )));
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    match Box::pin(self.read()).await? {
                        Ok(item) => items.push(item),
                        Err(message) => return Ok(Err(message)),
                    }
                }
                Reply::Array(items)
            }
            _ => return Err(RespError::Io("the reply is not RESP".into())),
        }))
    }

    async fn line(&mut self) -> Result<String, RespError> {
        let mut line = Vec::new();
        let read = (&mut self.stream)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Err(RespError::Io("Redis closed the connection".into()));
        }
        if !line.ends_with(b"\r\n") || line.len() < 3 {
            return Err(RespError::Io("a RESP line is malformed or too long".into()));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| RespError::Io("a RESP line is not UTF-8".into()))
    }
}

impl From<std::io::Error> for RespError {
    fn from(error: std::io::Error) -> Self {
        RespError::Io(error.to_string())
    }
}

/// Connections to one Redis, opened on demand and reused while healthy.
pub struct Pool {
    address: Address,
    connect_timeout: Duration,
    command_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `address`; nothing is connected yet.
    pub fn new(address: Address, connect_timeout: Duration, command_timeout: Duration) -> Self {
        Self {
            address,
            connect_timeout,
            command_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Run one command on an idle connection (or a new one), all within
    /// the connect and command deadlines.
    ///
    /// # Errors
    /// A [`RespError`]; the connection is then dropped.
    pub async fn command(&self, args: &[&[u8]]) -> Result<Reply, RespError> {
        let idle = self.lock().pop();
        let reused = idle.is_some();
        let mut connection = match idle {
            Some(connection) => connection,
            None => Connection::open(&self.address, self.connect_timeout).await?,
        };
        let mut reply = tokio::time::timeout(self.command_timeout, connection.command(args))
            .await
            .map_err(|_| RespError::Timeout(self.command_timeout))?;
        // An idle connection may have died with a restarted Redis: one
        // fresh connection gets the command before it counts as a failure.
        if reused && matches!(reply, Err(RespError::Io(_))) {
            connection = Connection::open(&self.address, self.connect_timeout).await?;
            reply = tokio::time::timeout(self.command_timeout, connection.command(args))
                .await
                .map_err(|_| RespError::Timeout(self.command_timeout))?;
        }
        // A server error leaves the stream at a reply boundary; anything
        // else (a broken stream, a timeout) drops the connection above.
        if matches!(reply, Ok(_) | Err(RespError::Server(_))) {
            let mut idle = self.lock();
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        reply
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

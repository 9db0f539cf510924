//! Newline-delimited JSON-RPC over a reader/writer pair (stdio), with the
//! protocol errors answered here, before rmcp sees a message.
//!
//! A reader task reads one line at a time (at most
//! [`MAX_STDIO_LINE_BYTES`]), checks it ([`jsonrpc::check`]) and admits it
//! ([`InflightIds::admit`]), then hands the message to rmcp or writes the
//! error JSON-RPC asks for: -32700 for a line that is not JSON, -32600 for
//! JSON that is not a message, a line over the limit, or a request whose id
//! is already in flight, -32602 for a request whose params rmcp cannot
//! read. Blank lines are skipped. The reader runs in its own task so that a
//! half-written error line is never cut by rmcp's `select!` dropping a
//! `receive` future.
//!
//! # Must never
//! - write anything but whole JSON-RPC messages, one per line;
//! - hand rmcp a request whose id is already in flight;
//! - answer a notification.

use std::sync::Arc;

use rmcp::{
    RoleServer,
    model::{ClientJsonRpcMessage, RequestId},
    service::TxJsonRpcMessage,
    transport::Transport,
};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::{Mutex, mpsc},
};

use crate::runtime::{
    bounds::MAX_STDIO_LINE_BYTES,
    jsonrpc::{self, InflightIds, Refusal},
};

/// Messages read ahead of rmcp: one, so at most one 16 MiB line waits in
/// memory besides the one being parsed (as when rmcp read the lines).
const READ_AHEAD: usize = 1;

/// The writer, shared by rmcp's answers and the reader's refusals; `None`
/// once the transport closed.
type SharedWriter<W> = Arc<Mutex<Option<W>>>;

/// The stdio transport (see the module documentation).
pub struct LineTransport<W> {
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    writer: SharedWriter<W>,
    inflight: Arc<InflightIds<RequestId>>,
    reader: tokio::task::AbortHandle,
}

impl<W: AsyncWrite + Send + Unpin + 'static> LineTransport<W> {
    /// Read messages from `reader`, write answers to `writer`.
    pub fn new<R: AsyncRead + Send + Unpin + 'static>(reader: R, writer: W) -> Self {
        let writer = Arc::new(Mutex::new(Some(writer)));
        let inflight = Arc::new(InflightIds::default());
        let (sender, incoming) = mpsc::channel(READ_AHEAD);
        let task = tokio::spawn(read_messages(
            BufReader::new(reader),
            writer.clone(),
            inflight.clone(),
            sender,
        ));
        Self {
            incoming,
            writer,
            inflight,
            reader: task.abort_handle(),
        }
    }
}

impl<W> Drop for LineTransport<W> {
    fn drop(&mut self) {
        // The reader may be blocked on a stdin that never closes.
        self.reader.abort();
    }
}

impl<W: AsyncWrite + Send + Unpin + 'static> Transport<RoleServer> for LineTransport<W> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        // Released before the answer is written, so a client that reuses
        // the id after reading the answer is never refused.
        self.inflight.answered(&item);
        let line = crate::runtime::wire::to_line(item);
        let writer = self.writer.clone();
        async move { write_line(&writer, &line?.pieces()).await }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        self.incoming.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        drop(self.writer.lock().await.take());
        Ok(())
    }
}

/// Write one message and its newline, given as pieces (see
/// [`crate::runtime::wire::Line`]), and flush.
async fn write_line<W: AsyncWrite + Unpin>(
    writer: &SharedWriter<W>,
    pieces: &[&[u8]],
) -> std::io::Result<()> {
    let mut writer = writer.lock().await;
    let Some(writer) = writer.as_mut() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "the transport is closed",
        ));
    };
    for piece in pieces {
        if !piece.is_empty() {
            writer.write_all(piece).await?;
        }
    }
    writer.flush().await
}

/// The reader task: until end of input, or until rmcp or the writer goes.
async fn read_messages<R, W>(
    mut reader: BufReader<R>,
    writer: SharedWriter<W>,
    inflight: Arc<InflightIds<RequestId>>,
    sender: mpsc::Sender<ClientJsonRpcMessage>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut line = Vec::new();
    loop {
        let verdict = match read_line(&mut reader, &mut line, MAX_STDIO_LINE_BYTES).await {
            Ok(Line::Eof) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the input; ending the session");
                return;
            }
            Ok(Line::TooLong) => {
                tracing::error!(
                    limit = MAX_STDIO_LINE_BYTES,
                    "an incoming message exceeded the line limit; dropped"
                );
                Err(Refusal::too_large(MAX_STDIO_LINE_BYTES))
            }
            Ok(Line::Complete) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    line.clear();
                    continue;
                }
                jsonrpc::check(&line).and_then(|message| {
                    inflight.admit(&message)?;
                    Ok(message)
                })
            }
        };
        line.clear();
        match verdict {
            Ok(message) => {
                if sender.send(message).await.is_err() {
                    return;
                }
            }
            Err(refusal) => {
                tracing::debug!(reason = %refusal.message, "refused an incoming message");
                let mut answer = refusal.to_json().to_string();
                answer.push('\n');
                if refusal.answer && write_line(&writer, &[answer.as_bytes()]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line is in the buffer (its newline and a `\r` before it removed).
    /// The last line of the input counts even without its newline.
    Complete,
    /// The line was longer than the limit; it was skipped whole.
    TooLong,
    /// End of input.
    Eof,
}

/// Read one line into `line` (empty on entry), never holding more than
/// `limit` bytes of it: a longer line is consumed and dropped as it
/// arrives.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        let newline = available.iter().position(|byte| *byte == b'\n');
        let take = newline.map_or(available.len(), |at| at + 1);
        let content = newline.map_or(take, |at| at);
        if !too_long && line.len().saturating_add(content) > limit {
            too_long = true;
            line.clear();
        }
        if !too_long {
            line.extend_from_slice(&available[..content]);
        }
        reader.consume(take);
        if newline.is_some() {
            if too_long {
                return Ok(Line::TooLong);
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Line::Complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines are split on newlines, `\r\n` included; an overlong line is
    /// skipped whole and the next one read; the last line counts without
    /// its newline.
    #[tokio::test]
    async fn lines_are_bounded_and_recover() {
        let input = b"ab\r\n0123456789\ncd\nlast".to_vec();
        let mut reader = BufReader::with_capacity(3, &input[..]);
        let mut line = Vec::new();
        let mut seen = Vec::new();
        loop {
            let outcome = read_line(&mut reader, &mut line, 5).await.expect("read");
            if outcome == Line::Eof {
                break;
            }
            seen.push((outcome, String::from_utf8_lossy(&line).into_owned()));
            line.clear();
        }
        assert_eq!(
            seen,
            [
                (Line::Complete, "ab".to_string()),
                (Line::TooLong, String::new()),
                (Line::Complete, "cd".to_string()),
                (Line::Complete, "last".to_string()),
            ]
        );
    }
}

//! The bytes of one outgoing message on a line transport, with a tool
//! result's text escaped once.
//!
//! A file read carries its text twice: in `content[0].text` for every
//! client, and as `structuredContent.content` for clients that read only
//! the structured result (the text may add a note after it). Escaping a
//! 1 MiB text of short lines for JSON costs more than reading the file, so
//! the repeated text is escaped once and its bytes are copied into both
//! places (escaping is per character, so the escape of `a + b` is the
//! escape of `a` followed by the escape of `b`), by [`json_text`], which
//! is several times faster than serde_json's escaper on short lines. A
//! big repeated text is not even copied: the message is handed to the
//! writer as pieces ([`Line`]) and the escaped text written from the same
//! buffer twice, which saves a 1 MiB copy and keeps one escaped copy fewer
//! in memory while a 1 MiB read is answered.
//!
//! # Must never
//! - write bytes that differ from `serde_json::to_vec` of the same message
//!   followed by a newline.

use std::ops::Range;

use rmcp::{
    RoleServer,
    model::{CallToolResult, ContentBlock, JsonRpcMessage, ServerResult},
    service::TxJsonRpcMessage,
};
use serde_json::Value;

use crate::runtime::json_text;

/// Shortest repeated text worth the splice: below it, escaping twice costs
/// less than the placeholders and the copies.
const SPLICE_MIN_BYTES: usize = 1024;

/// Shortest repeated escaped text written from the buffer twice rather than
/// copied: below it, the two extra `write` calls cost more than the copy
/// (a 4 KiB read answers in about 60 us; a write to a pipe costs a few).
const WRITE_TWICE_MIN_BYTES: usize = 64 * 1024;

/// Stand-ins for the two texts while the rest of the message is serialised.
/// Control characters (escaped as `\u0001`) keep them apart from any text a
/// tool returns in practice, and each is looked for only behind its own
/// key, where a tool's text cannot put an unescaped quote.
const TEXT_SLOT: &str = "\u{1}moat:text\u{1}";
const CONTENT_SLOT: &str = "\u{1}moat:content\u{1}";

/// One message and its newline, as pieces to write in order: `head`, then
/// the bytes of `head` in `repeat` again, then `tail`.
pub struct Line {
    head: Vec<u8>,
    repeat: Range<usize>,
    tail: Vec<u8>,
}

impl Line {
    /// The whole message in one piece.
    fn whole(mut bytes: Vec<u8>) -> Self {
        bytes.push(b'\n');
        Self::whole_with_newline(bytes)
    }

    /// A message already ended by its newline, in one piece.
    fn whole_with_newline(head: Vec<u8>) -> Self {
        Self {
            head,
            repeat: 0..0,
            tail: Vec::new(),
        }
    }

    /// The pieces to write, in order (some may be empty).
    pub fn pieces(&self) -> [&[u8]; 3] {
        [&self.head, &self.head[self.repeat.clone()], &self.tail]
    }

    /// The pieces joined into one buffer (the whole message is returned as
    /// it is, without a copy).
    pub fn into_bytes(self) -> Vec<u8> {
        if self.repeat.is_empty() && self.tail.is_empty() {
            return self.head;
        }
        let mut bytes = Vec::with_capacity(self.head.len() + self.repeat.len() + self.tail.len());
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(&self.head[self.repeat]);
        bytes.extend_from_slice(&self.tail);
        bytes
    }
}

/// The message as compact JSON and a newline, exactly as
/// `serde_json::to_vec` writes it.
pub fn to_line(mut message: TxJsonRpcMessage<RoleServer>) -> serde_json::Result<Line> {
    // Only the text is kept: the structured copy is its prefix, so its
    // length is enough, and dropping it now keeps one copy fewer of a big
    // read alive while the answer is written.
    let taken = slots(&mut message).and_then(|(text, content)| {
        (content.len() >= SPLICE_MIN_BYTES && text.starts_with(content.as_str())).then(|| {
            let shared = content.len();
            *content = CONTENT_SLOT.to_string();
            (std::mem::replace(text, TEXT_SLOT.to_string()), shared)
        })
    });
    let Some((text, shared)) = taken else {
        return serde_json::to_vec(&message).map(Line::whole);
    };
    let skeleton = serde_json::to_vec(&message)?;
    if let Some(bytes) = splice(&skeleton, &text, shared)? {
        return Ok(bytes);
    }
    // The stand-ins were not where they should be: serialise plainly.
    if let Some((slot_text, slot_content)) = slots(&mut message) {
        *slot_content = text[..shared].to_string();
        *slot_text = text;
    }
    serde_json::to_vec(&message).map(Line::whole)
}

/// The text of a tool result's first content block and its
/// `structuredContent.content`, when it has both.
fn slots(message: &mut TxJsonRpcMessage<RoleServer>) -> Option<(&mut String, &mut String)> {
    let JsonRpcMessage::Response(response) = message else {
        return None;
    };
    let ServerResult::CallToolResult(result) = &mut response.result else {
        return None;
    };
    let CallToolResult {
        content,
        structured_content,
        ..
    } = result;
    let Some(ContentBlock::Text(text)) = content.first_mut() else {
        return None;
    };
    let Some(Value::Object(structured)) = structured_content else {
        return None;
    };
    let Some(Value::String(inner)) = structured.get_mut("content") else {
        return None;
    };
    Some((&mut text.text, inner))
}

/// `skeleton` with the stand-ins replaced by the escaped texts (the
/// structured one is `text`'s first `shared` bytes); `None` when a
/// stand-in is missing.
fn splice(skeleton: &[u8], text: &str, shared: usize) -> serde_json::Result<Option<Line>> {
    let text_slot = keyed("text", TEXT_SLOT)?;
    let content_slot = keyed("content", CONTENT_SLOT)?;
    let Some(text_at) = find(skeleton, &text_slot) else {
        return Ok(None);
    };
    let text_end = text_at + text_slot.len();
    let Some(content_at) = find(&skeleton[text_end..], &content_slot).map(|at| text_end + at)
    else {
        return Ok(None);
    };
    let content_end = content_at + content_slot.len();
    let (content, rest) = text.split_at(shared);
    // Escaping adds a byte for each `\n` (a file of short lines has many);
    // an eighth more is room for lines of eight bytes, and the vector
    // grows if that is short.
    let escaped = content.len() + content.len() / 8 + 2;
    let mut head = Vec::with_capacity(skeleton.len() + escaped + 2 * rest.len());
    head.extend_from_slice(&skeleton[..text_at]);
    head.extend_from_slice(b"\"text\":");
    // The escaped content, written once and repeated below.
    head.push(b'"');
    let start = head.len();
    json_text::escape_into(&mut head, content);
    let once = start..head.len();
    // The rest of the text (a note after it) continues the same string.
    json_text::escape_into(&mut head, rest);
    head.push(b'"');
    head.extend_from_slice(&skeleton[text_end..content_at]);
    head.extend_from_slice(b"\"content\":\"");
    let mut tail = Vec::with_capacity(skeleton.len() - content_end + 2);
    tail.push(b'"');
    tail.extend_from_slice(&skeleton[content_end..]);
    tail.push(b'\n');
    if once.len() < WRITE_TWICE_MIN_BYTES {
        head.reserve_exact(once.len() + tail.len());
        head.extend_from_within(once);
        head.append(&mut tail);
        return Ok(Some(Line::whole_with_newline(head)));
    }
    Ok(Some(Line {
        head,
        repeat: once,
        tail,
    }))
}

/// `"key":"escaped value"`, as it appears in compact JSON.
fn keyed(key: &str, value: &str) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(key)?;
    bytes.push(b':');
    serde_json::to_writer(&mut bytes, value)?;
    Ok(bytes)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use rmcp::model::{
        CallToolResult, ContentBlock, JsonRpcMessage, JsonRpcResponse, JsonRpcVersion2_0,
        NumberOrString, ServerResult,
    };
    use serde_json::json;

    use super::to_line;

    /// The bytes `message` is written as, joined.
    fn written(message: super::TxJsonRpcMessage<super::RoleServer>) -> String {
        let line = to_line(message).expect("serialise");
        let pieces = line.pieces().concat();
        let joined = line.into_bytes();
        assert_eq!(joined, pieces, "into_bytes joins the pieces");
        String::from_utf8(joined).expect("utf-8")
    }

    /// What serde_json writes for `message`, and the newline.
    fn expected(message: &super::TxJsonRpcMessage<super::RoleServer>) -> String {
        let mut bytes = serde_json::to_vec(message).expect("serialise");
        bytes.push(b'\n');
        String::from_utf8(bytes).expect("utf-8")
    }

    fn response(
        text: &str,
        structured: Option<serde_json::Value>,
        id: &str,
    ) -> super::TxJsonRpcMessage<super::RoleServer> {
        let mut result = CallToolResult::success(vec![ContentBlock::text(text.to_string())]);
        result.structured_content = structured;
        JsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: JsonRpcVersion2_0,
            id: NumberOrString::String(id.into()),
            result: ServerResult::CallToolResult(result),
        })
    }

    /// The one-escape writer writes exactly serde_json's bytes: texts with
    /// escapes, a note after the structured text, non-ASCII, a text that
    /// does not start with the structured one, short texts, texts big
    /// enough to be written twice from one buffer, and a request id that
    /// spells a stand-in.
    #[test]
    fn one_escape_writer_matches_serde_json() {
        let lines = "line \"q\" \\ \t tab é ✓ \u{1}\n".repeat(200);
        let note = "\n[truncated at the budget; call again with offset=9]";
        let big = lines.repeat(20);
        let cases = [
            (lines.clone(), lines.clone()),
            (format!("{lines}{note}"), lines.clone()),
            ("short\n".to_string(), "short\n".to_string()),
            (format!("other {lines}"), lines.clone()),
            ("x".repeat(5000), "x".repeat(5000)),
            (big.clone(), big.clone()),
            (format!("{big}{note}"), big.clone()),
        ];
        for (text, content) in cases {
            for id in [
                "7",
                "\u{1}moat:text\u{1}",
                "\"text\":\"\u{1}moat:text\u{1}\"",
            ] {
                let structured = json!({"content": content, "startLine": 1, "truncated": false});
                let message = response(&text, Some(structured), id);
                let expected = expected(&message);
                assert_eq!(written(message), expected);
            }
        }
        let plain = response(&lines, None, "1");
        let expected = expected(&plain);
        assert_eq!(written(plain), expected);
    }
}

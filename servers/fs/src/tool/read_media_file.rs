//! `read_media_file`: an image or audio file as MCP image/audio content
//! (base64 with its MIME type); other files as an embedded binary resource.
//!
//! # Must never
//! - load a file larger than the policy's `max_media_bytes` (it would be
//!   a third larger again as base64, in the model's context);
//! - open a FIFO, socket or device.

use base64::Engine;
use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use rmcp::model::{ContentBlock, ResourceContents};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::FsServer;

/// Arguments of `read_media_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The image or audio file.
    pub path: String,
}

const DESCRIPTION: &str = "Read an image or audio file so you can see or hear it (PNG, JPEG, \
GIF, WebP, BMP, SVG, MP3, WAV, OGG, FLAC, M4A...). Returns the data with its MIME type; other \
binary files come back as an embedded resource. Use read_text_file for text. Files over the \
media size limit are refused.";

moat_shared::tool! {
    /// The `read_media_file` tool.
    pub ReadMediaFile: BlockingTool<FsServer> = "read_media_file", "Read media file", super::read_only() {
        #![serde(rename_all = "camelCase")]
        /// The path, MIME type and size, as one line.
        pub content: String,
        /// The MIME type, by extension.
        pub mime_type: &'static str,
        /// How the content block carries it: `image`, `audio` or `blob`.
        #[schemars(extend("enum" = ["image", "audio", "blob"]))]
        pub kind: &'static str,
        /// The file's size.
        pub bytes: usize,
    }
}

/// MIME type by file extension (lower-case), and whether it is an image or
/// audio. Extensions, not content sniffing: the client asked for this
/// file by name, and a wrong guess only changes how it is shown.
pub fn mime_of(path: &str) -> (&'static str, &'static str) {
    let extension = path
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => ("image/png", "image"),
        "jpg" | "jpeg" => ("image/jpeg", "image"),
        "gif" => ("image/gif", "image"),
        "webp" => ("image/webp", "image"),
        "bmp" => ("image/bmp", "image"),
        "svg" => ("image/svg+xml", "image"),
        "ico" => ("image/x-icon", "image"),
        "tif" | "tiff" => ("image/tiff", "image"),
        "avif" => ("image/avif", "image"),
        "mp3" => ("audio/mpeg", "audio"),
        "wav" => ("audio/wav", "audio"),
        "ogg" | "oga" => ("audio/ogg", "audio"),
        "opus" => ("audio/opus", "audio"),
        "flac" => ("audio/flac", "audio"),
        "m4a" => ("audio/mp4", "audio"),
        "aac" => ("audio/aac", "audio"),
        "weba" => ("audio/webm", "audio"),
        _ => ("application/octet-stream", "blob"),
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, _: &CallContext) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    let bytes = target.read_capped(server.policy.max_media_bytes, "media", "")?;
    let (mime, kind) = mime_of(&args.path);
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let block = match kind {
        "image" => ContentBlock::image(data, mime),
        "audio" => ContentBlock::audio(data, mime),
        _ => ContentBlock::resource(ResourceContents::BlobResourceContents {
            uri: format!("file://{}", target.root.given.join(&target.rel).display()),
            mime_type: Some(mime.to_string()),
            blob: data,
            meta: None,
        }),
    };
    let summary = format!("{} ({mime}, {} bytes)", args.path, bytes.len());
    let mut output = structured(
        String::new(),
        &Output {
            content: summary,
            mime_type: mime,
            kind,
            bytes: bytes.len(),
        },
    );
    output.content = vec![block];
    Ok(output)
}

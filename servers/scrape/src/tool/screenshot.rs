//! `screenshot`: a PNG of a page, through the same policy and limits.

use base64::Engine as _;
use moat_shared::{CallContext, ToolOutput, runtime::tool::Unstructured};
use rmcp::model::ContentBlock;
use serde::Deserialize;

use crate::{engine::Engine, error::ScrapeError};

/// Default viewport: a common laptop screen.
const DEFAULT_VIEWPORT: (u32, u32) = (1280, 800);

/// Largest viewport side: 4K width; larger only makes bigger PNGs.
const MAX_VIEWPORT_SIDE: u32 = 3840;

/// Smallest viewport side that still lays a page out.
const MIN_VIEWPORT_SIDE: u32 = 100;

/// Arguments of `screenshot`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenshotArgs {
    /// The http or https URL to capture.
    pub url: String,
    /// Viewport width in CSS pixels (default 1280, 100-3840).
    #[serde(default)]
    pub width: Option<u32>,
    /// Viewport height in CSS pixels (default 800, 100-3840).
    #[serde(default)]
    pub height: Option<u32>,
    /// Capture the whole scrollable page, not only the viewport.
    #[serde(default)]
    pub full_page: bool,
}

/// What the tool does and when to use it, for the model.
const DESCRIPTION: &str = "Render a page in a headless browser and return a PNG image of the viewport (or the full page), within a size cap.";

moat_shared::tool! {
    /// The `screenshot` tool.
    pub Screenshot: AsyncTool<Engine> = "screenshot", "Screenshot a web page", super::read_only(Self::TITLE),
        args: ScreenshotArgs, output: Unstructured;
}

/// Run `screenshot`.
///
/// # Errors
/// Policy denial, robots.txt, browser failure, PNG over the size cap.
pub async fn run(
    engine: &Engine,
    args: ScreenshotArgs,
    _: &CallContext,
) -> Result<ToolOutput, ScrapeError> {
    let url = engine.url_policy.check(&args.url)?;
    let clamp = |side: Option<u32>, default: u32| {
        side.unwrap_or(default)
            .clamp(MIN_VIEWPORT_SIDE, MAX_VIEWPORT_SIDE)
    };
    let viewport = (
        clamp(args.width, DEFAULT_VIEWPORT.0),
        clamp(args.height, DEFAULT_VIEWPORT.1),
    );
    if engine.limits.respect_robots {
        engine
            .robots
            .check(&engine.fetcher, &url, engine.robots_timeout)
            .await?;
    }
    let (png, rendered) = engine
        .browser
        .screenshot(&url, viewport, args.full_page, engine.browser_timeout)
        .await?;
    let cap = engine.limits.screenshot_max_bytes;
    if png.len() > cap {
        return Err(ScrapeError::Unsupported(format!(
            "the screenshot is {} bytes, over the {cap}-byte cap; try full_page=false or a smaller viewport",
            png.len()
        )));
    }
    let caption = format!(
        "Screenshot of {} ({}x{}{}, {} bytes PNG)",
        rendered.final_url,
        viewport.0,
        viewport.1,
        if args.full_page { ", full page" } else { "" },
        png.len()
    );
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    Ok(ToolOutput {
        content: vec![
            ContentBlock::text(caption),
            ContentBlock::image(data, "image/png"),
        ],
        structured: None,
    })
}

//! Reports: one model ([`model`]), several renderers that write to any `io::Write`.
//!
//! Renderers never print directly and never read the clock: the same report renders to the same
//! bytes.

pub mod build;
pub mod community_id;
pub mod diagnosis;
pub mod ecs;
pub mod filter;
pub mod json;
pub mod json_flow;
pub mod markdown;
pub mod model;
pub mod quic;
pub mod redact;
pub mod stream;
pub mod summary;
pub mod text;
pub mod words;

pub use words::plural;

use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable blocks and a summary table.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per flow and a final summary line.
    Jsonl,
    /// A Markdown report for bug tickets.
    Markdown,
    /// One Elastic Common Schema document per flow, then per capture, diagnosis finding and
    /// summary ([`ecs`]).
    Ecs,
}

/// Renders `report` in `format` to `out`. `color` applies to text only.
pub fn render(
    report: &model::Report,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::render(report, color, out),
        Format::Json => json::render(report, out),
        Format::Jsonl => json::render_lines(report, out),
        Format::Markdown => markdown::render(report, out),
        Format::Ecs => ecs::render(report, out),
    }
}

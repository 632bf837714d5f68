//! Renderers of the compare report: text, JSON and Markdown, each writing to a `&mut dyn
//! Write`. The words for changes and pair lines live here, shared by text and Markdown.

mod markdown;
mod text;

use super::model::{
    CaptureSide, Change, CompareReport, Confidence, MatchKind, NotComparable, Pair,
};
use std::io::{self, Write};

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareFormat {
    /// A block per pair, then the unpaired flows, findings and captures.
    Text,
    /// One JSON document (the README's "compare JSON").
    Json,
    /// A report to paste into a bug ticket.
    Markdown,
}

/// Renders `report` in `format` to `out`; `color` applies to text only.
pub fn render(
    report: &CompareReport,
    format: CompareFormat,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        CompareFormat::Text => text::render(report, color, out),
        CompareFormat::Json => {
            let mut buffered = io::BufWriter::new(out);
            serde_json::to_writer(&mut buffered, report).map_err(io::Error::from)?;
            writeln!(buffered)?;
            buffered.flush()
        }
        CompareFormat::Markdown => markdown::render(report, out),
    }
}

/// A protocol list as shown: "h2, http/1.1", or "none".
fn protocols(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

/// How a pair was matched, in words.
fn matched_words(pair: &Pair) -> String {
    let how = match pair.matched {
        MatchKind::Hello => "the same ClientHello random",
        MatchKind::Timing => "time and SNI",
    };
    let confidence = match pair.confidence {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    };
    format!("matched by {how}, {confidence} confidence")
}

/// A change in words.
pub fn change_words(change: &Change) -> String {
    match change {
        Change::AlpnRemoved {
            protocols: p,
            extension_removed,
        } => format!(
            "B's ClientHello lacks {}{}",
            protocols(p),
            if *extension_removed {
                " (no ALPN extension at all)"
            } else {
                ""
            }
        ),
        Change::AlpnAdded { protocols: p } => {
            format!("B's ClientHello adds {}", protocols(p))
        }
        Change::AlpnReplaced { removed, added } => format!(
            "B's ClientHello lacks {} and offers {} instead",
            protocols(removed),
            protocols(added)
        ),
        Change::AlpnReordered { a, b } => format!(
            "B's ClientHello reorders the ALPN list: {} became {}",
            protocols(a),
            protocols(b)
        ),
        Change::SelectedDiffers { a, b } => format!(
            "selected {} in A, {} in B",
            a.as_deref().unwrap_or("none"),
            b.as_deref().unwrap_or("none")
        ),
        Change::SniChanged { a, b } => format!(
            "SNI {} in A, {} in B",
            a.as_deref().unwrap_or("none"),
            b.as_deref().unwrap_or("none")
        ),
        Change::IssuerDiffers { a, b } => {
            format!("certificate issuer \"{a}\" in A, \"{b}\" in B")
        }
        Change::ExtensionsChanged { removed, added } => format!(
            "B's ClientHello extensions differ (removed: {}; added: {})",
            protocols(removed),
            protocols(added)
        ),
    }
}

/// What cannot be compared, in words.
fn not_comparable_words(gap: &NotComparable) -> String {
    let side = |s: &CaptureSide| match s {
        CaptureSide::A => "A",
        CaptureSide::B => "B",
    };
    match gap {
        NotComparable::OfferUnknown { side: s } => {
            format!("the offer: capture {} cut the ClientHello", side(s))
        }
        NotComparable::SelectionUnknown { side: s } => format!(
            "the selection: capture {} does not show it (no ServerHello, or TLS 1.3 without keys)",
            side(s)
        ),
    }
}

/// Numbers joined: "4, 6, 16".
fn numbers<T: ToString>(list: &[T]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The median `hello_delay_ms` of the pairs matched `kind`, when any has one.
fn median_delay(report: &CompareReport, kind: MatchKind) -> Option<f64> {
    let mut delays: Vec<f64> = report
        .pairs
        .iter()
        .filter(|p| p.matched == kind)
        .filter_map(|p| p.hello_delay_ms)
        .collect();
    delays.sort_by(f64::total_cmp);
    delays.get(delays.len() / 2).copied()
}

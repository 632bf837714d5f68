//! The section of flows whose handshake lost packets: what the network did to each, capped at
//! [`LOSSY_ROWS`] rows with the rest listed by id.

use super::tally::{LOSSY_ROWS, MarkdownTally};
use super::{cell, in_capture, short_list_of};
use crate::flow::Anomaly;
use crate::report::model::{FlowReport, Report};
use std::io::{self, Write};

/// The table of flows whose handshake lost packets, when there are any.
pub(super) fn render_lossy_flows(
    report: &Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let lossy = &tally.lossy.flows;
    if lossy.is_empty() {
        return Ok(());
    }
    let multi = report.captures.len() > 1;
    writeln!(out)?;
    writeln!(out, "## Flows whose handshake lost packets")?;
    writeln!(out)?;
    writeln!(
        out,
        "| flow | client → server | verdict | what the network did | Wireshark filter |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for f in lossy.iter().take(LOSSY_ROWS) {
        writeln!(
            out,
            "| {} | {} → {} | `{}` | {} | `{}`{} |",
            f.id,
            f.client,
            f.server,
            f.verdict,
            cell(&what_the_network_did(f)),
            f.wireshark_filter(),
            in_capture(f, multi)
        )?;
    }
    let more = tally.lossy_count.saturating_sub(LOSSY_ROWS as u64);
    if more > 0 {
        let rest: Vec<u64> = lossy.iter().skip(LOSSY_ROWS).map(|f| f.id).collect();
        writeln!(out)?;
        writeln!(
            out,
            "{} more {} lost packets during the handshake (not shown): {} {}.",
            more,
            super::super::words::noun(more, "flow"),
            super::super::words::noun(more, "flow"),
            short_list_of(&rest, more)
        )?;
    }
    Ok(())
}

/// The loss a flow's handshake saw: its `network` finding, else its retransmissions in the
/// handshake window (a flow without a ServerHello has no finding).
fn what_the_network_did(flow: &FlowReport) -> String {
    if let Some(network) = &flow.network {
        return network.clone();
    }
    let mut parts = Vec::new();
    for kind in [
        Anomaly::Retransmission,
        Anomaly::FastRetransmission,
        Anomaly::SpuriousRetransmission,
        Anomaly::SynRetransmission,
    ] {
        let Some(counts) = flow.tcp.as_ref().and_then(|t| t.handshake.get(kind.name())) else {
            continue;
        };
        for (who, count) in [("client", &counts.client), ("server", &counts.server)] {
            if let Some(c) = count {
                let frames: Vec<String> = c.frames.iter().map(u64::to_string).collect();
                let name = kind.name().replace('_', " ");
                let name = name.trim_end_matches('s');
                parts.push(format!(
                    "{} {who} ({} {})",
                    super::plural(c.count, name),
                    super::super::words::noun(frames.len() as u64, "frame"),
                    frames.join(", ")
                ));
            }
        }
    }
    if parts.is_empty() {
        flow.detail.clone()
    } else {
        format!("in the handshake: {}", parts.join("; "))
    }
}

//! The section of flows whose handshake lost packets: what the network did to each, capped at
//! [`LOSSY_ROWS`] rows with the rest listed by id.

use super::{cell, in_capture, short_list};
use crate::flow::Anomaly;
use crate::report::model::{FlowReport, Report};
use std::io::{self, Write};

/// Rows of the table of lossy flows before the rest are only listed by id.
const LOSSY_ROWS: usize = 20;

/// The table of flows whose handshake lost packets, when there are any.
pub(super) fn render_lossy_flows(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let lossy: Vec<&FlowReport> = report
        .flows
        .iter()
        .filter(|f| f.tcp.handshake_loss)
        .collect();
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
            "| {} | {} → {} | `{}` | {} | `tcp.stream eq {}`{} |",
            f.id,
            f.client,
            f.server,
            f.verdict,
            cell(&what_the_network_did(f)),
            f.tcp_stream,
            in_capture(f, multi)
        )?;
    }
    if lossy.len() > LOSSY_ROWS {
        let rest: Vec<u64> = lossy.iter().skip(LOSSY_ROWS).map(|f| f.id).collect();
        writeln!(out)?;
        writeln!(
            out,
            "{} more flows lost packets during the handshake (not shown): flows {}.",
            rest.len(),
            short_list(&rest)
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
        let Some(counts) = flow.tcp.handshake.get(kind.name()) else {
            continue;
        };
        for (who, count) in [("client", &counts.client), ("server", &counts.server)] {
            if let Some(c) = count {
                let frames: Vec<String> = c.frames.iter().map(u64::to_string).collect();
                parts.push(format!(
                    "{} {who} {} (frames {})",
                    c.count,
                    kind.name().replace('_', " "),
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

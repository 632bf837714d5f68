//! One problem flow's section: its heading and sentence, then a table of its handshake, timing
//! and events.

use super::{cell, code, in_capture};
use crate::analysis::network::CapturePoint;
use crate::report::model::{FlowReport, Transport};
use std::io::{self, Write};

/// One problem flow: its heading and sentence, then a table of what the capture shows.
pub(super) fn render_flow(flow: &FlowReport, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    let transport = match flow.transport {
        Transport::Tcp => "",
        Transport::Quic => " (QUIC)",
    };
    writeln!(
        out,
        "### Flow {}: `{}` — {} → {}{transport}",
        flow.id, flow.verdict, flow.client, flow.server
    )?;
    writeln!(out)?;
    writeln!(out, "{}", flow.detail)?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "|---|---|")?;
    render_handshake_rows(flow, multi, out)?;
    let timing = timing(flow);
    if !timing.is_empty() {
        writeln!(out, "| timing | {} |", timing.join(", "))?;
    }
    render_event_rows(flow, out)?;
    writeln!(out)?;
    Ok(())
}

/// The rows about the handshake: Wireshark filter, SNI, offer, selection, version, evidence, JA4.
fn render_handshake_rows(flow: &FlowReport, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "| Wireshark filter | `{}`{} |",
        flow.wireshark_filter(),
        in_capture(flow, multi)
    )?;
    if let Some(quic) = &flow.quic {
        writeln!(
            out,
            "| QUIC | {} |",
            cell(&crate::report::text::quic_text(flow, quic, false))
        )?;
    }
    if let Some(starttls) = &flow.starttls {
        writeln!(
            out,
            "| STARTTLS | {} |",
            cell(&crate::report::text::starttls_text(starttls))
        )?;
    }
    writeln!(
        out,
        "| SNI | {} |",
        flow.sni.as_deref().map(code).unwrap_or_else(|| "-".into())
    )?;
    if let Some(dns) = &flow.dns_advertised {
        writeln!(
            out,
            "| DNS HTTPS | {} |",
            cell(&crate::report::text::dns_advertised_text(dns))
        )?;
    }
    let offered: Vec<String> = flow.alpn_offered.iter().map(|p| code(p)).collect();
    writeln!(
        out,
        "| offered | {} |",
        if flow.offer_unknown() {
            "unknown (the capture cut the ClientHello short)".into()
        } else if offered.is_empty() {
            "-".into()
        } else {
            offered.join(", ")
        }
    )?;
    writeln!(
        out,
        "| selected | {} |",
        flow.alpn_selected
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(
        out,
        "| TLS version | {} |",
        flow.tls_version.as_deref().unwrap_or("-")
    )?;
    let frames: Vec<String> = flow.evidence_frames.iter().map(u64::to_string).collect();
    writeln!(
        out,
        "| evidence frames | {}{} |",
        frames.join(", "),
        in_capture(flow, multi)
    )?;
    if let Some(ja4) = flow.client_hello.as_ref().and_then(|ch| ch.ja4.as_ref()) {
        writeln!(out, "| JA4 | `{ja4}` |")?;
    }
    Ok(())
}

/// Connect time, hello latency and handshake time, when known.
fn timing(flow: &FlowReport) -> Vec<String> {
    let mut timing = Vec::new();
    let Some(t) = &flow.tcp else {
        return timing;
    };
    if let Some(ms) = t.connect_ms {
        let point = match t.capture_point {
            CapturePoint::Client | CapturePoint::Server => {
                format!(" (captured near the {})", t.capture_point)
            }
            CapturePoint::Unknown => String::new(),
        };
        timing.push(format!("connect {ms:.3} ms{point}"));
    }
    if let Some(ms) = t.client_hello_to_server_hello_ms {
        timing.push(format!("ClientHello → ServerHello {ms:.3} ms"));
    }
    if let Some(ms) = t.handshake_ms {
        timing.push(format!("handshake {ms:.3} ms"));
    }
    timing
}

/// The rows about what happened: alerts, the network finding, resets and notes.
fn render_event_rows(flow: &FlowReport, out: &mut dyn Write) -> io::Result<()> {
    for alert in &flow.alerts {
        match alert.code {
            Some(code) => writeln!(
                out,
                "| alert | {} `{}` ({code}) from the {} (frame {}) |",
                alert.level, alert.description, alert.from, alert.frame
            )?,
            None => writeln!(
                out,
                "| alert | encrypted alert from the {} (frame {}) |",
                alert.from, alert.frame
            )?,
        }
    }
    if let Some(network) = &flow.network {
        writeln!(out, "| network | {} |", cell(network))?;
    }
    if let Some(slow) = flow.slow_server() {
        writeln!(out, "| wait | {} |", cell(&slow.detail))?;
    }
    for reset in flow.resets() {
        writeln!(
            out,
            "| reset | RST from the {} in frame {}, TTL {}{} |",
            reset.from,
            reset.frame,
            reset.ttl,
            reset
                .usual_ttl
                .map(|u| format!(" (usual {u})"))
                .unwrap_or_default()
        )?;
    }
    for note in &flow.notes {
        writeln!(out, "| note | {} |", cell(note))?;
    }
    Ok(())
}

//! The text renderer: a compact block per flow and a summary, readable at 100 columns.

use super::model::{
    AlpnSource, DnsAdvertised, DnsMatch, FlowReport, HandshakeEndEvidenceReport, QuicReport,
    Report, RetryIntegrityReport, StartTlsReport, Transport,
};
use super::words::plural;
use crate::analysis::StartTlsOutcome;
use crate::analysis::VerdictKind;
use crate::analysis::network::CapturePoint;
use std::io::{self, Write};

/// Line width the renderer wraps at.
const WIDTH: usize = 100;
/// Width of the label column.
const LABEL: usize = 10;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn verdict(&self, verdict: VerdictKind) -> String {
        let code = match verdict {
            VerdictKind::Agreed => "32",
            VerdictKind::Downgraded
            | VerdictKind::Hidden
            | VerdictKind::NotOffered
            | VerdictKind::NotTls => "33",
            _ => "31;1",
        };
        self.paint(code, verdict.name())
    }
}

/// Renders the report as text: each flow, then the captures read, the findings and the summary.
pub fn render(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let multi = report.captures.len() > 1;
    for flow in &report.flows {
        render_flow_block(flow, multi, color, out)?;
    }
    let listed_not_tls = report
        .flows
        .iter()
        .any(|f| f.verdict == VerdictKind::NotTls);
    render_end(report, listed_not_tls, color, out)
}

/// One flow's block followed by a blank line; `multi`: flows of several captures, each block
/// names its capture.
pub fn render_flow_block(
    flow: &FlowReport,
    multi: bool,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    render_flow(flow, multi, &Style { color }, out)?;
    writeln!(out)
}

/// What follows the flows: the captures read (with their warnings), the findings and the
/// summary. `listed_not_tls`: the report lists flows that are not TLS.
pub fn render_end(
    report: &Report,
    listed_not_tls: bool,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let style = Style { color };
    render_dns_https(report, &style, out)?;
    for capture in &report.captures {
        writeln!(
            out,
            "{} {} ({}, {}, {})",
            style.paint("1", "capture"),
            capture.path,
            match &capture.compression {
                Some(c) => format!("{}, {c}-compressed", capture.format),
                None => capture.format.clone(),
            },
            capture.link_types.join(", "),
            plural(capture.packets, "packet")
        )?;
        if let Some(files) = &capture.merged {
            writeln!(
                out,
                "  merged from {} files in timestamp order (frames numbered as in `mergecap -w merged.pcapng FILE…`):",
                files.len()
            )?;
            for file in files {
                writeln!(
                    out,
                    "    {} ({}, {})",
                    file.path,
                    match &file.compression {
                        Some(c) => format!("{}, {c}-compressed", file.format),
                        None => file.format.clone(),
                    },
                    plural(file.packets, "packet")
                )?;
            }
        }
        if let Some(filter) = &capture.filter {
            writeln!(
                out,
                "  filter '{}': {} matched, {} dropped",
                filter.expression,
                plural(filter.matched, "packet"),
                filter.dropped
            )?;
        }
        for warning in &capture.warnings {
            writeln!(out, "  {} {warning}", style.paint("33", "warning:"))?;
        }
    }
    writeln!(out)?;
    render_summary(report, listed_not_tls, &style, out)
}

/// The DNS HTTPS and SVCB records of the run, one line each (nothing when there are none):
/// `dns https frame 3: HTTPS example.com priority 1 target . alpn h2`.
fn render_dns_https(report: &Report, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let multi = report.captures.len() > 1;
    for record in &report.dns_https {
        let place = if multi {
            format!("capture {} frame {}", record.capture, record.frame)
        } else {
            format!("frame {}", record.frame)
        };
        writeln!(
            out,
            "{} {place}: {}",
            style.paint("1", "dns https"),
            record.describe()
        )?;
        for note in &record.notes {
            writeln!(out, "  {} {note}", style.paint("33", "note:"))?;
        }
    }
    if !report.dns_https.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// The summary alone (end of a live capture, whose flows were streamed);
/// `listed_not_tls`: flows that are not TLS were streamed too (`--all`).
pub fn render_summary_only(
    report: &Report,
    listed_not_tls: bool,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    for capture in &report.captures {
        for warning in &capture.warnings {
            writeln!(out, "warning: {warning}")?;
        }
        if let Some(stats) = &capture.statistics {
            let count = |n: Option<u64>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
            writeln!(
                out,
                "capture {}: {} seen, {} received by the kernel, {} dropped by the kernel, {} by the interface",
                capture.path,
                plural(capture.packets, "packet"),
                count(stats.received),
                count(stats.dropped),
                count(stats.interface_dropped)
            )?;
        }
    }
    let style = Style { color };
    render_dns_https(report, &style, out)?;
    render_summary(report, listed_not_tls, &style, out)
}

/// One flow's block: the header line, what was offered and selected, the verdict, and what the
/// packets showed.
fn render_flow(
    flow: &FlowReport,
    multi: bool,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let arrow = format!("{} → {}", flow.client, flow.server);
    let capture = if multi {
        format!("  capture {}", flow.capture)
    } else {
        String::new()
    };
    let transport = match flow.transport {
        Transport::Tcp => "",
        Transport::Quic => "  QUIC",
    };
    writeln!(
        out,
        "{}{transport}  {arrow}  frames {}–{}{capture}",
        style.paint("1", &format!("flow {}", flow.id)),
        flow.first_frame,
        flow.last_frame
    )?;
    if let Some(quic) = &flow.quic {
        field(out, "quic", &quic_text(flow, quic, true))?;
    }
    render_negotiation(flow, out)?;
    render_verdict(flow, style, out)?;
    render_observations(flow, out)
}

/// `QUIC v1, quic.connection.number == 0; Version Negotiation in frame 2 listing 0x00000001;
/// server's first Initial after 1.2 ms; handshake 13.442 ms (to the client's Finished in frame
/// 8); Handshake packets: 3 from the client, 4 from the server`.
pub(crate) fn quic_text(flow: &FlowReport, quic: &QuicReport, with_filter: bool) -> String {
    let version = quic
        .version_name
        .as_deref()
        .or(quic.version.as_deref())
        .unwrap_or("version unknown");
    let mut parts = vec![if with_filter {
        format!("{version}, {}", flow.wireshark_filter())
    } else {
        version.to_string()
    }];
    if let Some(client) = &quic.client_version {
        parts.push(format!("the client began in {}", version_label(client)));
    }
    if let Some(vn) = &quic.version_negotiation {
        let versions: Vec<String> = vn.versions.iter().map(|v| version_label(v)).collect();
        parts.push(format!(
            "Version Negotiation in frame {} listing {}",
            vn.frame,
            versions.join(", ")
        ));
    }
    if let Some(retry) = &quic.retry {
        let tag = match retry.integrity {
            RetryIntegrityReport::Valid => "tag valid",
            RetryIntegrityReport::Invalid => "tag INVALID",
            RetryIntegrityReport::NotChecked => "tag not checked",
        };
        parts.push(format!("Retry in frame {} ({tag})", retry.frame));
    }
    if let Some(ms) = quic.server_initial_ms {
        parts.push(format!("server's first Initial after {ms:.3} ms"));
    }
    if let (Some(frame), Some(evidence)) = (quic.handshake_end_frame, quic.handshake_end_evidence) {
        let what = match evidence {
            HandshakeEndEvidenceReport::ClientFinished => "the client's Finished",
            HandshakeEndEvidenceReport::ClientFirstShortHeader => "the client's first 1-RTT packet",
        };
        let time = quic
            .handshake_ms
            .map_or(String::new(), |ms| format!(" {ms:.3} ms"));
        parts.push(format!("handshake{time} (to {what} in frame {frame})"));
    }
    let sent = &quic.handshake_packets;
    if sent.client.count + sent.server.count > 0 {
        parts.push(format!(
            "Handshake packets: {} from the client, {} from the server",
            sent.client.count, sent.server.count
        ));
    }
    parts.join("; ")
}

/// A QUIC version of the report (`0x00000001`) by its name when it has one (`QUIC v1`).
fn version_label(hex: &str) -> String {
    match u32::from_str_radix(hex.trim_start_matches("0x"), 16) {
        Ok(v) => crate::quic::version::Version(v).to_string(),
        Err(_) => hex.to_string(),
    }
}

/// A labelled field, wrapped to the width, the label on its first line only.
fn field(out: &mut dyn Write, label: &str, value: &str) -> io::Result<()> {
    let lines = wrap(value, WIDTH - LABEL - 2);
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        writeln!(out, "  {label:<LABEL$}{line}")?;
    }
    Ok(())
}

/// The proxy, SNI, offered and selected fields.
fn render_negotiation(flow: &FlowReport, out: &mut dyn Write) -> io::Result<()> {
    if let Some(proxy) = &flow.proxy {
        field(
            out,
            "proxy",
            &format!(
                "{} to {}",
                proxy.kind.name(),
                proxy.target.as_deref().unwrap_or("(target not seen)")
            ),
        )?;
    }
    if let Some(starttls) = &flow.starttls {
        field(out, "starttls", &starttls_text(starttls))?;
    }
    field(out, "SNI", flow.sni.as_deref().unwrap_or("(none)"))?;
    if let Some(dns) = &flow.dns_advertised {
        field(out, "DNS HTTPS", &dns_advertised_text(dns))?;
    }
    field(out, "offered", &offered_text(flow))?;
    field(out, "selected", &selected_text(flow))
}

/// `smtp: STARTTLS in frame 8, answered in frame 9`; `mysql: SSLRequest in frame 6, TLS
/// offered in the greeting in frame 4`; `mysql: TLS not offered in the greeting in frame 55`.
pub(crate) fn starttls_text(s: &StartTlsReport) -> String {
    if s.outcome == StartTlsOutcome::AfterUnknownPlaintext {
        let at = |who: &str, frame: Option<u64>| frame.map(|f| format!("{who}'s from frame {f}"));
        let records: Vec<String> = [at("the client", s.frame), at("the server", s.reply_frame)]
            .into_iter()
            .flatten()
            .collect();
        return format!(
            "TLS after plaintext alpnscope does not recognise: hello records {}",
            records.join(", ")
        );
    }
    let protocol = s.protocol.map_or("(protocol unknown)", |p| p.name());
    let greeting = s.protocol.is_some_and(|p| p.server_offers_first());
    let answer = match (s.reply_frame, s.outcome) {
        (Some(frame), StartTlsOutcome::NotOffered) => {
            format!("TLS not offered in the greeting in frame {frame}")
        }
        (Some(frame), _) if greeting => format!("TLS offered in the greeting in frame {frame}"),
        (Some(frame), _) => format!("answered in frame {frame}"),
        (None, _) => "answer not captured".into(),
    };
    let command = match (&s.command, s.frame) {
        (Some(command), Some(frame)) => format!("{command} in frame {frame}"),
        _ if s.outcome == StartTlsOutcome::NotOffered => return format!("{protocol}: {answer}"),
        _ => "request not captured".into(),
    };
    format!("{protocol}: {command}, {answer}")
}

/// `alpn h2, http/1.1 for example.com (frame 3)`; `(no alpn; http/1.1 by default)`.
pub(crate) fn dns_advertised_text(dns: &DnsAdvertised) -> String {
    let alpn = if dns.alpn.is_empty() {
        "no alpn".to_string()
    } else {
        format!("alpn {}", dns.alpn.join(", "))
    };
    let default = if dns.no_default_alpn {
        ", no-default-alpn"
    } else {
        ""
    };
    let how = match dns.matched_by {
        DnsMatch::Name => "",
        DnsMatch::AddressHint => ", by its address hint: the flow sent no SNI",
    };
    format!(
        "{alpn}{default} for {} (frame {}{how})",
        dns.name, dns.frame
    )
}

/// What the client offered, or why that is unknown.
fn offered_text(flow: &FlowReport) -> String {
    let cut = flow.client_hello.as_ref().and_then(|h| h.cut);
    let sslv2 = flow.client_hello.as_ref().is_some_and(|h| h.sslv2_format);
    if flow.client_hello.is_none() {
        "(no ClientHello)".to_string()
    } else if let Some(cut) = cut.filter(|_| flow.offer_unknown()) {
        format!(
            "(unknown: the capture holds {} of the ClientHello's {} bytes)",
            cut.captured, cut.length
        )
    } else if sslv2 {
        "(none: SSLv2-format ClientHello, no extensions)".to_string()
    } else if flow.alpn_offered.is_empty() {
        "(no ALPN extension)".to_string()
    } else {
        flow.alpn_offered.join(", ")
    }
}

/// What the server selected and where it was read, or why it is unknown.
fn selected_text(flow: &FlowReport) -> String {
    match (&flow.alpn_selected, &flow.server_hello) {
        (Some(p), Some(sh)) => {
            let place = match flow.alpn_source {
                Some(AlpnSource::EncryptedExtensions) => "EncryptedExtensions, decrypted",
                Some(AlpnSource::ServerHello) | None => "ServerHello",
            };
            format!("{p}  ({place}, TLS {})", sh.version)
        }
        // TLS 1.3 puts the choice in the EncryptedExtensions: unread, it is unknown, not none
        // (unless the client offered nothing, so there was nothing to choose).
        (None, Some(sh))
            if flow.verdict == VerdictKind::Hidden
                || (sh.version.starts_with("1.3")
                    && flow.encrypted_extensions.is_none()
                    && (!flow.alpn_offered.is_empty()
                        || flow.client_hello.is_none()
                        || flow.offer_unknown())) =>
        {
            format!("(encrypted)  (TLS {})", sh.version)
        }
        (None, Some(sh)) if sh.cut.is_some() => {
            let cut = sh.cut.map_or((0, 0), |c| (c.captured, c.length));
            format!(
                "(unknown: the capture holds {} of the ServerHello's {} bytes)  (TLS {})",
                cut.0, cut.1, sh.version
            )
        }
        (None, Some(sh)) => format!("(none)  (ServerHello, TLS {})", sh.version),
        _ => "(no ServerHello)".to_string(),
    }
}

/// The verdict with its sentence (the verdict name painted) and the evidence frames.
fn render_verdict(flow: &FlowReport, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let verdict_line = format!("{}: {}", flow.verdict, flow.detail);
    let painted = wrap(&verdict_line, WIDTH - LABEL - 2);
    for (i, line) in painted.iter().enumerate() {
        let label = if i == 0 { "verdict" } else { "" };
        let line = if i == 0 {
            line.replacen(flow.verdict.name(), &style.verdict(flow.verdict), 1)
        } else {
            line.clone()
        };
        writeln!(out, "  {label:<LABEL$}{line}")?;
    }
    let frames: Vec<String> = flow.evidence_frames.iter().map(u64::to_string).collect();
    if !frames.is_empty() {
        writeln!(out, "  {:<LABEL$}frames {}", "evidence", frames.join(", "))?;
    }
    Ok(())
}

/// What the packets showed: alerts, the network finding, timing, resets and notes.
fn render_observations(flow: &FlowReport, out: &mut dyn Write) -> io::Result<()> {
    for alert in &flow.alerts {
        let what = match alert.code {
            Some(code) => format!("{} {} ({code})", alert.level, alert.description),
            None => "encrypted alert".to_string(),
        };
        writeln!(
            out,
            "  {:<LABEL$}{what} from the {} (frame {})",
            "alert", alert.from, alert.frame
        )?;
    }
    if let Some(network) = &flow.network {
        field(out, "network", network)?;
    }
    let timing = timing_line(flow);
    if !timing.is_empty() {
        field(out, "timing", &timing)?;
    }
    if let Some(slow) = flow.slow_server() {
        field(out, "wait", &slow.detail)?;
    }
    for reset in flow.resets() {
        let ttl = match reset.usual_ttl {
            Some(usual) if usual != reset.ttl => format!(", TTL {} (usual {usual})", reset.ttl),
            _ => format!(", TTL {}", reset.ttl),
        };
        writeln!(
            out,
            "  {:<LABEL$}RST from the {} (frame {}){ttl}",
            "reset", reset.from, reset.frame
        )?;
    }
    for note in &flow.notes {
        field(out, "note", note)?;
    }
    Ok(())
}

/// Connect time, hello latency and handshake time, when known.
fn timing_line(flow: &FlowReport) -> String {
    let mut parts = Vec::new();
    let Some(t) = &flow.tcp else {
        return String::new();
    };
    if let Some(ms) = t.connect_ms {
        let point = match t.capture_point {
            CapturePoint::Client => " (captured near the client)",
            CapturePoint::Server => " (captured near the server)",
            CapturePoint::Unknown => "",
        };
        parts.push(format!("connect {ms:.3} ms{point}"));
    }
    if let Some(ms) = t.client_hello_to_server_hello_ms {
        parts.push(format!("ClientHello → ServerHello {ms:.3} ms"));
    }
    if let Some(ms) = t.handshake_ms {
        parts.push(format!("handshake {ms:.3} ms"));
    }
    parts.join(", ")
}

/// The findings and the summary; `listed_not_tls`: the report lists flows that are not TLS.
fn render_summary(
    report: &Report,
    listed_not_tls: bool,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = &report.summary;
    let hint = if s.non_tls_flows > 0 && !listed_not_tls {
        " (--all lists them)"
    } else {
        ""
    };
    if !report.diagnosis.is_empty() {
        writeln!(out, "{}", style.paint("1", "findings"))?;
        for d in &report.diagnosis {
            for (i, line) in wrap(&d.conclusion, WIDTH - 4).iter().enumerate() {
                writeln!(out, "{}{line}", if i == 0 { "  - " } else { "    " })?;
            }
        }
        writeln!(out)?;
    }
    let refused = if s.starttls_refused_flows > 0 {
        format!(", {} refused to start TLS", s.starttls_refused_flows)
    } else {
        String::new()
    };
    // QUIC flows are TLS flows too: the count of the rest names their transport, not "other".
    let over_quic = if s.quic_flows > 0 {
        format!(" ({} over QUIC)", s.quic_flows)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} {}{over_quic}{refused}, {} without TLS{hint}",
        style.paint("1", "summary"),
        plural(s.tls_flows, "TLS flow"),
        plural(s.non_tls_flows, "TCP flow")
    )?;
    if s.tls_flows == 0 {
        return Ok(());
    }
    if s.handshake_loss_flows + s.reset_flows > 0 {
        writeln!(
            out,
            "  network: {} lost packets in the handshake, {} with loss anywhere, {} reset",
            plural(s.handshake_loss_flows, "flow"),
            s.loss_flows,
            s.reset_flows
        )?;
    }
    writeln!(out, "  {:<22}{:>6}", "verdict", "flows")?;
    for (verdict, count) in ordered_verdicts(&s.verdicts) {
        if count > 0 {
            writeln!(out, "  {:<22}{count:>6}", verdict)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:<40}{:>6}  {:<24}verdicts",
        "server", "flows", "SNI"
    )?;
    for server in &s.servers {
        let verdicts: Vec<String> = ordered_verdicts(&server.verdicts)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        let sni = match server.sni.len() {
            0 => "-".to_string(),
            1 => server.sni[0].clone(),
            n => format!("{} (+{})", server.sni[0], n - 1),
        };
        writeln!(
            out,
            "  {:<40}{:>6}  {:<24}{}",
            server.label(),
            server.flows,
            truncate(&sni, 23),
            verdicts.join(", ")
        )?;
    }
    Ok(())
}

/// Verdict counts in the glossary's order.
fn ordered_verdicts(
    counts: &std::collections::BTreeMap<&'static str, u64>,
) -> Vec<(&'static str, u64)> {
    crate::analysis::VerdictKind::ALL
        .iter()
        .map(|k| (k.name(), counts.get(k.name()).copied().unwrap_or(0)))
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Greedy word wrap; a word longer than the width gets a line of its own.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_width() {
        let lines = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(lines, ["aaa bbb", "ccc ddd"]);
        assert_eq!(wrap("", 5), [""]);
    }
}

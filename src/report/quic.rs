//! The QUIC parts of a flow report, from its [`QuicFacts`]: the `quic` object, and the notes a
//! QUIC handshake earns (draft ALPN tokens, re-sent Initials, packets that did not open).

use super::model::{
    BySender, CloseFrameType, CloseReport, FramesReport, HandshakeEndEvidenceReport,
    QuicPacketTypeReport, QuicReport, RetryIntegrityReport, RetryReport, VersionNegotiationReport,
};
use crate::analysis::{
    FlowFacts, FrameList, HandshakeEndEvidence, QuicFacts, QuicPacketType, alert_name,
};
use crate::quic::frame::TransportError;
use crate::quic::keys::RetryIntegrity;
use crate::quic::version::Version;
use crate::tls::ProtocolName;

/// `0x00000001`.
fn hex_version(v: Version) -> String {
    format!("0x{:08x}", v.0)
}

fn frames_report(list: &FrameList) -> FramesReport {
    FramesReport {
        count: list.count,
        frames: list.frames.clone(),
    }
}

/// The `quic` object of a flow.
pub fn quic_report(facts: &FlowFacts, quic: &QuicFacts) -> QuicReport {
    let version = quic.version();
    let end = quic.handshake_end();
    // Times count from the client's first Initial (the connection's first packet if none came).
    let start = quic.first_client_initial_time.unwrap_or(facts.first_time);
    QuicReport {
        version: version.map(hex_version),
        version_name: version
            .filter(|v| v.name().is_some() || v.draft_number().is_some())
            .map(|v| v.to_string()),
        client_version: quic
            .client_version
            .filter(|v| Some(*v) != version)
            .map(hex_version),
        connection_number: quic.connection_number,
        client_dcid: quic.client_dcid.map(|c| c.to_string()),
        server_scid: quic.server_scid.map(|c| c.to_string()),
        retry: quic.retry.map(|r| RetryReport {
            frame: r.frame,
            scid: r.scid.to_string(),
            integrity: match r.integrity {
                RetryIntegrity::Valid => RetryIntegrityReport::Valid,
                RetryIntegrity::Invalid => RetryIntegrityReport::Invalid,
                RetryIntegrity::NotChecked => RetryIntegrityReport::NotChecked,
            },
        }),
        version_negotiation: quic
            .version_negotiation
            .as_ref()
            .map(|vn| VersionNegotiationReport {
                frame: vn.frame,
                versions: vn.versions.iter().map(|v| hex_version(*v)).collect(),
            }),
        close: quic.close.as_ref().map(|c| CloseReport {
            frame: c.frame,
            from: c.from,
            frame_type: if c.application {
                CloseFrameType::Application
            } else {
                CloseFrameType::Transport
            },
            error_code: format!("0x{:x}", c.error_code),
            error_name: (!c.application)
                .then(|| TransportError(c.error_code).name())
                .flatten()
                .map(str::to_string),
            tls_alert: c.tls_alert,
            tls_alert_name: c.tls_alert.map(|a| alert_name(a).to_string()),
            reason: c.reason.clone(),
            packet_type: match c.packet_type {
                QuicPacketType::Initial => QuicPacketTypeReport::Initial,
                QuicPacketType::Handshake => QuicPacketTypeReport::Handshake,
            },
        }),
        client_initials: frames_report(&quic.client_initials),
        client_initials_resent: frames_report(&quic.resent_client_initials),
        server_initial_ms: quic
            .first_server_initial
            .map(|(_, t)| t.nanos_since(start) as f64 / 1e6),
        // A capture whose clock ran backwards gives no time rather than a negative one.
        handshake_ms: end
            .map(|e| e.time.nanos_since(start))
            .filter(|nanos| *nanos >= 0)
            .map(|nanos| nanos as f64 / 1e6),
        handshake_end_frame: end.map(|e| e.frame),
        handshake_end_evidence: end.map(|e| match e.evidence {
            HandshakeEndEvidence::ClientFinished => HandshakeEndEvidenceReport::ClientFinished,
            HandshakeEndEvidence::ClientFirstShortHeader => {
                HandshakeEndEvidenceReport::ClientFirstShortHeader
            }
        }),
        handshake_packets: BySender {
            client: frames_report(&quic.client_handshakes),
            server: frames_report(&quic.server_handshakes),
        },
        handshake_resent: BySender {
            client: quic.resent_client_handshakes.as_ref().map(frames_report),
            server: quic.resent_server_handshakes.as_ref().map(frames_report),
        },
        undecryptable_initials: frames_report(&quic.undecryptable_initials),
        one_rtt_packets: quic.one_rtt_packets,
    }
}

/// True for an ALPN token of a pre-RFC HTTP/3 or HTTP-over-QUIC draft: `h3-29`, `hq-29`, ….
fn is_draft_token(p: &ProtocolName) -> bool {
    let Some(rest) =
        p.0.strip_prefix(b"h3-")
            .or_else(|| p.0.strip_prefix(b"hq-"))
    else {
        return false;
    };
    !rest.is_empty() && rest.iter().all(u8::is_ascii_digit)
}

/// `the server re-sent its Handshake data once (frame 7)`: packets of `space` from `who` whose
/// CRYPTO data all repeated offsets sent before.
fn resent_note(who: &str, space: &str, resent: &FrameList) -> String {
    let frames: Vec<String> = resent.frames.iter().map(u64::to_string).collect();
    let times = if resent.count == 1 {
        "once".to_string()
    } else {
        format!("{} times", resent.count)
    };
    let frames = if frames.len() == 1 {
        format!("frame {}", frames.join(", "))
    } else {
        format!("frames {}", frames.join(", "))
    };
    format!("the {who} re-sent its {space} data {times} ({frames})")
}

/// Notes a QUIC flow earns.
pub fn quic_notes(facts: &FlowFacts, quic: &QuicFacts, alpn_selected: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some((hello, _)) = facts.client_hello() {
        let offered = hello.offered();
        if !offered.is_empty() && offered.iter().all(is_draft_token) {
            let names: Vec<String> = offered.iter().map(ProtocolName::escaped).collect();
            notes.push(format!(
                "the client offered only draft HTTP/3 tokens ({}): servers have dropped the drafts since RFC 9114 (h3); a current client offers h3",
                names.join(", ")
            ));
        }
    }
    if let Some(selected) = alpn_selected
        && is_draft_token(&ProtocolName(selected.as_bytes().to_vec()))
    {
        notes.push(format!(
            "the server selected {selected}, a draft HTTP/3 token: clients are dropping the drafts since RFC 9114 (h3); enable h3 on the server"
        ));
    }
    let resent = [
        ("client", "Initial", Some(&quic.resent_client_initials)),
        (
            "client",
            "Handshake",
            quic.resent_client_handshakes.as_ref(),
        ),
        (
            "server",
            "Handshake",
            quic.resent_server_handshakes.as_ref(),
        ),
    ];
    for (who, space, list) in resent {
        if let Some(list) = list.filter(|l| l.count > 0) {
            notes.push(resent_note(who, space, list));
        }
    }
    let undecryptable = &quic.undecryptable_initials;
    if undecryptable.count > 0 && !facts.client_hellos.is_empty() {
        let frames: Vec<String> = undecryptable.frames.iter().map(u64::to_string).collect();
        let (packets, frames) = if undecryptable.count == 1 {
            (
                "1 Initial packet did".to_string(),
                format!("frame {}", frames.join(", ")),
            )
        } else {
            (
                format!("{} Initial packets did", undecryptable.count),
                format!("frames {}", frames.join(", ")),
            )
        };
        notes.push(format!(
            "{packets} not open with the Initial keys of their version ({frames}): a peer's bug, a damaged packet, or another connection's"
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draft tokens are `h3-` or `hq-` and a draft number; `h3` and other names are not.
    #[test]
    fn draft_tokens() {
        let token = |s: &str| is_draft_token(&ProtocolName(s.as_bytes().to_vec()));
        assert!(token("h3-29") && token("hq-27") && token("h3-34"));
        assert!(!token("h3") && !token("h3-") && !token("h3-x") && !token("hq-interop"));
        assert!(!token("h2") && !token("http/1.1") && !token("h3-29x"));
    }
}

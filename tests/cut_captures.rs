//! Metamorphic test: cutting a capture early turns its flows into "capture stopped / ended
//! before …", never into failures. Every prefix of real captures of working connections (and of
//! connections that lost a packet but completed) is analysed: none may produce a network
//! finding, or say a handshake failed, was never answered or stopped answering.

use alpnscope::capture::{self, CaptureEvent};
use alpnscope::pipeline::{Analyzer, AnalyzerOptions};
use alpnscope::report::model::DiagnosisKind;

/// The records of a classic pcap file: the file header and each record's bytes.
fn pcap_records(bytes: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let (header, mut rest) = bytes.split_at(24);
    let little = header[0] == 0xd4 || header[0] == 0x4d;
    let mut records = Vec::new();
    while rest.len() >= 16 {
        let field = [rest[8], rest[9], rest[10], rest[11]];
        let caplen = if little {
            u32::from_le_bytes(field)
        } else {
            u32::from_be_bytes(field)
        } as usize;
        let (record, tail) = rest.split_at(16 + caplen);
        records.push(record);
        rest = tail;
    }
    (header, records)
}

#[test]
fn a_capture_cut_early_shows_no_failure() {
    let claims = [
        "failed",
        "never answered",
        "stopped answering",
        "fix the path",
    ];
    for name in [
        "tls12-h2-agreed.pcap",
        "tls13-hidden.pcap",
        "tls12-nginx-http1-only.pcap",
        "ch-split-3-segments.pcap",
        "port-reuse.pcap",
        "tls13-hrr.pcap",
        "loss-client-hello-rto.pcap",
        "loss-server-hello.pcap",
        "syn-retransmission.pcap",
        "reordering.pcap",
        "diagnosis-clients.pcap",
    ] {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let (header, records) = pcap_records(&bytes);
        for cut in 1..=records.len() {
            let mut prefix = header.to_vec();
            for record in &records[..cut] {
                prefix.extend_from_slice(record);
            }
            let mut analyzer = Analyzer::new(AnalyzerOptions::default());
            analyzer.begin_capture(0);
            let summary = capture::read_capture(&prefix[..], |event| {
                if let CaptureEvent::Frame(frame) = event {
                    analyzer.frame(&frame);
                }
            })
            .unwrap();
            let capture = analyzer.end_capture(name, &summary);
            let report = analyzer.into_report(vec![capture]);
            for d in &report.diagnosis {
                assert_ne!(
                    d.kind,
                    DiagnosisKind::Network,
                    "{name} cut after {cut} packets: {}",
                    d.conclusion
                );
            }
            for flow in &report.flows {
                let said = format!("{} {}", flow.detail, flow.network.as_deref().unwrap_or(""));
                for claim in claims {
                    assert!(
                        !said.contains(claim),
                        "{name} cut after {cut} packets, flow {}: {said}",
                        flow.id
                    );
                }
            }
        }
    }
}

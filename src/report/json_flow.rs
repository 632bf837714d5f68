//! One flow's report as compact JSON, written field by field: the same bytes as
//! `serde_json::to_writer` writes for a [`FlowReport`], for a fraction of the work.
//!
//! A JSON report is written as its flows end, and on a capture of many short connections that
//! writing was a fifth of the run: serde_json passes every field through its visitor, and
//! escapes every key and string a byte at a time. Here each key is one constant written with
//! its quotes, comma and colon, a string is checked for characters to escape in one pass and
//! copied whole when it has none (nearly always), and numbers go through `itoa`. The parts every
//! TLS flow has (endpoints, the hellos, the TCP summary with its FINs, the verdict and capture
//! point, parts that are absent and lists that are empty) are written here; the rest (QUIC,
//! decryption, certificate, STARTTLS, proxy, DNS, alerts, the TCP report's holes, resets,
//! re-sent messages, gaps and slow server when there are any, non-empty counts, floats, the
//! other enums) and any string to escape go to serde_json itself, so their bytes are its own.
//!
//! Every struct written here is taken apart without `..`: a field added to the model does not
//! compile until it is written here too. `tests::every_fixture_flow_is_written_as_serde_json_writes_it`
//! holds the output to serde_json's on every flow of every fixture.

use super::model::{
    ClientHelloReport, EndpointReport, FinReport, FlowReport, HexCodes, ServerHelloReport,
    TcpReport,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Appends `flow` to `out` as serde_json's compact JSON.
pub fn write_flow(out: &mut Vec<u8>, flow: &FlowReport) -> serde_json::Result<()> {
    let FlowReport {
        id,
        capture,
        tcp_stream,
        transport,
        client,
        server,
        community_id,
        first_frame,
        last_frame,
        start,
        client_hello_time: _,
        sni,
        alpn_offered,
        alpn_selected,
        alpn_source,
        tls_version,
        verdict,
        detail,
        evidence_frames,
        network_cause: _,
        plain_http_to_tls_port: _,
        application: _,
        client_hello,
        server_hello,
        encrypted_extensions,
        server_certificate,
        decryption,
        alerts,
        proxy,
        starttls,
        tcp,
        quic,
        network,
        dns_advertised,
        notes,
    } = flow;
    out.extend_from_slice(b"{\"id\":");
    number(out, *id);
    out.extend_from_slice(b",\"capture\":");
    number(out, *capture as u64);
    out.extend_from_slice(b",\"tcp_stream\":");
    option(out, tcp_stream.as_ref(), |out, n| {
        number(out, *n);
        Ok(())
    })?;
    out.extend_from_slice(b",\"transport\":");
    serde(out, transport)?;
    out.extend_from_slice(b",\"client\":");
    endpoint(out, client);
    out.extend_from_slice(b",\"server\":");
    endpoint(out, server);
    out.extend_from_slice(b",\"community_id\":");
    string(out, community_id)?;
    out.extend_from_slice(b",\"first_frame\":");
    number(out, *first_frame);
    out.extend_from_slice(b",\"last_frame\":");
    number(out, *last_frame);
    out.extend_from_slice(b",\"start\":");
    string(out, start)?;
    out.extend_from_slice(b",\"sni\":");
    option(out, sni.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"alpn_offered\":");
    strings(out, alpn_offered)?;
    out.extend_from_slice(b",\"alpn_selected\":");
    option(out, alpn_selected.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"alpn_source\":");
    serde(out, alpn_source)?;
    out.extend_from_slice(b",\"tls_version\":");
    option(out, tls_version.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"verdict\":");
    name(out, verdict.name());
    out.extend_from_slice(b",\"detail\":");
    string(out, detail)?;
    out.extend_from_slice(b",\"evidence_frames\":");
    numbers(out, evidence_frames);
    out.extend_from_slice(b",\"client_hello\":");
    option(out, client_hello.as_ref(), client_hello_report)?;
    out.extend_from_slice(b",\"server_hello\":");
    option(out, server_hello.as_ref(), server_hello_report)?;
    out.extend_from_slice(b",\"encrypted_extensions\":");
    option(out, encrypted_extensions.as_ref(), serde)?;
    out.extend_from_slice(b",\"server_certificate\":");
    option(out, server_certificate.as_ref(), serde)?;
    out.extend_from_slice(b",\"decryption\":");
    option(out, decryption.as_ref(), serde)?;
    out.extend_from_slice(b",\"alerts\":");
    list_or_serde(out, alerts)?;
    out.extend_from_slice(b",\"proxy\":");
    option(out, proxy.as_ref(), serde)?;
    out.extend_from_slice(b",\"starttls\":");
    option(out, starttls.as_ref(), serde)?;
    out.extend_from_slice(b",\"tcp\":");
    option(out, tcp.as_deref(), tcp_report)?;
    out.extend_from_slice(b",\"quic\":");
    option(out, quic.as_ref(), serde)?;
    out.extend_from_slice(b",\"network\":");
    option(out, network.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"dns_advertised\":");
    option(out, dns_advertised.as_ref(), serde)?;
    out.extend_from_slice(b",\"notes\":");
    strings(out, notes)?;
    out.push(b'}');
    Ok(())
}

/// `{"frames":[…],"random":"…",…}`
fn client_hello_report(out: &mut Vec<u8>, hello: &ClientHelloReport) -> serde_json::Result<()> {
    let ClientHelloReport {
        frames,
        random,
        legacy_version,
        supported_versions,
        cipher_suites,
        extensions,
        alpn_grease,
        alpn_malformed,
        sslv2_format,
        cut,
        alps,
        ja4,
        after_hello_retry_request,
    } = hello;
    out.extend_from_slice(b"{\"frames\":");
    numbers(out, frames);
    out.extend_from_slice(b",\"random\":");
    string(out, random)?;
    out.extend_from_slice(b",\"legacy_version\":");
    string(out, legacy_version)?;
    out.extend_from_slice(b",\"supported_versions\":");
    strings(out, supported_versions)?;
    out.extend_from_slice(b",\"cipher_suites\":");
    hex_codes(out, cipher_suites);
    out.extend_from_slice(b",\"extensions\":");
    hex_codes(out, extensions);
    out.extend_from_slice(b",\"alpn_grease\":");
    boolean(out, *alpn_grease);
    out.extend_from_slice(b",\"alpn_malformed\":");
    option(out, alpn_malformed.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"sslv2_format\":");
    boolean(out, *sslv2_format);
    out.extend_from_slice(b",\"cut\":");
    option(out, cut.as_ref(), serde)?;
    out.extend_from_slice(b",\"alps\":");
    option(out, alps.as_ref(), |out, list| strings(out, list))?;
    out.extend_from_slice(b",\"ja4\":");
    option(out, ja4.as_ref(), |out, s| string(out, s))?;
    out.extend_from_slice(b",\"after_hello_retry_request\":");
    boolean(out, *after_hello_retry_request);
    out.push(b'}');
    Ok(())
}

/// `{"frames":[…],"version":"…",…}`
fn server_hello_report(out: &mut Vec<u8>, hello: &ServerHelloReport) -> serde_json::Result<()> {
    let ServerHelloReport {
        frames,
        version,
        cipher_suite,
        extensions,
        alpn,
        hello_retry_request_frames,
        npn,
        cut,
    } = hello;
    out.extend_from_slice(b"{\"frames\":");
    numbers(out, frames);
    out.extend_from_slice(b",\"version\":");
    string(out, version)?;
    out.extend_from_slice(b",\"cipher_suite\":");
    string(out, cipher_suite)?;
    out.extend_from_slice(b",\"extensions\":");
    hex_codes(out, extensions);
    out.extend_from_slice(b",\"alpn\":");
    option(out, alpn.as_ref(), |out, list| strings(out, list))?;
    out.extend_from_slice(b",\"hello_retry_request_frames\":");
    option(out, hello_retry_request_frames.as_ref(), |out, list| {
        numbers(out, list);
        Ok(())
    })?;
    out.extend_from_slice(b",\"npn\":");
    boolean(out, *npn);
    out.extend_from_slice(b",\"cut\":");
    option(out, cut.as_ref(), serde)?;
    out.push(b'}');
    Ok(())
}

/// `{"connect_ms":…,"capture_point":"…",…}`
fn tcp_report(out: &mut Vec<u8>, tcp: &TcpReport) -> serde_json::Result<()> {
    let TcpReport {
        connect_ms,
        capture_point,
        client_hello_to_server_hello_ms,
        client_hello_span_ms,
        handshake_ms,
        handshake_end_frame,
        handshake_loss,
        flow_loss: _,
        handshake,
        flow,
        holes,
        resets,
        fins,
        retransmitted_messages,
        capture_gaps,
        slow_server,
    } = tcp;
    out.extend_from_slice(b"{\"connect_ms\":");
    option(out, connect_ms.as_ref(), serde)?;
    out.extend_from_slice(b",\"capture_point\":");
    name(out, capture_point.name());
    out.extend_from_slice(b",\"client_hello_to_server_hello_ms\":");
    option(out, client_hello_to_server_hello_ms.as_ref(), serde)?;
    out.extend_from_slice(b",\"client_hello_span_ms\":");
    option(out, client_hello_span_ms.as_ref(), serde)?;
    out.extend_from_slice(b",\"handshake_ms\":");
    option(out, handshake_ms.as_ref(), serde)?;
    out.extend_from_slice(b",\"handshake_end_frame\":");
    option(out, handshake_end_frame.as_ref(), |out, n| {
        number(out, *n);
        Ok(())
    })?;
    out.extend_from_slice(b",\"handshake_loss\":");
    boolean(out, *handshake_loss);
    out.extend_from_slice(b",\"handshake\":");
    map_or_serde(out, handshake)?;
    out.extend_from_slice(b",\"flow\":");
    map_or_serde(out, flow)?;
    out.extend_from_slice(b",\"holes\":");
    map_or_serde(out, holes)?;
    out.extend_from_slice(b",\"resets\":");
    list_or_serde(out, resets)?;
    out.extend_from_slice(b",\"fins\":");
    // Nearly every flow has its two FINs: written here, as serde_json writes them.
    out.push(b'[');
    for (i, FinReport { from, frame }) in fins.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"from\":\"");
        out.extend_from_slice(from.name().as_bytes());
        out.extend_from_slice(b"\",\"frame\":");
        number(out, *frame);
        out.push(b'}');
    }
    out.push(b']');
    out.extend_from_slice(b",\"retransmitted_messages\":");
    list_or_serde(out, retransmitted_messages)?;
    out.extend_from_slice(b",\"capture_gaps\":");
    list_or_serde(out, capture_gaps)?;
    out.extend_from_slice(b",\"slow_server\":");
    option(out, slow_server.as_ref(), serde)?;
    out.push(b'}');
    Ok(())
}

/// `"name"`: a name of the report's vocabulary (its serde name), with nothing to escape.
fn name(out: &mut Vec<u8>, name: &'static str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// `[]` for an empty list (the usual case), else serde_json's text of it.
fn list_or_serde<T: Serialize>(out: &mut Vec<u8>, list: &[T]) -> serde_json::Result<()> {
    if list.is_empty() {
        out.extend_from_slice(b"[]");
        Ok(())
    } else {
        serde(out, list)
    }
}

/// `{}` for an empty map (a TCP report's counts and holes, usually), else serde_json's text of
/// it.
fn map_or_serde<K: Serialize, V: Serialize>(
    out: &mut Vec<u8>,
    map: &BTreeMap<K, V>,
) -> serde_json::Result<()> {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
        Ok(())
    } else {
        serde(out, map)
    }
}

/// `{"ip":"…","port":…}`
fn endpoint(out: &mut Vec<u8>, endpoint: &EndpointReport) {
    let EndpointReport { ip, port } = endpoint;
    out.extend_from_slice(b"{\"ip\":\"");
    // An address's text has nothing to escape. An IPv4 address is its four numbers (the
    // formatting machinery took as long as the rest of the endpoint).
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                number(out, u64::from(octet));
            }
        }
        IpAddr::V6(_) => {
            use std::io::Write;
            let _ = write!(out, "{ip}");
        }
    }
    out.extend_from_slice(b"\",\"port\":");
    number(out, u64::from(*port));
    out.push(b'}');
}

/// `null`, or what `write` writes of the value.
fn option<T>(
    out: &mut Vec<u8>,
    value: Option<&T>,
    write: impl FnOnce(&mut Vec<u8>, &T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    match value {
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        Some(value) => write(out, value),
    }
}

/// What serde_json writes of `value`.
fn serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, value)
}

/// A string in quotes, copied whole when it has nothing to escape; else serde_json's escaping.
fn string(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    // serde_json escapes the control characters, '"' and '\\', and nothing else. One pass
    // over every byte without stopping early, which the compiler vectorises.
    let escapes = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escapes {
        return serde(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// `["…","…"]`
fn strings(out: &mut Vec<u8>, list: &[impl AsRef<str>]) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, text) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, text.as_ref())?;
    }
    out.push(b']');
    Ok(())
}

/// An unsigned number.
fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `[1,2,3]`
fn numbers(out: &mut Vec<u8>, list: &[u64]) {
    out.push(b'[');
    for (i, n) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        number(out, *n);
    }
    out.push(b']');
}

/// `true` or `false`.
fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// `["1301","c02f"]`: each code as 4 lowercase hex digits (as [`HexCodes`] serializes).
fn hex_codes(out: &mut Vec<u8>, codes: &HexCodes) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digit = |code: u16, shift: u16| DIGITS[usize::from((code >> shift) & 0xf)];
    out.reserve(codes.0.len() * 7 + 2);
    // Each code with the comma before it, in one copy; the first one's comma becomes the
    // opening bracket.
    let start = out.len();
    for &code in &codes.0 {
        out.extend_from_slice(&[
            b',',
            b'"',
            digit(code, 12),
            digit(code, 8),
            digit(code, 4),
            digit(code, 0),
            b'"',
        ]);
    }
    match out.get_mut(start) {
        Some(first) => *first = b'[',
        None => out.push(b'['),
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::files::{AnalyzeOptions, analyze_files};

    fn written(flow: &FlowReport) -> Vec<u8> {
        let mut out = Vec::new();
        write_flow(&mut out, flow).unwrap();
        out
    }

    /// The names written without serde are serde's names.
    #[test]
    fn vocabulary_names_are_serde_names() {
        use crate::analysis::VerdictKind;
        use crate::analysis::network::CapturePoint;
        for kind in VerdictKind::ALL {
            let mut out = Vec::new();
            name(&mut out, kind.name());
            assert_eq!(out, serde_json::to_vec(&kind).unwrap());
        }
        for point in [
            CapturePoint::Client,
            CapturePoint::Server,
            CapturePoint::Unknown,
        ] {
            let mut out = Vec::new();
            name(&mut out, point.name());
            assert_eq!(out, serde_json::to_vec(&point).unwrap());
        }
    }

    #[test]
    fn every_fixture_flow_is_written_as_serde_json_writes_it() {
        let mut flows = 0;
        for path in crate::test_fixtures::captures() {
            let mut options = AnalyzeOptions::default();
            options.analyzer.include_non_tls = true;
            let keys = path.with_extension("keys");
            if keys.exists() {
                options.keylogs = vec![keys.display().to_string()];
            }
            let name = path.display().to_string();
            let Ok(report) = analyze_files(std::slice::from_ref(&name), &options, &mut |_| {})
            else {
                continue;
            };
            for flow in &report.flows {
                let expected = serde_json::to_vec(flow).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&written(flow)),
                    String::from_utf8_lossy(&expected),
                    "{name}: flow {}",
                    flow.id
                );
                flows += 1;
            }
        }
        assert!(flows > 500, "only {flows} flows");
    }

    /// A fixture's flow with every optional part set and strings that need escaping: the
    /// fields no fixture fills, and serde_json's escaping where the fast path must step aside.
    #[test]
    fn escapes_and_optional_parts_are_written_as_serde_json_writes_them() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/both-sides-client.pcap"
        );
        let report =
            analyze_files(&[path.to_string()], &AnalyzeOptions::default(), &mut |_| {}).unwrap();
        let mut flow = report.flows[0].clone();
        let odd = "quote \" back\\slash \n\t\u{1} é \u{7f} ✓";
        flow.tcp_stream = None;
        flow.client.ip = "2001:db8::1".parse().unwrap();
        flow.server.ip = "::ffff:192.0.2.1".parse().unwrap();
        flow.sni = Some(odd.to_string());
        flow.alpn_offered = vec![odd.to_string(), String::new(), "h2".to_string()];
        flow.alpn_selected = None;
        flow.tls_version = None;
        flow.detail = odd.to_string();
        flow.evidence_frames = Vec::new();
        flow.network = Some(odd.to_string());
        flow.notes = vec![odd.to_string(), "plain".to_string()];
        let hello = flow.client_hello.as_mut().unwrap();
        hello.alpn_malformed = Some(odd.to_string());
        hello.alps = Some(vec!["h2".to_string(), odd.to_string()]);
        hello.ja4 = None;
        hello.cut = Some(super::super::model::CutReport {
            captured: 10,
            length: 20,
        });
        hello.cipher_suites = HexCodes(vec![0, 0xffff, 0x0a0b]);
        hello.extensions = HexCodes(Vec::new());
        let server = flow.server_hello.as_mut().unwrap();
        server.alpn = Some(Vec::new());
        server.hello_retry_request_frames = Some(vec![1, u64::MAX]);
        let tcp = flow.tcp.as_mut().unwrap();
        tcp.connect_ms = None;
        tcp.handshake_ms = Some(f64::NAN);
        tcp.handshake_end_frame = None;
        tcp.flow.clear();
        assert_eq!(
            String::from_utf8_lossy(&written(&flow)),
            serde_json::to_string(&flow).unwrap()
        );
        flow.client_hello = None;
        flow.server_hello = None;
        flow.tcp = None;
        assert_eq!(
            String::from_utf8_lossy(&written(&flow)),
            serde_json::to_string(&flow).unwrap()
        );
    }
}

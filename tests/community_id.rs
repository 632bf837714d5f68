//! `community_id` (Community ID v1) in the JSON report: the strings the reference
//! implementation gives the fixtures' flows, and under `--redact` the ID of the pseudonyms.
//!
//! The expected strings were cross-checked by hand, never at test time: with the reference
//! Python implementation (`pip install communityid`, `CommunityID().calc(FlowTuple(…))` over
//! the tuple tshark shows) and with Wireshark's own Community ID (`tshark --enable-protocol
//! communityid -T fields -e communityid`), which agree.

mod common;

use common::{analyze_json, project_path, run};

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// (client, server, community_id) of every flow of a JSON report.
fn ids(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    let endpoint = |e: &serde_json::Value| format!("{}:{}", e["ip"].as_str().unwrap(), e["port"]);
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                endpoint(&f["client"]),
                endpoint(&f["server"]),
                f["community_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn tcp_and_quic_flows_carry_the_reference_community_id() {
    let tcp = analyze_json(&fixture("ipv6.pcap"), &[]);
    assert_eq!(
        ids(&tcp),
        [(
            "::1:47968".to_string(),
            "::1:8443".to_string(),
            "1:84RbP0BC/s1QMr0AmQ7FGQAHm9I=".to_string()
        )]
    );
    // QUIC is hashed as UDP (protocol 17), as Zeek and Suricata see it.
    let quic = analyze_json(&fixture("quic-ipv6.pcap"), &[]);
    assert_eq!(
        ids(&quic),
        [(
            "::1:48647".to_string(),
            "::1:4433".to_string(),
            "1:kU8dujSZC9B2feY49LWpDnElhmA=".to_string()
        )]
    );
    let many = analyze_json(&fixture("many-flows.pcap"), &[]);
    let first: Vec<_> = ids(&many).into_iter().take(3).collect();
    assert_eq!(
        first,
        [
            (
                "127.0.0.1:45170".to_string(),
                "127.0.0.1:8443".to_string(),
                "1:fvpAo4mjVlU4KUriHIw+ZlhBfAI=".to_string()
            ),
            (
                "127.0.0.1:45184".to_string(),
                "127.0.0.1:8443".to_string(),
                "1:xUSfpHPVP1PHmHI8+PoIScHkytk=".to_string()
            ),
            (
                "127.0.0.1:45194".to_string(),
                "127.0.0.1:8443".to_string(),
                "1:5jxQcAsEfuWS7wnBCoBJwyFko8g=".to_string()
            ),
        ]
    );
}

/// The JSON Lines flow objects carry the same field.
#[test]
fn json_lines_carry_community_id() {
    let out = run(&["analyze", "--format", "jsonl", &fixture("ipv6.pcap")]);
    assert!(out.status.success());
    let first: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["community_id"], "1:84RbP0BC/s1QMr0AmQ7FGQAHm9I=");
}

/// A redacted report never carries the ID of the real addresses: its ID is that of the
/// pseudonyms it shows, the ID Zeek or Suricata give the flow in the redacted extract (which
/// carries the same pseudonyms), and alpnscope gives it reading that extract.
#[test]
fn redacted_reports_hash_the_pseudonyms() {
    let capture = fixture("tls12-server-no-alpn.pcap");
    let plain = ids(&analyze_json(&capture, &[]));
    let redacted = ids(&analyze_json(&capture, &["--redact", "--redact-key", "k"]));
    assert_eq!(plain.len(), 2);
    assert_eq!(redacted.len(), 2);
    let parse = |s: &str| -> std::net::SocketAddr { s.parse().unwrap() };
    for ((client, server, id), (real_client, _, real_id)) in redacted.iter().zip(&plain) {
        assert_ne!(client, real_client, "the client address is a pseudonym");
        assert_ne!(id, real_id, "the ID of the real addresses is gone");
        let (c, s) = (parse(client), parse(server));
        assert_eq!(
            *id,
            alpnscope::report::community_id::community_id_v1(
                (c.ip(), c.port()),
                (s.ip(), s.port()),
                6,
                0
            )
        );
    }

    let dir = std::env::temp_dir().join(format!("alpnscope-cid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extract = dir.join("redacted.pcapng");
    let out = run(&[
        "analyze",
        "--redact",
        "--redact-key",
        "k",
        "--extract",
        extract.to_str().unwrap(),
        &capture,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_extract = ids(&analyze_json(extract.to_str().unwrap(), &[]));
    assert_eq!(from_extract, redacted);
    std::fs::remove_dir_all(&dir).ok();
}

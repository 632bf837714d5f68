//! The memory budget (`--memory`) on a small flood: connections that each send 8 KiB of a
//! ClientHello claiming 65,000 bytes, then the real connection of tls12-h2-agreed.pcap.

mod common;

use common::{analyze_json, project_path, run, strings};

const FLOOD: u32 = 20;

/// An Ethernet + IPv4 + TCP frame (no checksums: alpnscope does not check them).
fn frame(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    let total = (40 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The flood's connections (SYN, then 8 KiB of a ClientHello in 1460-byte segments, 10 µs
/// apart from `start_us`), then the first connection of tls12-h2-agreed.pcap.
fn hello_flood() -> Vec<u8> {
    let real = std::fs::read(project_path("fixtures/tls12-h2-agreed.pcap")).unwrap();
    let mut records = Vec::new();
    let mut offset = 24;
    while offset + 16 <= real.len() {
        let caplen = u32::from_le_bytes(real[offset + 8..offset + 12].try_into().unwrap()) as usize;
        records.push(real[offset..offset + 16 + caplen].to_vec());
        offset += 16 + caplen;
    }
    // The real connection: the first 18 frames.
    records.truncate(18);
    let first_s = u32::from_le_bytes(records[0][0..4].try_into().unwrap());
    let mut out = real[..24].to_vec();
    let mut hello = vec![0x16, 3, 1, 0x40, 0, 1, 0, 0xfd, 0xe8, 3, 3];
    hello.resize(8 * 1024, 0);
    let mut t_us: u64 = u64::from(first_s - 1) * 1_000_000;
    let mut write = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        t_us += 10;
    };
    for i in 0..FLOOD {
        let ports = (10_000 + i as u16, 443);
        let (client, server) = ([10, 0, 0, 1], [192, 0, 2, 10]);
        write(&mut out, &frame(client, server, ports, 1000, 0x02, &[]));
        let mut seq = 1001;
        for chunk in hello.chunks(1460) {
            write(&mut out, &frame(client, server, ports, seq, 0x18, chunk));
            seq += chunk.len() as u32;
        }
    }
    for record in records {
        out.extend_from_slice(&record);
    }
    out
}

fn flood_file() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("alpnscope-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hello-flood.pcap");
    std::fs::write(&path, hello_flood()).unwrap();
    path
}

#[test]
fn a_small_budget_closes_unanswered_hellos_and_the_real_flow_is_still_agreed() {
    let path = flood_file();
    let path = path.to_str().unwrap();
    let doc = analyze_json(path, &["--memory", "64K"]);
    let memory = &doc["captures"][0]["memory"];
    assert_eq!(memory["budget"], 65536);
    assert_eq!(memory["closed_flows"], 0);
    assert_eq!(memory["stopped_reading_flows"], 0);
    assert_eq!(memory["out_of_order_flows"], 0);
    assert_eq!(memory["evicted_flows"], 18);
    // Each flood flow held at least its 8 KiB of hello twice (kept for comparison, and
    // reassembled).
    assert!(memory["evicted_bytes"].as_u64().unwrap() > 18 * 16 * 1024);
    assert!(memory["peak"].as_u64().unwrap() > 65536);
    let warnings = strings(&doc["captures"][0]["warnings"]);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with(
            "the flow state outgrew the memory budget (64 KiB, --memory): alpnscope closed 18 flows without a complete handshake early, least recently active first ("
        ),
        "{warnings:?}"
    );
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), FLOOD as usize + 1);
    assert_eq!(
        flows[0]["detail"],
        "alpnscope's memory budget for flow state (--memory) was used up; this flow was closed early to make room after frame 7 before its ClientHello was complete (first TLS record in frame 2), so what it offered was not analysed"
    );
    let real = &flows[FLOOD as usize];
    assert_eq!(real["client"]["port"], 42452);
    assert_eq!(real["verdict"], "agreed");
    assert_eq!(real["alpn_selected"], "h2");

    // With the default budget nothing is shed.
    let doc = analyze_json(path, &[]);
    let memory = &doc["captures"][0]["memory"];
    assert_eq!(memory["budget"], 64 * 1024 * 1024);
    assert_eq!(memory["evicted_flows"], 0);
    assert!(strings(&doc["captures"][0]["warnings"]).is_empty());
    // A hello cut short is in the capture: not a handshake the capture missed.
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows[0]["verdict"], "incomplete");
    assert_eq!(
        flows[0]["detail"],
        "the ClientHello is incomplete: it announces 65000 bytes, the capture holds the first 8183 (frames 2–7) and nothing more of it, so the offer is unknown; the client stopped sending it, or the capture ended first"
    );
    assert_eq!(flows[0]["evidence_frames"], serde_json::json!([2, 7]));
}

#[test]
fn a_memory_size_below_64k_or_without_a_known_unit_is_refused() {
    let path = flood_file();
    for (size, error) in [
        ("1K", "'1K' is below the smallest budget, 64K"),
        ("64X", "unknown unit 'X': use K, M or G (e.g. 64M, 1G)"),
    ] {
        let out = run(&["analyze", "--memory", size, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(error), "{stderr}");
    }
}

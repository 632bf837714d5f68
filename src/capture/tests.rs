//! Tests of both readers, the streaming one and the slice parser, which must agree on every input.

use super::*;

/// A little-endian microsecond pcap header for Ethernet.
fn pcap_header(magic: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&magic.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v
}

fn record(ts_sec: u32, frac: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ts_sec.to_le_bytes());
    v.extend_from_slice(&frac.to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

type Outcome = (
    Vec<(u64, Timestamp, usize)>,
    Result<CaptureSummary, CaptureError>,
);

/// Reads `bytes` with both readers and checks that they agree.
fn frames_of(bytes: &[u8]) -> Outcome {
    let collect = |slice: bool| {
        let mut frames = Vec::new();
        let on_event = |event: CaptureEvent<'_>| {
            if let CaptureEvent::Frame(f) = event {
                frames.push((f.number, f.timestamp, f.data.len()));
            }
        };
        let result = if slice {
            read_capture_slice(bytes, on_event)
        } else {
            read_capture(bytes, on_event)
        };
        (frames, result)
    };
    let (stream_frames, stream) = collect(false);
    let (slice_frames, slice) = collect(true);
    assert_eq!(
        stream_frames, slice_frames,
        "stream and slice readers agree on frames"
    );
    match (&stream, &slice) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.packets, b.packets);
            assert_eq!(a.format, b.format);
            assert_eq!(a.complete(), b.complete());
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("readers disagree: {stream:?} / {slice:?}"),
    }
    (stream_frames, stream)
}

#[test]
fn empty_input_is_an_error() {
    assert!(matches!(frames_of(&[]).1, Err(CaptureError::Empty)));
}

#[test]
fn text_is_not_a_capture() {
    let text = b"GET / HTTP/1.1\r\nHost: example\r\n\r\nsome more text to be long enough";
    assert!(matches!(frames_of(text).1, Err(CaptureError::NotACapture)));
}

#[test]
fn compressed_capture_is_named() {
    // The start of zeek's testing/btest/Traces/tls/tls-fragmented-handshake.pcap.gz.
    let gz = [
        0x1f, 0x8b, 0x08, 0x08, 0x76, 0xe7, 0x00, 0x55, 0x02, 0x03, 0x74, 0x6c, 0x73,
    ];
    let err = frames_of(&gz).1.unwrap_err();
    assert!(matches!(err, CaptureError::Compressed(Compression::Gzip)));
    assert_eq!(
        err.to_string(),
        "gzip-compressed, not a pcap or pcapng file itself: decompress it first (e.g. `zcat FILE | alpnscope analyze -`)"
    );
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x00, 0x01];
    assert!(matches!(
        frames_of(&zstd).1,
        Err(CaptureError::Compressed(Compression::Zstd))
    ));
}

#[test]
fn reads_microsecond_and_nanosecond_pcap() {
    let mut file = pcap_header(0xa1b2_c3d4);
    file.extend(record(10, 5, &[1, 2, 3]));
    file.extend(record(11, 6, &[4; 10]));
    let (frames, summary) = frames_of(&file);
    let summary = summary.unwrap();
    assert_eq!(summary.packets, 2);
    assert!(summary.complete());
    assert_eq!(frames[0], (1, Timestamp(10_000_005_000), 3));
    assert_eq!(frames[1], (2, Timestamp(11_000_006_000), 10));

    let mut file = pcap_header(0xa1b2_3c4d);
    file.extend(record(10, 5, &[1, 2, 3]));
    let (frames, summary) = frames_of(&file);
    assert_eq!(summary.unwrap().format, CaptureFormat::PcapNanosecond);
    assert_eq!(frames[0].1, Timestamp(10_000_000_005));
}

#[test]
fn truncated_file_names_last_good_frame() {
    let mut file = pcap_header(0xa1b2_c3d4);
    file.extend(record(10, 5, &[1, 2, 3]));
    file.extend(record(11, 6, &[4; 10]));
    file.truncate(file.len() - 4);
    let (frames, summary) = frames_of(&file);
    let summary = summary.unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        summary.warnings,
        vec![CaptureWarning::Truncated { last_good_frame: 1 }]
    );
    assert!(!summary.complete());
}

/// A little-endian pcapng block: type, length, body (padded), length.
fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let total = (12 + body.len() + pad) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(body);
    v.extend(std::iter::repeat_n(0u8, pad));
    v.extend_from_slice(&total.to_le_bytes());
    v
}

/// A pcapng section with one Ethernet interface (`if_tsresol`, `if_tsoffset`) and one
/// packet at `raw` time units.
fn pcapng_with_offset(tsresol: u8, tsoffset: i64, raw: u64) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    idb.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&[tsresol, 0, 0, 0]);
    idb.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
    idb.extend_from_slice(&8u16.to_le_bytes());
    idb.extend_from_slice(&tsoffset.to_le_bytes());
    idb.extend_from_slice(&[0; 4]); // opt_endofopt
    let mut epb = Vec::new();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&((raw >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(raw as u32).to_le_bytes());
    epb.extend_from_slice(&4u32.to_le_bytes());
    epb.extend_from_slice(&4u32.to_le_bytes());
    epb.extend_from_slice(&[1, 2, 3, 4]);
    let mut file = ng_block(0x0A0D_0D0A, &shb);
    file.extend(ng_block(1, &idb));
    file.extend(ng_block(6, &epb));
    file
}

#[test]
fn pcapng_timestamp_offset_is_applied() {
    let (frames, summary) = frames_of(&pcapng_with_offset(6, 100, 5_000_007));
    assert_eq!(summary.unwrap().format, CaptureFormat::Pcapng);
    assert_eq!(frames, vec![(1, Timestamp(105_000_007_000), 4)]);
}

#[test]
fn crafted_pcapng_timestamp_offset_saturates() {
    // if_tsoffset near i64::MAX: the packet's seconds plus the offset overflow i64.
    let (frames, summary) = frames_of(&pcapng_with_offset(6, i64::MAX - 1, 5_000_000));
    assert!(summary.unwrap().complete());
    assert_eq!(frames, vec![(1, Timestamp(i64::MAX), 4)]);
    // One-second units and the largest raw time (more seconds than i64 holds), pulled
    // back by an offset of i64::MIN: 2^64 - 1 - 2^63 = i64::MAX seconds.
    let (frames, _) = frames_of(&pcapng_with_offset(0, i64::MIN, u64::MAX));
    assert_eq!(frames, vec![(1, Timestamp(i64::MAX), 4)]);
    // And the other way: the earliest representable time.
    let (frames, _) = frames_of(&pcapng_with_offset(0, i64::MIN, 0));
    assert_eq!(frames, vec![(1, Timestamp(i64::MIN), 4)]);
    // The saturated times still format.
    assert!(!Timestamp(i64::MAX).to_string().is_empty());
    assert!(!Timestamp(i64::MIN).to_string().is_empty());
}

#[test]
fn lying_record_length_stops_with_a_warning() {
    let mut file = pcap_header(0xa1b2_c3d4);
    file.extend(record(10, 5, &[1, 2, 3]));
    let mut bad = record(11, 6, &[4; 10]);
    bad[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    file.extend(bad);
    let (frames, summary) = frames_of(&file);
    assert_eq!(frames.len(), 1);
    assert!(!summary.unwrap().complete());
}

/// An Interface Statistics Block for interface `if_id` with the given (code, value) options.
fn isb(if_id: u32, counters: &[(u16, u64)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&if_id.to_le_bytes());
    body.extend_from_slice(&[0; 8]); // timestamp
    for (code, value) in counters {
        body.extend_from_slice(&code.to_le_bytes());
        body.extend_from_slice(&8u16.to_le_bytes());
        body.extend_from_slice(&value.to_le_bytes());
    }
    body.extend_from_slice(&[0; 4]); // opt_endofopt
    ng_block(5, &body)
}

#[test]
fn interface_statistics_take_the_last_block_of_each_interface_and_sum_them() {
    let mut file = pcapng_with_offset(6, 0, 1);
    // Cumulative counters of interface 0: the later block replaces the earlier one.
    file.extend(isb(0, &[(4, 10), (5, 3)]));
    file.extend(isb(0, &[(4, 20), (5, 4), (7, 1)]));
    // Interface 1 records only received packets; a wrongly sized option counts as absent.
    file.extend(isb(1, &[(4, 5)]));
    let mut bad = isb(1, &[(4, 5)]);
    bad[22..24].copy_from_slice(&4u16.to_le_bytes()); // isb_ifrecv claiming 4 bytes
    file.extend(bad);
    for read in [true, false] {
        let summary = if read {
            read_capture(&file[..], |_| {}).unwrap()
        } else {
            read_capture_slice(&file, |_| {}).unwrap()
        };
        assert!(summary.complete(), "{:?}", summary.warnings);
        let stats = summary.statistics.unwrap();
        assert_eq!(
            stats,
            CaptureCounters {
                received: Some(20),
                interface_dropped: Some(4),
                os_dropped: Some(1),
            }
        );
        assert_eq!(stats.dropped(), 5);
    }
    let (_, summary) = frames_of(&pcapng_with_offset(6, 0, 1));
    assert_eq!(summary.unwrap().statistics, None);
}

#[test]
fn a_section_header_larger_than_the_first_buffer_is_read() {
    // Two comments of 60,000 bytes in the section header block: the streaming reader starts
    // with a larger buffer for it (pcap-parser wants the whole block in the first read).
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    for _ in 0..2 {
        shb.extend_from_slice(&1u16.to_le_bytes()); // opt_comment
        shb.extend_from_slice(&60_000u16.to_le_bytes());
        shb.extend(std::iter::repeat_n(b'c', 60_000));
    }
    shb.extend_from_slice(&[0; 4]); // opt_endofopt
    let mut file = ng_block(0x0A0D_0D0A, &shb);
    // The rest of a small section: its own section header block is 28 bytes.
    file.extend_from_slice(&pcapng_with_offset(6, 0, 7)[28..]);
    assert!(file.len() > 120_000);
    let (frames, summary) = frames_of(&file);
    let summary = summary.unwrap();
    assert!(summary.complete(), "{:?}", summary.warnings);
    assert_eq!(frames.len(), 1);
}

#[test]
fn a_long_capture_and_a_large_record_are_read_whole() {
    // 3,000 records of 1,000 bytes (the buffer grows as the input proves long) with one of
    // 200,000 bytes among them (larger than the buffer at that point).
    let mut file = pcap_header(0xa1b2_c3d4);
    for i in 0..3000u32 {
        let len = if i == 100 { 200_000 } else { 1000 };
        file.extend(record(i, 0, &vec![i as u8; len]));
    }
    let (frames, summary) = frames_of(&file);
    let summary = summary.unwrap();
    assert!(summary.complete(), "{:?}", summary.warnings);
    assert_eq!(summary.packets, 3000);
    assert_eq!(frames.len(), 3000);
    assert_eq!(frames[100].2, 200_000);
    assert!(frames.iter().enumerate().all(|(i, f)| f.0 == i as u64 + 1));
}

/// The "modified" pcap (magic 0xa1b2cd34, Kuznetsov's patch: each record header carries 8 more
/// bytes — interface index, protocol, packet type, padding) is read by both readers with its
/// longer record headers, as Wireshark reads it (a fuzz finding: the slice parser read its
/// records as plain pcap ones, so the two readers disagreed).
#[test]
fn modified_pcap_records_have_longer_headers() {
    let mut file = pcap_header(0xa1b2_cd34);
    for (ts, data) in [(10u32, &[1u8, 2, 3][..]), (11, &[4; 10][..])] {
        let mut r = record(ts, 5, data);
        // The 8 extra header bytes go between the lengths and the data.
        r.splice(16..16, [0u8, 0, 0, 1, 0, 8, 0, 0]);
        file.extend(r);
    }
    let (frames, summary) = frames_of(&file);
    let summary = summary.unwrap();
    assert_eq!(summary.packets, 2);
    assert!(summary.complete());
    assert_eq!(frames[0], (1, Timestamp(10_000_005_000), 3));
    assert_eq!(frames[1], (2, Timestamp(11_000_005_000), 10));
}

/// A pcapng whose section header block declares more bytes than the whole input (66 of
/// 393,068, longer than the streaming reader's first look at the input) is a truncated header
/// for both readers (a fuzz finding: the streaming one said "not a capture").
#[test]
fn a_section_header_longer_than_the_input_is_a_truncated_header() {
    let mut file = vec![0x0a, 0x0d, 0x0d, 0x0a];
    file.extend_from_slice(&393_068u32.to_le_bytes());
    file.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]);
    file.resize(66, 0xff);
    let (frames, result) = frames_of(&file);
    assert!(frames.is_empty());
    assert!(
        matches!(
            result,
            Err(CaptureError::TruncatedHeader {
                format: CaptureFormat::Pcapng,
                bytes: 66,
                needed: 393_068,
            })
        ),
        "{result:?}"
    );
}

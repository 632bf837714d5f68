//! The TLS direction parser fed the same bytes in two chunkings must emit the same events.
//!
//! Input: one mode byte, one byte giving how many split points follow (at most 16), the split
//! points (two bytes each, big-endian, taken modulo the stream length), then the stream. Every
//! chunk is fed with the same frame number, so frame numbers cannot differ.
//!
//! Where chunking may legitimately matter, the comparison stops: after a record header that is
//! not TLS the parser drops the rest of that segment and resynchronises only on a segment that
//! starts a record, so events are compared up to and including the first `BadRecordHeader`
//! fault; `NotTls { bytes }` (how many bytes were looked at) depends on how far the segment
//! that decided it reached, so that count is left out. What the first bytes are called
//! (`NotTls { start }`) and every proxy preamble are compared. This target found three places
//! where the start detector's answer depended on the segmentation (a request or status line fed a
//! byte at a time, a lone SOCKS4 version byte, a SOCKS4 user id ending after byte 512 in one
//! segment); they are fixed and have unit tests in `src/tls/preamble.rs`.
#![no_main]

use alpnscope::tls::{DirectionParser, StreamFault, TlsEvent};
use libfuzzer_sys::fuzz_target;

/// Frame number of every chunk.
const FRAME: u64 = 1;

/// The events of `stream` fed in chunks ending at `cuts` (sorted, within the stream).
fn events(mode: u8, stream: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut parser = DirectionParser::new(false);
    let mut events = Vec::new();
    if mode & 1 != 0 {
        // As if the peer chose TLS 1.3 and a key log gave this direction its secret: every
        // application-data record goes through decryption (which fails on these bytes).
        let suite = if mode & 2 != 0 { 0x1303 } else { 0x1301 };
        parser.set_handshake_secret(vec![mode; if mode & 4 != 0 { 48 } else { 32 }]);
        parser.peer_selected_tls13(suite, &mut events);
    }
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        if cut > start {
            parser.feed(FRAME, &stream[start..cut], &mut events);
            start = cut;
        }
    }
    let mut out = Vec::new();
    for event in events {
        let bad_header = matches!(
            event,
            TlsEvent::Fault {
                fault: StreamFault::BadRecordHeader,
                ..
            }
        );
        let event = match event {
            TlsEvent::NotTls { frame, start, .. } => TlsEvent::NotTls {
                frame,
                start,
                bytes: 0,
            },
            other => other,
        };
        out.push(format!("{event:?}"));
        if bad_header {
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, count, rest @ ..] = data else {
        return;
    };
    let count = usize::from(*count % 17);
    if rest.len() < 2 * count {
        return;
    }
    let (points, stream) = rest.split_at(2 * count);
    if stream.is_empty() {
        return;
    }
    let mut cuts: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % stream.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let whole = events(*mode, stream, &[]);
    let chunked = events(*mode, stream, &cuts);
    assert_eq!(whole, chunked, "chunks ending at {cuts:?}");
    // One byte at a time after the first chunk: the finest chunking compared.
    if stream.len() <= 4096 {
        let bytes: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(whole, events(*mode, stream, &bytes), "one byte at a time");
    }
});

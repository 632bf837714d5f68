//! One frame through `alpnscope::decode`: the first byte picks the link type (one of those
//! alpnscope reads, or another), the second says whether the snaplen cut the frame, the rest is
//! the frame.
//!
//! Invariants besides "no panic":
//! - `decode_frame` (its fast path for the common TCP frame, the full decoder for the rest)
//!   gives exactly what the full decoder alone (`decode_frame_sliced`) gives;
//! - the decoding carried as spans of the frame's bytes (`DecodedSpans`, how the reading thread
//!   hands it over) resolves, in a copy of those bytes, to the same decoding.
#![no_main]

use alpnscope::capture::{Frame, LinkType, Timestamp};
use alpnscope::decode::{DecodedSpans, decode_frame, decode_frame_sliced};
use libfuzzer_sys::fuzz_target;

/// The link types the first byte picks from (its value modulo their number).
const LINK_TYPES: [u32; 12] = [1, 1, 1, 113, 276, 101, 12, 14, 228, 229, 0, 9];

fuzz_target!(|data: &[u8]| {
    let [pick, cut, frame @ ..] = data else {
        return;
    };
    let link_type = LinkType(LINK_TYPES[usize::from(*pick) % LINK_TYPES.len()]);
    let frame = Frame {
        number: 1,
        timestamp: Timestamp(0),
        link_type,
        data: frame,
        original_len: frame.len() as u32 + u32::from(cut & 1) * u32::from(*cut),
    };
    let decoded = decode_frame(&frame);
    let expected = format!("{decoded:?}");
    assert_eq!(
        format!("{:?}", decode_frame_sliced(&frame)),
        expected,
        "the fast path and the full decoder disagree"
    );
    let spans = DecodedSpans::of(decoded, frame.data).expect("a decoding lies in its frame");
    let moved = frame.data.to_vec();
    let resolved = spans.resolve(&moved).expect("spans fit the same bytes");
    assert_eq!(
        format!("{resolved:?}"),
        expected,
        "spans resolve differently"
    );
});

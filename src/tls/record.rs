//! The TLS record layer (RFC 8446 §5.1, RFC 5246 §6.2): one direction's ordered bytes → record
//! headers and record body pieces.
//!
//! A streaming state machine: a 5-byte header or a body may be split anywhere across chunks, and
//! nothing is buffered beyond the header itself — body bytes are handed on as slices of the
//! input. A header whose content type is not a record type, whose major version is not 3 or
//! whose length exceeds [`MAX_RECORD_BODY`] loses sync; sync comes back only at a segment that
//! starts with a plausible record header, and at most [`RESYNC_SEGMENTS`] segments are inspected
//! for one before a stream never recognised as TLS is given up.

use super::preamble;
use super::types::ContentType;

/// RFC 8446 §5.2: a record body is at most 2^14 + 256 bytes (2^14 + 2048 for TLS ≤ 1.2).
pub const MAX_RECORD_BODY: usize = (1 << 14) + 2048;
/// Segments inspected for a record start when the stream was picked up mid-way.
pub const RESYNC_SEGMENTS: u32 = 32;
/// Bytes of a record header: type, version, length.
pub const HEADER_LEN: usize = 5;

/// What the record layer read from the front of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordRead<'b> {
    /// Part of a header: more bytes are needed.
    Partial,
    /// A complete header that is not a TLS record header: sync is lost and the rest of the chunk
    /// was dropped.
    BadHeader,
    /// A record header: `len` body bytes of type `ty` follow.
    Header {
        /// Content type.
        ty: ContentType,
        /// Body length.
        len: usize,
    },
    /// Body bytes of the current record.
    Body {
        /// The record's content type.
        ty: ContentType,
        /// The bytes.
        bytes: &'b [u8],
        /// True when they complete the record.
        last: bool,
    },
}

/// What a segment read while out of sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// The segment starts a record: read it.
    Synced,
    /// Not a record start; keep looking.
    Waiting,
    /// Not a record start, and more than [`RESYNC_SEGMENTS`] segments were inspected.
    Exhausted,
}

/// Record framing for one direction.
#[derive(Debug, Default)]
pub struct RecordLayer {
    header: [u8; HEADER_LEN],
    /// Header bytes read so far; always < `HEADER_LEN` between calls.
    header_have: usize,
    ty: ContentType,
    body_left: usize,
    start_frame: u64,
    resync_tries: u32,
}

impl RecordLayer {
    /// The header of the current (or last) record, the AAD of a protected record.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        self.header
    }

    /// The frame that carried the first byte of the current (or last) record header.
    pub fn start_frame(&self) -> u64 {
        self.start_frame
    }

    /// Forgets the partial header and the rest of the current record (gap, bad header).
    pub fn lose_sync(&mut self) {
        self.header_have = 0;
        self.body_left = 0;
    }

    /// Looks at a segment while out of sync: only one that starts with a record header counts.
    /// Tries are counted over the whole direction.
    pub fn resync_segment(&mut self, bytes: &[u8]) -> Resync {
        if preamble::looks_like_record(bytes) == Some(true) {
            return Resync::Synced;
        }
        self.resync_tries = self.resync_tries.saturating_add(1);
        if self.resync_tries > RESYNC_SEGMENTS {
            Resync::Exhausted
        } else {
            Resync::Waiting
        }
    }

    /// Consumes the front of `bytes` (from `frame`) as header or body; returns what was read and
    /// the bytes left over.
    pub fn read<'b>(&mut self, frame: u64, bytes: &'b [u8]) -> (RecordRead<'b>, &'b [u8]) {
        if self.body_left > 0 {
            let (body, rest) = bytes
                .split_at_checked(self.body_left)
                .unwrap_or((bytes, &[]));
            self.body_left -= body.len();
            let read = RecordRead::Body {
                ty: self.ty,
                bytes: body,
                last: self.body_left == 0,
            };
            return (read, rest);
        }
        if self.header_have == 0 {
            self.start_frame = frame;
        }
        let mut took = 0;
        for (slot, &b) in self.header.iter_mut().skip(self.header_have).zip(bytes) {
            *slot = b;
            took += 1;
        }
        self.header_have += took;
        let rest = bytes.get(took..).unwrap_or(&[]);
        if self.header_have < HEADER_LEN {
            return (RecordRead::Partial, rest);
        }
        self.header_have = 0;
        let [ty, major, _minor, len_hi, len_lo] = self.header;
        let ty = ContentType(ty);
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if !ty.is_record_type() || major != 3 || len > MAX_RECORD_BODY {
            self.lose_sync();
            return (RecordRead::BadHeader, &[]);
        }
        self.ty = ty;
        self.body_left = len;
        (RecordRead::Header { ty, len }, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `chunks` (one per frame, numbered from 1) to the end; returns every piece read.
    fn read_all(chunks: &[&[u8]]) -> Vec<(u64, String)> {
        let mut layer = RecordLayer::default();
        let mut out = Vec::new();
        for (frame, chunk) in (1..).zip(chunks) {
            let mut bytes = *chunk;
            while !bytes.is_empty() {
                let (read, rest) = layer.read(frame, bytes);
                bytes = rest;
                let text = match read {
                    RecordRead::Partial => continue,
                    RecordRead::BadHeader => "bad".to_string(),
                    RecordRead::Header { ty, len } => {
                        format!("{ty} {len} @{}", layer.start_frame())
                    }
                    RecordRead::Body { bytes, last, .. } => format!("{bytes:?} {last}"),
                };
                out.push((frame, text));
            }
        }
        out
    }

    #[test]
    fn header_split_across_chunks() {
        let got = read_all(&[&[21, 3], &[3, 0], &[2, 2, 40]]);
        assert_eq!(
            got,
            [
                (3, "alert 2 @1".to_string()),
                (3, "[2, 40] true".to_string())
            ]
        );
    }

    #[test]
    fn body_split_across_chunks() {
        let got = read_all(&[&[23, 3, 3, 0, 3, 1], &[2, 3, 22]]);
        assert_eq!(
            got,
            [
                (1, "application_data 3 @1".to_string()),
                (1, "[1] false".to_string()),
                (2, "[2, 3] true".to_string())
            ]
        );
    }

    #[test]
    fn bad_headers_lose_sync_and_drop_the_chunk() {
        for header in [[19, 3, 3, 0, 1], [22, 2, 3, 0, 1], [22, 3, 3, 0xff, 0xff]] {
            let mut layer = RecordLayer::default();
            let mut chunk = header.to_vec();
            chunk.extend_from_slice(&[22, 3, 3, 0, 0]);
            assert_eq!(layer.read(1, &chunk), (RecordRead::BadHeader, &[][..]));
        }
    }

    #[test]
    fn resync_is_bounded() {
        let mut layer = RecordLayer::default();
        for _ in 0..RESYNC_SEGMENTS {
            assert_eq!(layer.resync_segment(b"garbage"), Resync::Waiting);
        }
        assert_eq!(layer.resync_segment(b"garbage"), Resync::Exhausted);
        assert_eq!(layer.resync_segment(&[22, 3, 1, 0, 5]), Resync::Synced);
    }
}

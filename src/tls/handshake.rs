//! Handshake-message reassembly (RFC 8446 §4): the bodies of handshake records, plaintext or
//! decrypted, in stream order → complete handshake messages.
//!
//! A message may be split across records and segments, and a record may hold several messages;
//! the 4-byte message header is read as it comes. Only the messages this tool reads are buffered
//! (see [`Reassembler::read`]), and only up to [`MAX_HELLO_BYTES`]: a longer one is skipped by
//! count, and a hello that long is reported as too large. For a message that is not kept only its
//! last frame is remembered, so memory stays bounded whatever length a header claims.

use super::types::HandshakeType;

/// Largest hello (or other kept message) this parser buffers; a larger one is reported, not
/// parsed.
pub const MAX_HELLO_BYTES: usize = 64 * 1024;
/// Bytes of a handshake message header: type and 24-bit length.
const HEADER_LEN: usize = 4;

/// A complete handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub ty: HandshakeType,
    /// True when the body was kept; otherwise `body` is empty.
    pub kept: bool,
    /// The body (after the 4-byte header), when kept.
    pub body: Vec<u8>,
    /// Frames that carried it, in stream order (only the last one when not kept).
    pub frames: Vec<u64>,
}

/// What one call to [`Reassembler::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to report yet.
    Partial,
    /// A hello whose header declares more than [`MAX_HELLO_BYTES`]: it is skipped.
    TooLarge {
        /// Declared length.
        len: usize,
    },
    /// A message is complete.
    Done(Message),
}

/// The first handshake message of a stream that starts with plaintext handshake records (the
/// start of a client's stream, say), when its body is whole within `stream`: its type and body.
/// Used to read a second copy of a hello, rebuilt from a retransmission whose bytes differ.
pub fn first_plaintext_message(stream: &[u8]) -> Option<(HandshakeType, Vec<u8>)> {
    let mut joined: Vec<u8> = Vec::new();
    let mut rest = stream;
    while let [ty, _, _, l0, l1, after @ ..] = rest {
        if super::types::ContentType(*ty) != super::types::ContentType::HANDSHAKE {
            break;
        }
        let len = usize::from(*l0) << 8 | usize::from(*l1);
        let (fragment, tail) = after.split_at_checked(len).unwrap_or((after, &[]));
        joined.extend_from_slice(fragment);
        rest = tail;
        if joined.len() > MAX_HELLO_BYTES + HEADER_LEN {
            break;
        }
    }
    let [ty, l0, l1, l2, body @ ..] = joined.as_slice() else {
        return None;
    };
    let len = usize::from(*l0) << 16 | usize::from(*l1) << 8 | usize::from(*l2);
    if len > MAX_HELLO_BYTES {
        return None;
    }
    let body = body.get(..len)?;
    Some((HandshakeType(*ty), body.to_vec()))
}

/// Messages worth buffering: the hellos; the Certificate (in the clear in TLS ≤ 1.2, decrypted
/// in TLS 1.3); EncryptedExtensions when decrypting.
fn wanted(ty: HandshakeType, decrypting: bool) -> bool {
    ty.is_hello()
        || ty == HandshakeType::CERTIFICATE
        || (decrypting && ty == HandshakeType::ENCRYPTED_EXTENSIONS)
}

/// A handshake message whose header was read but whose body did not all arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialMessage {
    /// Its type.
    pub ty: HandshakeType,
    /// The body length its header announces.
    pub announced: usize,
    /// Body bytes read.
    pub have: usize,
    /// The first and last frames that carried part of it.
    pub frames: (u64, u64),
}

/// Reassembly of one handshake message at a time.
#[derive(Debug, Default)]
pub struct Reassembler {
    header: [u8; HEADER_LEN],
    /// Header bytes read so far (≤ `HEADER_LEN`).
    header_have: usize,
    ty: HandshakeType,
    /// Body bytes still to come once the header is complete.
    left: usize,
    keep: bool,
    /// The kept body so far; never longer than [`MAX_HELLO_BYTES`].
    body: Vec<u8>,
    frames: Vec<u64>,
}

impl Reassembler {
    /// The message in progress: its header read, its body not complete.
    pub fn in_progress(&self) -> Option<PartialMessage> {
        if self.header_have < HEADER_LEN || self.left == 0 {
            return None;
        }
        let [_, l0, l1, l2] = self.header;
        let announced = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
        Some(PartialMessage {
            ty: self.ty,
            announced,
            have: announced.saturating_sub(self.left),
            frames: (*self.frames.first()?, *self.frames.last()?),
        })
    }

    /// Heap bytes held: the body so far and its frames.
    pub fn held_bytes(&self) -> usize {
        self.body.capacity() + self.frames.capacity() * std::mem::size_of::<u64>()
    }

    /// Forgets the message in progress (gap, lost sync, stop).
    pub fn reset(&mut self) {
        *self = Reassembler::default();
    }

    /// Consumes the front of `bytes` (from `frame`), up to the end of the message header or the
    /// end of the message. `decrypting` says whether the bytes come from decrypted records; it is
    /// read when a header completes, to decide whether the message is kept.
    pub fn read<'b>(&mut self, frame: u64, bytes: &'b [u8], decrypting: bool) -> (Step, &'b [u8]) {
        self.note_frame(frame);
        if self.header_have < HEADER_LEN {
            let mut took = 0;
            for (slot, &b) in self.header.iter_mut().skip(self.header_have).zip(bytes) {
                *slot = b;
                took += 1;
            }
            self.header_have += took;
            let rest = bytes.get(took..).unwrap_or(&[]);
            if self.header_have < HEADER_LEN {
                return (Step::Partial, rest);
            }
            let [ty, l0, l1, l2] = self.header;
            self.ty = HandshakeType(ty);
            self.left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            self.keep = wanted(self.ty, decrypting) && self.left <= MAX_HELLO_BYTES;
            self.body.clear();
            if self.left == 0 {
                return (Step::Done(self.finish()), rest);
            }
            if self.ty.is_hello() && !self.keep {
                return (Step::TooLarge { len: self.left }, rest);
            }
            return (Step::Partial, rest);
        }
        let (body, rest) = bytes.split_at_checked(self.left).unwrap_or((bytes, &[]));
        if self.keep {
            self.body.extend_from_slice(body);
        }
        self.left -= body.len();
        if self.left == 0 {
            (Step::Done(self.finish()), rest)
        } else {
            (Step::Partial, rest)
        }
    }

    /// The hello being reassembled, when its header was read and part of its body is kept: its
    /// type, the body so far, its declared length and its frames. Read at a gap, to report what
    /// the capture holds of a hello it cut short.
    pub fn partial_hello(&self) -> Option<(HandshakeType, &[u8], usize, &[u64])> {
        let in_body = self.header_have == HEADER_LEN && self.left > 0;
        (in_body && self.keep && self.ty.is_hello()).then(|| {
            let len = self.body.len() + self.left;
            (self.ty, self.body.as_slice(), len, self.frames.as_slice())
        })
    }

    /// Records that `frame` carries part of the current message.
    fn note_frame(&mut self, frame: u64) {
        if self.header_have == 0 && self.left == 0 {
            self.frames.clear();
            self.frames.push(frame);
        } else if self.frames.last() != Some(&frame) {
            if self.header_have == HEADER_LEN && !self.keep {
                // Only the last frame of a skipped message is ever used.
                self.frames.clear();
            }
            self.frames.push(frame);
        }
    }

    /// Hands out the completed message and gets ready for the next.
    fn finish(&mut self) -> Message {
        let message = Message {
            ty: self.ty,
            kept: self.keep,
            body: if self.keep {
                std::mem::take(&mut self.body)
            } else {
                Vec::new()
            },
            frames: std::mem::take(&mut self.frames),
        };
        self.header_have = 0;
        self.left = 0;
        self.keep = false;
        message
    }

    /// Bytes the buffer holds room for (for tests of the cap).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.body.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_of_a_stream_is_read_across_records() {
        // A 6-byte ClientHello body split over two handshake records, then application data.
        let stream = [
            22, 3, 1, 0, 5, 1, 0, 0, 6, b'a', //
            22, 3, 1, 0, 5, b'b', b'c', b'd', b'e', b'f', //
            23, 3, 3, 0, 1, 0,
        ];
        assert_eq!(
            first_plaintext_message(&stream),
            Some((HandshakeType::CLIENT_HELLO, b"abcdef".to_vec()))
        );
        // Cut short, or not a handshake record: nothing.
        assert_eq!(first_plaintext_message(&stream[..12]), None);
        assert_eq!(first_plaintext_message(&stream[20..]), None);
    }

    /// Feeds `chunks` (one per frame, numbered from 1); returns every step but `Partial`.
    fn read_all(r: &mut Reassembler, chunks: &[&[u8]], decrypting: bool) -> Vec<Step> {
        let mut out = Vec::new();
        for (frame, chunk) in (1..).zip(chunks) {
            let mut bytes = *chunk;
            while !bytes.is_empty() {
                let (step, rest) = r.read(frame, bytes, decrypting);
                bytes = rest;
                if step != Step::Partial {
                    out.push(step);
                }
            }
        }
        out
    }

    fn done(ty: HandshakeType, body: &[u8], frames: &[u64]) -> Step {
        Step::Done(Message {
            ty,
            kept: !body.is_empty(),
            body: body.to_vec(),
            frames: frames.to_vec(),
        })
    }

    #[test]
    fn message_across_chunks_and_two_in_one() {
        let mut r = Reassembler::default();
        let got = read_all(
            &mut r,
            &[&[1, 0], &[0, 3, 7], &[8, 9, 14, 0, 0, 0, 2, 0, 0, 2, 5]],
            false,
        );
        assert_eq!(
            got,
            [
                done(HandshakeType::CLIENT_HELLO, &[7, 8, 9], &[1, 2, 3]),
                done(HandshakeType::SERVER_HELLO_DONE, &[], &[3]),
            ]
        );
        // The ServerHello (type 2) is incomplete: nothing more.
        assert_eq!(read_all(&mut r, &[&[6]], false).len(), 1);
    }

    #[test]
    fn skipped_messages_keep_only_their_last_frame() {
        let mut r = Reassembler::default();
        let got = read_all(&mut r, &[&[20, 0, 0, 3, 1], &[2], &[3]], false);
        assert_eq!(got, [done(HandshakeType::FINISHED, &[], &[3])]);
    }

    #[test]
    fn encrypted_extensions_only_when_decrypting() {
        let ee: &[u8] = &[8, 0, 0, 2, 0, 0];
        let mut r = Reassembler::default();
        assert_eq!(
            read_all(&mut r, &[ee], false),
            [done(HandshakeType::ENCRYPTED_EXTENSIONS, &[], &[1])]
        );
        assert_eq!(
            read_all(&mut r, &[ee], true),
            [done(HandshakeType::ENCRYPTED_EXTENSIONS, &[0, 0], &[1])]
        );
    }

    #[test]
    fn a_hello_cut_short_is_readable_until_reset() {
        let mut r = Reassembler::default();
        assert_eq!(read_all(&mut r, &[&[2, 0, 0, 6, 3, 3], &[1]], false), []);
        assert_eq!(
            r.partial_hello(),
            Some((HandshakeType::SERVER_HELLO, &[3, 3, 1][..], 6, &[1, 2][..]))
        );
        r.reset();
        assert_eq!(r.partial_hello(), None);
        // Messages other than hellos are not offered.
        read_all(&mut r, &[&[11, 0, 0, 6, 3, 3]], false);
        assert_eq!(r.partial_hello(), None);
    }

    #[test]
    fn lying_length_does_not_buffer_unbounded() {
        let mut r = Reassembler::default();
        let got = read_all(&mut r, &[&[1, 0xff, 0xff, 0xff], &[0; 100]], false);
        assert_eq!(got, [Step::TooLarge { len: 0xff_ffff }]);
        assert!(r.capacity() <= MAX_HELLO_BYTES);
        assert!(r.frames.len() <= 1);
    }
}

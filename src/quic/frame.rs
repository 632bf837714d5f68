//! The frames of a decrypted Initial or Handshake payload (RFC 9000 §12.4, §19).
//!
//! [`frames`] walks a payload and yields each [`Frame`]: PADDING (a run of them as one), PING,
//! ACK (its ranges and ECN counts skipped, the largest acknowledged kept), CRYPTO (offset and
//! data, borrowed from the payload) and CONNECTION_CLOSE. Those are the frames RFC 9000 §12.4
//! (Table 3) allows in Initial and Handshake packets; any other type there — including the
//! application CONNECTION_CLOSE, which §10.2.3 says is sent as a transport one in these packets,
//! is read but flagged — ends the walk with [`FrameErrorKind::NotAllowed`], because its length
//! is not known without parsing a frame this module does not read.
//!
//! No input makes it panic or allocate; a frame that runs past the payload is
//! [`FrameErrorKind::Truncated`], with its offset. The walk stops at the first error.

use super::version::KnownVersion;
use super::wire::{Reader, VARINT_MAX};
use std::fmt;

/// Bytes of a CONNECTION_CLOSE reason phrase that are kept; the full length is reported too.
pub const MAX_REASON_BYTES: usize = 256;

/// A frame type (RFC 9000 §19, §12.4). Any value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameType(pub u64);

impl FrameType {
    /// PADDING (§19.1).
    pub const PADDING: FrameType = FrameType(0x00);
    /// PING (§19.2).
    pub const PING: FrameType = FrameType(0x01);
    /// ACK (§19.3).
    pub const ACK: FrameType = FrameType(0x02);
    /// ACK with ECN counts (§19.3).
    pub const ACK_ECN: FrameType = FrameType(0x03);
    /// CRYPTO (§19.6).
    pub const CRYPTO: FrameType = FrameType(0x06);
    /// CRYPTO in Google QUIC T050 and T051 (read as [`FrameType::CRYPTO`] by [`frames_of`]).
    pub const GQUIC_CRYPTO: FrameType = FrameType(0x08);
    /// NEW_TOKEN (§19.7).
    pub const NEW_TOKEN: FrameType = FrameType(0x07);
    /// CONNECTION_CLOSE for transport errors (§19.19).
    pub const CONNECTION_CLOSE: FrameType = FrameType(0x1c);
    /// CONNECTION_CLOSE for application errors (§19.19).
    pub const CONNECTION_CLOSE_APPLICATION: FrameType = FrameType(0x1d);
    /// HANDSHAKE_DONE (§19.20).
    pub const HANDSHAKE_DONE: FrameType = FrameType(0x1e);

    /// The frame's name in RFC 9000, when it has one there.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "PADDING",
            0x01 => "PING",
            0x02 | 0x03 => "ACK",
            0x04 => "RESET_STREAM",
            0x05 => "STOP_SENDING",
            0x06 => "CRYPTO",
            0x07 => "NEW_TOKEN",
            0x08..=0x0f => "STREAM",
            0x10 => "MAX_DATA",
            0x11 => "MAX_STREAM_DATA",
            0x12 | 0x13 => "MAX_STREAMS",
            0x14 => "DATA_BLOCKED",
            0x15 => "STREAM_DATA_BLOCKED",
            0x16 | 0x17 => "STREAMS_BLOCKED",
            0x18 => "NEW_CONNECTION_ID",
            0x19 => "RETIRE_CONNECTION_ID",
            0x1a => "PATH_CHALLENGE",
            0x1b => "PATH_RESPONSE",
            0x1c | 0x1d => "CONNECTION_CLOSE",
            0x1e => "HANDSHAKE_DONE",
            _ => return None,
        })
    }
}

impl fmt::Display for FrameType {
    /// The name and the number (`CRYPTO (0x06)`), or the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:02x})", self.0),
            None => write!(f, "0x{:02x}", self.0),
        }
    }
}

/// A transport error code (RFC 9000 §20.1). Any value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportError(pub u64);

impl TransportError {
    /// NO_ERROR.
    pub const NO_ERROR: TransportError = TransportError(0x00);
    /// APPLICATION_ERROR: an application close sent in an Initial or Handshake packet
    /// (RFC 9000 §10.2.3).
    pub const APPLICATION_ERROR: TransportError = TransportError(0x0c);

    /// The TLS alert of a CRYPTO_ERROR (0x0100–0x01ff: 0x100 + alert, RFC 9001 §4.8), e.g.
    /// 120 no_application_protocol for 0x178.
    pub fn tls_alert(self) -> Option<u8> {
        (0x100..=0x1ff)
            .contains(&self.0)
            .then_some((self.0 & 0xff) as u8)
    }

    /// Its name in RFC 9000 §20.1 (`CRYPTO_ERROR` for the whole TLS alert range).
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "NO_ERROR",
            0x01 => "INTERNAL_ERROR",
            0x02 => "CONNECTION_REFUSED",
            0x03 => "FLOW_CONTROL_ERROR",
            0x04 => "STREAM_LIMIT_ERROR",
            0x05 => "STREAM_STATE_ERROR",
            0x06 => "FINAL_SIZE_ERROR",
            0x07 => "FRAME_ENCODING_ERROR",
            0x08 => "TRANSPORT_PARAMETER_ERROR",
            0x09 => "CONNECTION_ID_LIMIT_ERROR",
            0x0a => "PROTOCOL_VIOLATION",
            0x0b => "INVALID_TOKEN",
            0x0c => "APPLICATION_ERROR",
            0x0d => "CRYPTO_BUFFER_EXCEEDED",
            0x0e => "KEY_UPDATE_ERROR",
            0x0f => "AEAD_LIMIT_REACHED",
            0x10 => "NO_VIABLE_PATH",
            0x11 => "VERSION_NEGOTIATION_ERROR",
            0x100..=0x1ff => "CRYPTO_ERROR",
            _ => return None,
        })
    }
}

/// ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcnCounts {
    /// ECT(0) count.
    pub ect0: u64,
    /// ECT(1) count.
    pub ect1: u64,
    /// ECN-CE count.
    pub ce: u64,
}

/// A CONNECTION_CLOSE frame (RFC 9000 §19.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionClose<'a> {
    /// Type 0x1d: an application error (not allowed in Initial and Handshake packets, where
    /// it is sent as APPLICATION_ERROR in a type 0x1c frame: RFC 9000 §10.2.3).
    pub application: bool,
    /// The error code: a [`TransportError`] for type 0x1c, the application's for 0x1d.
    pub error_code: u64,
    /// The frame type that caused the error (type 0x1c only; 0 when unknown).
    pub frame_type: Option<FrameType>,
    /// The reason phrase, at most [`MAX_REASON_BYTES`] of it (should be UTF-8, not checked).
    pub reason: &'a [u8],
    /// The reason phrase's full length.
    pub reason_len: u64,
}

impl ConnectionClose<'_> {
    /// The transport error, for a type 0x1c frame.
    pub fn transport_error(&self) -> Option<TransportError> {
        (!self.application).then_some(TransportError(self.error_code))
    }

    /// The TLS alert behind a CRYPTO_ERROR (RFC 9001 §4.8), e.g. 120 for 0x178.
    pub fn tls_alert(&self) -> Option<u8> {
        self.transport_error()?.tls_alert()
    }
}

/// One frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING frames (zero bytes).
    Padding {
        /// How many.
        len: usize,
    },
    /// PING.
    Ping,
    /// ACK (types 0x02 and 0x03); the ranges are skipped.
    Ack {
        /// Largest Acknowledged.
        largest: u64,
        /// ACK Range Count (ranges after the first).
        ranges: u64,
        /// ECN counts (type 0x03).
        ecn: Option<EcnCounts>,
    },
    /// CRYPTO: handshake bytes at `offset` of this packet number space's stream.
    Crypto {
        /// Offset of `data` in the stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE.
    ConnectionClose(ConnectionClose<'a>),
}

/// What was wrong with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// The frame runs past the end of the payload.
    Truncated,
    /// A frame type not allowed in Initial and Handshake packets (RFC 9000 §12.4, Table 3),
    /// or not known at all: its length cannot be known, so the walk stops.
    NotAllowed,
    /// A CRYPTO frame whose end lies beyond 2^62 - 1 (RFC 9000 §19.6).
    CryptoBeyondMaximum,
}

/// A frame that could not be read; the frames before it were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameError {
    /// Offset of the frame in the payload.
    pub offset: usize,
    /// Its type (when the type itself could be read).
    pub frame_type: Option<FrameType>,
    /// What was wrong.
    pub kind: FrameErrorKind,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = match self.frame_type {
            Some(ty) => ty.to_string(),
            None => "type".to_string(),
        };
        match self.kind {
            FrameErrorKind::Truncated => {
                write!(f, "QUIC frame {ty} at byte {} is cut short", self.offset)
            }
            FrameErrorKind::NotAllowed => write!(
                f,
                "QUIC frame {ty} at byte {} is not allowed in Initial or Handshake packets",
                self.offset
            ),
            FrameErrorKind::CryptoBeyondMaximum => write!(
                f,
                "QUIC frame {ty} at byte {} ends beyond offset 2^62-1",
                self.offset
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// The frames of a decrypted Initial or Handshake payload.
pub fn frames(payload: &[u8]) -> Frames<'_> {
    Frames {
        r: Reader::new(payload),
        done: false,
        gquic: false,
    }
}

/// The frames of a decrypted Initial or Handshake payload of `version`: Google's T050 and T051
/// number the CRYPTO frame 0x08 (a STREAM type in RFC 9000, never allowed in these packets), as
/// Wireshark's `packet-quic.c` reads them.
pub fn frames_of(version: KnownVersion, payload: &[u8]) -> Frames<'_> {
    Frames {
        gquic: matches!(version, KnownVersion::Gquic(_)),
        ..frames(payload)
    }
}

/// Iterator over the frames of a payload (see [`frames`]); stops after the first error.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    r: Reader<'a>,
    done: bool,
    /// Google QUIC: 0x08 is CRYPTO.
    gquic: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.remaining() == 0 {
            return None;
        }
        let offset = self.r.pos();
        match self.frame() {
            Ok(frame) => Some(Ok(frame)),
            Err((kind, frame_type)) => {
                self.done = true;
                Some(Err(FrameError {
                    offset,
                    frame_type,
                    kind,
                }))
            }
        }
    }
}

/// What [`Frames::frame`] reports on failure: the kind, and the type when it was read.
type Failure = (FrameErrorKind, Option<FrameType>);

impl<'a> Frames<'a> {
    /// Reads the frame at the cursor.
    fn frame(&mut self) -> Result<Frame<'a>, Failure> {
        let r = &mut self.r;
        let mut ty = FrameType(r.varint().ok_or((FrameErrorKind::Truncated, None))?);
        if self.gquic && ty == FrameType::GQUIC_CRYPTO {
            ty = FrameType::CRYPTO;
        }
        let cut = (FrameErrorKind::Truncated, Some(ty));
        match ty {
            FrameType::PADDING => {
                let zeros = r.rest().iter().take_while(|b| **b == 0).count();
                r.bytes(zeros).ok_or(cut)?;
                Ok(Frame::Padding { len: zeros + 1 })
            }
            FrameType::PING => Ok(Frame::Ping),
            FrameType::ACK | FrameType::ACK_ECN => {
                let largest = r.varint().ok_or(cut)?;
                let _delay = r.varint().ok_or(cut)?;
                let ranges = r.varint().ok_or(cut)?;
                let _first = r.varint().ok_or(cut)?;
                // Each further range is a Gap and a Range Length, one byte at least each: a
                // count the payload cannot hold is cut short without walking it.
                if ranges > r.remaining() as u64 / 2 {
                    return Err(cut);
                }
                for _ in 0..ranges {
                    r.varint().ok_or(cut)?;
                    r.varint().ok_or(cut)?;
                }
                let ecn = if ty == FrameType::ACK_ECN {
                    Some(EcnCounts {
                        ect0: r.varint().ok_or(cut)?,
                        ect1: r.varint().ok_or(cut)?,
                        ce: r.varint().ok_or(cut)?,
                    })
                } else {
                    None
                };
                Ok(Frame::Ack {
                    largest,
                    ranges,
                    ecn,
                })
            }
            FrameType::CRYPTO => {
                let offset = r.varint().ok_or(cut)?;
                let len = r.varint().ok_or(cut)?;
                if offset.saturating_add(len) > VARINT_MAX {
                    return Err((FrameErrorKind::CryptoBeyondMaximum, Some(ty)));
                }
                let data = r.bytes_u64(len).ok_or(cut)?;
                Ok(Frame::Crypto { offset, data })
            }
            FrameType::CONNECTION_CLOSE | FrameType::CONNECTION_CLOSE_APPLICATION => {
                let application = ty == FrameType::CONNECTION_CLOSE_APPLICATION;
                let error_code = r.varint().ok_or(cut)?;
                let frame_type = if application {
                    None
                } else {
                    Some(FrameType(r.varint().ok_or(cut)?))
                };
                let reason_len = r.varint().ok_or(cut)?;
                let reason = r.bytes_u64(reason_len).ok_or(cut)?;
                Ok(Frame::ConnectionClose(ConnectionClose {
                    application,
                    error_code,
                    frame_type,
                    reason: reason.get(..MAX_REASON_BYTES).unwrap_or(reason),
                    reason_len,
                }))
            }
            _ => Err((FrameErrorKind::NotAllowed, Some(ty))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::testdata;
    use crate::quic::wire::put_varint;

    fn all(payload: &[u8]) -> Vec<Result<Frame<'_>, FrameError>> {
        frames(payload).collect()
    }

    #[test]
    fn rfc9001_client_initial_payload() {
        let mut payload = testdata::rfc9001_client_crypto_frame();
        let crypto_len = payload.len();
        payload.resize(1162, 0);
        let got = all(&payload);
        let [
            Ok(Frame::Crypto { offset: 0, data }),
            Ok(Frame::Padding { len }),
        ] = got.as_slice()
        else {
            panic!("{got:?}");
        };
        assert_eq!(data.len(), 241);
        assert_eq!(data[..4], [1, 0, 0, 0xed], "a ClientHello of 237 bytes");
        assert_eq!(*len, 1162 - crypto_len);
    }

    /// Type 0x08 is CRYPTO in Google QUIC's T05x only; elsewhere a STREAM frame, not allowed
    /// in an Initial packet.
    #[test]
    fn gquic_numbers_crypto_0x08() {
        let mut payload = vec![0x08, 0x00, 0x03];
        payload.extend_from_slice(&[1, 0, 0]);
        let gquic = KnownVersion::Gquic(crate::quic::version::Gquic::T051);
        let got: Vec<_> = frames_of(gquic, &payload).collect();
        assert_eq!(
            got,
            [Ok(Frame::Crypto {
                offset: 0,
                data: &[1, 0, 0][..]
            })]
        );
        let got: Vec<_> = frames_of(KnownVersion::V1, &payload).collect();
        assert!(
            matches!(
                got.as_slice(),
                [Err(FrameError {
                    kind: FrameErrorKind::NotAllowed,
                    ..
                })]
            ),
            "{got:?}"
        );
    }

    #[test]
    fn rfc9001_server_initial_payload() {
        let payload = testdata::rfc9001_server_payload();
        let got = all(&payload);
        let [
            Ok(Frame::Ack {
                largest: 0,
                ranges: 0,
                ecn: None,
            }),
            Ok(Frame::Crypto { offset: 0, data }),
        ] = got.as_slice()
        else {
            panic!("{got:?}");
        };
        assert_eq!(data.len(), 90);
        assert_eq!(data[..4], [2, 0, 0, 0x56], "a ServerHello of 86 bytes");
    }

    fn varints(values: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            put_varint(&mut out, *v);
        }
        out
    }

    #[test]
    fn ack_with_ranges_and_ecn_is_skipped_whole() {
        // ACK_ECN: largest 1000, delay 5, 3 ranges, first 2, (gap, len) × 3, ECN 7 8 9; PING.
        let mut payload = varints(&[3, 1000, 5, 3, 2, 1, 1, 300, 2, 4, 16_400, 7, 8, 9]);
        payload.push(0x01);
        assert_eq!(
            all(&payload),
            [
                Ok(Frame::Ack {
                    largest: 1000,
                    ranges: 3,
                    ecn: Some(EcnCounts {
                        ect0: 7,
                        ect1: 8,
                        ce: 9
                    })
                }),
                Ok(Frame::Ping)
            ]
        );
        // Without ECN, the same ranges then PING.
        let mut plain = varints(&[2, 1000, 5, 3, 2, 1, 1, 300, 2, 4, 16_400]);
        plain.push(0x01);
        assert_eq!(all(&plain).len(), 2);
        // A range count no payload could hold.
        let huge = varints(&[2, 1000, 5, 1 << 40, 2, 1, 1]);
        assert_eq!(
            all(&huge),
            [Err(FrameError {
                offset: 0,
                frame_type: Some(FrameType::ACK),
                kind: FrameErrorKind::Truncated
            })]
        );
    }

    #[test]
    fn connection_close_with_a_tls_alert() {
        // 0x1c, CRYPTO_ERROR 0x178 (no_application_protocol), frame type CRYPTO, reason.
        let mut payload = varints(&[0x1c, 0x178, 0x06, 9]);
        payload.extend_from_slice(b"no common");
        let got = all(&payload);
        let [Ok(Frame::ConnectionClose(close))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(close.error_code, 0x178);
        assert_eq!(close.tls_alert(), Some(120));
        assert_eq!(close.frame_type, Some(FrameType::CRYPTO));
        assert_eq!(close.reason, b"no common");
        assert_eq!(
            close.transport_error().and_then(|e| e.name()),
            Some("CRYPTO_ERROR")
        );
        // An application close has no frame type and no TLS alert; long reasons are capped.
        let mut app = varints(&[0x1d, 0x178, 1000]);
        app.extend(std::iter::repeat_n(b'x', 1000));
        let got = all(&app);
        let [Ok(Frame::ConnectionClose(close))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert!(close.application);
        assert_eq!(close.frame_type, None);
        assert_eq!(close.tls_alert(), None);
        assert_eq!(close.reason.len(), MAX_REASON_BYTES);
        assert_eq!(close.reason_len, 1000);
        assert_eq!(TransportError(0x128).tls_alert(), Some(40));
        assert_eq!(TransportError(0x0a).name(), Some("PROTOCOL_VIOLATION"));
        assert_eq!(TransportError(0x200).tls_alert(), None);
    }

    #[test]
    fn frames_not_allowed_in_handshake_packets_stop_the_walk() {
        // PING, then a STREAM frame, then a PING never read.
        let payload = [0x01, 0x08, 0x00, 0x01];
        assert_eq!(
            all(&payload),
            [
                Ok(Frame::Ping),
                Err(FrameError {
                    offset: 1,
                    frame_type: Some(FrameType(0x08)),
                    kind: FrameErrorKind::NotAllowed
                })
            ]
        );
        let err = all(&payload)[1].unwrap_err();
        assert_eq!(
            err.to_string(),
            "QUIC frame STREAM (0x08) at byte 1 is not allowed in Initial or Handshake packets"
        );
        // A non-minimal encoding of CRYPTO (0x4006) is still CRYPTO.
        let crypto = [0x40, 0x06, 0x00, 0x01, 0xaa];
        assert_eq!(
            all(&crypto),
            [Ok(Frame::Crypto {
                offset: 0,
                data: &[0xaa]
            })]
        );
    }

    #[test]
    fn every_cut_of_every_frame_is_truncated_never_a_panic() {
        let mut close = varints(&[0x1c, 0x178, 0x06, 4]);
        close.extend_from_slice(b"oops");
        let mut crypto = varints(&[0x06, 70_000, 5]);
        crypto.extend_from_slice(b"hello");
        for frame in [varints(&[3, 1000, 5, 1, 2, 1, 1, 7, 8, 9]), close, crypto] {
            for cut in 1..frame.len() {
                let got = all(&frame[..cut]);
                assert!(
                    matches!(
                        got.as_slice(),
                        [Err(FrameError {
                            offset: 0,
                            kind: FrameErrorKind::Truncated,
                            ..
                        })]
                    ),
                    "{frame:?} cut at {cut}: {got:?}"
                );
            }
            assert!(all(&frame).iter().all(|f| f.is_ok()));
        }
        let beyond = varints(&[0x06, VARINT_MAX, 2, 0, 0]);
        assert_eq!(
            all(&beyond)[0].unwrap_err().kind,
            FrameErrorKind::CryptoBeyondMaximum
        );
    }
}

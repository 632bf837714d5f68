//! QUIC packet headers in one UDP payload (RFC 9000 §12.2, §17; RFC 8999): the coalesced packets
//! of a datagram, each split off by its Length field, with the header fields read and the
//! payload left protected.
//!
//! [`sniff`] answers in constant time, without allocating, whether a UDP payload starts with a
//! long header of a version this tool reads (or a Version Negotiation packet); [`packets`] then
//! walks the datagram. Each item is a [`Packet`]: a protected Initial, 0-RTT or Handshake packet
//! ([`LongPacket`], whose header protection and payload `keys` removes), a [`Retry`], a
//! [`VersionNegotiation`], a long header of an unknown version, a short-header packet (never
//! decrypted: 1-RTT data is not this tool's business), or zero padding after the last packet.
//!
//! # What it promises
//!
//! No input can make this module panic or allocate: every length read from the wire is checked
//! against the bytes present (the [`Reader`] cursor). A packet that does not fit is a
//! [`PacketError`] saying which field needed how many bytes and how many were there, with the
//! packet's offset in the datagram; the packets before it are kept, nothing after it is read.
//! Connection IDs of known versions are at most 20 bytes (RFC 9000 §17.2); of other versions
//! at most 255 (RFC 8999 §5.1). Version Negotiation lists are read lazily and reported up to
//! [`MAX_VN_VERSIONS`] entries.

use super::version::{KnownVersion, LongType, RetryForm, Version};
use super::wire::Reader;
use std::fmt;

/// Longest connection ID of QUIC version 1, version 2 and the drafts (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;
/// Versions of a Version Negotiation packet that are reported; the rest are counted.
pub const MAX_VN_VERSIONS: usize = 32;
/// Bytes of a Retry Integrity Tag (RFC 9001 §5.8).
pub const RETRY_TAG_LEN: usize = 16;

/// A connection ID (RFC 9000 §5.1) of at most [`MAX_CID_LEN`] bytes, held without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    /// A copy of `bytes`, when they are at most [`MAX_CID_LEN`] long.
    pub fn new(bytes: &[u8]) -> Option<ConnectionId> {
        let mut id = ConnectionId {
            len: u8::try_from(bytes.len()).ok()?,
            bytes: [0; MAX_CID_LEN],
        };
        id.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(id)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the zero-length connection ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for ConnectionId {
    /// Lowercase hex, as Wireshark shows connection IDs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({self})")
    }
}

/// The header field a [`PacketError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The first byte and the Version field.
    Version,
    /// Destination Connection ID Length.
    DcidLength,
    /// Destination Connection ID.
    Dcid,
    /// Source Connection ID Length.
    ScidLength,
    /// Source Connection ID.
    Scid,
    /// Token Length of an Initial packet.
    TokenLength,
    /// Token of an Initial packet.
    Token,
    /// The Length field (packet number and payload).
    Length,
    /// Packet number and payload, as long as Length says.
    Payload,
    /// Original Destination Connection ID of a pre-draft-25 Retry.
    OriginalDcid,
    /// Retry Integrity Tag.
    RetryTag,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Version => "version",
            Field::DcidLength => "destination connection ID length",
            Field::Dcid => "destination connection ID",
            Field::ScidLength => "source connection ID length",
            Field::Scid => "source connection ID",
            Field::TokenLength => "token length",
            Field::Token => "token",
            Field::Length => "length",
            Field::Payload => "payload",
            Field::OriginalDcid => "original destination connection ID",
            Field::RetryTag => "retry integrity tag",
        }
    }
}

/// What was wrong with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketErrorKind {
    /// `field` needs `needed` bytes from its start; the datagram has `have` left there.
    Truncated {
        /// The field cut short.
        field: Field,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes present from the field's start to the end of the datagram.
        have: usize,
    },
    /// A connection ID longer than [`MAX_CID_LEN`] in a version that caps it.
    ConnectionIdTooLong {
        /// Which one.
        field: Field,
        /// Its length byte.
        len: u8,
    },
}

/// A packet of the datagram that could not be read; the packets before it were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketError {
    /// Offset of the packet's first byte in the datagram.
    pub offset: usize,
    /// What was wrong.
    pub kind: PacketErrorKind,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PacketErrorKind::Truncated {
                field,
                needed,
                have,
            } => write!(
                f,
                "QUIC packet at byte {}: the {} needs {needed} bytes, {have} present",
                self.offset,
                field.name()
            ),
            PacketErrorKind::ConnectionIdTooLong { field, len } => write!(
                f,
                "QUIC packet at byte {}: the {} is {len} bytes long (at most {MAX_CID_LEN})",
                self.offset,
                field.name()
            ),
        }
    }
}

impl std::error::Error for PacketError {}

/// An Initial, 0-RTT or Handshake packet: header read, payload still protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPacket<'a> {
    /// Its version.
    pub version: KnownVersion,
    /// [`LongType::Initial`], [`LongType::ZeroRtt`] or [`LongType::Handshake`].
    pub ty: LongType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// The token of an Initial packet (empty for the other types).
    pub token: &'a [u8],
    /// Offset of its first byte in the datagram.
    pub offset: usize,
    /// The whole packet, from its first byte to the end of the bytes its Length counts. The
    /// first byte's low bits and the packet number are still masked (RFC 9001 §5.4).
    pub bytes: &'a [u8],
    /// Offset of the packet number in `bytes`.
    pub pn_offset: usize,
}

impl LongPacket<'_> {
    /// The first byte as sent (low four bits masked by header protection).
    pub fn first_byte(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    /// The Version field as sent: differs from [`LongPacket::version`]'s own number for a
    /// reserved version read as another ([`Version::known`]).
    pub fn wire_version(&self) -> Version {
        match self.bytes.get(1..5) {
            Some(&[a, b, c, d]) => Version(u32::from_be_bytes([a, b, c, d])),
            _ => self.version.version(),
        }
    }

    /// Protected bytes after the header: packet number, payload and AEAD tag.
    pub fn protected_len(&self) -> usize {
        self.bytes.len().saturating_sub(self.pn_offset)
    }
}

/// A Retry packet (RFC 9000 §17.2.5). Its integrity tag is read here and checked by
/// `keys::verify_retry` for the versions whose key is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry<'a> {
    /// Its version.
    pub version: KnownVersion,
    /// Destination Connection ID (the client's Source Connection ID).
    pub dcid: &'a [u8],
    /// Source Connection ID: the Destination Connection ID of the client's next Initial, from
    /// which its Initial keys are derived again.
    pub scid: &'a [u8],
    /// The Retry token.
    pub token: &'a [u8],
    /// The Retry Integrity Tag (drafts from draft-25, version 1, version 2).
    pub tag: Option<&'a [u8; RETRY_TAG_LEN]>,
    /// The Original Destination Connection ID carried in the packet (drafts before draft-25).
    pub original_dcid: Option<&'a [u8]>,
    /// The whole packet.
    pub bytes: &'a [u8],
}

/// A Version Negotiation packet (RFC 9000 §17.2.1): the server's list of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionNegotiation<'a> {
    /// Destination Connection ID (the client's Source Connection ID).
    pub dcid: &'a [u8],
    /// Source Connection ID (the client's Destination Connection ID).
    pub scid: &'a [u8],
    /// The Supported Version fields, four bytes each (a trailing partial entry is ignored).
    list: &'a [u8],
}

impl<'a> VersionNegotiation<'a> {
    /// The versions listed, in order, at most [`MAX_VN_VERSIONS`].
    pub fn versions(&self) -> impl Iterator<Item = Version> + 'a {
        self.list
            .chunks_exact(4)
            .take(MAX_VN_VERSIONS)
            .filter_map(|v| v.first_chunk::<4>())
            .map(|v| Version(u32::from_be_bytes(*v)))
    }

    /// How many versions the packet lists (all of them, also beyond [`MAX_VN_VERSIONS`]).
    pub fn count(&self) -> usize {
        self.list.len() / 4
    }

    /// Bytes after the last whole version (RFC 9000 gives a list of four-byte fields; a
    /// remainder means a damaged or cut packet).
    pub fn trailing_bytes(&self) -> usize {
        self.list.len() % 4
    }
}

/// One packet of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Initial, 0-RTT or Handshake, payload protected.
    Long(LongPacket<'a>),
    /// Retry; ends the datagram.
    Retry(Retry<'a>),
    /// Version Negotiation; ends the datagram.
    VersionNegotiation(VersionNegotiation<'a>),
    /// A long header of a version this tool does not read: only its connection IDs, which every
    /// version keeps in place (RFC 8999 §5.1). Ends the datagram (its length is unknown).
    UnknownVersion {
        /// The version.
        version: Version,
        /// Destination Connection ID (up to 255 bytes).
        dcid: &'a [u8],
        /// Source Connection ID (up to 255 bytes).
        scid: &'a [u8],
    },
    /// A short-header (1-RTT) packet: skipped, never decrypted. It always comes last
    /// (RFC 9000 §12.2: it has no Length field).
    Short {
        /// Offset in the datagram.
        offset: usize,
        /// Its length, to the end of the datagram.
        len: usize,
    },
    /// Zero bytes after the last packet (some stacks pad the datagram rather than a packet).
    Padding {
        /// Offset in the datagram.
        offset: usize,
        /// How many.
        len: usize,
    },
}

/// The fields of a long header to write (see [`LongHeader::write`]): for tests, the fuzz
/// target and `keys::PacketKeys::seal_long`. This tool never sends packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The version.
    pub version: KnownVersion,
    /// Initial, 0-RTT or Handshake.
    pub ty: LongType,
    /// Destination Connection ID (at most [`MAX_CID_LEN`] bytes; longer is cut there).
    pub dcid: &'a [u8],
    /// Source Connection ID (likewise).
    pub scid: &'a [u8],
    /// Token (Initial packets only; ignored for the other types).
    pub token: &'a [u8],
}

impl LongHeader<'_> {
    /// Appends the unprotected header to `out`, ending in `packet_number` on `pn_len` bytes
    /// (1 to 4; clamped) with a Length field counting `pn_len + rest_len` bytes (`rest_len`:
    /// payload and AEAD tag). Returns the packet number's offset in `out`.
    pub fn write(
        &self,
        packet_number: u64,
        pn_len: usize,
        rest_len: usize,
        out: &mut Vec<u8>,
    ) -> usize {
        use super::wire::put_varint;
        let pn_len = pn_len.clamp(1, 4);
        let start = out.len();
        out.push(0xc0 | self.version.long_type_code(self.ty) << 4 | (pn_len as u8 - 1));
        out.extend_from_slice(&self.version.version().0.to_be_bytes());
        for cid in [self.dcid, self.scid] {
            let cid = cid.get(..MAX_CID_LEN).unwrap_or(cid);
            out.push(cid.len() as u8);
            out.extend_from_slice(cid);
        }
        if self.ty == LongType::Initial {
            put_varint(out, self.token.len() as u64);
            out.extend_from_slice(self.token);
        }
        put_varint(out, (pn_len + rest_len) as u64);
        let pn_offset = out.len() - start;
        let pn = packet_number.to_be_bytes();
        out.extend_from_slice(pn.get(8 - pn_len..).unwrap_or(&pn));
        pn_offset
    }
}

/// The smallest UDP payload that carries a client's first Initial (RFC 9000 §14.1).
const MIN_CLIENT_INITIAL: usize = 1200;

/// Whether `payload` starts like a QUIC long-header packet this tool reads: the header form bit
/// set, then a [`KnownVersion`] (a reserved version only in a client Initial's padded
/// datagram) with connection ID lengths of at most 20 bytes, or version 0
/// (Version Negotiation: only a server's answer to a client, so only telling on a flow already
/// seen as QUIC). Returns the version. Constant time, no allocation, never panics: the check a
/// flow table can run on every UDP payload.
pub fn sniff(payload: &[u8]) -> Option<Version> {
    let [first, v0, v1, v2, v3, dcid_len, rest @ ..] = payload else {
        return None;
    };
    if first & 0x80 == 0 {
        return None;
    }
    let version = Version(u32::from_be_bytes([*v0, *v1, *v2, *v3]));
    if version == Version::NEGOTIATION {
        return Some(version);
    }
    version.known()?;
    // A reserved version starts a connection only as a client's Initial would: padded to at
    // least 1200 bytes (RFC 9000 §14.1), the Initial type in v1's coding.
    if version.is_reserved() && (payload.len() < MIN_CLIENT_INITIAL || first & 0x30 != 0) {
        return None;
    }
    let dcid_len = usize::from(*dcid_len);
    let scid_len = usize::from(*rest.get(dcid_len)?);
    (dcid_len <= MAX_CID_LEN && scid_len <= MAX_CID_LEN).then_some(version)
}

/// The header of a datagram's first packet when it is a long-header packet of a known version
/// whose header is whole but whose payload the datagram cuts short (a capture's snaplen): see
/// [`cut_long_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutLongHeader<'a> {
    /// Its version (a reserved version reads as draft-29, see [`Version::known`]).
    pub version: KnownVersion,
    /// The Version field as sent.
    pub wire_version: Version,
    /// Its type.
    pub ty: LongType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
}

/// The version, type and connection IDs of `datagram`'s first packet when it is a long-header
/// packet cut short after its connection IDs (in its token, Length or payload), else `None`.
/// Such a packet cannot be opened, but a client's Initial still names the connection ID its
/// Initial keys come from, which open the server's packets (as Wireshark does with a snaplen).
pub fn cut_long_header(datagram: &[u8]) -> Option<CutLongHeader<'_>> {
    match parse_one(datagram, 0) {
        Err(PacketErrorKind::Truncated {
            field: Field::TokenLength | Field::Token | Field::Length | Field::Payload,
            ..
        }) => {}
        _ => return None,
    }
    let mut r = Reader::new(datagram);
    let first = r.u8()?;
    let wire_version = Version(r.u32()?);
    let version = wire_version.known()?;
    let dcid = connection_id(&mut r, MAX_CID_LEN, Field::DcidLength, Field::Dcid).ok()?;
    let scid = connection_id(&mut r, MAX_CID_LEN, Field::ScidLength, Field::Scid).ok()?;
    Some(CutLongHeader {
        version,
        wire_version,
        ty: version.long_type(first),
        dcid,
        scid,
    })
}

/// The packets of one UDP payload, in order.
pub fn packets(datagram: &[u8]) -> Packets<'_> {
    Packets {
        datagram,
        pos: 0,
        done: false,
    }
}

/// Iterator over the packets of a datagram (see [`packets`]). It stops after a packet that runs
/// to the end of the datagram and after the first error.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    datagram: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let offset = self.pos;
        let bytes = self.datagram.get(offset..).unwrap_or(&[]);
        if bytes.is_empty() {
            self.done = true;
            return None;
        }
        let (packet, len) = match parse_one(bytes, offset) {
            Ok(ok) => ok,
            Err(kind) => {
                self.done = true;
                return Some(Err(PacketError { offset, kind }));
            }
        };
        self.pos = offset.saturating_add(len);
        if len == 0 || self.pos >= self.datagram.len() {
            self.done = true;
        }
        Some(Ok(packet))
    }
}

/// Parses the packet at the start of `bytes` (which sits at `offset` in its datagram): the
/// packet and how many bytes it takes.
fn parse_one(bytes: &[u8], offset: usize) -> Result<(Packet<'_>, usize), PacketErrorKind> {
    let truncated = |field, needed: u64, have: usize| PacketErrorKind::Truncated {
        field,
        needed,
        have,
    };
    let mut r = Reader::new(bytes);
    let first = r.u8().unwrap_or(0);
    if first & 0x80 == 0 {
        let packet = if offset > 0 && bytes.iter().all(|b| *b == 0) {
            Packet::Padding {
                offset,
                len: bytes.len(),
            }
        } else {
            Packet::Short {
                offset,
                len: bytes.len(),
            }
        };
        return Ok((packet, bytes.len()));
    }
    let version = Version(r.u32().ok_or(truncated(Field::Version, 5, bytes.len()))?);
    let known = version.known();
    let cap = if known.is_some() {
        MAX_CID_LEN
    } else {
        usize::from(u8::MAX)
    };
    let dcid = connection_id(&mut r, cap, Field::DcidLength, Field::Dcid)?;
    let scid = connection_id(&mut r, cap, Field::ScidLength, Field::Scid)?;
    let Some(known) = known else {
        let packet = if version == Version::NEGOTIATION {
            Packet::VersionNegotiation(VersionNegotiation {
                dcid,
                scid,
                list: r.rest(),
            })
        } else {
            Packet::UnknownVersion {
                version,
                dcid,
                scid,
            }
        };
        return Ok((packet, bytes.len()));
    };
    let ty = known.long_type(first);
    if ty == LongType::Retry {
        let retry = parse_retry(known, dcid, scid, r, bytes)?;
        return Ok((Packet::Retry(retry), bytes.len()));
    }
    let mut token: &[u8] = &[];
    if ty == LongType::Initial {
        let have = r.remaining();
        let len = r.varint().ok_or(truncated(Field::TokenLength, 1, have))?;
        let have = r.remaining();
        token = r.bytes_u64(len).ok_or(truncated(Field::Token, len, have))?;
    }
    let have = r.remaining();
    let length = r.varint().ok_or(truncated(Field::Length, 1, have))?;
    let pn_offset = r.pos();
    let have = r.remaining();
    r.bytes_u64(length)
        .ok_or(truncated(Field::Payload, length, have))?;
    let end = r.pos();
    let packet = LongPacket {
        version: known,
        ty,
        dcid,
        scid,
        token,
        offset,
        bytes: bytes.get(..end).unwrap_or(bytes),
        pn_offset,
    };
    Ok((Packet::Long(packet), end))
}

/// A connection ID: its length byte (at most `cap`), then its bytes.
fn connection_id<'a>(
    r: &mut Reader<'a>,
    cap: usize,
    len_field: Field,
    field: Field,
) -> Result<&'a [u8], PacketErrorKind> {
    let len = r.u8().ok_or(PacketErrorKind::Truncated {
        field: len_field,
        needed: 1,
        have: 0,
    })?;
    if usize::from(len) > cap {
        return Err(PacketErrorKind::ConnectionIdTooLong { field, len });
    }
    let have = r.remaining();
    r.bytes(usize::from(len)).ok_or(PacketErrorKind::Truncated {
        field,
        needed: u64::from(len),
        have,
    })
}

/// The body of a Retry packet, after its connection IDs (`r` is there).
fn parse_retry<'a>(
    version: KnownVersion,
    dcid: &'a [u8],
    scid: &'a [u8],
    mut r: Reader<'a>,
    bytes: &'a [u8],
) -> Result<Retry<'a>, PacketErrorKind> {
    let mut retry = Retry {
        version,
        dcid,
        scid,
        token: &[],
        tag: None,
        original_dcid: None,
        bytes,
    };
    match version.retry_form() {
        RetryForm::OriginalDcid => {
            let have = r.remaining();
            let len = r.u8().ok_or(PacketErrorKind::Truncated {
                field: Field::OriginalDcid,
                needed: 1,
                have,
            })?;
            if usize::from(len) > MAX_CID_LEN {
                return Err(PacketErrorKind::ConnectionIdTooLong {
                    field: Field::OriginalDcid,
                    len,
                });
            }
            let have = r.remaining();
            retry.original_dcid = Some(r.bytes(usize::from(len)).ok_or(
                PacketErrorKind::Truncated {
                    field: Field::OriginalDcid,
                    needed: u64::from(len),
                    have,
                },
            )?);
            retry.token = r.rest();
        }
        RetryForm::Tag { .. } | RetryForm::UncheckedTag => {
            let rest = r.rest();
            let (token, tag) =
                rest.split_last_chunk::<RETRY_TAG_LEN>()
                    .ok_or(PacketErrorKind::Truncated {
                        field: Field::RetryTag,
                        needed: RETRY_TAG_LEN as u64,
                        have: rest.len(),
                    })?;
            retry.token = token;
            retry.tag = Some(tag);
        }
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::testdata;

    #[test]
    fn sniff_accepts_known_long_headers_only() {
        let a2 = testdata::rfc9001_client_initial();
        assert_eq!(sniff(&a2), Some(Version::V1));
        assert_eq!(
            sniff(&testdata::rfc9369_client_initial()),
            Some(Version::V2)
        );
        // Short header, unknown version, DNS, too short, CID too long.
        assert_eq!(sniff(&[0x40, 1, 2, 3, 4, 5, 6, 7]), None);
        assert_eq!(sniff(&[0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 0, 0]), None);
        assert_eq!(sniff(&[0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0]), None);
        assert_eq!(sniff(&a2[..6]), None);
        assert_eq!(sniff(&[0xc0, 0, 0, 0, 1, 21, 0]), None);
        assert_eq!(sniff(&[0x80, 0, 0, 0, 0, 0, 0]), Some(Version::NEGOTIATION));
        // A reserved version in a client Initial's padded datagram (a client forcing Version
        // Negotiation), not in a short one or another packet type.
        let reserved = testdata::ndpi_reserved_version_initial();
        assert_eq!(sniff(&reserved), Some(Version(0x0a0a_0a0a)));
        assert_eq!(sniff(&reserved[..1199]), None);
        let mut handshake = reserved.clone();
        handshake[0] |= 0x20;
        assert_eq!(sniff(&handshake), None);
    }

    #[test]
    fn rfc9001_client_initial_header() {
        let a2 = testdata::rfc9001_client_initial();
        let got: Vec<_> = packets(&a2).collect();
        let [Ok(Packet::Long(p))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(p.version, KnownVersion::V1);
        assert_eq!(p.ty, LongType::Initial);
        assert_eq!(p.dcid, testdata::RFC_DCID);
        assert_eq!(p.scid, b"");
        assert_eq!(p.token, b"");
        assert_eq!(p.pn_offset, 18);
        assert_eq!(p.bytes.len(), 1200);
        assert_eq!(p.protected_len(), 1182);
    }

    #[test]
    fn rfc9369_server_initial_header() {
        let server = testdata::rfc9369_server_initial();
        let got: Vec<_> = packets(&server).collect();
        let [Ok(Packet::Long(p))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(p.version, KnownVersion::V2);
        assert_eq!(p.ty, LongType::Initial);
        assert_eq!(p.dcid, b"");
        assert_eq!(p.scid, [0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5]);
        assert_eq!(p.protected_len(), 117);
    }

    #[test]
    fn retry_packets_of_both_rfcs() {
        for (bytes, version) in [
            (testdata::rfc9001_retry(), KnownVersion::V1),
            (testdata::rfc9369_retry(), KnownVersion::V2),
        ] {
            let got: Vec<_> = packets(&bytes).collect();
            let [Ok(Packet::Retry(r))] = got.as_slice() else {
                panic!("{got:?}");
            };
            assert_eq!(r.version, version);
            assert_eq!(r.dcid, b"");
            assert_eq!(r.scid, [0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5]);
            assert_eq!(r.token, b"token");
            assert_eq!(r.tag.map(|t| t.len()), Some(16));
            assert_eq!(r.original_dcid, None);
        }
    }

    #[test]
    fn pre_draft_25_retry_carries_the_original_dcid() {
        let mut bytes = vec![0xf0, 0xff, 0, 0, 24, 1, 0xaa, 2, 0xbb, 0xcc, 3, 1, 2, 3];
        bytes.extend_from_slice(b"tok");
        let got: Vec<_> = packets(&bytes).collect();
        let [Ok(Packet::Retry(r))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(r.original_dcid, Some(&[1, 2, 3][..]));
        assert_eq!(r.token, b"tok");
        assert_eq!(r.tag, None);
    }

    #[test]
    fn version_negotiation_lists_versions_capped() {
        let mut bytes = vec![0x80, 0, 0, 0, 0, 2, 0xaa, 0xbb, 1, 0xcc];
        for v in [0x6b3343cfu32, 1, 0xff00001d, 0x1a2a3a4a] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        bytes.push(7);
        let got: Vec<_> = packets(&bytes).collect();
        let [Ok(Packet::VersionNegotiation(vn))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(vn.dcid, [0xaa, 0xbb]);
        assert_eq!(vn.scid, [0xcc]);
        assert_eq!(
            vn.versions().collect::<Vec<_>>(),
            [
                Version::V2,
                Version::V1,
                Version::draft(29),
                Version(0x1a2a3a4a)
            ]
        );
        assert_eq!(vn.count(), 4);
        assert_eq!(vn.trailing_bytes(), 1);

        let mut long = vec![0x80, 0, 0, 0, 0, 0, 0];
        for v in 0..100u32 {
            long.extend_from_slice(&v.to_be_bytes());
        }
        let Some(Ok(Packet::VersionNegotiation(vn))) = packets(&long).next() else {
            panic!();
        };
        assert_eq!(vn.versions().count(), MAX_VN_VERSIONS);
        assert_eq!(vn.count(), 100);
    }

    /// A long header of `version` and type code `code` with a payload of `len` bytes.
    fn long(version: u32, code: u8, dcid: &[u8], token: Option<&[u8]>, len: usize) -> Vec<u8> {
        let mut p = vec![0xc0 | code << 4];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.extend_from_slice(&[1, 0x55]);
        if let Some(token) = token {
            crate::quic::wire::put_varint(&mut p, token.len() as u64);
            p.extend_from_slice(token);
        }
        crate::quic::wire::put_varint(&mut p, len as u64);
        p.extend(std::iter::repeat_n(0xee, len));
        p
    }

    #[test]
    fn coalesced_packets_split_by_length() {
        // Initial (token "t"), Handshake, a short header: RFC 9000 §12.2.
        let mut datagram = long(1, 0, &[1, 2, 3, 4], Some(b"t"), 30);
        let handshake_at = datagram.len();
        datagram.extend(long(1, 2, &[1, 2, 3, 4], None, 300));
        let short_at = datagram.len();
        datagram.extend_from_slice(&[0x41, 1, 2, 3, 4, 9, 9, 9]);
        let got: Vec<_> = packets(&datagram).collect::<Result<_, _>>().unwrap();
        let [Packet::Long(initial), Packet::Long(handshake), short] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(initial.ty, LongType::Initial);
        assert_eq!(initial.token, b"t");
        assert_eq!(initial.scid, [0x55]);
        assert_eq!(initial.bytes.len(), handshake_at);
        assert_eq!(initial.protected_len(), 30);
        assert_eq!(handshake.ty, LongType::Handshake);
        assert_eq!(handshake.offset, handshake_at);
        assert_eq!(handshake.token, b"");
        assert_eq!(handshake.protected_len(), 300);
        assert_eq!(
            *short,
            Packet::Short {
                offset: short_at,
                len: 8
            }
        );
        // v2 codes: 0b01 is Initial, 0b11 Handshake, 0b10 0-RTT.
        let mut v2 = long(0x6b3343cf, 1, &[7], Some(b""), 20);
        v2.extend(long(0x6b3343cf, 3, &[7], None, 20));
        v2.extend(long(0x6b3343cf, 2, &[7], None, 20));
        v2.extend_from_slice(&[0; 5]);
        let types: Vec<_> = packets(&v2)
            .map(|p| match p.unwrap() {
                Packet::Long(l) => format!("{:?}", l.ty),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            types,
            [
                "Initial",
                "Handshake",
                "ZeroRtt",
                "Padding { offset: 91, len: 5 }"
            ]
        );
    }

    #[test]
    fn every_cut_is_an_error_that_locates_it() {
        let full = long(1, 0, &[1, 2, 3, 4], Some(b"tok"), 40);
        for cut in 1..full.len() {
            let got: Vec<_> = packets(&full[..cut]).collect();
            let [Err(e)] = got.as_slice() else {
                panic!("cut at {cut}: {got:?}");
            };
            assert_eq!(e.offset, 0);
            let PacketErrorKind::Truncated { needed, have, .. } = e.kind else {
                panic!("{e:?}");
            };
            assert!(u64::try_from(have).unwrap() < needed, "{e:?}");
        }
        let err = packets(&full[..30]).next().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "QUIC packet at byte 0: the payload needs 40 bytes, 13 present"
        );
        // A second packet cut short keeps the first.
        let mut two = full.clone();
        two.extend_from_slice(&full[..20]);
        let got: Vec<_> = packets(&two).collect();
        assert!(matches!(got.as_slice(), [Ok(Packet::Long(_)), Err(e)] if e.offset == full.len()));
    }

    #[test]
    fn a_cut_packet_keeps_its_header_once_its_connection_ids_are_whole() {
        let a2 = testdata::rfc9001_client_initial();
        // The RFC's Initial cut by a 256-byte snaplen (Ethernet, IP and UDP take 42 bytes).
        let h = cut_long_header(&a2[..214]).unwrap();
        assert_eq!(h.version, KnownVersion::V1);
        assert_eq!(h.wire_version, Version::V1);
        assert_eq!(h.ty, LongType::Initial);
        assert_eq!(h.dcid, testdata::RFC_DCID);
        assert_eq!(h.scid, b"");
        // Cut in its token length, Length field or payload: still read; in its connection
        // IDs: not; whole, or not a long header: not a cut packet.
        let full = long(1, 0, &[1, 2, 3, 4], Some(b"tok"), 40);
        let scid_end = 1 + 4 + 1 + 4 + 2;
        for cut in 1..full.len() {
            assert_eq!(
                cut_long_header(&full[..cut]).is_some(),
                cut >= scid_end,
                "cut at {cut}"
            );
        }
        assert_eq!(cut_long_header(&full), None);
        assert_eq!(cut_long_header(&a2), None);
        assert_eq!(cut_long_header(&[0x40, 1, 2, 3, 4, 5, 6, 7]), None);
    }

    #[test]
    fn connection_ids_over_20_bytes_only_for_unknown_versions() {
        let mut p = long(1, 0, &[9; 21], Some(b""), 4);
        let err = packets(&p).next().unwrap().unwrap_err();
        assert_eq!(
            err.kind,
            PacketErrorKind::ConnectionIdTooLong {
                field: Field::Dcid,
                len: 21
            }
        );
        p[1..5].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(
            packets(&p).next(),
            Some(Ok(Packet::UnknownVersion {
                version: Version(0x1234_5678),
                dcid: &[9; 21],
                scid: &[0x55],
            }))
        );
    }

    #[test]
    fn connection_id_holds_up_to_20_bytes() {
        let id = ConnectionId::new(&testdata::RFC_DCID).unwrap();
        assert_eq!(id.as_bytes(), testdata::RFC_DCID);
        assert_eq!(id.to_string(), "8394c8f03e515708");
        assert_eq!(id.len(), 8);
        assert!(ConnectionId::new(&[0; 20]).is_some());
        assert!(ConnectionId::new(&[0; 21]).is_none());
        assert!(ConnectionId::new(&[]).unwrap().is_empty());
    }
}

//! QUIC packet protection (RFC 9001 §5): Initial keys from the client's Destination Connection
//! ID, keys from a TLS traffic secret, header protection and the AEAD.
//!
//! - [`InitialKeys::derive`] (RFC 9001 §5.2): `initial_secret = HKDF-Extract(salt, client DCID)`,
//!   then `client in` / `server in` with HKDF-Expand-Label, then each side's key, IV and header
//!   protection key with the version's labels ([`KnownVersion::labels`]). Both directions are
//!   readable by anyone who saw the client's first Initial: that is the point of this module.
//! - [`PacketKeys::from_tls_secret`]: the same from a TLS 1.3 traffic secret (a key log's
//!   `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, …) for AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305;
//!   for Handshake packets once keys are known.
//! - [`PacketKeys::open`] removes header protection (RFC 9001 §5.4: AES-ECB or ChaCha20 on a
//!   16-byte sample), recovers the packet number (RFC 9000 §A.3) and opens the payload
//!   (RFC 9001 §5.3) into a buffer the caller reuses. [`PacketKeys::seal`] does the reverse; the
//!   tool never sends: it protects again the Initial packets a redacted extract rewrote (same
//!   keys, packet number and header), and serves tests and the fuzz target.
//! - [`verify_retry`] checks a Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3).
//!
//! HKDF-Expand-Label is the TLS layer's ([`crate::tls::decrypt`]). Nothing here panics on any
//! input; key material never appears in `Debug` output.

use super::packet::{LongHeader, LongPacket, RETRY_TAG_LEN, Retry};
use super::version::{KnownVersion, Labels, RetryForm};
use crate::tls::decrypt::{
    TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, expand_label,
};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::{Aes128Enc, Aes256Enc, Block};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};
use std::fmt;

/// Bytes of the AEAD tag of every QUIC AEAD (RFC 9001 §5.3).
pub const TAG_LEN: usize = 16;
/// Bytes of the header protection sample (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;

/// The AEADs of QUIC's TLS 1.3 cipher suites that this tool opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aead {
    /// AEAD_AES_128_GCM (TLS_AES_128_GCM_SHA256; all Initial packets).
    Aes128Gcm,
    /// AEAD_AES_256_GCM (TLS_AES_256_GCM_SHA384).
    Aes256Gcm,
    /// AEAD_CHACHA20_POLY1305 (TLS_CHACHA20_POLY1305_SHA256).
    ChaCha20Poly1305,
}

impl Aead {
    /// The AEAD of a TLS 1.3 cipher suite. TLS_AES_128_CCM_SHA256 is allowed in QUIC but its
    /// header protection is not implemented here (no stack is known to negotiate it).
    pub fn from_tls_suite(suite: u16) -> Option<Aead> {
        match suite {
            TLS_AES_128_GCM_SHA256 => Some(Aead::Aes128Gcm),
            TLS_AES_256_GCM_SHA384 => Some(Aead::Aes256Gcm),
            TLS_CHACHA20_POLY1305_SHA256 => Some(Aead::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// Key length in bytes (also the header protection key's).
    fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }
}

/// Why keys could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The cipher suite is not one whose QUIC packets this tool opens.
    UnsupportedSuite(u16),
    /// The secret does not fit the suite's hash (32 bytes for SHA-256, 48 for SHA-384).
    BadSecret,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::UnsupportedSuite(s) => {
                write!(
                    f,
                    "cipher suite 0x{s:04x} is not supported for QUIC decryption"
                )
            }
            KeyError::BadSecret => write!(f, "the secret has the wrong length for the suite"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a packet could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The packet ends before the header protection sample does: `needed` bytes from the
    /// packet's start, `have` present (RFC 9001 §5.4.2: sample at packet number offset + 4).
    TooShortForSample {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// The ChaCha20 counter in the sample cannot be reached (the keystream ends there).
    HeaderProtection,
    /// Authentication failed: wrong keys (another connection ID, version or secret), or the
    /// packet was damaged.
    Authentication,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::TooShortForSample { needed, have } => write!(
                f,
                "QUIC packet too short for header protection: {needed} bytes needed, {have} present"
            ),
            OpenError::HeaderProtection => write!(f, "QUIC header protection mask unavailable"),
            OpenError::Authentication => {
                write!(f, "QUIC packet decryption failed: the keys do not match")
            }
        }
    }
}

impl std::error::Error for OpenError {}

/// A header protection key (RFC 9001 §5.4): AES-ECB for the AES suites, raw ChaCha20 for
/// ChaCha20-Poly1305.
#[derive(Clone)]
pub struct HeaderProtection(Hp);

#[derive(Clone)]
enum Hp {
    Aes128(Box<Aes128Enc>),
    Aes256(Box<Aes256Enc>),
    ChaCha20([u8; 32]),
}

impl fmt::Debug for HeaderProtection {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Hp::Aes128(_) => "AES-128",
            Hp::Aes256(_) => "AES-256",
            Hp::ChaCha20(_) => "ChaCha20",
        };
        write!(f, "HeaderProtection({kind})")
    }
}

impl HeaderProtection {
    /// A header protection key for `aead` (`key` must have its key length).
    pub fn new(aead: Aead, key: &[u8]) -> Result<HeaderProtection, KeyError> {
        Ok(HeaderProtection(match aead {
            Aead::Aes128Gcm => Hp::Aes128(Box::new(
                Aes128Enc::new_from_slice(key).map_err(|_| KeyError::BadSecret)?,
            )),
            Aead::Aes256Gcm => Hp::Aes256(Box::new(
                Aes256Enc::new_from_slice(key).map_err(|_| KeyError::BadSecret)?,
            )),
            Aead::ChaCha20Poly1305 => {
                Hp::ChaCha20(key.try_into().map_err(|_| KeyError::BadSecret)?)
            }
        }))
    }

    /// The five mask bytes for a sample (RFC 9001 §5.4.3, §5.4.4): `mask[0]` for the first
    /// byte's protected bits, `mask[1..]` for the packet number.
    pub fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> Result<[u8; 5], OpenError> {
        let mut mask = [0u8; 5];
        match &self.0 {
            Hp::Aes128(aes) => mask_from_block(aes.as_ref(), sample, &mut mask),
            Hp::Aes256(aes) => mask_from_block(aes.as_ref(), sample, &mut mask),
            Hp::ChaCha20(key) => {
                // §5.4.4: counter = sample[0..4] little-endian, nonce = sample[4..16]; the mask
                // is ChaCha20 applied to five zero bytes.
                let (counter, nonce) = sample.split_at(4);
                let counter = u32::from_le_bytes(
                    counter
                        .try_into()
                        .map_err(|_| OpenError::HeaderProtection)?,
                );
                let mut chacha = ChaCha20::new_from_slices(key, nonce)
                    .map_err(|_| OpenError::HeaderProtection)?;
                chacha
                    .try_seek(u64::from(counter) * 64)
                    .map_err(|_| OpenError::HeaderProtection)?;
                chacha
                    .try_apply_keystream(&mut mask)
                    .map_err(|_| OpenError::HeaderProtection)?;
            }
        }
        Ok(mask)
    }
}

/// AES-ECB on the sample; its first five bytes (RFC 9001 §5.4.3).
fn mask_from_block<C: BlockCipherEncrypt<BlockSize = aes_gcm::aes::cipher::consts::U16>>(
    cipher: &C,
    sample: &[u8; SAMPLE_LEN],
    mask: &mut [u8; 5],
) {
    let mut block = Block::from(*sample);
    cipher.encrypt_block(&mut block);
    for (m, b) in mask.iter_mut().zip(block.iter()) {
        *m = *b;
    }
}

enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

/// One direction's keys for one packet number space: AEAD key, IV and header protection.
pub struct PacketKeys {
    cipher: Cipher,
    iv: [u8; 12],
    hp: HeaderProtection,
}

impl fmt::Debug for PacketKeys {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketKeys")
            .field("hp", &self.hp)
            .finish_non_exhaustive()
    }
}

/// A packet opened by [`PacketKeys::open`]; borrows the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'b> {
    /// The first byte with header protection removed (packet number length in the low bits;
    /// the reserved bits, 0x0c of a long header, must be zero: RFC 9000 §17.2).
    pub first_byte: u8,
    /// The full packet number (RFC 9000 §A.3, from the largest one seen in the space).
    pub packet_number: u64,
    /// The packet number's length on the wire (1 to 4 bytes).
    pub pn_len: usize,
    /// The header with protection removed (the AEAD's associated data).
    pub header: &'b [u8],
    /// The decrypted payload: frames.
    pub payload: &'b [u8],
}

/// Key, IV and header protection key, as derived from a secret.
#[derive(Debug, PartialEq, Eq)]
struct KeyMaterial {
    key: Vec<u8>,
    iv: Vec<u8>,
    hp: Vec<u8>,
}

/// Key, IV and header protection key from a secret (RFC 9001 §5.1): the version's labels.
fn key_material<H>(secret: &[u8], labels: &Labels, key_len: usize) -> Result<KeyMaterial, KeyError>
where
    H: hkdf::hmac::EagerHash + Clone,
    Hkdf<H>: Sized,
{
    let expand =
        |label, len| expand_label::<H>(secret, label, len).map_err(|_| KeyError::BadSecret);
    Ok(KeyMaterial {
        key: expand(labels.key, key_len)?,
        iv: expand(labels.iv, 12)?,
        hp: expand(labels.hp, key_len)?,
    })
}

impl PacketKeys {
    /// Keys from a TLS 1.3 traffic secret of cipher suite `suite`, with the labels of
    /// `version` (RFC 9001 §5.1; RFC 9369 §3.3.2 for version 2).
    pub fn from_tls_secret(
        suite: u16,
        version: KnownVersion,
        secret: &[u8],
    ) -> Result<PacketKeys, KeyError> {
        let aead = Aead::from_tls_suite(suite).ok_or(KeyError::UnsupportedSuite(suite))?;
        PacketKeys::from_secret(aead, version.labels(), secret)
    }

    /// Keys for `aead` from a secret of its suite's hash (SHA-384 for AES-256-GCM, SHA-256
    /// otherwise), with `labels`.
    pub fn from_secret(aead: Aead, labels: &Labels, secret: &[u8]) -> Result<PacketKeys, KeyError> {
        let want = if aead == Aead::Aes256Gcm { 48 } else { 32 };
        if secret.len() != want {
            return Err(KeyError::BadSecret);
        }
        let m = if aead == Aead::Aes256Gcm {
            key_material::<Sha384>(secret, labels, aead.key_len())?
        } else {
            key_material::<Sha256>(secret, labels, aead.key_len())?
        };
        PacketKeys::from_parts(aead, &m.key, &m.iv, &m.hp)
    }

    /// Keys from their parts: AEAD key, 12-byte IV, header protection key.
    pub fn from_parts(
        aead: Aead,
        key: &[u8],
        iv: &[u8],
        hp: &[u8],
    ) -> Result<PacketKeys, KeyError> {
        let bad = |_| KeyError::BadSecret;
        let cipher = match aead {
            Aead::Aes128Gcm => {
                Cipher::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            Aead::Aes256Gcm => {
                Cipher::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
            Aead::ChaCha20Poly1305 => Cipher::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(bad)?,
            )),
        };
        Ok(PacketKeys {
            cipher,
            iv: iv.try_into().map_err(|_| KeyError::BadSecret)?,
            hp: HeaderProtection::new(aead, hp)?,
        })
    }

    /// The header protection key.
    pub fn header_protection(&self) -> &HeaderProtection {
        &self.hp
    }

    /// The AEAD nonce of packet number `pn`: the IV XOR the number, left-padded (RFC 9001 §5.3).
    fn nonce(&self, pn: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// Opens a long-header packet read by `packet::packets`. `largest_pn` is the largest packet
    /// number already opened in this packet number space and direction (`None` before the
    /// first). The plaintext goes into `buf` (cleared first; reuse it to avoid allocating).
    pub fn open_long<'b>(
        &self,
        packet: &LongPacket<'_>,
        largest_pn: Option<u64>,
        buf: &'b mut Vec<u8>,
    ) -> Result<Opened<'b>, OpenError> {
        self.open(packet.bytes, packet.pn_offset, largest_pn, buf)
    }

    /// Opens the packet `packet` (from its first byte to the end of its payload) whose packet
    /// number starts at `pn_offset`: removes header protection (4 bits of a long header's first
    /// byte, 5 of a short header's), decodes the packet number, decrypts and authenticates.
    pub fn open<'b>(
        &self,
        packet: &[u8],
        pn_offset: usize,
        largest_pn: Option<u64>,
        buf: &'b mut Vec<u8>,
    ) -> Result<Opened<'b>, OpenError> {
        let sample_at = pn_offset.saturating_add(4);
        let too_short = OpenError::TooShortForSample {
            needed: sample_at.saturating_add(SAMPLE_LEN),
            have: packet.len(),
        };
        let sample = packet
            .get(sample_at..)
            .and_then(|s| s.first_chunk::<SAMPLE_LEN>())
            .ok_or(too_short)?;
        let mask = self.hp.mask(sample)?;
        let first = packet.first().copied().ok_or(too_short)?;
        let first = first ^ (mask[0] & first_byte_mask(first));
        let pn_len = usize::from(first & 0b11) + 1;
        let header_len = pn_offset + pn_len;

        buf.clear();
        buf.extend_from_slice(packet);
        let (header, body) = buf.split_at_mut_checked(header_len).ok_or(too_short)?;
        let mut truncated = 0u64;
        if let Some(b0) = header.first_mut() {
            *b0 = first;
        }
        let pn_bytes = header.get_mut(pn_offset..).ok_or(too_short)?;
        for (b, m) in pn_bytes.iter_mut().zip(mask.iter().skip(1)) {
            *b ^= m;
            truncated = truncated << 8 | u64::from(*b);
        }
        let packet_number = decode_packet_number(largest_pn, truncated, pn_len as u32 * 8);
        let nonce = self.nonce(packet_number);
        let tag_at = body.len().checked_sub(TAG_LEN).ok_or(too_short)?;
        let (ciphertext, tag) = body.split_at_mut(tag_at);
        let opened = match &self.cipher {
            Cipher::Aes128(c) => open_in_place(c.as_ref(), &nonce, header, ciphertext, tag),
            Cipher::Aes256(c) => open_in_place(c.as_ref(), &nonce, header, ciphertext, tag),
            Cipher::ChaCha(c) => open_in_place(c.as_ref(), &nonce, header, ciphertext, tag),
        };
        if !opened {
            return Err(OpenError::Authentication);
        }
        let (header, body) = buf.split_at(header_len);
        Ok(Opened {
            first_byte: first,
            packet_number,
            pn_len,
            header,
            payload: body.get(..tag_at).unwrap_or(&[]),
        })
    }

    /// Builds and protects a long-header packet: `header`'s fields, `packet_number` on
    /// `pn_len` bytes (1 to 4), then `payload` (frames; a payload too short for the header
    /// protection sample is an error, RFC 9001 §5.4.2 asks the sender to pad). For tests and the
    /// fuzz target.
    pub fn seal_long(
        &self,
        header: &LongHeader<'_>,
        packet_number: u64,
        pn_len: usize,
        payload: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let mut bytes = Vec::new();
        let pn_offset = header.write(packet_number, pn_len, payload.len() + TAG_LEN, &mut bytes);
        self.seal(&bytes, pn_offset, packet_number, payload)
    }

    /// Protects a packet: `header` is the unprotected header ending in the packet number
    /// (`pn_offset` is where it starts, its length in the first byte's low bits), `payload` the
    /// frames. Returns the packet as sent. This tool never sends: for redacted extracts (a
    /// rewritten Initial packet), tests and the fuzz target.
    pub fn seal(
        &self,
        header: &[u8],
        pn_offset: usize,
        packet_number: u64,
        payload: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let first = header.first().copied().unwrap_or(0);
        let pn_len = usize::from(first & 0b11) + 1;
        let sample_at = pn_offset.saturating_add(4);
        let total = header.len() + payload.len() + TAG_LEN;
        let too_short = OpenError::TooShortForSample {
            needed: sample_at.saturating_add(SAMPLE_LEN),
            have: total,
        };
        if pn_offset.checked_add(pn_len) != Some(header.len())
            || total < sample_at.saturating_add(SAMPLE_LEN)
        {
            return Err(too_short);
        }
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(header);
        out.extend_from_slice(payload);
        let nonce = self.nonce(packet_number);
        let (aad, plaintext) = out.split_at_mut(header.len());
        let tag = match &self.cipher {
            Cipher::Aes128(c) => seal_in_place(c.as_ref(), &nonce, aad, plaintext),
            Cipher::Aes256(c) => seal_in_place(c.as_ref(), &nonce, aad, plaintext),
            Cipher::ChaCha(c) => seal_in_place(c.as_ref(), &nonce, aad, plaintext),
        }
        .ok_or(OpenError::Authentication)?;
        out.extend_from_slice(&tag);
        let sample = out
            .get(sample_at..)
            .and_then(|s| s.first_chunk::<SAMPLE_LEN>())
            .ok_or(too_short)?;
        let mask = self.hp.mask(sample)?;
        if let Some(b0) = out.first_mut() {
            *b0 ^= mask[0] & first_byte_mask(first);
        }
        if let Some(pn) = out.get_mut(pn_offset..header.len()) {
            for (b, m) in pn.iter_mut().zip(mask.iter().skip(1)) {
                *b ^= m;
            }
        }
        Ok(out)
    }
}

/// Bits of the first byte under header protection: 4 in a long header, 5 in a short one.
fn first_byte_mask(first: u8) -> u8 {
    if first & 0x80 != 0 { 0x0f } else { 0x1f }
}

/// Decrypts `ciphertext` in place; false when it does not authenticate.
fn open_in_place<A: AeadInOut>(
    cipher: &A,
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext: &mut [u8],
    tag: &[u8],
) -> bool {
    let (Ok(nonce), Ok(tag)) = (
        aes_gcm::aead::Nonce::<A>::try_from(&nonce[..]),
        aes_gcm::aead::Tag::<A>::try_from(tag),
    ) else {
        return false;
    };
    cipher
        .decrypt_inout_detached(&nonce, aad, ciphertext.into(), &tag)
        .is_ok()
}

/// Encrypts `plaintext` in place; the tag.
fn seal_in_place<A: AeadInOut>(
    cipher: &A,
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &mut [u8],
) -> Option<Vec<u8>> {
    let nonce = aes_gcm::aead::Nonce::<A>::try_from(&nonce[..]).ok()?;
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, plaintext.into())
        .ok()?;
    Some(tag.to_vec())
}

/// The full packet number from its `bits` low bits, the one closest to the next expected
/// (RFC 9000 §A.3). `largest` is the largest packet number seen in the space, `None` before
/// the first (then the next expected is 0).
pub fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    const MAX: u64 = (1 << 62) - 1;
    let bits = bits.clamp(8, 32);
    let expected = largest.map_or(0, |l| l.saturating_add(1)).min(MAX);
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | (truncated & (win - 1));
    if candidate + hwin <= expected && candidate < MAX + 1 - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// The two Initial secrets of a connection (RFC 9001 §5.2).
#[derive(Clone, PartialEq, Eq)]
pub struct InitialSecrets {
    /// `client_initial_secret`.
    pub client: [u8; 32],
    /// `server_initial_secret`.
    pub server: [u8; 32],
}

impl fmt::Debug for InitialSecrets {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialSecrets")
    }
}

/// `initial_secret = HKDF-Extract(initial_salt, client_dcid)` (RFC 9001 §5.2).
fn initial_secret(version: KnownVersion, client_dcid: &[u8]) -> [u8; 32] {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(version.initial_salt()), client_dcid);
    let mut out = [0u8; 32];
    for (o, p) in out.iter_mut().zip(prk.iter()) {
        *o = *p;
    }
    out
}

impl InitialSecrets {
    /// The secrets of a connection whose client chose `client_dcid` as the Destination
    /// Connection ID of its first Initial (or the Source Connection ID of a Retry it
    /// followed), in `version`.
    pub fn derive(version: KnownVersion, client_dcid: &[u8]) -> Result<InitialSecrets, KeyError> {
        let secret = initial_secret(version, client_dcid);
        let expand = |label| {
            expand_label::<Sha256>(&secret, label, 32)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or(KeyError::BadSecret)
        };
        Ok(InitialSecrets {
            client: expand("client in")?,
            server: expand("server in")?,
        })
    }
}

/// The Initial packet keys of both directions (RFC 9001 §5.2): AES-128-GCM.
#[derive(Debug)]
pub struct InitialKeys {
    /// Protects the client's Initial packets.
    pub client: PacketKeys,
    /// Protects the server's Initial packets.
    pub server: PacketKeys,
}

impl InitialKeys {
    /// The keys of a connection in `version` whose client's first Initial went to
    /// `client_dcid`. A server that answers in another compatible version (RFC 9368) protects
    /// its Initials with that version's salt and labels, from the same connection ID.
    pub fn derive(version: KnownVersion, client_dcid: &[u8]) -> Result<InitialKeys, KeyError> {
        let secrets = InitialSecrets::derive(version, client_dcid)?;
        let labels = version.labels();
        Ok(InitialKeys {
            client: PacketKeys::from_secret(Aead::Aes128Gcm, labels, &secrets.client)?,
            server: PacketKeys::from_secret(Aead::Aes128Gcm, labels, &secrets.server)?,
        })
    }
}

/// The outcome of checking a Retry Integrity Tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryIntegrity {
    /// The tag matches: the Retry answers a client Initial sent to that connection ID.
    Valid,
    /// The tag does not match (another original connection ID, or a forged or damaged Retry).
    Invalid,
    /// The version's tag key is not known here, or the version has no tag (before draft-25).
    NotChecked,
}

/// Checks `retry`'s integrity tag against the Destination Connection ID of the client Initial
/// it answers (RFC 9001 §5.8: AES-128-GCM with a fixed key over the Retry pseudo-packet).
pub fn verify_retry(retry: &Retry<'_>, original_dcid: &[u8]) -> RetryIntegrity {
    let (RetryForm::Tag { .. }, Some(tag)) = (retry.version.retry_form(), retry.tag) else {
        return RetryIntegrity::NotChecked;
    };
    let without_tag = retry
        .bytes
        .get(..retry.bytes.len().saturating_sub(RETRY_TAG_LEN))
        .unwrap_or(&[]);
    match retry_tag(retry.version, without_tag, original_dcid) {
        Some(expected) if expected == *tag => RetryIntegrity::Valid,
        _ => RetryIntegrity::Invalid,
    }
}

/// The Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3) of a Retry packet of `version`
/// whose bytes before the tag are `without_tag`, answering a client Initial sent to
/// `original_dcid`; `None` for a version without a tag or a connection ID longer than 255
/// bytes. A redacted extract signs a Retry again after rewriting its token.
pub fn retry_tag(
    version: KnownVersion,
    without_tag: &[u8],
    original_dcid: &[u8],
) -> Option<[u8; RETRY_TAG_LEN]> {
    let RetryForm::Tag { key, nonce } = version.retry_form() else {
        return None;
    };
    let odcid_len = u8::try_from(original_dcid.len()).ok()?;
    let cipher = Aes128Gcm::new_from_slice(&key).ok()?;
    // Retry Pseudo-Packet: ODCID Length, ODCID, then the Retry packet without its tag.
    let mut pseudo = Vec::with_capacity(1 + original_dcid.len() + without_tag.len());
    pseudo.push(odcid_len);
    pseudo.extend_from_slice(original_dcid);
    pseudo.extend_from_slice(without_tag);
    seal_in_place(&cipher, &nonce, &pseudo, &mut [])?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::packet::{Packet, packets};
    use crate::quic::testdata::{self, RFC_DCID, hex};

    /// RFC 9001 §A.1 and RFC 9369 §A.1: every intermediate value.
    #[test]
    fn initial_key_schedules() {
        struct Expect {
            version: KnownVersion,
            initial: &'static str,
            client: &'static str,
            server: &'static str,
            client_kih: [&'static str; 3],
            server_kih: [&'static str; 3],
        }
        for e in [
            Expect {
                version: KnownVersion::V1,
                initial: "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44",
                client: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
                server: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
                client_kih: [
                    "1f369613dd76d5467730efcbe3b1a22d",
                    "fa044b2f42a3fd3b46fb255c",
                    "9f50449e04a0e810283a1e9933adedd2",
                ],
                server_kih: [
                    "cf3a5331653c364c88f0f379b6067e37",
                    "0ac1493ca1905853b0bba03e",
                    "c206b8d9b9f0f37644430b490eeaa314",
                ],
            },
            Expect {
                version: KnownVersion::V2,
                initial: "2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba",
                client: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
                server: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
                client_kih: [
                    "8b1a0bc121284290a29e0971b5cd045d",
                    "91f73e2351d8fa91660e909f",
                    "45b95e15235d6f45a6b19cbcb0294ba9",
                ],
                server_kih: [
                    "82db637861d55e1d011f19ea71d5d2a7",
                    "dd13c276499c0249d3310652",
                    "edf6d05c83121201b436e16877593c3a",
                ],
            },
        ] {
            assert_eq!(
                initial_secret(e.version, &RFC_DCID).to_vec(),
                hex(e.initial)
            );
            let secrets = InitialSecrets::derive(e.version, &RFC_DCID).unwrap();
            assert_eq!(secrets.client.to_vec(), hex(e.client));
            assert_eq!(secrets.server.to_vec(), hex(e.server));
            for (secret, [key, iv, hp]) in [
                (secrets.client, e.client_kih),
                (secrets.server, e.server_kih),
            ] {
                let got = key_material::<Sha256>(&secret, e.version.labels(), 16).unwrap();
                let want = KeyMaterial {
                    key: hex(key),
                    iv: hex(iv),
                    hp: hex(hp),
                };
                assert_eq!(got, want, "{:?}", e.version);
            }
        }
    }

    /// Drafts 33 and 34 already used version 1's salt (as Wireshark reads them); draft-32 used
    /// draft-29's, mvfst's draft-27 version draft-23's.
    #[test]
    fn draft_secrets_follow_their_salts() {
        let secrets = |v: u32| {
            let version = crate::quic::version::Version(v).known().unwrap();
            InitialSecrets::derive(version, &RFC_DCID).unwrap()
        };
        assert_eq!(secrets(0xff000021), secrets(1));
        assert_eq!(secrets(0xff000022), secrets(1));
        assert_ne!(secrets(0xff000020), secrets(1));
        assert_eq!(secrets(0xff000020), secrets(0xff00001d));
        assert_eq!(secrets(0xfaceb002), secrets(0xff000017));
        assert_ne!(secrets(0xfaceb001), secrets(0xff000017));
    }

    /// Removes the PADDING after the CRYPTO frame of the RFC client Initials.
    fn strip_padding(payload: &[u8]) -> &[u8] {
        let end = payload.iter().rposition(|b| *b != 0).unwrap() + 1;
        &payload[..end]
    }

    /// RFC 9001 §A.2 and RFC 9369 §A.2: the client Initial opens to its CRYPTO frame and 1162
    /// bytes of payload, packet number 2; sealing the payload again gives the same bytes.
    #[test]
    fn client_initials_open_and_seal() {
        for (version, packet, crypto, header) in [
            (
                KnownVersion::V1,
                testdata::rfc9001_client_initial(),
                testdata::rfc9001_client_crypto_frame(),
                "c300000001088394c8f03e5157080000449e00000002",
            ),
            (
                KnownVersion::V2,
                testdata::rfc9369_client_initial(),
                testdata::rfc9369_client_crypto_frame(),
                "d36b3343cf088394c8f03e5157080000449e00000002",
            ),
        ] {
            let Some(Ok(Packet::Long(long))) = packets(&packet).next() else {
                panic!("{version:?}");
            };
            let keys = InitialKeys::derive(long.version, long.dcid).unwrap();
            let mut buf = Vec::new();
            let opened = keys.client.open_long(&long, None, &mut buf).unwrap();
            assert_eq!(opened.packet_number, 2);
            assert_eq!(opened.pn_len, 4);
            assert_eq!(opened.header, hex(header));
            assert_eq!(opened.payload.len(), 1162);
            assert_eq!(strip_padding(opened.payload), crypto);
            let payload = opened.payload.to_vec();
            let sealed = keys.client.seal(&hex(header), 18, 2, &payload).unwrap();
            assert_eq!(sealed, packet, "{version:?}");
            let fields = LongHeader {
                version,
                ty: crate::quic::version::LongType::Initial,
                dcid: &RFC_DCID,
                scid: &[],
                token: &[],
            };
            assert_eq!(
                keys.client.seal_long(&fields, 2, 4, &payload),
                Ok(packet.clone())
            );
            // The server's keys, or the client's of the other version, do not open it.
            assert_eq!(
                keys.server.open_long(&long, None, &mut buf),
                Err(OpenError::Authentication)
            );
            let other = if version == KnownVersion::V1 {
                KnownVersion::V2
            } else {
                KnownVersion::V1
            };
            let wrong = InitialKeys::derive(other, long.dcid).unwrap();
            assert_eq!(
                wrong.client.open_long(&long, None, &mut buf),
                Err(OpenError::Authentication)
            );
        }
    }

    /// RFC 9001 §A.3 and RFC 9369 §A.3: the server Initial, keyed from the client's DCID, opens
    /// to ACK + CRYPTO (ServerHello), packet number 1 on two bytes.
    #[test]
    fn server_initials_open_and_seal() {
        for (packet, payload, header) in [
            (
                testdata::rfc9001_server_initial(),
                testdata::rfc9001_server_payload(),
                "c1000000010008f067a5502a4262b50040750001",
            ),
            (
                testdata::rfc9369_server_initial(),
                testdata::rfc9369_server_payload(),
                "d16b3343cf0008f067a5502a4262b50040750001",
            ),
        ] {
            let Some(Ok(Packet::Long(long))) = packets(&packet).next() else {
                panic!();
            };
            let keys = InitialKeys::derive(long.version, &RFC_DCID).unwrap();
            let mut buf = Vec::new();
            let opened = keys.server.open_long(&long, None, &mut buf).unwrap();
            assert_eq!(opened.packet_number, 1);
            assert_eq!(opened.pn_len, 2);
            assert_eq!(opened.header, hex(header));
            assert_eq!(opened.payload, payload);
            assert_eq!(keys.server.seal(&hex(header), 18, 1, &payload), Ok(packet));
        }
    }

    /// RFC 9001 §A.4 and RFC 9369 §A.4: the Retry tags check against the original DCID only.
    #[test]
    fn retry_integrity_tags() {
        for packet in [testdata::rfc9001_retry(), testdata::rfc9369_retry()] {
            let Some(Ok(Packet::Retry(retry))) = packets(&packet).next() else {
                panic!();
            };
            assert_eq!(verify_retry(&retry, &RFC_DCID), RetryIntegrity::Valid);
            assert_eq!(
                verify_retry(&retry, &RFC_DCID[1..]),
                RetryIntegrity::Invalid
            );
            let mut damaged = packet.clone();
            damaged[20] ^= 1;
            let Some(Ok(Packet::Retry(retry))) = packets(&damaged).next() else {
                panic!();
            };
            assert_eq!(verify_retry(&retry, &RFC_DCID), RetryIntegrity::Invalid);
        }
        // A draft-29 Retry: its tag key is not held here.
        let mut draft = testdata::rfc9001_retry();
        draft[1..5].copy_from_slice(&[0xff, 0, 0, 29]);
        let Some(Ok(Packet::Retry(retry))) = packets(&draft).next() else {
            panic!();
        };
        assert_eq!(verify_retry(&retry, &RFC_DCID), RetryIntegrity::NotChecked);
    }

    /// RFC 9001 §A.5 and RFC 9369 §A.5: ChaCha20-Poly1305 keys from a traffic secret, ChaCha20
    /// header protection, a short header (packet number 654360564 on three bytes).
    #[test]
    fn chacha20_short_header_packets() {
        let secret = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        for (version, packet, key, iv, hp, mask) in [
            (
                KnownVersion::V1,
                testdata::rfc9001_chacha20_short(),
                "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
                "e0459b3474bdd0e44a41c144",
                "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
                "aefefe7d03",
            ),
            (
                KnownVersion::V2,
                testdata::rfc9369_chacha20_short(),
                "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
                "a6b5bc6ab7dafce30ffff5dd",
                "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
                "97580e32bf",
            ),
        ] {
            let got = key_material::<Sha256>(&secret, version.labels(), 32).unwrap();
            let want = KeyMaterial {
                key: hex(key),
                iv: hex(iv),
                hp: hex(hp),
            };
            assert_eq!(got, want);
            let keys = PacketKeys::from_tls_secret(TLS_CHACHA20_POLY1305_SHA256, version, &secret)
                .unwrap();
            let sample: [u8; 16] = packet[5..21].try_into().unwrap();
            assert_eq!(
                keys.header_protection().mask(&sample).unwrap().to_vec(),
                hex(mask)
            );
            let mut buf = Vec::new();
            // The largest packet number seen is one below: 654360564 decodes from 49140.
            let opened = keys.open(&packet, 1, Some(654_360_563), &mut buf).unwrap();
            assert_eq!(opened.packet_number, 654_360_564);
            assert_eq!(opened.pn_len, 3);
            assert_eq!(opened.header, hex("4200bff4"));
            assert_eq!(opened.payload, [0x01]);
            assert_eq!(
                keys.seal(&hex("4200bff4"), 1, 654_360_564, &[1]),
                Ok(packet)
            );
        }
    }

    /// Every suite seals and opens a Handshake packet; secrets of the wrong length are refused.
    #[test]
    fn handshake_keys_of_every_suite_round_trip() {
        for (suite, secret_len) in [
            (TLS_AES_128_GCM_SHA256, 32),
            (TLS_AES_256_GCM_SHA384, 48),
            (TLS_CHACHA20_POLY1305_SHA256, 32),
        ] {
            for version in [KnownVersion::V1, KnownVersion::V2] {
                let secret = vec![7u8; secret_len];
                let keys = PacketKeys::from_tls_secret(suite, version, &secret).unwrap();
                let header = [0xe1, 0, 0, 0, 1, 1, 9, 0, 0x40, 30, 0, 5];
                let payload = [6, 0, 8, 8, 0, 0, 4, 0, 0x10, 0, 0, 0, 0, 0];
                let sealed = keys.seal(&header, 10, 5, &payload).unwrap();
                let mut buf = Vec::new();
                let opened = keys.open(&sealed, 10, Some(4), &mut buf).unwrap();
                assert_eq!((opened.packet_number, opened.payload), (5, &payload[..]));
                assert_eq!(opened.header, header);
                assert_eq!(
                    PacketKeys::from_tls_secret(suite, version, &secret[1..]).err(),
                    Some(KeyError::BadSecret)
                );
            }
        }
        assert_eq!(
            PacketKeys::from_tls_secret(0x1304, KnownVersion::V1, &[0; 32]).err(),
            Some(KeyError::UnsupportedSuite(0x1304))
        );
    }

    #[test]
    fn short_and_damaged_packets_are_errors() {
        let keys = InitialKeys::derive(KnownVersion::V1, &RFC_DCID).unwrap();
        let packet = testdata::rfc9001_client_initial();
        let mut buf = Vec::new();
        for len in 0..38 {
            assert_eq!(
                keys.client.open(&packet[..len], 18, None, &mut buf),
                Err(OpenError::TooShortForSample {
                    needed: 38,
                    have: len
                }),
            );
        }
        // Cut after the sample, or one byte flipped: authentication fails.
        assert_eq!(
            keys.client.open(&packet[..60], 18, None, &mut buf),
            Err(OpenError::Authentication)
        );
        let mut flipped = packet.clone();
        flipped[600] ^= 0x40;
        assert_eq!(
            keys.client.open(&flipped, 18, None, &mut buf),
            Err(OpenError::Authentication)
        );
        // A packet number offset beyond the packet.
        assert!(
            keys.client
                .open(&packet, usize::MAX, None, &mut buf)
                .is_err()
        );
    }

    #[test]
    fn chacha20_counter_at_the_end_of_the_keystream() {
        let hp = HeaderProtection::new(Aead::ChaCha20Poly1305, &[1; 32]).unwrap();
        let mut sample = [0u8; 16];
        sample[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        // Either a mask or an error, never a panic.
        let _ = hp.mask(&sample);
        sample[..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(hp.mask(&sample).is_ok());
    }

    /// RFC 9000 §A.3's example, and the edges.
    #[test]
    fn packet_number_decoding() {
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 2, 32), 2);
        assert_eq!(decode_packet_number(None, 0xff, 8), 0xff);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 8), 0x101);
        assert_eq!(decode_packet_number(Some(0x100), 0xfe, 8), 0xfe);
        assert_eq!(
            decode_packet_number(Some(u64::MAX), 0, 32),
            (1 << 62) - (1 << 32)
        );
    }
}

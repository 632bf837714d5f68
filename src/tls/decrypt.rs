//! TLS 1.3 handshake record decryption (RFC 8446 §5.2–5.3, §7.1, §7.3).
//!
//! A [`RecordDecryptor`] derives the write key and IV from one handshake traffic secret with
//! HKDF-Expand-Label for the negotiated cipher suite, then opens that side's protected records in
//! order (the per-record nonce is the IV XOR the 64-bit sequence number). It is only ever given
//! handshake secrets: application data cannot be decrypted by construction.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};
use std::fmt;

/// TLS_AES_128_GCM_SHA256.
pub const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
/// TLS_AES_256_GCM_SHA384.
pub const TLS_AES_256_GCM_SHA384: u16 = 0x1302;
/// TLS_CHACHA20_POLY1305_SHA256.
pub const TLS_CHACHA20_POLY1305_SHA256: u16 = 0x1303;
/// TLS_AES_128_CCM_SHA256 (16-byte tag).
pub const TLS_AES_128_CCM_SHA256: u16 = 0x1304;

/// AES-128-CCM with a 16-byte tag and a 12-byte nonce (RFC 8446 §B.4, RFC 6655).
type Aes128Ccm = ccm::Ccm<aes_gcm::aes::Aes128, ccm::consts::U16, ccm::consts::U12>;

/// Why a record could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// The cipher suite is not one this tool decrypts.
    UnsupportedSuite(u16),
    /// The secret has the wrong length for the suite's hash.
    BadSecret,
    /// Authentication failed: the keys do not belong to this connection (or the record is damaged).
    Authentication,
    /// The plaintext holds no content type (all padding).
    NoContentType,
    /// A pre-standard TLS 1.3 whose record protection differs from RFC 8446's in a way this
    /// tool does not follow (drafts before draft-20 label their keys "TLS 1.3, "; BoringSSL's
    /// experiments are not specified).
    UnsupportedVersion(u16),
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedSuite(s) => {
                write!(f, "cipher suite 0x{s:04x} is not supported for decryption")
            }
            DecryptError::BadSecret => write!(
                f,
                "the key-log secret has the wrong length for the cipher suite"
            ),
            DecryptError::Authentication => {
                write!(f, "decryption failed: the keys do not match this flow")
            }
            DecryptError::NoContentType => write!(f, "a decrypted record holds only padding"),
            DecryptError::UnsupportedVersion(v) => write!(
                f,
                "alpnscope cannot decrypt {}: its key schedule differs from RFC 8446's",
                super::types::TlsVersion(*v)
            ),
        }
    }
}

enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Ccm(Box<Aes128Ccm>),
}

/// Opens one direction's protected handshake records.
pub struct RecordDecryptor {
    cipher: Cipher,
    iv: [u8; 12],
    seq: u64,
    /// The record header is the AEAD's additional data (RFC 8446 §5.2, from draft-25 on);
    /// drafts before draft-25 used none.
    header_aad: bool,
}

impl fmt::Debug for RecordDecryptor {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordDecryptor")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// RFC 8446 §7.1 HKDF-Expand-Label with an empty context: `label` gets the `tls13 ` prefix.
/// QUIC derives its packet protection keys with it too (RFC 9001 §5.1, `quic` labels).
pub(crate) fn expand_label<H>(
    secret: &[u8],
    label: &str,
    len: usize,
) -> Result<Vec<u8>, DecryptError>
where
    H: hkdf::hmac::EagerHash + Clone,
    hkdf::Hkdf<H>: Sized,
{
    let full_label = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full_label.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full_label.len() as u8);
    info.extend_from_slice(full_label.as_bytes());
    info.push(0);
    let hk = Hkdf::<H>::from_prk(secret).map_err(|_| DecryptError::BadSecret)?;
    let mut out = vec![0u8; len];
    hk.expand(&info, &mut out)
        .map_err(|_| DecryptError::BadSecret)?;
    Ok(out)
}

/// Write key and IV for a suite, from a traffic secret (RFC 8446 §7.3).
pub fn traffic_keys(suite: u16, secret: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DecryptError> {
    match suite {
        TLS_AES_128_GCM_SHA256 | TLS_AES_128_CCM_SHA256 => Ok((
            expand_label::<Sha256>(secret, "key", 16)?,
            expand_label::<Sha256>(secret, "iv", 12)?,
        )),
        TLS_CHACHA20_POLY1305_SHA256 => Ok((
            expand_label::<Sha256>(secret, "key", 32)?,
            expand_label::<Sha256>(secret, "iv", 12)?,
        )),
        TLS_AES_256_GCM_SHA384 => Ok((
            expand_label::<Sha384>(secret, "key", 32)?,
            expand_label::<Sha384>(secret, "iv", 12)?,
        )),
        other => Err(DecryptError::UnsupportedSuite(other)),
    }
}

impl RecordDecryptor {
    /// A decryptor for `suite` keyed from one side's handshake traffic secret.
    pub fn new(suite: u16, secret: &[u8]) -> Result<RecordDecryptor, DecryptError> {
        let (key, iv) = traffic_keys(suite, secret)?;
        let cipher = match suite {
            TLS_AES_128_GCM_SHA256 => Cipher::Aes128(Box::new(
                Aes128Gcm::new_from_slice(&key).map_err(|_| DecryptError::BadSecret)?,
            )),
            TLS_AES_256_GCM_SHA384 => Cipher::Aes256(Box::new(
                Aes256Gcm::new_from_slice(&key).map_err(|_| DecryptError::BadSecret)?,
            )),
            TLS_AES_128_CCM_SHA256 => Cipher::Ccm(Box::new(
                Aes128Ccm::new_from_slice(&key).map_err(|_| DecryptError::BadSecret)?,
            )),
            _ => Cipher::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(&key).map_err(|_| DecryptError::BadSecret)?,
            )),
        };
        let iv: [u8; 12] = iv.try_into().map_err(|_| DecryptError::BadSecret)?;
        Ok(RecordDecryptor {
            cipher,
            iv,
            seq: 0,
            header_aad: true,
        })
    }

    /// A decryptor for a connection that negotiated `version`: RFC 8446, or a draft whose
    /// record protection this tool follows. Drafts from draft-20 on derive keys with the
    /// "tls13 " labels of RFC 8446 §7.1; before draft-25 the AEAD had no additional data
    /// (draft-ietf-tls-tls13-25 added the record header). Earlier drafts and BoringSSL's
    /// experiments are [`DecryptError::UnsupportedVersion`].
    pub fn for_version(
        suite: u16,
        secret: &[u8],
        version: super::types::TlsVersion,
    ) -> Result<RecordDecryptor, DecryptError> {
        let header_aad = match version.tls13_draft() {
            _ if version == super::types::TlsVersion::TLS13 => true,
            Some(draft) if version.is_tls13_prestandard() && draft >= 20 => draft >= 25,
            _ => return Err(DecryptError::UnsupportedVersion(version.0)),
        };
        let mut decryptor = RecordDecryptor::new(suite, secret)?;
        decryptor.header_aad = header_aad;
        Ok(decryptor)
    }

    /// Opens the next record (`header` is the 5-byte record header, the AAD) and returns the inner
    /// content type and plaintext.
    pub fn open(&mut self, header: &[u8; 5], body: &[u8]) -> Result<(u8, Vec<u8>), DecryptError> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let payload = Payload {
            msg: body,
            aad: if self.header_aad { header } else { &[] },
        };
        let plain = match &self.cipher {
            Cipher::Aes128(c) => c.decrypt(&nonce.into(), payload),
            Cipher::Aes256(c) => c.decrypt(&nonce.into(), payload),
            Cipher::ChaCha(c) => c.decrypt(&nonce.into(), payload),
            Cipher::Ccm(c) => c.decrypt(&nonce.into(), payload),
        }
        .map_err(|_| DecryptError::Authentication)?;
        // RFC 8446 §5.2: TLSInnerPlaintext = content || ContentType || zeros.
        let end = plain
            .iter()
            .rposition(|b| *b != 0)
            .ok_or(DecryptError::NoContentType)?;
        let content_type = plain[end];
        let mut content = plain;
        content.truncate(end);
        Ok((content_type, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake): the handshake traffic keys.
    #[test]
    fn rfc8448_handshake_traffic_keys() {
        let server = hex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let (key, iv) = traffic_keys(TLS_AES_128_GCM_SHA256, &server).unwrap();
        assert_eq!(key, hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv, hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
        let client = hex(
            "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21",
        );
        let (key, iv) = traffic_keys(TLS_AES_128_GCM_SHA256, &client).unwrap();
        assert_eq!(key, hex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"));
        assert_eq!(iv, hex("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"));
    }

    /// A record sealed with the RFC 8448 keys opens, strips padding, and advances the sequence.
    #[test]
    fn opens_records_in_sequence() {
        let secret = hex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let (key, iv) = traffic_keys(TLS_AES_128_GCM_SHA256, &secret).unwrap();
        let sealer = Aes128Gcm::new_from_slice(&key).unwrap();
        let mut dec = RecordDecryptor::new(TLS_AES_128_GCM_SHA256, &secret).unwrap();
        for seq in 0u64..3 {
            let inner = [&b"\x08\x00\x00\x02\x00\x00"[..], &[22], &[0, 0, 0]].concat();
            let mut nonce: [u8; 12] = iv.clone().try_into().unwrap();
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
            let len = (inner.len() + 16) as u16;
            let header = [23, 3, 3, (len >> 8) as u8, len as u8];
            let sealed = sealer
                .encrypt(
                    &nonce.into(),
                    Payload {
                        msg: &inner,
                        aad: &header,
                    },
                )
                .unwrap();
            let (ty, content) = dec.open(&header, &sealed).unwrap();
            assert_eq!(ty, 22);
            assert_eq!(content, b"\x08\x00\x00\x02\x00\x00");
        }
        let header = [23, 3, 3, 0, 20];
        assert_eq!(
            dec.open(&header, &[0; 20]),
            Err(DecryptError::Authentication)
        );
    }

    #[test]
    fn drafts_from_20_are_decrypted_earlier_ones_are_not() {
        use crate::tls::TlsVersion;
        let secret = [7u8; 32];
        let header = [23, 3, 3, 0, 17];
        // A record sealed without additional data, as drafts before draft-25 did.
        let (key, iv) = traffic_keys(TLS_AES_128_GCM_SHA256, &secret).unwrap();
        let cipher = Aes128Gcm::new_from_slice(&key).unwrap();
        let iv: [u8; 12] = iv.try_into().unwrap();
        let sealed = cipher
            .encrypt(
                &iv.into(),
                Payload {
                    msg: &[8, 22],
                    aad: &[],
                },
            )
            .unwrap();
        for (version, opens) in [
            (0x7f17, true),
            (0x7f14, true),
            (0xfb17, true),
            (0x7f19, false),
        ] {
            let mut dec =
                RecordDecryptor::for_version(TLS_AES_128_GCM_SHA256, &secret, TlsVersion(version))
                    .unwrap();
            assert_eq!(dec.open(&header, &sealed).is_ok(), opens, "0x{version:04x}");
        }
        for version in [0x7f13, 0x7f12, 0x7e01, 0x0303] {
            assert_eq!(
                RecordDecryptor::for_version(TLS_AES_128_GCM_SHA256, &secret, TlsVersion(version))
                    .err(),
                Some(DecryptError::UnsupportedVersion(version))
            );
        }
        assert_eq!(
            DecryptError::UnsupportedVersion(0x7f12).to_string(),
            "alpnscope cannot decrypt TLS 1.3 draft 18: its key schedule differs from RFC 8446's"
        );
    }

    #[test]
    fn rejects_unknown_suites_and_short_secrets() {
        assert_eq!(
            RecordDecryptor::new(0x1305, &[0; 32]).err(),
            Some(DecryptError::UnsupportedSuite(0x1305))
        );
        assert_eq!(
            RecordDecryptor::new(TLS_AES_256_GCM_SHA384, &[0; 8]).err(),
            Some(DecryptError::BadSecret)
        );
    }
}

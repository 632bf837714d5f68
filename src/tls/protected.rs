//! Protected records of one direction: whether records are encrypted, and reading them when a
//! key log gives this direction's TLS 1.3 handshake traffic secret.
//!
//! Takes the start and the body bytes of each application_data record once the direction is
//! protected; hands back the opened record (inner content type and plaintext, RFC 8446 §5.2) or
//! the decryption error. Without a decryptor the record is either unreadable, or — while keys may
//! still arrive ([`Protection::await_keys`]) — kept for later: at most [`MAX_HELD_RECORDS`]
//! records and [`MAX_HELD_BYTES`] bytes. The body being read is buffered up to one record
//! ([`super::record::MAX_RECORD_BODY`]).

use super::decrypt::{DecryptError, RecordDecryptor};
use super::record::HEADER_LEN;
use super::types::{ContentType, TlsVersion};

/// Protected records kept while waiting for a key log to catch up (live capture).
pub const MAX_HELD_RECORDS: usize = 16;
/// Bytes of protected records kept while waiting for keys.
pub const MAX_HELD_BYTES: usize = 64 * 1024;

/// An opened protected record: inner content type and content, or why it could not be opened.
pub type Opened = Result<(ContentType, Vec<u8>), DecryptError>;

/// A protected record kept until keys arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// Frame that carried its header's first byte.
    pub start: u64,
    /// Frame that completed it.
    pub end: u64,
    /// Its header (the AAD).
    pub header: [u8; HEADER_LEN],
    /// Its body.
    pub body: Vec<u8>,
}

/// What to do with an application_data record that starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Read and decrypt it.
    Decrypt,
    /// Keep it until keys arrive; `first` when no record was kept before.
    Hold {
        /// No record was kept before this one.
        first: bool,
    },
    /// Keys may arrive, but the held records are at their cap: this one is not kept.
    Full {
        /// No record was kept before this one.
        first: bool,
    },
    /// It cannot be read.
    Unreadable,
}

/// The protection state of one direction.
#[derive(Debug)]
pub struct Protection {
    /// Records of this direction are encrypted.
    encrypted: bool,
    /// A ChangeCipherSpec switches this direction to encrypted records (TLS ≤ 1.2). In TLS 1.3
    /// it is a compatibility no-op (RFC 8446 §D.4) and may even precede a second ClientHello.
    ccs_encrypts: bool,
    /// This direction's TLS 1.3 handshake traffic secret, from a key log.
    secret: Option<Vec<u8>>,
    /// Opens protected handshake records once the cipher suite is known.
    decryptor: Option<RecordDecryptor>,
    /// The TLS 1.3 cipher suite, once the ServerHello named it.
    suite: Option<u16>,
    /// The TLS 1.3 version the ServerHello chose (RFC 8446's, or a draft's).
    version: TlsVersion,
    /// Body of the protected record being read.
    buf: Vec<u8>,
    /// Keep protected records until keys arrive (a key log that clients are still writing).
    hold_for_keys: bool,
    /// The protected record being read is being kept.
    holding: bool,
    held: Vec<HeldRecord>,
    held_bytes: usize,
}

impl Default for Protection {
    fn default() -> Self {
        Protection {
            encrypted: false,
            ccs_encrypts: true,
            secret: None,
            decryptor: None,
            suite: None,
            version: TlsVersion::TLS13,
            buf: Vec::new(),
            hold_for_keys: false,
            holding: false,
            held: Vec::new(),
            held_bytes: 0,
        }
    }
}

impl Protection {
    /// Heap bytes held: the record being read and the records kept for keys.
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
            + self.held_bytes
            + self.held.capacity() * std::mem::size_of::<HeldRecord>()
    }

    /// True once this direction's records are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// True while protected handshake records can be opened.
    pub fn is_decrypting(&self) -> bool {
        self.decryptor.is_some()
    }

    /// From now on this direction's records are encrypted (RFC 8446 §2).
    pub fn encrypt(&mut self) {
        self.encrypted = true;
    }

    /// A ChangeCipherSpec record ended: it encrypts what follows unless it is TLS 1.3's no-op.
    pub fn change_cipher_spec(&mut self) {
        if self.ccs_encrypts {
            self.encrypted = true;
        }
    }

    /// TLS 1.3 was offered or chosen: a ChangeCipherSpec is the compatibility one.
    pub fn ccs_is_compat(&mut self) {
        self.ccs_encrypts = false;
    }

    /// TLS ≤ 1.2 was chosen: a ChangeCipherSpec means encryption again.
    pub fn ccs_encrypts(&mut self) {
        self.ccs_encrypts = true;
    }

    /// Sets the handshake traffic secret.
    pub fn set_secret(&mut self, secret: Vec<u8>) {
        self.secret = Some(secret);
    }

    /// Keep the first protected records (bounded) until keys arrive.
    pub fn await_keys(&mut self) {
        self.hold_for_keys = true;
    }

    /// Notes the cipher suite and, when the secret is known, builds the decryptor (once).
    pub fn arm(&mut self, suite: u16) -> Result<(), DecryptError> {
        self.suite = Some(suite);
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        if self.decryptor.is_none() {
            self.decryptor = Some(RecordDecryptor::for_version(suite, secret, self.version)?);
        }
        Ok(())
    }

    /// The TLS 1.3 version the ServerHello chose (RFC 8446 unless told otherwise): drafts
    /// protect records slightly differently.
    pub fn set_version(&mut self, version: TlsVersion) {
        self.version = version;
    }

    /// The secret arrived late: stop holding, and return the suite to arm with, if known.
    pub fn provide_keys(&mut self, secret: Vec<u8>) -> Option<u16> {
        self.secret = Some(secret);
        self.hold_for_keys = false;
        self.holding = false;
        self.suite
    }

    /// The records kept so far, oldest first; none are kept after this.
    pub fn take_held(&mut self) -> Vec<HeldRecord> {
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
    }

    /// Stops decrypting: Finished was read (what follows is under application traffic keys,
    /// which are never used) or a record did not open.
    pub fn stop_decrypting(&mut self) {
        self.decryptor = None;
    }

    /// An application_data record of `len` bytes starts.
    pub fn record_start(&mut self, len: usize) -> Start {
        if self.decryptor.is_some() {
            self.buf.clear();
            return Start::Decrypt;
        }
        if !(self.hold_for_keys && self.suite.is_some()) {
            return Start::Unreadable;
        }
        let first = self.held.is_empty();
        if self.held.len() < MAX_HELD_RECORDS && self.held_bytes + len <= MAX_HELD_BYTES {
            self.holding = true;
            self.buf.clear();
            Start::Hold { first }
        } else {
            Start::Full { first }
        }
    }

    /// Body bytes of the application_data record that started in `start` with `header`, read in
    /// `frame`; `last` when they complete it. Returns the opened record once it is complete and
    /// a decryptor exists.
    pub fn record_body(
        &mut self,
        start: u64,
        frame: u64,
        header: [u8; HEADER_LEN],
        bytes: &[u8],
        last: bool,
    ) -> Option<Opened> {
        if self.decryptor.is_some() {
            self.buf.extend_from_slice(bytes);
            if !last {
                return None;
            }
            let mut body = std::mem::take(&mut self.buf);
            let opened = self.open(&header, &body);
            body.clear();
            self.buf = body;
            return opened;
        }
        if self.holding {
            self.buf.extend_from_slice(bytes);
            if last {
                let body = std::mem::take(&mut self.buf);
                self.held_bytes += body.len();
                self.held.push(HeldRecord {
                    start,
                    end: frame,
                    header,
                    body,
                });
                self.holding = false;
            }
        }
        None
    }

    /// Opens one protected record; `None` without a decryptor.
    pub fn open(&mut self, header: &[u8; HEADER_LEN], body: &[u8]) -> Option<Opened> {
        let decryptor = self.decryptor.as_mut()?;
        Some(
            decryptor
                .open(header, body)
                .map(|(ty, plain)| (ContentType(ty), plain)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::decrypt::TLS_AES_128_GCM_SHA256;

    const HEADER: [u8; HEADER_LEN] = [23, 3, 3, 0, 100];

    #[test]
    fn unreadable_without_keys_or_suite() {
        let mut p = Protection::default();
        assert_eq!(p.record_start(10), Start::Unreadable);
        p.await_keys();
        // Keys may come, but the suite is still unknown.
        assert_eq!(p.record_start(10), Start::Unreadable);
    }

    #[test]
    fn held_records_are_capped() {
        let mut p = Protection::default();
        p.await_keys();
        assert_eq!(p.arm(TLS_AES_128_GCM_SHA256), Ok(()));
        for i in 0..MAX_HELD_RECORDS {
            assert_eq!(p.record_start(100), Start::Hold { first: i == 0 });
            assert_eq!(p.record_body(1, 2, HEADER, &[0; 60], false), None);
            assert_eq!(p.record_body(1, 3, HEADER, &[0; 40], true), None);
        }
        assert_eq!(p.record_start(100), Start::Full { first: false });
        let held = p.take_held();
        assert_eq!(held.len(), MAX_HELD_RECORDS);
        assert_eq!(
            (held[0].start, held[0].end, held[0].body.len()),
            (1, 3, 100)
        );
    }

    #[test]
    fn held_bytes_are_capped() {
        let mut p = Protection::default();
        p.await_keys();
        assert_eq!(p.arm(TLS_AES_128_GCM_SHA256), Ok(()));
        assert_eq!(
            p.record_start(MAX_HELD_BYTES + 1),
            Start::Full { first: true }
        );
    }

    #[test]
    fn ccs_encrypts_unless_tls13() {
        let mut p = Protection::default();
        p.ccs_is_compat();
        p.change_cipher_spec();
        assert!(!p.is_encrypted());
        p.ccs_encrypts();
        p.change_cipher_spec();
        assert!(p.is_encrypted());
    }

    #[test]
    fn a_record_that_does_not_open_is_an_error() {
        let mut p = Protection::default();
        p.set_secret(vec![1; 32]);
        assert_eq!(p.arm(TLS_AES_128_GCM_SHA256), Ok(()));
        assert_eq!(p.record_start(20), Start::Decrypt);
        assert_eq!(
            p.record_body(1, 1, [23, 3, 3, 0, 20], &[0; 20], true),
            Some(Err(DecryptError::Authentication))
        );
    }
}

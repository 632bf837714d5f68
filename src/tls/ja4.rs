//! The JA4 client fingerprint (FoxIO JA4 specification, BSD 3-Clause) of a ClientHello over TCP
//! or QUIC.
//!
//! `t` (TCP) or `q` (QUIC) + version + `d`/`i` + cipher count + extension count + ALPN code, `_`, 12 hex digits of the
//! SHA-256 of the sorted cipher list, `_`, 12 hex digits of the SHA-256 of the sorted extension
//! list (without SNI and ALPN) and the signature algorithms in order. GREASE is ignored throughout.

use super::hello::ClientHello;
use super::types::{ExtensionType, TlsVersion, is_grease};
use sha2::{Digest, Sha256};

/// The transport a ClientHello travelled over: JA4's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ja4Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// QUIC: `q`.
    Quic,
}

impl Ja4Transport {
    fn code(self) -> char {
        match self {
            Ja4Transport::Tcp => 't',
            Ja4Transport::Quic => 'q',
        }
    }
}

/// Computes the JA4 fingerprint of a ClientHello carried over `transport`.
///
/// An SSLv2-format ClientHello (RFC 5246 Appendix E.2) is fingerprinted as FoxIO's JA4 tools
/// (Rust, Python, the Wireshark plugin) fingerprint it: they read Wireshark's dissection, which
/// gives such a hello a handshake type (1) and version but lists its 3-byte cipher specs as
/// `tls.handshake.cipherspec`, not as cipher suites, and no extensions — so no ciphers are
/// counted or hashed: `t12i000000_000000000000_000000000000` for one offering TLS 1.2. The
/// specification itself defines only the version code `s2` for SSL 2.0.
pub fn ja4(hello: &ClientHello, transport: Ja4Transport) -> String {
    let not_grease = |v: &u16| !is_grease(*v);
    let ciphers: &[u16] = if hello.sslv2 {
        &[]
    } else {
        &hello.cipher_suites
    };
    let cipher_count = ciphers.iter().filter(|c| not_grease(c)).count();
    let extension_count = hello.extensions.iter().filter(|e| not_grease(e)).count();
    let version = version_code(hello.max_version());
    let sni = if hello.extensions.contains(&ExtensionType::SERVER_NAME.0) {
        'd'
    } else {
        'i'
    };
    let alpn = alpn_code(hello.offered().first().map(|p| p.0.as_slice()));

    let hashes = LAST_HASHED.with(|memo| {
        let memo = &mut *memo.borrow_mut();
        if let Some((_, hashes)) = &memo.last
            && memo.last_sent.are(ciphers, hello)
        {
            return *hashes;
        }
        let lists = &mut memo.scratch;
        lists.fill(ciphers, hello);
        let hashes = match &memo.last {
            Some((last, hashes)) if last == lists => *hashes,
            _ => {
                let hashes = lists.truncated_hashes();
                let lists = std::mem::take(&mut memo.scratch);
                if let Some((last, _)) = memo.last.replace((lists, hashes)) {
                    memo.scratch = last;
                }
                hashes
            }
        };
        memo.last_sent.set(ciphers, hello);
        hashes
    });

    let mut out = String::with_capacity(36);
    out.push(transport.code());
    out.push_str(version);
    out.push(sni);
    for count in [cipher_count, extension_count] {
        let count = count.min(99);
        out.push(char::from(b'0' + (count / 10) as u8));
        out.push(char::from(b'0' + (count % 10) as u8));
    }
    out.extend(alpn);
    for hash in hashes {
        out.push('_');
        push_truncated_hash(&mut out, hash);
    }
    out
}

/// The lists JA4 hashes, GREASE left out: the cipher suites sorted, the extensions sorted
/// without SNI and ALPN, the signature algorithms in their order.
#[derive(Debug, Default, PartialEq, Eq)]
struct HashedLists {
    ciphers: Vec<u16>,
    extensions: Vec<u16>,
    signature_algorithms: Vec<u16>,
}

/// The first six bytes of each of JA4's two hashes; `None` for an empty list.
type TruncatedHashes = [Option<[u8; 6]>; 2];

/// The lists last hashed on this thread and their hashes, and room to gather the next lists in.
/// The flows of one client program share their lists, and hashing them was most of JA4's cost:
/// a hello whose lists are the last ones (compared whole) takes their hashes.
#[derive(Default)]
struct HashMemo {
    scratch: HashedLists,
    last: Option<(HashedLists, TruncatedHashes)>,
    /// The lists of the last hello hashed as it sent them: the same lists in the same order
    /// (the same client program, again) take the hashes without sorting anything.
    last_sent: SentLists,
}

/// A hello's lists as sent: the cipher suites JA4 counts, the extensions, the signature
/// algorithms.
#[derive(Default)]
struct SentLists {
    ciphers: Vec<u16>,
    extensions: Vec<u16>,
    signature_algorithms: Vec<u16>,
}

impl SentLists {
    /// True when `hello` sent these lists, `ciphers` its cipher suites as JA4 counts them.
    fn are(&self, ciphers: &[u16], hello: &ClientHello) -> bool {
        self.ciphers == ciphers
            && self.extensions == hello.extensions
            && self.signature_algorithms == hello.signature_algorithms
    }

    /// Becomes the lists `hello` sent.
    fn set(&mut self, ciphers: &[u16], hello: &ClientHello) {
        for (list, sent) in [
            (&mut self.ciphers, ciphers),
            (&mut self.extensions, &hello.extensions[..]),
            (
                &mut self.signature_algorithms,
                &hello.signature_algorithms[..],
            ),
        ] {
            list.clear();
            list.extend_from_slice(sent);
        }
    }
}

thread_local! {
    static LAST_HASHED: std::cell::RefCell<HashMemo> = std::cell::RefCell::default();
}

impl HashedLists {
    /// The lists of `hello`, whose cipher suites (as JA4 counts them) are `ciphers`.
    fn fill(&mut self, ciphers: &[u16], hello: &ClientHello) {
        let not_grease = |v: &u16| !is_grease(*v);
        self.ciphers.clear();
        self.ciphers
            .extend(ciphers.iter().copied().filter(not_grease));
        self.ciphers.sort_unstable();
        self.extensions.clear();
        self.extensions
            .extend(hello.extensions.iter().copied().filter(|e| {
                not_grease(e)
                    && ![ExtensionType::SERVER_NAME, ExtensionType::ALPN]
                        .contains(&ExtensionType(*e))
            }));
        self.extensions.sort_unstable();
        self.signature_algorithms.clear();
        self.signature_algorithms.extend(
            hello
                .signature_algorithms
                .iter()
                .copied()
                .filter(not_grease),
        );
    }

    /// The SHA-256 of the ciphers, and of the extensions followed by `_` and the signature
    /// algorithms when there are any, hashed as comma-separated hex without building the text;
    /// no hash for an empty list of ciphers, or of extensions.
    fn truncated_hashes(&self) -> TruncatedHashes {
        let truncated = |hasher: Sha256| {
            let mut first = [0u8; 6];
            first.copy_from_slice(&hasher.finalize()[..6]);
            first
        };
        let cipher_hash = (!self.ciphers.is_empty()).then(|| {
            let mut hasher = Sha256::new();
            hash_hex_list(&mut hasher, &self.ciphers);
            truncated(hasher)
        });
        let ext_hash = (!self.extensions.is_empty()).then(|| {
            let mut hasher = Sha256::new();
            hash_hex_list(&mut hasher, &self.extensions);
            if !self.signature_algorithms.is_empty() {
                hasher.update(b"_");
                hash_hex_list(&mut hasher, &self.signature_algorithms);
            }
            truncated(hasher)
        });
        [cipher_hash, ext_hash]
    }
}

fn version_code(v: u16) -> &'static str {
    match TlsVersion(v) {
        TlsVersion::TLS13 => "13",
        TlsVersion::TLS12 => "12",
        TlsVersion::TLS11 => "11",
        TlsVersion::TLS10 => "10",
        TlsVersion::SSL30 => "s3",
        TlsVersion::SSL20 => "s2",
        TlsVersion::DTLS10 => "d1",
        TlsVersion::DTLS12 => "d2",
        TlsVersion::DTLS13 => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value; their hex digits when either is not
/// alphanumeric ASCII; `00` when there is none.
fn alpn_code(first: Option<&[u8]>) -> [char; 2] {
    let Some((&a, &b)) = first.and_then(|v| v.first().zip(v.last())) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        [char::from(a), char::from(b)]
    } else {
        // The first hex digit of the first byte and the last hex digit of the last byte.
        let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
        [digit(a >> 4), digit(b & 0xf)]
    }
}

/// Feeds `values` to `hasher` as JA4 lists them: four lowercase hex digits each, separated by
/// commas; written in pieces of up to 64 values (one hasher call a piece).
fn hash_hex_list(hasher: &mut Sha256, values: &[u16]) {
    let mut text = [b','; 64 * 5];
    for (piece, chunk) in values.chunks(64).enumerate() {
        for (i, v) in chunk.iter().enumerate() {
            crate::hex::encode_into(&v.to_be_bytes(), &mut text[i * 5 + 1..i * 5 + 5]);
        }
        // The comma before the first value of all is left out.
        let from = usize::from(piece == 0);
        hasher.update(&text[from..chunk.len() * 5]);
    }
}

/// The first 12 hex digits of the hash, or 12 zeros without one (an empty list).
fn push_truncated_hash(out: &mut String, hash: Option<[u8; 6]>) {
    match hash {
        Some(hash) => crate::hex::push(out, &hash),
        None => out.push_str("000000000000"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SSLv2-format hello (`sslv2-client-hello.pcap`'s bytes): no cipher suites, no extensions,
    /// as the JA4 tools read it; the version is the highest it offers.
    #[test]
    fn an_sslv2_format_hello_counts_no_ciphers() {
        let hello = ClientHello::parse_sslv2(&crate::tls::testing::sslv2_hello()).unwrap();
        assert!(!hello.cipher_suites.is_empty());
        assert_eq!(
            ja4(&hello, Ja4Transport::Tcp),
            "t12i000000_000000000000_000000000000"
        );
    }

    #[test]
    fn alpn_codes_from_the_specification() {
        let alpn_code = |first: Option<&[u8]>| String::from_iter(alpn_code(first));
        assert_eq!(alpn_code(Some(b"h2")), "h2");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(&[0xab])), "ab");
        assert_eq!(alpn_code(Some(&[0x20])), "20");
        assert_eq!(alpn_code(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(alpn_code(Some(&[0x20, 0x61])), "21");
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), "3b");
        assert_eq!(alpn_code(Some(&[0x61, 0x20])), "60");
        assert_eq!(alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(alpn_code(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"")), "00");
    }

    /// The hash of `values` (then `_` and `more` when given) as the specification's examples
    /// give them.
    fn truncated_hash(values: &[u16], more: &[u16]) -> String {
        let lists = HashedLists {
            ciphers: values.to_vec(),
            extensions: values.to_vec(),
            signature_algorithms: more.to_vec(),
        };
        let [ciphers, extensions] = lists.truncated_hashes();
        if more.is_empty() {
            assert_eq!(ciphers, extensions);
        }
        let mut out = String::new();
        push_truncated_hash(&mut out, extensions);
        out
    }

    /// JA4 on one thread, hellos alternating: each the fingerprint it has on a thread of its
    /// own (where nothing was hashed before), whether its lists are the last ones or not.
    #[test]
    fn the_last_lists_hashed_are_reused_only_for_the_same_lists() {
        let message = crate::tls::testing::client_hello_message(&[b"h2"]);
        let base = ClientHello::parse(&message[4..]).unwrap();
        let mut ciphers = base.clone();
        ciphers.cipher_suites = vec![0x1302, 0x1301, 0x0a0a];
        let mut extensions = base.clone();
        extensions.extensions.extend([0x000d, 0x002b]);
        let mut signatures = extensions.clone();
        signatures.signature_algorithms = vec![0x0403, 0x0804];
        // The same lists in another order (Chrome permutes its extensions): the same JA4.
        let mut permuted = signatures.clone();
        permuted.extensions.reverse();
        permuted.cipher_suites.reverse();
        let hellos = [base, ciphers, extensions, signatures, permuted];
        let alone = |hello: &ClientHello| {
            std::thread::scope(|s| s.spawn(|| ja4(hello, Ja4Transport::Tcp)).join().unwrap())
        };
        let expected: Vec<String> = hellos.iter().map(alone).collect();
        for i in 0..expected.len() {
            for j in i + 1..expected.len() {
                if (i, j) == (3, 4) {
                    assert_eq!(expected[i], expected[j]);
                } else {
                    assert_ne!(expected[i], expected[j]);
                }
            }
        }
        for i in [0, 1, 1, 0, 2, 3, 3, 2, 0, 3, 1, 4, 3, 4, 4, 0, 4] {
            assert_eq!(ja4(&hellos[i], Ja4Transport::Tcp), expected[i], "hello {i}");
        }
    }

    #[test]
    fn specification_example_hashes() {
        // "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
        let sorted = [
            0x002f, 0x0035, 0x009c, 0x009d, 0x1301, 0x1302, 0x1303, 0xc013, 0xc014, 0xc02b, 0xc02c,
            0xc02f, 0xc030, 0xcca8, 0xcca9,
        ];
        assert_eq!(truncated_hash(&sorted, &[]), "8daaf6152771");
        // "0005,000a,…,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        let exts = [
            0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
            0x0033, 0x4469, 0xff01,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        assert_eq!(truncated_hash(&exts, &sigs), "e5627efa2ab1");
        // Longer lists go to the hasher in pieces: the same text.
        let long: Vec<u16> = (0..200u16).map(|v| v.wrapping_mul(331)).collect();
        let text: Vec<String> = long.iter().map(|v| format!("{v:04x}")).collect();
        let expected = crate::hex::encode(&Sha256::digest(text.join(",").as_bytes())[..6]);
        assert_eq!(truncated_hash(&long, &[]), expected);
        let mut zeros = String::new();
        push_truncated_hash(&mut zeros, None);
        assert_eq!(zeros, "000000000000");
    }
}

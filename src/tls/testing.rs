//! Builders of TLS bytes for the unit tests of this module's layers.

use super::decrypt::{TLS_AES_128_GCM_SHA256, traffic_keys};

/// A record of `content_type` around `body`.
pub fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A ClientHello message offering `alpn`.
pub fn client_hello_message(alpn: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in alpn {
        list.push(p.len() as u8);
        list.extend_from_slice(p);
    }
    let mut ext = vec![0x00, 0x10];
    ext.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend(list);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[1; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut msg = vec![1, 0, 0, body.len() as u8];
    msg.extend(body);
    msg
}

/// A TLS 1.3 ServerHello choosing TLS_AES_128_GCM_SHA256, as a record.
pub fn tls13_server_hello_record() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[5; 32]);
    body.extend_from_slice(&[0, 0x13, 0x01, 0]);
    body.extend_from_slice(&[0, 6, 0x00, 0x2b, 0, 2, 0x03, 0x04]);
    let mut msg = vec![2, 0, 0, body.len() as u8];
    msg.extend(body);
    record(22, &msg)
}

/// Seals `inner` (content + type) as the `seq`-th protected record under `secret`.
pub fn protected_record(secret: &[u8], seq: u64, inner: &[u8]) -> Vec<u8> {
    use aes_gcm::Aes128Gcm;
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let (key, iv) = traffic_keys(TLS_AES_128_GCM_SHA256, secret).unwrap();
    let mut nonce: [u8; 12] = iv.try_into().unwrap();
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let len = (inner.len() + 16) as u16;
    let header = [23, 3, 3, (len >> 8) as u8, len as u8];
    let sealed = Aes128Gcm::new_from_slice(&key)
        .unwrap()
        .encrypt(
            &nonce.into(),
            Payload {
                msg: inner,
                aad: &header,
            },
        )
        .unwrap();
    [header.to_vec(), sealed].concat()
}

/// An SSLv2-compatible ClientHello record offering TLS 1.2 (RFC 5246 Appendix E.2): three
/// cipher specs (one of them SSL 2.0's kind), no session id, a 16-byte challenge.
pub fn sslv2_hello() -> Vec<u8> {
    let mut b = vec![0x80, 0, 1, 3, 3, 0, 9, 0, 0, 0, 16];
    b.extend_from_slice(&[0, 0xc0, 0x2f, 0, 0, 0x2f, 0x07, 0x00, 0xc0]);
    b.extend_from_slice(&[0xab; 16]);
    b[1] = (b.len() - 2) as u8;
    b
}

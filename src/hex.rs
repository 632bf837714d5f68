//! Lower-case hexadecimal text of bytes (ClientHello randoms, digests, secrets), written from a
//! table: one allocation per text instead of one `format!` per byte.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push(&mut out, bytes);
    out
}

/// Appends `bytes` to `out` as lower-case hex, two digits a byte.
pub fn push(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    // Through a buffer on the stack: pushing each digit as a `char` costs four times as much.
    let mut text = [0u8; 64];
    for chunk in bytes.chunks(text.len() / 2) {
        let text = &mut text[..chunk.len() * 2];
        encode_into(chunk, text);
        // Always ASCII.
        if let Ok(text) = std::str::from_utf8(text) {
            out.push_str(text);
        }
    }
}

/// Writes `bytes` as lower-case hex into `out`, two digits a byte (`out` is twice as long as
/// `bytes`; extra bytes are left as they are).
pub fn encode_into(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_format_does() {
        let bytes: Vec<u8> = (0..=255).collect();
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(encode(&bytes), expected);
        assert_eq!(encode(&[]), "");
        let mut out = String::from("x");
        push(&mut out, &[0xab, 0x01]);
        assert_eq!(out, "xab01");
        let long: Vec<u8> = (0..100).collect();
        let mut out = String::new();
        push(&mut out, &long);
        assert_eq!(out, encode(&long));
        assert_eq!(
            out,
            long.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let mut text = [b'-'; 5];
        encode_into(&[0x0a, 0xf1], &mut text);
        assert_eq!(&text, b"0af1-");
    }
}

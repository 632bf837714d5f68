//! A cursor over untrusted bytes: fixed-size integers and QUIC variable-length integers
//! (RFC 9000 §16). Every read checks the bytes present and returns `None` when they are not;
//! nothing here can panic or allocate.

/// Largest value a variable-length integer can hold (2^62 - 1).
pub const VARINT_MAX: u64 = (1 << 62) - 1;

/// Reads fields from the front of a byte slice, remembering how far it got.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or(&[])
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// A big-endian 32-bit integer.
    pub fn u32(&mut self) -> Option<u32> {
        let bytes = self.bytes.get(self.pos..)?.first_chunk::<4>()?;
        self.pos += 4;
        Some(u32::from_be_bytes(*bytes))
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// The next `n` bytes, `n` read from the wire as a 64-bit value.
    pub fn bytes_u64(&mut self, n: u64) -> Option<&'a [u8]> {
        self.bytes(usize::try_from(n).ok()?)
    }

    /// A variable-length integer (RFC 9000 §16): the two high bits of the first byte give its
    /// length (1, 2, 4 or 8 bytes). Non-minimal encodings are accepted.
    pub fn varint(&mut self) -> Option<u64> {
        let first = *self.bytes.get(self.pos)?;
        let len = 1usize << (first >> 6);
        let raw = self.bytes(len)?;
        let mut value = u64::from(first & 0x3f);
        for b in raw.iter().skip(1) {
            value = value << 8 | u64::from(*b);
        }
        Some(value)
    }
}

/// Appends `value` as a variable-length integer of the shortest form (values above
/// [`VARINT_MAX`] are written as that maximum). For tests and the packet builder.
pub fn put_varint(out: &mut Vec<u8>, value: u64) {
    let value = value.min(VARINT_MAX);
    if value < 1 << 6 {
        out.push(value as u8);
    } else if value < 1 << 14 {
        out.extend_from_slice(&(value as u16 | 0x4000).to_be_bytes());
    } else if value < 1 << 30 {
        out.extend_from_slice(&(value as u32 | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §A.1's sample varints.
    #[test]
    fn rfc9000_sample_varints() {
        for (bytes, value) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ] {
            let mut r = Reader::new(bytes);
            assert_eq!(r.varint(), Some(value));
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn short_input_reads_nothing() {
        let mut r = Reader::new(&[0x9d, 0x7f, 0x3e]);
        assert_eq!(r.varint(), None);
        assert_eq!(r.pos(), 0);
        assert_eq!(r.u32(), None);
        assert_eq!(r.bytes(4), None);
        assert_eq!(r.bytes_u64(u64::MAX), None);
        assert_eq!(r.bytes(3), Some(&[0x9d, 0x7f, 0x3e][..]));
        assert_eq!(r.u8(), None);
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn put_varint_round_trips() {
        for value in [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            VARINT_MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Reader::new(&out).varint(), Some(value));
        }
    }
}

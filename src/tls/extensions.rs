//! The one walker over a block of TLS extensions (RFC 8446 §4.2), shared by the hellos and
//! EncryptedExtensions.
//!
//! Takes the bytes of an extensions block (after its 2-byte length) and yields each entry's type
//! and body in order, unknown and GREASE types included. It never reads past the block: an entry
//! whose header or body is cut short ends the walk, and [`Extensions::fault`] then says what was
//! wrong, so a caller can keep what was read before it.

use super::alpn::AlpnList;
use super::types::ExtensionType;

/// One entry of an extensions block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Its type.
    pub ty: ExtensionType,
    /// Its body; when `truncated`, only the bytes that were there.
    pub data: &'a [u8],
    /// True when the declared length ran past the end of the block.
    pub truncated: bool,
}

/// Iterates the entries of an extensions block; see the module doc.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    rest: &'a [u8],
    fault: Option<&'static str>,
}

impl<'a> Extensions<'a> {
    /// A walk over `block`, the bytes after the extensions length.
    pub fn new(block: &'a [u8]) -> Extensions<'a> {
        Extensions {
            rest: block,
            fault: None,
        }
    }

    /// What ended the walk early, once it has ended: a truncated header or an overlong entry.
    pub fn fault(&self) -> Option<&'static str> {
        self.fault
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(([t0, t1, l0, l1], after)) = self
            .rest
            .split_first_chunk::<4>()
            .map(|(h, after)| (*h, after))
        else {
            self.fault = Some("extension header truncated");
            self.rest = &[];
            return None;
        };
        let ty = ExtensionType(u16::from_be_bytes([t0, t1]));
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        match after.split_at_checked(len) {
            Some((data, rest)) => {
                self.rest = rest;
                Some(Extension {
                    ty,
                    data,
                    truncated: false,
                })
            }
            None => {
                self.fault = Some("extension runs past the end of the hello");
                self.rest = &[];
                Some(Extension {
                    ty,
                    data: after,
                    truncated: true,
                })
            }
        }
    }
}

/// The ALPN extension of an EncryptedExtensions body (RFC 8446 §4.3.1); `None` when it is absent
/// or when the walk is cut short before a complete one.
pub fn encrypted_extensions_alpn(body: &[u8]) -> Option<AlpnList> {
    for ext in Extensions::new(body.get(2..)?) {
        if ext.truncated {
            return None;
        }
        if ext.ty == ExtensionType::ALPN {
            return Some(AlpnList::parse(ext.data));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_in_order_and_keeps_unknown_types() {
        let block = [
            0x0a, 0x0a, 0, 0, 0x00, 0x10, 0, 2, 0, 0, 0x44, 0x69, 0, 1, 9,
        ];
        let mut walk = Extensions::new(&block);
        let got: Vec<(u16, Vec<u8>)> = walk.by_ref().map(|e| (e.ty.0, e.data.to_vec())).collect();
        assert_eq!(
            got,
            vec![(0x0a0a, vec![]), (0x0010, vec![0, 0]), (0x4469, vec![9])]
        );
        assert_eq!(walk.fault(), None);
    }

    #[test]
    fn truncation_ends_the_walk_with_a_fault() {
        let mut walk = Extensions::new(&[0, 0x10, 0, 9, 1, 2]);
        let first = walk.next().unwrap();
        assert!(first.truncated);
        assert_eq!(first.data, &[1, 2]);
        assert_eq!(walk.next(), None);
        assert_eq!(
            walk.fault(),
            Some("extension runs past the end of the hello")
        );

        let mut walk = Extensions::new(&[0, 0x10, 0]);
        assert_eq!(walk.next(), None);
        assert_eq!(walk.fault(), Some("extension header truncated"));
    }

    #[test]
    fn encrypted_extensions() {
        let ee = [0, 9, 0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2'];
        assert_eq!(
            encrypted_extensions_alpn(&ee).unwrap().protocols[0].escaped(),
            "h2"
        );
        // A truncated ALPN entry is not read; trailing bytes shorter than a header are ignored.
        assert_eq!(
            encrypted_extensions_alpn(&[0, 9, 0x00, 0x10, 0, 5, 0]),
            None
        );
        assert_eq!(encrypted_extensions_alpn(&[0, 2, 0, 0, 0, 0, 7]), None);
        assert_eq!(encrypted_extensions_alpn(&[0]), None);
    }
}

//! A [`Decoded`] frame carried from the thread that decoded it to the thread that analyses it:
//! its byte slices kept as [`Span`]s of the buffer the frame lies in, which travels with it,
//! and made slices again there ([`DecodedSpans::resolve`]).

use super::{Decoded, Fragment, Segment, UdpDatagram};

/// Where a slice lies in a buffer: `len` bytes from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// Where `part` lies in `base`; `None` when it is not inside it. An empty slice is the empty
    /// span at 0 (an empty slice may point anywhere).
    pub fn of(base: &[u8], part: &[u8]) -> Option<Span> {
        if part.is_empty() {
            return Some(Span::default());
        }
        let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
        (start.checked_add(part.len())? <= base.len()).then_some(Span {
            start,
            len: part.len(),
        })
    }

    /// The bytes of `base` this span covers, if it has them.
    pub fn of_base(self, base: &[u8]) -> Option<&[u8]> {
        base.get(self.start..self.start.checked_add(self.len)?)
    }
}

/// A [`Decoded`] without borrowed bytes: its one slice (a segment's or datagram's payload, a
/// fragment's data) left empty, and where that slice lies in the frame's buffer.
#[derive(Debug, Clone)]
pub struct DecodedSpans {
    /// The decoding, its slice empty.
    decoded: Decoded<'static>,
    /// Where its slice lies (the empty span when it has none).
    span: Span,
}

impl DecodedSpans {
    /// `decoded`, its slices as spans of `base`; `None` when one is not inside `base`.
    pub fn of(decoded: Decoded<'_>, base: &[u8]) -> Option<DecodedSpans> {
        let (decoded, span) = match decoded {
            Decoded::Tcp(segment) => (
                Decoded::Tcp(Segment {
                    payload: &[],
                    ..segment
                }),
                Span::of(base, segment.payload)?,
            ),
            Decoded::Udp(datagram) => (
                Decoded::Udp(UdpDatagram {
                    payload: &[],
                    ..datagram
                }),
                Span::of(base, datagram.payload)?,
            ),
            Decoded::Fragment(fragment) => (
                Decoded::Fragment(Fragment {
                    data: &[],
                    ..fragment
                }),
                Span::of(base, fragment.data)?,
            ),
            Decoded::OtherIp => (Decoded::OtherIp, Span::default()),
            Decoded::NotIp => (Decoded::NotIp, Span::default()),
            Decoded::UnsupportedLink(link_type) => {
                (Decoded::UnsupportedLink(link_type), Span::default())
            }
            Decoded::Malformed(error) => (Decoded::Malformed(error), Span::default()),
            Decoded::TruncatedHeaders => (Decoded::TruncatedHeaders, Span::default()),
        };
        Some(DecodedSpans { decoded, span })
    }

    /// The decoding again, its slices in `base` (the same bytes [`DecodedSpans::of`] was given,
    /// wherever they are now); `None` when a span does not fit `base`. The decoding is taken
    /// whole and only its slice is set: no field is copied one by one.
    pub fn resolve(self, base: &[u8]) -> Option<Decoded<'_>> {
        let mut decoded: Decoded<'_> = self.decoded;
        match &mut decoded {
            Decoded::Tcp(segment) => segment.payload = self.span.of_base(base)?,
            Decoded::Udp(datagram) => datagram.payload = self.span.of_base(base)?,
            Decoded::Fragment(fragment) => fragment.data = self.span.of_base(base)?,
            Decoded::OtherIp
            | Decoded::NotIp
            | Decoded::UnsupportedLink(_)
            | Decoded::Malformed(_)
            | Decoded::TruncatedHeaders => {}
        }
        Some(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture;

    #[test]
    fn spans_find_the_slices_inside_their_base_only() {
        let base = [1u8, 2, 3, 4, 5];
        assert_eq!(
            Span::of(&base, &base[1..4]),
            Some(Span { start: 1, len: 3 })
        );
        assert_eq!(Span::of(&base, &base[5..]), Some(Span::default()));
        assert_eq!(Span::of(&base[1..], &base[..2]), None);
        assert_eq!(Span::of(&base[..2], &base[1..4]), None);
        assert_eq!(Span { start: 4, len: 2 }.of_base(&base), None);
        assert_eq!(
            Span {
                start: usize::MAX,
                len: 2
            }
            .of_base(&base),
            None
        );
    }

    /// Every frame of every fixture, decoded, carried as spans into a copy of its bytes and
    /// resolved there, decodes as it did in place.
    #[test]
    fn every_fixture_frame_resolves_as_decoded() {
        let mut frames = 0;
        let mut with_payload = 0;
        for path in crate::test_fixtures::captures() {
            let data = std::fs::read(&path).unwrap();
            let _ = capture::read_capture_slice(&data, |event| {
                let capture::CaptureEvent::Frame(frame) = event else {
                    return;
                };
                frames += 1;
                let decoded = super::super::decode_frame(&frame);
                let expected = format!("{decoded:?}");
                if let Decoded::Tcp(s) = &decoded {
                    with_payload += usize::from(!s.payload.is_empty());
                }
                let spans = DecodedSpans::of(decoded, frame.data)
                    .unwrap_or_else(|| panic!("{}: frame {}", path.display(), frame.number));
                let moved = frame.data.to_vec();
                let resolved = spans.resolve(&moved).unwrap();
                assert_eq!(format!("{resolved:?}"), expected, "{}", path.display());
            });
        }
        assert!(frames > 10_000, "{frames} frames");
        assert!(with_payload > 1_000, "{with_payload} segments with payload");
    }
}

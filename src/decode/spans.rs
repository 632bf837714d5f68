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

/// A [`Decoded`] without borrowed bytes: each variant's slice (payload, fragment data) as a
/// [`Span`] of the frame's buffer, the slice itself left empty until resolved.
#[derive(Debug, Clone)]
pub enum DecodedSpans {
    /// [`Decoded::Tcp`], its payload at the span.
    Tcp(Segment<'static>, Span),
    /// [`Decoded::Udp`], its payload at the span.
    Udp(UdpDatagram<'static>, Span),
    /// [`Decoded::Fragment`], its data at the span.
    Fragment(Fragment<'static>, Span),
    /// The variants that borrow nothing.
    Whole(Decoded<'static>),
}

impl DecodedSpans {
    /// `decoded`, its slices as spans of `base`; `None` when one is not inside `base`.
    pub fn of(decoded: Decoded<'_>, base: &[u8]) -> Option<DecodedSpans> {
        Some(match decoded {
            Decoded::Tcp(segment) => DecodedSpans::Tcp(
                Segment {
                    payload: &[],
                    ..segment
                },
                Span::of(base, segment.payload)?,
            ),
            Decoded::Udp(datagram) => DecodedSpans::Udp(
                UdpDatagram {
                    payload: &[],
                    ..datagram
                },
                Span::of(base, datagram.payload)?,
            ),
            Decoded::Fragment(fragment) => DecodedSpans::Fragment(
                Fragment {
                    data: &[],
                    ..fragment
                },
                Span::of(base, fragment.data)?,
            ),
            Decoded::OtherIp => DecodedSpans::Whole(Decoded::OtherIp),
            Decoded::NotIp => DecodedSpans::Whole(Decoded::NotIp),
            Decoded::UnsupportedLink(link_type) => {
                DecodedSpans::Whole(Decoded::UnsupportedLink(link_type))
            }
            Decoded::Malformed(error) => DecodedSpans::Whole(Decoded::Malformed(error)),
            Decoded::TruncatedHeaders => DecodedSpans::Whole(Decoded::TruncatedHeaders),
        })
    }

    /// The decoding again, its slices in `base` (the same bytes [`DecodedSpans::of`] was given,
    /// wherever they are now); `None` when a span does not fit `base`.
    pub fn resolve(self, base: &[u8]) -> Option<Decoded<'_>> {
        Some(match self {
            DecodedSpans::Tcp(segment, payload) => Decoded::Tcp(Segment {
                payload: payload.of_base(base)?,
                ..segment
            }),
            DecodedSpans::Udp(datagram, payload) => Decoded::Udp(UdpDatagram {
                payload: payload.of_base(base)?,
                ..datagram
            }),
            DecodedSpans::Fragment(fragment, data) => Decoded::Fragment(Fragment {
                data: data.of_base(base)?,
                ..fragment
            }),
            DecodedSpans::Whole(decoded) => decoded,
        })
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

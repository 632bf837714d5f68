//! Frames handed from the thread that reads and decodes them to the thread that analyses them:
//! a buffer of bytes and its events ([`Item`]), each frame's bytes and decoding kept as spans
//! of the buffer, so both travel together and the buffer can come back to be filled again
//! ([`super::read_ahead`]).

use super::files::{EventConsumer, PROGRESS_EVERY};
use crate::capture::{CaptureEvent, Frame, LinkType, Timestamp};
use crate::decode::{self, DecodedSpans, Span};

/// A frame, its bytes as a span of its batch's buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameSpan {
    number: u64,
    timestamp: Timestamp,
    link_type: LinkType,
    data: Span,
    original_len: u32,
}

impl FrameSpan {
    /// `frame`, its bytes as a span of `base`; `None` when they are not inside it.
    pub(super) fn of(frame: &Frame<'_>, base: &[u8]) -> Option<FrameSpan> {
        Some(FrameSpan {
            number: frame.number,
            timestamp: frame.timestamp,
            link_type: frame.link_type,
            data: Span::of(base, frame.data)?,
            original_len: frame.original_len,
        })
    }

    /// The frame again, its bytes in `base`.
    pub(super) fn resolve(self, base: &[u8]) -> Option<Frame<'_>> {
        Some(Frame {
            number: self.number,
            timestamp: self.timestamp,
            link_type: self.link_type,
            data: self.data.of_base(base)?,
            original_len: self.original_len,
        })
    }
}

/// One event of a batch, in the order the capture gave them.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A frame, decoded when the consumer wants it decoded.
    Frame(FrameSpan, Option<DecodedSpans>),
    /// A frame the capture filter dropped.
    Dropped(FrameSpan),
    /// A pcapng Decryption Secrets Block.
    Secrets { secrets_type: u32, data: Span },
    /// Reading got to the frame at `offset` in the file (every [`PROGRESS_EVERY`] frames).
    Progress { offset: u64 },
}

/// Bytes read and the events parsed from them.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// The bytes the items' spans point into.
    pub(super) bytes: Vec<u8>,
    /// The events, in the order the capture gave them.
    pub(super) items: Vec<Item>,
}

/// Hands a batch's events to `consumer`, emptying its list, and its progress items to
/// `on_progress(offset, flows)`; false once the consumer needs nothing more.
pub(super) fn consume(
    batch: &mut Batch,
    consumer: &mut dyn EventConsumer,
    on_progress: &mut dyn FnMut(u64, usize),
) -> bool {
    let Batch { bytes, items } = batch;
    let base = &bytes[..];
    for item in items.drain(..) {
        match item {
            Item::Frame(span, decoded) => {
                let Some(frame) = span.resolve(base) else {
                    continue;
                };
                match decoded.and_then(|d| d.resolve(base)) {
                    Some(decoded) => consumer.decoded_frame(&frame, decoded),
                    None => consumer.event(CaptureEvent::Frame(frame)),
                }
            }
            Item::Dropped(span) => {
                if let Some(frame) = span.resolve(base) {
                    consumer.event(CaptureEvent::Dropped(frame));
                }
            }
            Item::Secrets { secrets_type, data } => {
                if let Some(data) = data.of_base(base) {
                    consumer.event(CaptureEvent::Secrets { secrets_type, data });
                }
            }
            Item::Progress { offset } => on_progress(offset, consumer.flows()),
        }
        if consumer.stopped() {
            return false;
        }
    }
    true
}

/// The item of `event`, its bytes as spans of `base`, and a progress item before every
/// [`PROGRESS_EVERY`]th frame; `offset_of` gives the file offset of a frame's bytes.
pub(super) fn item_of(
    event: CaptureEvent<'_>,
    base: &[u8],
    decode: bool,
    frames: &mut u64,
    offset_of: impl Fn(*const u8) -> u64,
) -> impl Iterator<Item = Item> {
    let mut progress = None;
    let item = match event {
        CaptureEvent::Frame(frame) => {
            *frames += 1;
            if *frames % PROGRESS_EVERY == 0 {
                progress = Some(Item::Progress {
                    offset: offset_of(frame.data.as_ptr()),
                });
            }
            FrameSpan::of(&frame, base).map(|span| {
                let decoded = decode
                    .then(|| DecodedSpans::of(decode::decode_frame(&frame), base))
                    .flatten();
                Item::Frame(span, decoded)
            })
        }
        CaptureEvent::Dropped(frame) => FrameSpan::of(&frame, base).map(Item::Dropped),
        CaptureEvent::Secrets { secrets_type, data } => {
            Span::of(base, data).map(|data| Item::Secrets { secrets_type, data })
        }
    };
    progress.into_iter().chain(item)
}

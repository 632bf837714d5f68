//! Frames handed from the thread that reads and decodes them to the thread that analyses them:
//! a buffer of bytes and its events ([`Item`]), each frame's bytes and decoding kept as spans
//! of the buffer, so both travel together and the buffer can come back to be filled again
//! ([`super::read_ahead`]).

use super::files::{EventConsumer, PROGRESS_EVERY};
use crate::capture::{CaptureEvent, Frame, LinkType, Timestamp};
use crate::decode::{self, DecodedSpans, Span};
use std::fs::File;
use std::os::unix::fs::FileExt;

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
    /// Bytes of the frame's span.
    pub(super) fn len(&self) -> usize {
        self.data.len
    }

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
    /// A frame of which only the first bytes were read (`frame`'s span): `captured` bytes were
    /// captured, those after the span are at `rest_at` in the file (see [`LazyData`]).
    ReadInPart {
        frame: FrameSpan,
        captured: u32,
        rest_at: u64,
    },
}

/// The data of frames read in part ([`Item::ReadInPart`]), read when it matters.
///
/// Such a frame is given whole to the consumer: its bytes read, then zeros, in a buffer the
/// size of the record. Decoded so, its headers are the frame's own (they lie in the bytes read,
/// or the data is read anyway); when the consumer says its data matters
/// ([`EventConsumer::data_matters`]), the rest is read from the file first. The consumer sees
/// the same frames, lengths and decodings as when the whole file is read, and the data of
/// every frame whose data it reads.
pub(super) struct LazyData<'f> {
    file: &'f File,
    /// A frame being put together; zeros between frames.
    frame: Vec<u8>,
}

#[cfg(test)]
thread_local! {
    /// Frames read in part on this thread: those whose data was not read, and those whose data
    /// was read afterwards.
    pub(super) static READ_IN_PART: std::cell::Cell<[u64; 2]> = const { std::cell::Cell::new([0; 2]) };
}

/// Counts a frame read in part (tests).
fn count_read_in_part(_data_read: bool) {
    #[cfg(test)]
    READ_IN_PART.with(|c| {
        let mut n = c.get();
        n[usize::from(_data_read)] += 1;
        c.set(n);
    });
}

impl<'f> LazyData<'f> {
    /// Data read from `file`.
    pub(super) fn new(file: &'f File) -> LazyData<'f> {
        LazyData {
            file,
            frame: Vec::new(),
        }
    }

    /// Hands `head` (the first bytes of a frame of `captured` bytes, the rest at `rest_at`) to
    /// `consumer` whole.
    pub(super) fn frame(
        &mut self,
        head: Frame<'_>,
        captured: u32,
        rest_at: u64,
        consumer: &mut dyn EventConsumer,
    ) {
        let (len, prefix) = (captured as usize, head.data.len());
        if prefix > len {
            // Not made by the reader (it reads at most what the block captured): as it is.
            consumer.decoded_frame(&head, decode::decode_frame(&head));
            return;
        }
        if self.frame.len() < len {
            self.frame.resize(len, 0);
        }
        self.frame[..prefix].copy_from_slice(head.data);
        let view = Frame {
            data: &self.frame[..len],
            ..head
        };
        let decoded = decode::decode_frame(&view);
        let headers_read = match &decoded {
            decode::Decoded::Tcp(seg) => {
                (seg.payload.as_ptr() as usize).wrapping_sub(view.data.as_ptr() as usize) <= prefix
            }
            _ => false,
        };
        if headers_read && !consumer.data_matters(&decoded) {
            count_read_in_part(false);
            consumer.decoded_frame(&view, decoded);
            self.frame[..prefix].fill(0);
            return;
        }
        count_read_in_part(true);
        let rest = &mut self.frame[prefix..len];
        if self.file.read_exact_at(rest, rest_at).is_ok() {
            let whole = Frame {
                data: &self.frame[..len],
                ..head
            };
            consumer.decoded_frame(&whole, decode::decode_frame(&whole));
        } else {
            // The file lost the bytes since (cut short while read): the frame as far as it was
            // read, as if the snaplen had cut it.
            consumer.decoded_frame(&head, decode::decode_frame(&head));
        }
        self.frame[..len].fill(0);
    }
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
    lazy: &mut LazyData<'_>,
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
            Item::ReadInPart {
                frame,
                captured,
                rest_at,
            } => {
                if let Some(head) = frame.resolve(base) {
                    lazy.frame(head, captured, rest_at, consumer);
                }
            }
        }
        if consumer.stopped() {
            return false;
        }
    }
    true
}

/// Pushes the item of `event` onto `items`, its bytes as spans of `base`, after a progress item
/// every [`PROGRESS_EVERY`]th frame; `offset_of` gives the file offset of a frame's bytes. Pushed
/// in place: the reading thread does this for every frame.
pub(super) fn push_item(
    items: &mut Vec<Item>,
    event: CaptureEvent<'_>,
    base: &[u8],
    decode: bool,
    frames: &mut u64,
    offset_of: impl Fn(*const u8) -> u64,
) {
    match event {
        CaptureEvent::Frame(frame) => {
            *frames += 1;
            if *frames % PROGRESS_EVERY == 0 {
                items.push(Item::Progress {
                    offset: offset_of(frame.data.as_ptr()),
                });
            }
            if let Some(span) = FrameSpan::of(&frame, base) {
                let decoded = if decode {
                    DecodedSpans::of(decode::decode_frame(&frame), base)
                } else {
                    None
                };
                items.push(Item::Frame(span, decoded));
            }
        }
        CaptureEvent::Dropped(frame) => {
            if let Some(span) = FrameSpan::of(&frame, base) {
                items.push(Item::Dropped(span));
            }
        }
        CaptureEvent::Secrets { secrets_type, data } => {
            if let Some(data) = Span::of(base, data) {
                items.push(Item::Secrets { secrets_type, data });
            }
        }
    }
}

//! Reading a regular file on its own thread while the frames already read are analysed: the
//! kernel's copy of the page cache into the buffers (about a third of the time on a capture of
//! large segments) overlaps the parsing and the flow table instead of adding to them.
//!
//! The reader fills buffers after a head room and hands them over in order; the parser copies
//! the block the previous buffer's end cut into that head room, so a block is contiguous
//! without moving the buffer's data. A block larger than the head room (a pcapng block of
//! megabytes, or a length that lies) is gathered in a buffer of its own, up to
//! [`capture::MAX_BLOCK_BYTES`]. Frames, summary, digest and errors are those of the
//! single-threaded reader.

use super::files::{EventConsumer, PROGRESS_EVERY, Progress, ReadOutcome, Reading, hex_digest};
use crate::capture::{self, CaptureError, CaptureEvent};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc;

/// Room before each buffer's data for the end of the previous buffer: one block of the largest
/// snaplen (256 KiB) and its header.
pub const HEAD_ROOM: usize = (256 << 10) + 64;

/// Buffers in use at once: one parsed, one filled, one waiting.
const BUFFERS: usize = 3;

/// A buffer the reader filled: data at `head_room..end`.
struct Filled {
    buffer: Vec<u8>,
    end: usize,
    eof: bool,
    error: Option<io::Error>,
}

/// Reads `file` (`len` bytes) in buffers of `buffer_size` bytes on a reader thread, with
/// `head_room` bytes before each buffer's data, and parses it as [`super::files`]'s block
/// reader does.
pub(super) fn read_blocks_ahead(
    file: &File,
    len: u64,
    buffer_size: usize,
    head_room: usize,
    reading: Reading<'_>,
) -> ReadOutcome {
    let Reading {
        index,
        limit,
        filter,
        digest,
        consumer,
        progress,
    } = reading;
    std::thread::scope(|scope| {
        let (filled_tx, filled_rx) = mpsc::sync_channel::<Filled>(BUFFERS - 1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || {
            fill_buffers(file, buffer_size, head_room, digest, &filled_tx, &empty_rx)
        });
        let parsed = parse_buffers(
            &filled_rx,
            &empty_tx,
            head_room,
            limit,
            filter,
            &mut |offset, frames, consumer_flows| {
                if frames % PROGRESS_EVERY == 0 {
                    progress(Progress {
                        capture: index,
                        bytes: offset,
                        total: Some(len),
                        flows: consumer_flows,
                    });
                }
            },
            consumer,
        );
        // The reader stops at its next hand-over (reading on to the end for the digest).
        drop(filled_rx);
        drop(empty_tx);
        let hasher = reader.join().unwrap_or(None);
        let digest = hasher.map(hex_digest);
        match parsed {
            Ok(summary) => (Ok(summary), Some(len), digest, None),
            Err(e) => (Err(e), Some(len), None, None),
        }
    })
}

/// The reader thread: fills buffers until the end of the file or until the parser hangs up,
/// hashing every byte when `digest` is set (to the end of the file, even after the parser
/// stopped).
fn fill_buffers(
    mut input: &File,
    buffer_size: usize,
    head_room: usize,
    digest: bool,
    filled: &mpsc::SyncSender<Filled>,
    empty: &mpsc::Receiver<Vec<u8>>,
) -> Option<Sha256> {
    let mut hasher = digest.then(Sha256::new);
    let mut made = 0;
    loop {
        let mut buffer = match empty.try_recv() {
            Ok(b) => b,
            Err(_) if made < BUFFERS => {
                made += 1;
                vec![0u8; head_room + buffer_size]
            }
            Err(_) => match empty.recv() {
                Ok(b) => b,
                Err(_) => break,
            },
        };
        let mut end = head_room;
        let mut eof = false;
        let mut error = None;
        while end < buffer.len() {
            match input.read(&mut buffer[end..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if let Some(h) = &mut hasher {
            h.update(&buffer[head_room..end]);
        }
        let last = eof || error.is_some();
        if filled
            .send(Filled {
                buffer,
                end,
                eof,
                error,
            })
            .is_err()
        {
            break;
        }
        if last {
            return hasher;
        }
    }
    // The parser stopped early: the digest still covers the whole file.
    if let Some(h) = &mut hasher {
        let mut sink = super::files::HashWriter(h);
        let _ = io::copy(&mut input, &mut sink);
    }
    hasher
}

/// The parsing side: takes the buffers in order, parses their complete blocks in place and
/// hands the events to `consumer`; `on_frame(offset, frames, flows)` after each frame.
fn parse_buffers(
    filled: &mpsc::Receiver<Filled>,
    empty: &mpsc::Sender<Vec<u8>>,
    head_room: usize,
    limit: Option<u64>,
    filter: Option<capture::filter::FrameFilter>,
    on_frame: &mut dyn FnMut(u64, u64, usize),
    consumer: &mut dyn EventConsumer,
) -> Result<capture::CaptureSummary, CaptureError> {
    let mut parser = capture::SliceParser::with_limit(limit).with_filter(filter);
    // The bytes of a block cut by a buffer's end, copied out of it.
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0;
    let mut frames: u64 = 0;
    // Parses the complete blocks at the start of `data`, at `offset` in the file: the bytes
    // they took, and whether the consumer stopped.
    let mut feed = |parser: &mut capture::SliceParser,
                    data: &[u8],
                    last: bool,
                    offset: u64|
     -> Result<(usize, bool), CaptureError> {
        let base = data.as_ptr() as usize;
        let consumed = parser.feed(data, last, &mut |event| {
            if let CaptureEvent::Frame(frame) = &event {
                frames += 1;
                let at = (frame.data.as_ptr() as usize).saturating_sub(base) as u64;
                on_frame(offset + at, frames, consumer.flows());
            }
            consumer.event(event);
        })?;
        Ok((consumed, consumer.stopped()))
    };
    let mut stopped;
    while !parser.is_finished() {
        let Ok(Filled {
            mut buffer,
            end,
            eof,
            error,
        }) = filled.recv()
        else {
            break;
        };
        if let Some(e) = error {
            return Err(CaptureError::Io(e));
        }
        if carry.len() <= head_room {
            // In place: the cut block before the buffer's data.
            let start = head_room - carry.len();
            buffer[start..head_room].copy_from_slice(&carry);
            carry.clear();
            let consumed;
            (consumed, stopped) = feed(&mut parser, &buffer[start..end], eof, offset)?;
            offset += consumed as u64;
            carry.extend_from_slice(&buffer[start + consumed..end]);
        } else {
            // A block larger than the head room: gathered in `carry`, and parsed there once
            // whole, as long as it is not over the largest block accepted.
            carry.extend_from_slice(&buffer[head_room..end]);
            loop {
                let n = carry.len().min(capture::MAX_BLOCK_BYTES);
                let last = eof && n == carry.len();
                let consumed;
                (consumed, stopped) = feed(&mut parser, &carry[..n], last, offset)?;
                offset += consumed as u64;
                carry.drain(..consumed);
                if parser.is_finished() || stopped {
                    break;
                }
                if consumed == 0 {
                    if carry.len() >= capture::MAX_BLOCK_BYTES {
                        parser.oversized_block();
                    }
                    break;
                }
            }
        }
        let _ = empty.send(buffer);
        if stopped || eof {
            break;
        }
    }
    Ok(parser.finish())
}

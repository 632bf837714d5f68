//! The streaming reader: any `Read` (a file, stdin, a pipe) in, [`CaptureEvent`]s out.
//!
//! Built on `pcap-parser`'s buffered reader. It keeps one block in memory at a time. Its buffer
//! starts small (a short input costs no large allocation) and grows as the input proves longer,
//! up to [`BUFFER_BYTES`]; beyond that only for a block that is larger than the buffer, up to
//! [`MAX_BLOCK_BYTES`], and a larger block ends the read with a warning. Packet blocks are
//! numbered 1-based in file order, every packet block counts, whatever its interface, as in
//! Wireshark. No input makes it panic:
//! a file cut off or corrupted ends the read with a [`CaptureWarning`] in the summary.

use super::blocks::{BlockHandler, MAX_BLOCK_BYTES, describe_parse_error};
use super::filter::FrameFilter;
use super::{CaptureError, CaptureEvent, CaptureSummary, CaptureWarning};
use pcap_parser::PcapError;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Size of the read buffer at the start: the 64 KiB a pipe holds. A capture of a few handshakes
/// fits; the buffer is zeroed when allocated, and an input read once per run (a small file, each
/// fuzz execution) should not pay for a megabyte.
const FIRST_BUFFER_BYTES: usize = 64 << 10;

/// Size the read buffer grows to, doubling each time a refill finds it already read through
/// once: large inputs are read in large pieces.
const BUFFER_BYTES: usize = 1 << 20;

/// A `Read` adapter that fills the caller's buffer as far as the input allows, so a pipe that
/// delivers a few bytes at a time still shows the parser a whole header. A read error ends the
/// input there: what came before it is delivered, then end of input, and the error is kept in
/// `error`, in words, for the reader to report (the parser would only say that reading failed,
/// and drop the bytes it had — a compressed capture cut short fails only at its end).
struct FillingReader<R> {
    inner: R,
    error: Arc<Mutex<Option<String>>>,
    /// Bytes delivered so far.
    delivered: Arc<AtomicUsize>,
}

impl<R: Read> Read for FillingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !failed(&self.error) {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    self.delivered.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Ok(mut last) = self.error.lock() {
                        *last = Some(super::IoCause(&e).to_string());
                    }
                }
            }
        }
        Ok(filled)
    }
}

/// True once a read failed.
fn failed(error: &Mutex<Option<String>>) -> bool {
    error.lock().map_or(true, |e| e.is_some())
}

/// The last read error `error` kept, in words.
fn read_error(error: &Mutex<Option<String>>) -> String {
    error
        .lock()
        .ok()
        .and_then(|e| e.clone())
        .unwrap_or_else(|| "the input could not be read".to_string())
}

/// The buffer to start with: [`FIRST_BUFFER_BYTES`], or [`BUFFER_BYTES`] (the size every read
/// started with before) for a pcapng whose section header block does not fit in the former.
/// `head`: the first bytes of the input, up to the block's byte-order magic.
fn first_capacity(head: &[u8]) -> usize {
    let [0x0a, 0x0d, 0x0d, 0x0a, l0, l1, l2, l3, order, ..] = *head else {
        return FIRST_BUFFER_BYTES;
    };
    // The byte-order magic 0x1A2B3C4D, little-endian: 4D 3C 2B 1A.
    let len = if order == 0x4d {
        u32::from_le_bytes([l0, l1, l2, l3])
    } else {
        u32::from_be_bytes([l0, l1, l2, l3])
    };
    if usize::try_from(len).is_ok_and(|len| len <= FIRST_BUFFER_BYTES) {
        FIRST_BUFFER_BYTES
    } else {
        BUFFER_BYTES
    }
}

/// Reads a whole capture from `input`, calling `on_event` for every packet and secrets block.
///
/// Returns the summary, or an error when the input is not a capture at all.
pub fn read_capture<R, F>(input: R, on_event: F) -> Result<CaptureSummary, CaptureError>
where
    R: Read + Send,
    F: FnMut(CaptureEvent<'_>),
{
    read_capture_limited(input, None, on_event)
}

/// [`read_capture`] that stops after `limit` packet blocks (`-c`, as tcpdump does), with a
/// [`CaptureWarning::CountReached`] in the summary.
pub fn read_capture_limited<R, F>(
    input: R,
    limit: Option<u64>,
    on_event: F,
) -> Result<CaptureSummary, CaptureError>
where
    R: Read + Send,
    F: FnMut(CaptureEvent<'_>),
{
    read_capture_filtered(input, limit, None, on_event)
}

/// [`read_capture_limited`] passing only the frames `filter` passes; the limit counts those,
/// as tcpdump's `-c` with a filter does. A link type the filter cannot be compiled for ends
/// the read with [`CaptureError::Filter`].
pub fn read_capture_filtered<R, F>(
    input: R,
    limit: Option<u64>,
    filter: Option<FrameFilter>,
    mut on_event: F,
) -> Result<CaptureSummary, CaptureError>
where
    R: Read + Send,
    F: FnMut(CaptureEvent<'_>),
{
    // The first bytes are read here to size the buffer (`pcap-parser` accepts a pcapng only
    // when its section header block is whole in the first read) and to name a compressed file
    // when they are no capture.
    let error = Arc::new(Mutex::new(None));
    let mut input = FillingReader {
        inner: input,
        error: Arc::clone(&error),
        delivered: Arc::default(),
    };
    // 32 bytes: a whole pcap file header, or a pcapng section header block's start.
    let mut head = [0u8; 32];
    let got = input.read(&mut head).map_err(CaptureError::Io)?;
    if got == 0 && failed(&error) {
        return Err(CaptureError::Io(io::Error::other(read_error(&error))));
    }
    let whole = got < head.len();
    let head = &head[..got];
    let mut capacity = first_capacity(head);
    let delivered = Arc::new(AtomicUsize::new(0));
    let rest = FillingReader {
        inner: head.chain(input.inner),
        error: Arc::clone(&error),
        delivered: Arc::clone(&delivered),
    };
    let mut reader = match pcap_parser::create_reader(capacity, rest) {
        Ok(r) => r,
        Err(_) if failed(&error) && got < 32 => {
            return Err(CaptureError::Io(io::Error::other(read_error(&error))));
        }
        Err(PcapError::Eof) => return Err(CaptureError::Empty),
        Err(PcapError::ReadError) => {
            return Err(CaptureError::Io(io::Error::other(read_error(&error))));
        }
        Err(_) => {
            // The parser read as much as its buffer holds: less, and the input ended there (a
            // header longer than the whole input is a truncated one, as the slice parser sees).
            let total = delivered.load(Ordering::Relaxed);
            let whole = whole || total < capacity;
            return Err(super::summary::not_a_capture(head, whole.then_some(total)));
        }
    };
    let mut handler = BlockHandler::new();
    handler.limit = limit;
    handler.filter = filter;
    loop {
        if handler.reached() {
            if let Some(e) = handler.take_filter_error() {
                return Err(CaptureError::Filter(e));
            }
            handler.stop_at_limit();
            break;
        }
        match reader.next() {
            Ok((offset, block)) => {
                handler.block(block, &mut on_event);
                // The buffer is shifted once per refill, not each time half of it is consumed.
                reader.consume_noshift(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if capacity < BUFFER_BYTES && reader.consumed() >= capacity {
                    let grown = (capacity * 2).min(BUFFER_BYTES);
                    if reader.grow(grown) {
                        capacity = grown;
                    }
                }
                if reader.refill().is_err() {
                    let reason = format!("read error: {}", read_error(&error));
                    handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                        last_good_frame,
                        reason,
                    });
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                handler.stop(|last_good_frame| CaptureWarning::Truncated { last_good_frame });
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                // The reader wants a block to be smaller than its buffer: a capacity one byte
                // over the limit holds every block of up to `MAX_BLOCK_BYTES`.
                if capacity > MAX_BLOCK_BYTES
                    || !reader.grow((capacity * 2).min(MAX_BLOCK_BYTES + 1))
                {
                    handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                        last_good_frame,
                        reason: format!("a block claims more than {} MiB", MAX_BLOCK_BYTES >> 20),
                    });
                    break;
                }
                capacity = (capacity * 2).min(MAX_BLOCK_BYTES + 1);
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => {
                let reason = describe_parse_error(&e);
                handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                    last_good_frame,
                    reason,
                });
                break;
            }
        }
    }
    if failed(&error) {
        // The input ended at a read error (a compressed stream cut short or corrupt, a device
        // error): said instead of a plain cut.
        let reason = format!("read error: {}", read_error(&error));
        handler
            .summary
            .warnings
            .retain(|w| !matches!(w, CaptureWarning::Truncated { .. }));
        handler.stop(|last_good_frame| CaptureWarning::Corrupt {
            last_good_frame,
            reason,
        });
    }
    if let Some(e) = handler.take_filter_error() {
        return Err(CaptureError::Filter(e));
    }
    Ok(handler.into_summary())
}

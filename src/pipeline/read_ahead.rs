//! Reading a regular file on a thread of its own: that thread reads the file, parses its blocks
//! and decodes each frame's headers ([`crate::decode::decode_frame`]) while the calling thread
//! analyses the frames read before. The kernel's copy of the page cache, the container's
//! records and the link, IP and TCP/UDP headers (about half the work on a capture of small
//! packets) overlap the flow table instead of adding to it.
//!
//! The reader fills buffers after a head room and parses each in place; the block its end cut
//! is copied into the next buffer's head room, so every block is contiguous without moving the
//! buffer's data. A block larger than the head room (a pcapng block of megabytes, or a length
//! that lies) is gathered in a buffer of its own, up to [`capture::MAX_BLOCK_BYTES`]. Each
//! buffer goes to the calling thread with its events ([`super::batch::Item`]), their bytes as
//! spans of it, and comes back to be filled again. Frames, decodings, summary, digest and
//! errors are those of the single-threaded reader, and so is where reading stops (the `-c`
//! limit, a corrupt block).
//!
//! Which thread decodes follows which one is slower ([`Decoding::Balanced`]): this thread, after
//! waiting for a buffer to come back (the analysis is behind: handshakes); the calling thread,
//! for the buffer after one that came back before it was needed (this thread is behind: its
//! kernel copy of bulk data). The decodings are the same either way.
//!
//! The kernel's copy is shared the same way ([`Copying::WhenIdle`]): before it reads a buffer
//! whole, this thread offers the one after it; the calling thread, when it has analysed its
//! buffer and the next is not ready, copies the offered bytes into the buffer it is done with
//! and hands it back so filled. On a capture of bulk data both cores copy the file, as two
//! `dd`s of its halves would. The bytes are the file's either way; an offer this thread no
//! longer needs (it read a record in part and went past them) comes back as an empty buffer.
//!
//! Large packet blocks are read in part ([`ReadInPart`]): only their headers, the rest of their
//! data read by the analysing thread when it can change the report. The consumer still gets
//! every frame whole, with the same decodings and lengths.

use super::batch::{Batch, Item, LazyData, consume, push_item};
use super::files::PROGRESS_EVERY;
use super::files::{Progress, ReadOutcome, Reading, hex_digest, several_cores};
use crate::capture::{self, CaptureError};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

/// Room before each buffer's data for the end of the previous buffer: one block of the largest
/// snaplen (256 KiB) and its header.
pub const HEAD_ROOM: usize = (256 << 10) + 64;

/// Buffers in use at once: one analysed, one parsed, one waiting.
const BUFFERS: usize = 3;

/// Which packet blocks the reading thread reads in part: pcap records and pcapng enhanced packet
/// blocks that captured at least `min_captured` bytes, of which it reads the first `prefix`
/// bytes of data (the headers) and leaves the rest in the file until the analysis says the data
/// matters (`batch::LazyData`); only the block cut by the end of what was read, after
/// which a little is read at a time, so that a run of such blocks is read in part.
///
/// A large record is nearly always a segment of a connection past its handshake (a download
/// captured on loopback, or with segmentation offload), whose data cannot change the report:
/// reading only its headers spares the copy of the data, most of such a capture's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadInPart {
    /// Records of fewer captured bytes are read whole.
    pub min_captured: usize,
    /// Bytes of data read of the others.
    pub prefix: usize,
}

impl Default for ReadInPart {
    fn default() -> Self {
        ReadInPart::DEFAULT
    }
}

impl ReadInPart {
    /// Records of 16 KiB and more, of which 512 bytes are read: past every header alpnscope
    /// decodes (a few VLAN tags, IPv6 extension headers and TCP options included); a frame
    /// whose headers go further is read whole.
    pub const DEFAULT: ReadInPart = ReadInPart {
        min_captured: 16 << 10,
        prefix: 512,
    };
}

/// Bytes read after a record read in part: enough for the acknowledgements that usually follow
/// it and the next record's header; more is read while no record is read in part.
pub(super) const READ_AFTER_PART: usize = 4 << 10;

/// Which thread decodes the frames' headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoding {
    /// The reading thread while it waits for the consumer, the consumer while it waits for the
    /// reading thread (see `Reader::decode_now`).
    Balanced,
    /// Always the consumer (to test that its decodings are the reading thread's).
    #[cfg_attr(not(test), allow(dead_code))]
    ByConsumer,
}

/// How long a thread waiting for a buffer polls for it before it sleeps, when the machine has
/// more than one core: longer than the other thread takes to fill or analyse one, so that in a
/// steady stream neither sleeps. Sleeping and being woken costs a few microseconds of kernel
/// time, more in a virtual machine, and was a switch of context per buffer on both threads
/// (1,800 on the benchmark capture of Ethernet-sized packets; 40 polling).
const POLL_FOR: Duration = Duration::from_micros(500);

/// The next message of `rx`, polled for up to `poll_for` before sleeping until it comes.
///
/// Between two looks the thread gives its core away (`yield_now`) rather than spin: when the
/// two threads share one core (another program busy on the other), the thread it waits for
/// then runs at once. Spinning there cost the wait's whole half millisecond at every hand-over:
/// with a shell's busy loop on the second core the benchmark capture of Ethernet-sized packets
/// took 0.68–0.90 s spinning, 0.42–0.56 s yielding, 0.38–0.41 s on one thread (beside a fuzzer:
/// 1.1–1.6 s spinning, 0.40–0.47 s yielding). With a core each there is nobody to yield to, and
/// the call returns at once.
fn receive<T>(rx: &mpsc::Receiver<T>, poll_for: Duration) -> Result<T, mpsc::RecvError> {
    let mut started = None;
    loop {
        match rx.try_recv() {
            Ok(message) => return Ok(message),
            Err(TryRecvError::Disconnected) => return Err(mpsc::RecvError),
            Err(TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now.duration_since(*started.get_or_insert(now)) >= poll_for {
            return rx.recv();
        }
        std::thread::yield_now();
    }
}

/// Whether the calling thread copies bytes of the file for the reading thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Copying {
    /// When it has analysed a buffer before the reading thread filled the next one.
    WhenIdle,
    /// Whenever bytes are offered (tests and fuzzing: a buffer so filled reads as any other).
    Always,
}

/// How the two threads share the work besides the analysis: who decodes, who copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sharing {
    pub(super) decoding: Decoding,
    pub(super) copying: Copying,
}

impl Sharing {
    /// Both follow which thread is behind.
    pub(super) const BALANCED: Sharing = Sharing {
        decoding: Decoding::Balanced,
        copying: Copying::WhenIdle,
    };
}

/// No bytes are offered (see [`Reader::offer`]).
const NO_OFFER: u64 = u64::MAX;

/// Bytes read after a buffer's head room, and whether the file ended before the buffer did.
type ReadBytes = (usize, bool);

/// The file's bytes at `at`, copied by the calling thread into a buffer after its head room.
struct Copied {
    at: u64,
    /// `None` when reading failed (the reading thread reads them again, and reports the error).
    read: Option<ReadBytes>,
}

/// A buffer handed back to the reading thread, filled when it was offered bytes.
struct Returned {
    batch: Batch,
    copied: Option<Copied>,
}

/// Copies the bytes offered in `offer`, if any, into `batch` after its `head_room`, when
/// `batch` is a buffer (`buffer_len` bytes).
fn copy_offered(
    file: &File,
    offer: &AtomicU64,
    batch: &mut Batch,
    head_room: usize,
    buffer_len: usize,
) -> Option<Copied> {
    if batch.bytes.len() != buffer_len {
        return None;
    }
    let at = offer.swap(NO_OFFER, Ordering::AcqRel);
    if at == NO_OFFER {
        return None;
    }
    let read = read_at_most(file, &mut batch.bytes[head_room..], at).ok();
    Some(Copied { at, read })
}

/// Reads `file` from `at` into `bytes` until they are full or the file ends: the bytes read,
/// and whether the file ended.
fn read_at_most(file: &File, bytes: &mut [u8], at: u64) -> io::Result<ReadBytes> {
    let mut end = 0;
    while end < bytes.len() {
        match file.read_at(&mut bytes[end..], at + end as u64) {
            Ok(0) => return Ok((end, true)),
            Ok(n) => end += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((end, false))
}

/// What the reading thread gives when it stops.
struct Stopped {
    summary: Result<capture::CaptureSummary, CaptureError>,
    digest: Option<Sha256>,
}

/// Reads, parses and decodes `file` (`len` bytes) on a reader thread in buffers of
/// `buffer_size` bytes, with `head_room` bytes before each buffer's data, and hands its events
/// to `reading`'s consumer on this thread, as [`super::files`]'s block reader does; reads the
/// records `reading` says in part when the consumer can tell which data matters.
pub(super) fn read_blocks_ahead(
    file: &File,
    len: u64,
    buffer_size: usize,
    head_room: usize,
    sharing: Sharing,
    reading: Reading<'_>,
) -> ReadOutcome {
    let Reading {
        index,
        limit,
        filter,
        digest,
        threads: _,
        read_in_part,
        consumer,
        progress,
    } = reading;
    let decode = consumer.wants_decoded();
    // Records read in part need the consumer to say which data matters, and no one else to
    // look at the data: neither the digest nor the capture filter.
    let in_part = (decode && consumer.reads_data_lazily() && !digest && filter.is_none())
        .then_some(read_in_part);
    let mut lazy = LazyData::new(file);
    // With one core, the thread waited for runs only when the waiting one sleeps.
    let poll_for = if several_cores() {
        POLL_FOR
    } else {
        Duration::ZERO
    };
    let offer = AtomicU64::new(NO_OFFER);
    let offer = &offer;
    let stopped = std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(BUFFERS - 1);
        let (empty_tx, empty_rx) = mpsc::channel::<Returned>();
        let reader = scope.spawn(move || {
            let parser = capture::SliceParser::with_limit(limit).with_filter(filter);
            let mut reader = Reader {
                input: file,
                buffer_size,
                head_room,
                hasher: digest.then(Sha256::new),
                parser,
                decode,
                decode_now: sharing.decoding == Decoding::Balanced,
                decoding: sharing.decoding,
                made: 0,
                poll_for,
                spares: Vec::new(),
                offer,
                offered: None,
                in_part,
                len,
                offset: 0,
                position: 0,
                frames: 0,
                full: full_tx,
                empty: empty_rx,
            };
            let summary = reader.run();
            reader.finish_digest();
            Stopped {
                summary: summary.map(|()| reader.parser.finish()),
                digest: reader.hasher,
            }
        });
        let buffer_len = head_room + buffer_size;
        let mut next = receive(&full_rx, poll_for).ok();
        while let Some(mut batch) = next.take() {
            let go_on = consume(&mut batch, consumer, &mut lazy, &mut |offset, flows| {
                progress(Progress {
                    capture: index,
                    bytes: offset,
                    total: Some(len),
                    flows,
                });
            });
            if !go_on {
                break;
            }
            let (following, idle) = match full_rx.try_recv() {
                Ok(following) => (Some(following), false),
                Err(TryRecvError::Empty) => (None, true),
                Err(TryRecvError::Disconnected) => (None, false),
            };
            // Rather than wait for the reading thread, copy the bytes it offered.
            let copied = (idle || sharing.copying == Copying::Always)
                .then(|| copy_offered(file, offer, &mut batch, head_room, buffer_len))
                .flatten();
            let _ = empty_tx.send(Returned { batch, copied });
            next = following.or_else(|| receive(&full_rx, poll_for).ok());
        }
        // The reader stops at its next hand-over (reading on to the end for the digest).
        drop(full_rx);
        drop(empty_tx);
        reader.join()
    });
    match stopped {
        Ok(Stopped { summary, digest }) => {
            let digest = digest.map(hex_digest);
            match summary {
                Ok(summary) => (Ok(summary), Some(len), digest, None),
                Err(e) => (Err(e), Some(len), None, None),
            }
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The reading thread's state.
struct Reader<'f> {
    input: &'f File,
    buffer_size: usize,
    head_room: usize,
    hasher: Option<Sha256>,
    parser: capture::SliceParser,
    /// Decode each frame for the consumer.
    decode: bool,
    /// Decoding the frames of the buffer being filled: while the consumer keeps up (a buffer
    /// comes back before this thread needs it), this thread is the slower one and leaves the
    /// decoding of the next buffer to the consumer; once it has to wait for one, it decodes
    /// again. Either way the consumer gets the same decodings.
    decode_now: bool,
    /// Whether `decode_now` follows the consumer's pace, or stays false.
    decoding: Decoding,
    /// Buffers made so far (at most [`BUFFERS`]).
    made: usize,
    /// How long to poll for a buffer to come back before sleeping.
    poll_for: Duration,
    /// Buffers that came back unused (at most [`BUFFERS`]: every buffer is made by this thread).
    spares: Vec<Batch>,
    /// The bytes this thread offers the calling thread to copy: the file offset of the buffer
    /// after the one it reads, or [`NO_OFFER`].
    offer: &'f AtomicU64,
    /// What it offered last.
    offered: Option<u64>,
    /// Which records are read in part, when any are.
    in_part: Option<ReadInPart>,
    /// The file's length.
    len: u64,
    /// Offset in the file of the next byte to parse.
    offset: u64,
    /// Offset in the file of the next byte to read.
    position: u64,
    /// Frames parsed.
    frames: u64,
    full: mpsc::SyncSender<Batch>,
    empty: mpsc::Receiver<Returned>,
}

/// Why the reading thread stopped before the end of the file.
enum Halt {
    /// The consumer needs nothing more.
    HungUp,
    /// Reading or parsing failed.
    Failed(CaptureError),
}

impl From<CaptureError> for Halt {
    fn from(e: CaptureError) -> Halt {
        Halt::Failed(e)
    }
}

impl Reader<'_> {
    /// Reads and parses to the end, a parse error, the limit, or until the consumer hangs up.
    fn run(&mut self) -> Result<(), CaptureError> {
        match self.read_all() {
            Ok(()) | Err(Halt::HungUp) => Ok(()),
            Err(Halt::Failed(e)) => Err(e),
        }
    }

    fn read_all(&mut self) -> Result<(), Halt> {
        // The bytes of a block cut by a buffer's end, copied out of it.
        let mut carry: Vec<u8> = Vec::new();
        // Bytes to read next into the buffer: all of it, or a little after a record read in part.
        let mut chunk = self.buffer_size;
        // Whether the last buffer had a record read in part: then the next is likely to have
        // one too, and reading jumps past the bytes an offer would have had copied.
        let mut jumped = false;
        while !self.parser.is_finished() {
            let (mut batch, mut copied) = match self.copied()? {
                Some((batch, read)) => (batch, Some(read)),
                None => (self.next_batch()?, None),
            };
            // The buffer after this one, offered when this one is read whole.
            match copied {
                _ if std::mem::take(&mut jumped) => {}
                Some((n, false)) => self.offer_at(self.position + n as u64),
                Some((_, true)) => {}
                None if chunk == self.buffer_size => {
                    self.offer_at(self.position + self.buffer_size as u64);
                }
                None => {}
            }
            if carry.len() > self.head_room {
                // A block larger than the head room: gathered in `carry`, and parsed there once
                // whole, as long as it is not over the largest block accepted.
                let (end, eof) = match copied.take() {
                    Some((n, eof)) => self.take_copied(&batch.bytes, n, eof),
                    None => self.fill(&mut batch.bytes, self.head_room, usize::MAX)?,
                };
                carry.extend_from_slice(&batch.bytes[self.head_room..end]);
                self.spares.push(batch);
                self.parse_carried(&mut carry, eof)?;
                if eof {
                    break;
                }
                continue;
            }
            // In place: the cut block before the buffer's data.
            let mut parsed = self.head_room - carry.len();
            batch.bytes[parsed..self.head_room].copy_from_slice(&carry);
            carry.clear();
            let mut end = self.head_room;
            let eof = loop {
                let (filled, eof) = match copied.take() {
                    Some((n, eof)) => self.take_copied(&batch.bytes, n, eof),
                    None => self.fill(&mut batch.bytes, end, chunk)?,
                };
                end = filled;
                parsed += self.parse(&mut batch, parsed..end, eof)?;
                if eof || self.parser.is_finished() {
                    break eof;
                }
                if self.read_in_part(&mut batch, parsed..end) {
                    // Its first bytes stay where they are, the frame's span; reading goes on
                    // after the record (unless it was the last one asked for, `-c`).
                    parsed = end;
                    chunk = READ_AFTER_PART;
                    jumped = true;
                    if self.parser.is_finished() {
                        break false;
                    }
                } else {
                    chunk = chunk.saturating_mul(4).min(self.buffer_size);
                }
                if end == batch.bytes.len() {
                    break false;
                }
            };
            carry.extend_from_slice(&batch.bytes[parsed..end]);
            self.full.send(batch).map_err(|_| Halt::HungUp)?;
            if eof {
                break;
            }
        }
        Ok(())
    }

    /// When reading records in part and the block `batch.bytes[cut]` (cut by the end of the
    /// bytes read) is a record to read in part, takes it as read ([`Item::ReadInPart`]) and
    /// moves reading past it: true then.
    fn read_in_part(&mut self, batch: &mut Batch, cut: std::ops::Range<usize>) -> bool {
        let Some(in_part) = self.in_part else {
            return false;
        };
        let Batch { bytes, items } = batch;
        let base = &bytes[..];
        let record_at = self.offset;
        let frames = &mut self.frames;
        let input = self.input;
        let mut taken = None;
        let part = self.parser.skip_cut_record(
            &base[cut],
            in_part.prefix,
            in_part.min_captured,
            self.len.saturating_sub(record_at),
            &mut |at, tail| input.read_exact_at(tail, record_at + at).is_ok(),
            &mut |event| {
                if let capture::CaptureEvent::Frame(frame) = event {
                    taken = super::batch::FrameSpan::of(&frame, base);
                }
            },
        );
        let Some(part) = part else {
            return false;
        };
        if let Some(frame) = taken {
            *frames += 1;
            if *frames % PROGRESS_EVERY == 0 {
                items.push(Item::Progress { offset: record_at });
            }
            items.push(Item::ReadInPart {
                frame,
                captured: part.captured as u32,
                rest_at: record_at + (part.data_at + frame.len()) as u64,
            });
        }
        let length = part.length;
        self.offset = record_at + length;
        self.position = self.offset;
        true
    }

    /// Offers the calling thread to copy the file's bytes at `at` (the next buffer's).
    fn offer_at(&mut self, at: u64) {
        self.offer.store(at, Ordering::Release);
        self.offered = Some(at);
    }

    /// The buffer the calling thread filled with the bytes this thread offered, when it took
    /// the offer and they are the next to read, with the bytes copied and whether the file
    /// ended there; `None` when this thread reads them itself.
    fn copied(&mut self) -> Result<Option<(Batch, ReadBytes)>, Halt> {
        let Some(at) = self.offered.take() else {
            return Ok(None);
        };
        if self.offer.swap(NO_OFFER, Ordering::AcqRel) == at || at != self.position {
            // Not taken, or not needed: a buffer so filled comes back as an empty one.
            return Ok(None);
        }
        loop {
            let returned = self.returned()?;
            match returned.copied {
                Some(Copied {
                    at: copied_at,
                    read,
                }) if copied_at == at => {
                    return Ok(match read {
                        Some(read) => Some((returned.batch, read)),
                        None => {
                            self.keep(returned.batch);
                            None
                        }
                    });
                }
                _ => self.keep(returned.batch),
            }
        }
    }

    /// Keeps `batch` for later when it is a buffer (not a batch of gathered blocks).
    fn keep(&mut self, batch: Batch) {
        if batch.bytes.len() == self.head_room + self.buffer_size {
            self.spares.push(batch);
        }
    }

    /// Takes `n` bytes the calling thread copied after the head room of `bytes` as read: the
    /// end of the data, and whether the file ended (as [`Reader::fill`] gives them).
    fn take_copied(&mut self, bytes: &[u8], n: usize, eof: bool) -> (usize, bool) {
        let end = self.head_room + n;
        self.position += n as u64;
        if let Some(h) = &mut self.hasher {
            h.update(&bytes[self.head_room..end]);
        }
        (end, eof)
    }

    /// A buffer the consumer gave back, waiting for it if need be; after a wait this thread
    /// decodes the next buffer itself, when balanced (the consumer was behind, or busy copying
    /// for this thread).
    fn returned(&mut self) -> Result<Returned, Halt> {
        match self.empty.try_recv() {
            Ok(returned) => {
                self.decode_now = false;
                Ok(returned)
            }
            Err(_) => {
                self.decode_now = self.decoding == Decoding::Balanced;
                receive(&self.empty, self.poll_for).map_err(|_| Halt::HungUp)
            }
        }
    }

    /// An empty buffer: a spare, a new one while fewer than [`BUFFERS`] exist, else one the
    /// consumer gave back.
    fn next_batch(&mut self) -> Result<Batch, Halt> {
        if let Some(batch) = self.spares.pop() {
            return Ok(batch);
        }
        let size = self.head_room + self.buffer_size;
        loop {
            let batch = match self.empty.try_recv() {
                Ok(Returned { batch, .. }) => {
                    self.decode_now = false;
                    batch
                }
                Err(_) if self.made < BUFFERS => {
                    self.made += 1;
                    Batch {
                        bytes: vec![0u8; size],
                        items: Vec::new(),
                    }
                }
                Err(_) => {
                    self.decode_now = self.decoding == Decoding::Balanced;
                    receive(&self.empty, self.poll_for)
                        .map_err(|_| Halt::HungUp)?
                        .batch
                }
            };
            // A batch of gathered blocks (see `parse_carried`) is not a buffer.
            if batch.bytes.len() == size {
                return Ok(batch);
            }
        }
    }

    /// Reads into `bytes` from `from` on, `chunk` bytes at most, to its end at most: the end of
    /// the data, and whether the file ended.
    fn fill(
        &mut self,
        bytes: &mut [u8],
        from: usize,
        chunk: usize,
    ) -> Result<(usize, bool), CaptureError> {
        let to = from.saturating_add(chunk).min(bytes.len());
        let (n, eof) = read_at_most(self.input, &mut bytes[from..to], self.position)
            .map_err(CaptureError::Io)?;
        self.position += n as u64;
        let end = from + n;
        if let Some(h) = &mut self.hasher {
            h.update(&bytes[from..end]);
        }
        Ok((end, eof))
    }

    /// Parses the complete blocks of `batch.bytes[range]` into `batch.items`: the bytes they
    /// took.
    fn parse(
        &mut self,
        batch: &mut Batch,
        range: std::ops::Range<usize>,
        last: bool,
    ) -> Result<usize, CaptureError> {
        let Batch { bytes, items } = batch;
        let base = &bytes[..];
        let data = &base[range];
        let start = self.offset;
        let first = data.as_ptr() as usize;
        let decode = self.decode && self.decode_now;
        let frames = &mut self.frames;
        let consumed = self.parser.feed(data, last, &mut |event| {
            push_item(items, event, base, decode, frames, |at| {
                start + (at as usize).saturating_sub(first) as u64
            });
        })?;
        self.offset += consumed as u64;
        Ok(consumed)
    }

    /// Parses the blocks gathered in `carry` (one larger than the head room first) and sends
    /// their events with a copy of their bytes; what is left stays in `carry`.
    fn parse_carried(&mut self, carry: &mut Vec<u8>, eof: bool) -> Result<(), Halt> {
        loop {
            let n = carry.len().min(capture::MAX_BLOCK_BYTES);
            let last = eof && n == carry.len();
            let mut batch = Batch {
                bytes: std::mem::take(carry),
                items: Vec::new(),
            };
            let parsed = self.parse(&mut batch, 0..n, last);
            *carry = std::mem::take(&mut batch.bytes);
            let consumed = parsed?;
            if !batch.items.is_empty() {
                // The events point into the gathered bytes, which stay here for the blocks
                // after them: they travel with a copy.
                batch.bytes = carry[..consumed].to_vec();
                self.full.send(batch).map_err(|_| Halt::HungUp)?;
            }
            carry.drain(..consumed);
            if self.parser.is_finished() {
                return Ok(());
            }
            if consumed == 0 {
                if carry.len() >= capture::MAX_BLOCK_BYTES {
                    self.parser.oversized_block();
                }
                return Ok(());
            }
        }
    }

    /// After the parser stopped early, hashes the rest of the file for the digest.
    fn finish_digest(&mut self) {
        if let Some(h) = &mut self.hasher {
            let mut sink = super::files::HashWriter(h);
            let mut input = self.input;
            if input.seek(SeekFrom::Start(self.position)).is_ok() {
                let _ = io::copy(&mut input, &mut sink);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message sent while the receiver polls, one sent after it went to sleep, and a hang-up
    /// all reach it.
    #[test]
    fn receive_polls_then_sleeps_until_the_message_or_hang_up() {
        let (tx, rx) = mpsc::channel::<u32>();
        tx.send(1).unwrap();
        assert_eq!(receive(&rx, POLL_FOR), Ok(1));
        std::thread::scope(|scope| {
            scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                tx.send(2).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            });
            // Polls 1 ms, then sleeps until the message comes.
            assert_eq!(receive(&rx, Duration::from_millis(1)), Ok(2));
            // Then the sender hangs up.
            assert_eq!(receive(&rx, Duration::from_millis(1)), Err(mpsc::RecvError));
        });
        let (tx, rx) = mpsc::channel::<u32>();
        drop(tx);
        assert_eq!(receive(&rx, Duration::ZERO), Err(mpsc::RecvError));
    }

    /// An offer is taken once: its bytes copied after the head room, the end of the file told;
    /// a batch that is not a buffer leaves the offer alone.
    #[test]
    fn an_offer_is_copied_once_after_the_head_room() {
        let path = std::env::temp_dir().join(format!("alpnscope-offer-{}", std::process::id()));
        let content: Vec<u8> = (0..100u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = File::open(&path).unwrap();
        let buffer = |len: usize| Batch {
            bytes: vec![0xee; len],
            items: Vec::new(),
        };
        let offer = AtomicU64::new(NO_OFFER);
        let (head_room, buffer_len) = (4, 4 + 32);
        let mut batch = buffer(buffer_len);
        assert!(copy_offered(&file, &offer, &mut batch, head_room, buffer_len).is_none());
        offer.store(10, Ordering::Release);
        let mut gathered = buffer(8);
        assert!(copy_offered(&file, &offer, &mut gathered, head_room, buffer_len).is_none());
        let copied = copy_offered(&file, &offer, &mut batch, head_room, buffer_len).unwrap();
        assert_eq!((copied.at, copied.read), (10, Some((32, false))));
        assert_eq!(&batch.bytes[..head_room], &[0xee; 4]);
        assert_eq!(&batch.bytes[head_room..], &content[10..42]);
        assert_eq!(offer.load(Ordering::Acquire), NO_OFFER);
        assert!(copy_offered(&file, &offer, &mut batch, head_room, buffer_len).is_none());
        // The last 20 bytes, and the end of the file.
        offer.store(80, Ordering::Release);
        let copied = copy_offered(&file, &offer, &mut batch, head_room, buffer_len).unwrap();
        assert_eq!(copied.read, Some((20, true)));
        assert_eq!(&batch.bytes[head_room..head_room + 20], &content[80..]);
        std::fs::remove_file(&path).unwrap();
    }
}

//! `--merge`: several captures of one session (rotated `tcpdump -C`/`-G` files, or the two
//! sides of a path) read as one capture, so a flow that spans two files is one flow.
//!
//! Each file is read on its own thread into batches of frames; the merge takes the earliest
//! frame of all the files' next ones and hands it to the flow table, numbered in merged order.
//! Order and numbers are those of `mergecap -w merged.pcapng FILE…` (Wireshark's merge): the
//! earliest timestamp first, and of equal timestamps the one of the file given last; frames
//! keep their order within a file even when their timestamps go back. The frame numbers of
//! the report are then those Wireshark shows for the merged file.

use super::files::{AnalyzeError, EventConsumer, Progress, ReadOutcome, Reading};
mod duplicates;

use duplicates::Duplicates;
use duplicates::WINDOW_NS;

use crate::capture::filter::{Filter, FilterCounts, FilterError, FrameFilter};
use crate::capture::{
    CaptureCounters, CaptureError, CaptureEvent, CaptureFormat, CaptureSummary, CaptureWarning,
    Frame, LinkType, Timestamp,
};
use crate::report::model::MergedFile;
use crate::report::words::plural;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// Files merged at most: each is read on its own thread, with [`BATCHES_IN_FLIGHT`] batches of
/// up to [`BATCH_BYTES`] in flight (about 200 MiB for the largest merge).
pub const MAX_MERGED_FILES: usize = 256;

/// Packet bytes in a batch before it is handed over (a single larger frame makes a larger one).
const BATCH_BYTES: usize = 256 << 10;

/// Events in a batch at most.
const BATCH_EVENTS: usize = 4096;

/// Batches a reader may have handed over that the merge has not taken yet.
const BATCHES_IN_FLIGHT: usize = 2;

/// Merged frames between two progress reports.
const PROGRESS_EVERY: u64 = 65_536;

/// One event of a batch; its bytes are `bytes[start..end]` of the batch.
#[derive(Debug, Clone, Copy)]
enum Item {
    Frame {
        timestamp: Timestamp,
        link_type: LinkType,
        original_len: u32,
        start: usize,
        end: usize,
    },
    Secrets {
        secrets_type: u32,
        start: usize,
        end: usize,
    },
}

/// Events of one file, in file order, with their bytes copied out of the reader's buffer.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    items: Vec<Item>,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }

    fn is_full(&self) -> bool {
        self.bytes.len() >= BATCH_BYTES || self.items.len() >= BATCH_EVENTS
    }

    fn push(&mut self, event: &CaptureEvent<'_>) {
        let start = self.bytes.len();
        match event {
            CaptureEvent::Frame(frame) => {
                self.bytes.extend_from_slice(frame.data);
                self.items.push(Item::Frame {
                    timestamp: frame.timestamp,
                    link_type: frame.link_type,
                    original_len: frame.original_len,
                    start,
                    end: self.bytes.len(),
                });
            }
            // The merge's readers read without a filter: the merge filters.
            CaptureEvent::Dropped(_) => {}
            CaptureEvent::Secrets { secrets_type, data } => {
                self.bytes.extend_from_slice(data);
                self.items.push(Item::Secrets {
                    secrets_type: *secrets_type,
                    start,
                    end: self.bytes.len(),
                });
            }
        }
    }
}

/// A reader thread's consumer: fills batches and hands them to the merge; stops reading once
/// the merge needs no more (it hung up).
struct BatchSender {
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
    batch: Batch,
    hung_up: bool,
}

impl BatchSender {
    fn send(&mut self) {
        if self.batch.items.is_empty() || self.hung_up {
            return;
        }
        let mut next = self.empty.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.batch, next);
        if self.full.send(full).is_err() {
            self.hung_up = true;
        }
    }
}

impl EventConsumer for BatchSender {
    fn event(&mut self, event: CaptureEvent<'_>) {
        if self.hung_up {
            return;
        }
        self.batch.push(&event);
        if self.batch.is_full() {
            self.send();
        }
    }

    fn stopped(&self) -> bool {
        self.hung_up
    }

    fn flows(&self) -> usize {
        0
    }
}

/// One file as the merge sees it: the batch it is taking frames from, and how far it got.
struct Source {
    batches: Receiver<Batch>,
    recycle: Sender<Batch>,
    batch: Batch,
    next: usize,
    /// Frames of this file handed to the flow table.
    frames: u64,
    /// Merged number of the last of them.
    last_merged: u64,
    /// Of those, copies of a packet another file had already given (not analysed).
    copies: u64,
}

impl Source {
    /// The timestamp of the file's next frame, handing the secrets blocks before it to
    /// `on_secrets` at once (key logs apply to every file); `None` at the file's end.
    fn peek(&mut self, on_secrets: &mut dyn FnMut(u32, &[u8])) -> Option<Timestamp> {
        loop {
            match self.batch.items.get(self.next) {
                Some(Item::Frame { timestamp, .. }) => return Some(*timestamp),
                Some(Item::Secrets {
                    secrets_type,
                    start,
                    end,
                }) => {
                    if let Some(data) = self.batch.bytes.get(*start..*end) {
                        on_secrets(*secrets_type, data);
                    }
                    self.next += 1;
                }
                None => {
                    let next = self.batches.recv().ok()?;
                    let used = std::mem::replace(&mut self.batch, next);
                    let _ = self.recycle.send(used);
                    self.next = 0;
                }
            }
        }
    }

    /// The frame `peek` found, numbered `number`.
    fn frame(&self, number: u64) -> Option<Frame<'_>> {
        match self.batch.items.get(self.next)? {
            Item::Frame {
                timestamp,
                link_type,
                original_len,
                start,
                end,
            } => Some(Frame {
                number,
                timestamp: *timestamp,
                link_type: *link_type,
                data: self.batch.bytes.get(*start..*end)?,
                original_len: *original_len,
            }),
            Item::Secrets { .. } => None,
        }
    }
}

/// What a merged read hands back to the driver: the merged capture's summary, the files it
/// merged, and the files that could not be read at all.
pub(super) struct Merged {
    /// The merged capture, as one capture.
    pub summary: CaptureSummary,
    /// Warnings of the files, each prefixed with its path and its frame numbers mapped to the
    /// merged capture's.
    pub warnings: Vec<String>,
    /// The files merged, in command-line order.
    pub files: Vec<MergedFile>,
    /// Files that could not be opened or are no capture (nothing of them was merged).
    pub skipped: Vec<AnalyzeError>,
}

/// The flow table's side of the merge.
pub(super) struct MergeTarget<'a> {
    /// Takes the merged frames (and every file's secrets blocks).
    pub consumer: &'a mut dyn EventConsumer,
    /// Told how far the merge got (capture 0, bytes over all files).
    pub progress: &'a mut dyn FnMut(Progress),
}

/// Reads `paths` as one capture (`-` is stdin), handing the frames in merged order to the
/// target; `limit` counts merged frames (`-c`). An error that ends a file midway is returned
/// after every reader stopped.
pub(super) fn read_merged(
    paths: &[String],
    digest: bool,
    limit: Option<u64>,
    filter: Option<&Filter>,
    target: MergeTarget<'_>,
) -> Result<Merged, AnalyzeError> {
    let bytes_read: Vec<AtomicU64> = paths.iter().map(|_| AtomicU64::new(0)).collect();
    let sizes: Vec<Option<u64>> = paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .collect();
    std::thread::scope(|scope| {
        let mut sources = Vec::with_capacity(paths.len());
        let mut readers = Vec::with_capacity(paths.len());
        for (index, path) in paths.iter().enumerate() {
            let (full, batches) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
            let (recycle, empty) = mpsc::channel();
            let read_so_far = &bytes_read[index];
            readers.push(scope.spawn(move || {
                let mut sender = BatchSender {
                    full,
                    empty,
                    batch: Batch::default(),
                    hung_up: false,
                };
                let outcome = read_one(path, index, digest, &mut sender, read_so_far);
                sender.send();
                outcome
            }));
            sources.push(Source {
                batches,
                recycle,
                batch: Batch::default(),
                next: 0,
                frames: 0,
                last_merged: 0,
                copies: 0,
            });
        }
        let total = sizes.iter().try_fold(0u64, |sum, s| s.map(|s| sum + s));
        let tally = merge(
            &mut sources,
            limit,
            filter.map(Filter::matcher),
            target,
            &bytes_read,
            total,
        );
        // Readers still going stop at their next hand-over.
        let mapped: Vec<Given> = sources
            .iter()
            .map(|s| Given {
                frames: s.frames,
                last_merged: s.last_merged,
                copies: s.copies,
            })
            .collect();
        drop(sources);
        let outcomes: Vec<Result<ReadOutcome, AnalyzeError>> = readers
            .into_iter()
            .map(|reader| {
                reader.join().unwrap_or_else(|_| {
                    Err(AnalyzeError::Capture {
                        path: String::new(),
                        source: CaptureError::Io(std::io::Error::other("a reader thread failed")),
                    })
                })
            })
            .collect();
        conclude(paths, outcomes, &mapped, tally)
    })
}

/// What one file gave the merge.
#[derive(Debug, Clone, Copy)]
struct Given {
    frames: u64,
    last_merged: u64,
    copies: u64,
}

/// Reads one file into batches, counting the bytes read for progress reports.
fn read_one(
    path: &str,
    index: usize,
    digest: bool,
    sender: &mut BatchSender,
    read_so_far: &AtomicU64,
) -> Result<ReadOutcome, AnalyzeError> {
    let mut progress = |p: Progress| read_so_far.store(p.bytes, Ordering::Relaxed);
    let reading = Reading {
        index,
        limit: None,
        filter: None,
        digest,
        threads: super::files::Threads::Auto,
        read_in_part: Default::default(),
        consumer: sender,
        progress: &mut progress,
    };
    super::files::read_path(path, reading)
}

/// What the merge itself counted.
#[derive(Debug, Default)]
struct MergeTally {
    /// Frames taken from the files (the last one's merged number).
    frames: u64,
    /// Of those, frames the capture filter passed (all without one).
    passed: u64,
    /// What the capture filter passed and dropped.
    filter: Option<FilterCounts>,
    /// The filter could not be compiled for a frame's link type (in the file of that index).
    filter_error: Option<(usize, FilterError)>,
    bytes: u64,
    first_time: Option<Timestamp>,
    last_time: Option<Timestamp>,
    link_types: Vec<LinkType>,
    count_reached: bool,
}

/// Hands the frames of every source to the target, earliest first.
fn merge(
    sources: &mut [Source],
    limit: Option<u64>,
    mut filter: Option<FrameFilter>,
    target: MergeTarget<'_>,
    bytes_read: &[AtomicU64],
    total: Option<u64>,
) -> MergeTally {
    let MergeTarget { consumer, progress } = target;
    let mut tally = MergeTally::default();
    let mut duplicates = Duplicates::default();
    // Earliest timestamp first; of equal ones, the file given last (as mergecap).
    let mut heads: BinaryHeap<Reverse<(Timestamp, Reverse<usize>)>> = BinaryHeap::new();
    for (index, source) in sources.iter_mut().enumerate() {
        if let Some(at) = source.peek(&mut |kind, data| secrets(consumer, kind, data)) {
            heads.push(Reverse((at, Reverse(index))));
        }
    }
    while let Some(Reverse((at, Reverse(index)))) = heads.pop() {
        if limit.is_some_and(|limit| tally.passed >= limit) {
            tally.count_reached = true;
            break;
        }
        let Some(source) = sources.get_mut(index) else {
            break;
        };
        let number = tally.frames + 1;
        let mut copy = false;
        if let Some(frame) = source.frame(number) {
            tally.frames = number;
            tally.bytes += frame.data.len() as u64;
            tally.first_time = Some(tally.first_time.map_or(at, |t| t.min(at)));
            tally.last_time = Some(tally.last_time.map_or(at, |t| t.max(at)));
            if !tally.link_types.contains(&frame.link_type) {
                tally.link_types.push(frame.link_type);
            }
            // The filter after the numbering: a frame it drops keeps its number.
            let passes = match filter.as_mut() {
                None => true,
                Some(f) => match f.matches(frame.link_type, frame.data, frame.original_len) {
                    Ok(passes) => passes,
                    Err(e) => {
                        tally.filter_error = Some((index, e));
                        break;
                    }
                },
            };
            if !passes {
                consumer.event(CaptureEvent::Dropped(frame));
            } else {
                tally.passed += 1;
                if duplicates.is_copy(index, &frame) {
                    consumer.copy(&frame);
                    copy = true;
                } else {
                    consumer.event(CaptureEvent::Frame(frame));
                }
            }
            source.frames += 1;
            source.last_merged = number;
        }
        source.copies += u64::from(copy);
        source.next += 1;
        if consumer.stopped() {
            break;
        }
        if number % PROGRESS_EVERY == 0 {
            progress(Progress {
                capture: 0,
                bytes: bytes_read.iter().map(|b| b.load(Ordering::Relaxed)).sum(),
                total,
                flows: consumer.flows(),
            });
        }
        if let Some(at) = source.peek(&mut |kind, data| secrets(consumer, kind, data)) {
            heads.push(Reverse((at, Reverse(index))));
        }
    }
    tally.filter = filter.map(|f| f.counts().clone());
    tally
}

/// Hands a secrets block to the consumer.
fn secrets(consumer: &mut dyn EventConsumer, secrets_type: u32, data: &[u8]) {
    consumer.event(CaptureEvent::Secrets { secrets_type, data });
}

/// The merged capture's summary and files from the readers' outcomes.
fn conclude(
    paths: &[String],
    outcomes: Vec<Result<ReadOutcome, AnalyzeError>>,
    given: &[Given],
    tally: MergeTally,
) -> Result<Merged, AnalyzeError> {
    let mut merged = Merged {
        summary: CaptureSummary {
            format: CaptureFormat::Pcapng,
            link_types: tally.link_types,
            snaplen: 0,
            packets: tally.frames,
            bytes: tally.bytes,
            first_time: tally.first_time,
            last_time: tally.last_time,
            warnings: Vec::new(),
            statistics: None,
            filter: None,
        },
        warnings: Vec::new(),
        files: Vec::new(),
        skipped: Vec::new(),
    };
    if let Some((index, e)) = tally.filter_error {
        return Err(AnalyzeError::Capture {
            path: paths.get(index).cloned().unwrap_or_default(),
            source: CaptureError::Filter(e),
        });
    }
    merged.summary.filter = tally.filter;
    let mut formats = Vec::new();
    let mut statistics: Option<CaptureCounters> = None;
    for ((path, outcome), given) in paths.iter().zip(outcomes).zip(given) {
        let (summary, size, sha256, compression) = match outcome {
            Ok(read) => read,
            Err(e) => {
                merged.skipped.push(e);
                continue;
            }
        };
        let summary = match summary {
            Ok(summary) => summary,
            Err(
                source @ (CaptureError::Empty
                | CaptureError::NotACapture
                | CaptureError::Compressed(_)
                | CaptureError::TruncatedHeader { .. }),
            ) => {
                merged.skipped.push(AnalyzeError::Capture {
                    path: path.clone(),
                    source,
                });
                continue;
            }
            Err(source) => {
                return Err(AnalyzeError::Capture {
                    path: path.clone(),
                    source,
                });
            }
        };
        formats.push(summary.format);

        merged.summary.snaplen = merged.summary.snaplen.max(summary.snaplen);
        if let Some(counters) = &summary.statistics {
            statistics
                .get_or_insert_with(CaptureCounters::default)
                .add(counters);
        }
        let complete = summary.complete() || tally.count_reached;
        for warning in &summary.warnings {
            let warning = in_merged_numbers(warning, given.frames, given.last_merged);
            merged.warnings.push(format!("{path}: {warning}"));
        }
        if given.copies > 0 {
            merged.warnings.push(format!(
                "{path}: {} repeat packets another file captured first (the same IP packet \
                 but for TTL or hop limit, within {} s: one packet captured at two points of \
                 its path); each packet was analysed once",
                plural(given.copies, "frame"),
                WINDOW_NS / 1_000_000_000
            ));
        }
        merged.files.push(MergedFile {
            path: path.clone(),
            format: summary.format.name().to_string(),
            compression: compression.map(|c| c.name().to_string()),
            size,
            sha256,
            packets: summary.packets,
            merged_packets: given.frames,
            copies: given.copies,
            first_time: summary.first_time.map(|t| t.rfc3339_micros()),
            last_time: summary.last_time.map(|t| t.rfc3339_micros()),
            complete,
        });
    }
    // One format when all the files share it; mergecap writes pcapng otherwise.
    if let Some(&first) = formats.first()
        && formats.iter().all(|&f| f == first)
    {
        merged.summary.format = first;
    }
    merged.summary.statistics = statistics;
    if tally.count_reached {
        merged.summary.warnings.push(CaptureWarning::CountReached {
            packets: tally.frames,
        });
    }
    Ok(merged)
}

/// What the report calls a merged capture: its files joined with ` + `, or the first and the
/// last with how many are between ("a.pcap + 148 more + z.pcap").
pub(super) fn merged_name(files: &[MergedFile]) -> String {
    match files {
        [first, middle @ .., last] if middle.len() > 1 => {
            format!("{} + {} more + {}", first.path, middle.len(), last.path)
        }
        _ => files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
    }
}

/// A file's warning with its frame number in the merged capture's numbers: the last frame the
/// file gave (`frames` of them, the last merged as `last_merged`) is the one a cut or corrupt
/// block follows.
fn in_merged_numbers(warning: &CaptureWarning, frames: u64, last_merged: u64) -> CaptureWarning {
    let map = |frame: u64| if frame == frames { last_merged } else { frame };
    match warning {
        CaptureWarning::Truncated { last_good_frame } => CaptureWarning::Truncated {
            last_good_frame: map(*last_good_frame),
        },
        CaptureWarning::Corrupt {
            last_good_frame,
            reason,
        } => CaptureWarning::Corrupt {
            last_good_frame: map(*last_good_frame),
            reason: reason.clone(),
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_name_the_merged_frame_after_which_the_file_ends() {
        let cut = CaptureWarning::Truncated { last_good_frame: 7 };
        assert_eq!(
            in_merged_numbers(&cut, 7, 19),
            CaptureWarning::Truncated {
                last_good_frame: 19
            }
        );
        // A file cut before its first frame: nothing to map.
        let empty = CaptureWarning::Truncated { last_good_frame: 0 };
        assert_eq!(in_merged_numbers(&empty, 0, 0), empty);
    }

    #[test]
    fn a_batch_keeps_the_bytes_of_each_event() {
        let mut batch = Batch::default();
        let frame = Frame {
            number: 1,
            timestamp: Timestamp(5),
            link_type: LinkType(1),
            data: &[1, 2, 3],
            original_len: 10,
        };
        batch.push(&CaptureEvent::Frame(frame));
        batch.push(&CaptureEvent::Secrets {
            secrets_type: 9,
            data: &[4, 5],
        });
        let source = Source {
            batches: mpsc::sync_channel(1).1,
            recycle: mpsc::channel().0,
            batch,
            next: 0,
            frames: 0,
            last_merged: 0,
            copies: 0,
        };
        let again = source.frame(42).unwrap();
        assert_eq!(
            (again.number, again.data, again.original_len),
            (42, &[1u8, 2, 3][..], 10)
        );
        assert!(matches!(
            source.batch.items[1],
            Item::Secrets {
                secrets_type: 9,
                start: 3,
                end: 5
            }
        ));
    }
}

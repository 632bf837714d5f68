//! No allocation per packet on the hot path: once a flow is past its handshake, its packets are
//! counted and checked without the heap; what allocates is something new (a first FIN, a first
//! retransmission, a flow's report). A counting allocator watches the flow table take ten
//! thousand more segments of a real connection.

use alpnscope::capture::{self, CaptureEvent, Frame, LinkType, Timestamp};
use alpnscope::pipeline::{Analyzer, AnalyzerOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations per thread (tests run on several threads).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Allocations of this thread so far.
fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn count() {
    // A thread being torn down has no counter any more: not counted.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as the caller guarantees for `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller guarantees for `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as the caller guarantees for `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A captured frame, owned.
struct Owned {
    timestamp: Timestamp,
    link_type: LinkType,
    data: Vec<u8>,
}

/// The frames of a fixture.
fn frames(fixture: &str) -> Vec<Owned> {
    let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).unwrap();
    let mut frames = Vec::new();
    capture::read_capture_slice(&bytes, |event| {
        if let CaptureEvent::Frame(f) = event {
            frames.push(Owned {
                timestamp: f.timestamp,
                link_type: f.link_type,
                data: f.data.to_vec(),
            });
        }
    })
    .unwrap();
    frames
}

/// Where the TCP header of an Ethernet/IPv4 frame starts, and its payload length.
fn tcp_at(data: &[u8]) -> (usize, usize) {
    let ip = 14;
    let ihl = usize::from(data[ip] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([data[ip + 2], data[ip + 3]]));
    let tcp = ip + ihl;
    let offset = usize::from(data[tcp + 12] >> 4) * 4;
    (tcp, total - ihl - offset)
}

#[test]
fn segments_past_the_handshake_allocate_nothing() {
    let real = frames("tls12-h2-agreed.pcap");
    // Frame 29: the second connection's server sends its HTTP/2 response (179 bytes of TLS
    // application data, tshark), after both Finished messages.
    let template = &real[28];
    let (tcp, payload) = tcp_at(&template.data);
    assert_eq!(payload, 179);
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    // The capture up to frame 29.
    for (i, f) in real.iter().take(29).enumerate() {
        analyzer.frame(&Frame {
            number: i as u64 + 1,
            timestamp: f.timestamp,
            link_type: f.link_type,
            data: &f.data,
            original_len: f.data.len() as u32,
        });
    }
    // Then 10,000 more segments of the same direction, each after the last.
    let mut data = template.data.clone();
    let mut seq = u32::from_be_bytes(data[tcp + 4..tcp + 8].try_into().unwrap());
    let before = allocations();
    for n in 0..10_000u64 {
        seq = seq.wrapping_add(payload as u32);
        data[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
        analyzer.frame(&Frame {
            number: 30 + n,
            timestamp: Timestamp(template.timestamp.0 + (n as i64 + 1) * 1_000),
            link_type: template.link_type,
            data: &data,
            original_len: data.len() as u32,
        });
    }
    let allocations = allocations() - before;
    assert!(
        allocations == 0,
        "{allocations} allocations for 10,000 segments"
    );
}

#[test]
fn quic_datagrams_past_the_handshake_allocate_nothing() {
    let real = frames("quic-h3-agreed.pcap");
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, f) in real.iter().enumerate() {
        analyzer.frame(&Frame {
            number: i as u64 + 1,
            timestamp: f.timestamp,
            link_type: f.link_type,
            data: &f.data,
            original_len: f.data.len() as u32,
        });
    }
    // Frame 4 (tshark): a 1-RTT datagram of the server (short header). Then 10,000 more of
    // each side's, alternating.
    let (server, client) = (&real[3], &real[4]);
    let before = allocations();
    for n in 0..10_000u64 {
        let f = if n % 2 == 0 { server } else { client };
        analyzer.frame(&Frame {
            number: 9 + n,
            timestamp: Timestamp(real[7].timestamp.0 + (n as i64 + 1) * 1_000),
            link_type: f.link_type,
            data: &f.data,
            original_len: f.data.len() as u32,
        });
    }
    let allocations = allocations() - before;
    assert!(
        allocations == 0,
        "{allocations} allocations for 10,000 datagrams"
    );
}

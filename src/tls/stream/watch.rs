//! The search for a TLS hello in a plaintext start alpnscope does not know (a protocol that
//! upgrades to TLS its own way: ADB's `STLS` messages, NoMachine, Gnutella), or in a known
//! plaintext exchange that gave up: where the first hello record begins depends only on the
//! bytes, never on how they were cut into chunks.

/// Most bytes of a plaintext start searched for a hello record.
pub const MAX_WATCHED_BYTES: usize = 16 * 1024;

/// A hello record header and the start of its message: content type 22, version 3.x (x ≤ 4), the
/// record length, message type 1 or 2, a 3-byte message length, and the hello's own version 3.x.
const HELLO_SIGNATURE_LEN: usize = 11;

/// True when `b` starts with a handshake record whose first message is a ClientHello or
/// ServerHello: eleven bytes that other protocols do not produce by chance.
fn starts_hello_record(b: &[u8]) -> bool {
    let Some(h) = b.get(..HELLO_SIGNATURE_LEN) else {
        return false;
    };
    let record_len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    let message_len = usize::from(h[6]) << 16 | usize::from(h[7]) << 8 | usize::from(h[8]);
    h[0] == 22
        && h[1] == 3
        && h[2] <= 4
        && matches!(h[5], 1 | 2)
        && (HELLO_SIGNATURE_LEN - 5..=18_432).contains(&record_len)
        && message_len >= 2
        && h[9] == 3
        && h[10] <= 4
}

/// The bytes from the first hello record on, with the frames that carried them.
#[derive(Debug, Default)]
pub struct Found {
    /// The bytes, at most [`MAX_WATCHED_BYTES`].
    pub bytes: Vec<u8>,
    /// Runs of `bytes` by frame: (frame, length).
    pub runs: Vec<(u64, usize)>,
}

impl Found {
    fn push(&mut self, frame: u64, bytes: &[u8]) {
        let room = MAX_WATCHED_BYTES.saturating_sub(self.bytes.len());
        let bytes = &bytes[..bytes.len().min(room)];
        if bytes.is_empty() {
            return;
        }
        self.bytes.extend_from_slice(bytes);
        match self.runs.last_mut() {
            Some((f, len)) if *f == frame => *len += bytes.len(),
            _ => self.runs.push((frame, bytes.len())),
        }
    }

    /// The frame of the hello record's first byte.
    pub fn frame(&self) -> u64 {
        self.runs.first().map_or(0, |r| r.0)
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.bytes.capacity() + self.runs.capacity() * std::mem::size_of::<(u64, usize)>()
    }
}

/// The search over one direction's plaintext start.
#[derive(Debug, Default)]
pub struct Watch {
    /// Bytes searched so far.
    searched: usize,
    /// The last bytes searched (a hello record may begin in them), with their frames.
    tail: Found,
    /// The bytes from the first hello record on, once one began.
    found: Option<Found>,
}

impl Watch {
    /// Searches the next bytes of the direction.
    pub fn push(&mut self, frame: u64, bytes: &[u8]) {
        if let Some(found) = &mut self.found {
            found.push(frame, bytes);
            return;
        }
        // A record beginning in the kept tail (its signature completed by this chunk), then
        // one beginning in the chunk; only starts within the first MAX_WATCHED_BYTES count.
        let tail_start = self.searched - self.tail.bytes.len();
        let mut joined = self.tail.bytes.clone();
        joined.extend_from_slice(&bytes[..bytes.len().min(HELLO_SIGNATURE_LEN)]);
        let kept = self.tail.bytes.len();
        let in_tail = (0..kept)
            .take_while(|i| tail_start + i < MAX_WATCHED_BYTES)
            .find(|&i| starts_hello_record(&joined[i..]));
        if let Some(i) = in_tail {
            let mut found = Found::default();
            let mut at = 0;
            for &(f, len) in &self.tail.runs {
                if at + len > i {
                    found.push(f, &self.tail.bytes[i.max(at)..at + len]);
                }
                at += len;
            }
            found.push(frame, bytes);
            self.found = Some(found);
            return;
        }
        let room = MAX_WATCHED_BYTES.saturating_sub(self.searched);
        let in_chunk = (0..bytes.len().min(room))
            .find(|&i| bytes[i] == 22 && starts_hello_record(&bytes[i..]));
        if let Some(i) = in_chunk {
            let mut found = Found::default();
            found.push(frame, &bytes[i..]);
            self.found = Some(found);
            return;
        }
        self.searched += bytes.len();
        // Keep the last bytes, with their frames, for a record that begins in them.
        let mut tail = Found::default();
        let keep = (kept + bytes.len()).min(HELLO_SIGNATURE_LEN - 1);
        let from_old = keep.saturating_sub(bytes.len());
        let mut at = 0;
        for &(f, len) in &self.tail.runs {
            let start = kept - from_old;
            if at + len > start {
                tail.push(f, &self.tail.bytes[start.max(at)..at + len]);
            }
            at += len;
        }
        tail.push(frame, &bytes[bytes.len() - (keep - from_old)..]);
        self.tail = tail;
    }

    /// The bytes from the first hello record on, once one began.
    pub fn take_found(&mut self) -> Option<Found> {
        self.found.take()
    }

    /// True when a hello record began.
    pub fn found(&self) -> bool {
        self.found.is_some()
    }

    /// True once every start within the first [`MAX_WATCHED_BYTES`] was searched in vain.
    pub fn exhausted(&self) -> bool {
        self.found.is_none() && self.searched >= MAX_WATCHED_BYTES + HELLO_SIGNATURE_LEN
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.tail.held_bytes() + self.found.as_ref().map_or(0, Found::held_bytes)
    }
}

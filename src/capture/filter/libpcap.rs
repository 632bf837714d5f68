//! The libpcap engine (feature `live`): libpcap compiles the expression for a link type
//! (`pcap_compile` on a dead handle, optimised as tcpdump does) and `pcap_offline_filter` runs
//! the program on a frame with both its captured length and its length on the wire (the pcap
//! crate's `BpfProgram::filter` passes the captured length for both, which `greater`/`less`
//! would get wrong on frames cut by the snaplen).

use super::FilterError;
use crate::capture::LinkType;
use std::os::raw::{c_int, c_uint};

/// One BPF instruction, as `struct bpf_insn` in `<pcap/bpf.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *const BpfInsn,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

unsafe extern "C" {
    /// libpcap ≥ 0.9.1; linked through the pcap crate.
    fn pcap_offline_filter(prog: *const BpfProgram, h: *const PktHdr, pkt: *const u8) -> c_int;
}

/// A program libpcap compiled, held as plain instructions.
#[derive(Debug)]
pub struct Program {
    insns: Vec<BpfInsn>,
}

/// Compiles `expression` for `link_type` with libpcap.
pub fn compile(expression: &str, link_type: LinkType) -> Result<Program, FilterError> {
    let link_error = |reason: String| FilterError::Link { link_type, reason };
    // libpcap compiles for a DLT_ value; files carry LINKTYPE_ values, which are the same
    // numbers but for raw IP (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux; libpcap's
    // `linktype_to_dlt` maps it so when it reads a file).
    let dlt = match link_type.0 {
        101 => 12,
        other => other,
    };
    let id = i32::try_from(dlt).map_err(|_| link_error("no such link type".into()))?;
    let dead = pcap::Capture::dead(pcap::Linktype(id)).map_err(|e| link_error(e.to_string()))?;
    let compiled = match dead.compile(expression, true) {
        Ok(compiled) => compiled,
        Err(e) => {
            let reason = e.to_string();
            let reason = reason.strip_prefix("libpcap error: ").unwrap_or(&reason);
            // libpcap's optimiser found that nothing of this link type can pass (`arp` on raw
            // IP): tcpdump stops there, alpnscope passes no frame of the link type, as the
            // built-in filter does, so that one capture of a set does not end the run.
            if reason == "expression rejects all packets" {
                return Ok(Program { insns: Vec::new() });
            }
            return Err(link_error(reason.to_string()));
        }
    };
    // The crate shows an instruction as "code jt jf k" and keeps its fields private.
    let insns = compiled
        .get_instructions()
        .iter()
        .map(|insn| {
            let text = insn.to_string();
            let mut fields = text.split(' ').map(str::parse::<u64>);
            let mut field = || fields.next().and_then(Result::ok);
            match (field(), field(), field(), field()) {
                (Some(code), Some(jt), Some(jf), Some(k)) => Some(BpfInsn {
                    code: u16::try_from(code).ok()?,
                    jt: u8::try_from(jt).ok()?,
                    jf: u8::try_from(jf).ok()?,
                    k: u32::try_from(k).ok()?,
                }),
                _ => None,
            }
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| link_error("libpcap's program could not be read".into()))?;
    Ok(Program { insns })
}

impl Program {
    /// True when libpcap's offline filter passes the frame (never, for a program that
    /// rejects everything).
    pub fn matches(&self, data: &[u8], wire_len: u32) -> bool {
        if self.insns.is_empty() {
            return false;
        }
        let Ok(caplen) = u32::try_from(data.len()) else {
            return false;
        };
        let Ok(bf_len) = c_uint::try_from(self.insns.len()) else {
            return false;
        };
        let program = BpfProgram {
            bf_len,
            bf_insns: self.insns.as_ptr(),
        };
        let header = PktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen,
            len: wire_len,
        };
        // SAFETY: the three pointers are to live values of the C layouts declared above, for
        // the duration of the call; the program's `bf_len` instructions are those libpcap
        // compiled (it validated them), and `caplen` is the length of `data`, so the BPF
        // interpreter reads only within `data` (it checks every load against `caplen`).
        // libpcap keeps no pointer after returning.
        unsafe { pcap_offline_filter(&program, &header, data.as_ptr()) > 0 }
    }
}

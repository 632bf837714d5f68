//! An expression tree and a link type in, a tree of byte tests out (libpcap's `gencode.c` for
//! the built-in subset), and its evaluation on a frame's captured bytes as libpcap's BPF
//! interpreter runs the (optimised) generated code: offsets from the start of the frame, the
//! length tests on the length on the wire, and a frame cut inside the tested headers passing
//! only when the bytes present decide it, as [`Program::decide`] explains.
//!
//! What libpcap tests, per primitive: the EtherType (or the cooked header's protocol field, or
//! the IP version nibble on raw IP, the address family on loopback); IPv4 addresses at 12/16
//! (ARP and RARP sender/target at 14/24); IPv6 addresses at 8/24; IPv4 ports only in a first
//! fragment, behind the header length the packet gives; IPv6 ports only when the next header
//! right after the fixed header is the protocol; IPv6 protocols also behind one fragment
//! header. `vlan` tests the TPID (0x8100, 0x88a8, 0x9100) and moves every later test 4 bytes on.

use super::lexer::Rel;
use super::parser::{Base, Dir, Expr, Family, Primitive, Proto};
use crate::capture::LinkType;
use std::fmt;

/// Width of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Byte,
    Half,
    Word,
}

/// Where a value is loaded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// At a fixed offset from the start of the frame.
    Abs(u32, Size),
    /// Behind the IPv4 header that starts at `.0`: `4 * (byte[.0] & 0xf) + .0 + .1`.
    BehindIp(u32, u32, Size),
    /// The length on the wire.
    Len,
}

/// A comparison after masking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ge,
    Gt,
    /// Any bit of the value set (`jset`).
    Set,
}

/// One BPF test: a load, a mask and a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Test {
    load: Load,
    mask: u32,
    op: Op,
    value: u32,
}

/// A compiled filter for one link type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Always.
    True,
    /// Never.
    False,
    /// Both, left first.
    And(Box<Program>, Box<Program>),
    /// Either, left first.
    Or(Box<Program>, Box<Program>),
    /// Negation.
    Not(Box<Program>),
    /// A test.
    Test(Test),
    /// The tests of one primitive of the expression (`tcp port 443`), run in order.
    Primitive(Box<Program>),
}

/// An expression libpcap refuses for a link type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    /// The link type.
    pub link_type: LinkType,
    /// What cannot be tested on it.
    pub what: &'static str,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not supported on link type {}",
            self.what, self.link_type
        )
    }
}

/// The link layer's framing, as libpcap sees it.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// Ethernet: EtherType at 12, payload at 14.
    Ethernet,
    /// A protocol field at `.0` with EtherType values, payload at `.1` (Linux cooked v1, v2).
    Cooked(u32, u32),
    /// Raw IP (either version): the version nibble tells.
    Raw,
    /// Raw IPv4 only.
    RawV4,
    /// Raw IPv6 only.
    RawV6,
    /// Loopback: a 4-byte address family, in host byte order (`true`: NULL) or network order.
    Loopback(bool),
}

impl Link {
    fn of(link_type: LinkType) -> Option<Link> {
        Some(match link_type.0 {
            1 => Link::Ethernet,
            113 => Link::Cooked(14, 16),
            276 => Link::Cooked(0, 20),
            12 | 14 | 101 => Link::Raw,
            228 => Link::RawV4,
            229 => Link::RawV6,
            0 => Link::Loopback(true),
            108 => Link::Loopback(false),
            _ => return None,
        })
    }
}

fn and(a: Program, b: Program) -> Program {
    Program::And(Box::new(a), Box::new(b))
}

fn or(a: Program, b: Program) -> Program {
    Program::Or(Box::new(a), Box::new(b))
}

fn test(load: Load, mask: u32, op: Op, value: u32) -> Program {
    Program::Test(Test {
        load,
        mask,
        op,
        value,
    })
}

fn eq(offset: u32, size: Size, value: u32) -> Program {
    test(Load::Abs(offset, size), u32::MAX, Op::Eq, value)
}

/// Joins alternatives left to right.
fn any(items: impl IntoIterator<Item = Program>) -> Program {
    items.into_iter().reduce(or).unwrap_or(Program::False)
}

/// Combines a source and a destination test by direction.
fn by_dir(dir: Dir, src: impl Fn() -> Program, dst: impl Fn() -> Program) -> Program {
    match dir {
        Dir::Src => src(),
        Dir::Dst => dst(),
        Dir::Either => or(src(), dst()),
        Dir::Both => and(src(), dst()),
    }
}

/// Code generation for one link type.
struct Gen {
    link: Link,
    link_type: LinkType,
}

const ETHERTYPE_IP: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_RARP: u16 = 0x8035;

/// Compiles `expr` for frames of `link_type`.
pub fn compile(expr: &Expr, link_type: LinkType) -> Result<Program, LinkError> {
    let Some(link) = Link::of(link_type) else {
        return Err(LinkError {
            link_type,
            what: "the built-in filter",
        });
    };
    Gen { link, link_type }.expr(expr)
}

impl Gen {
    fn error(&self, what: &'static str) -> LinkError {
        LinkError {
            link_type: self.link_type,
            what,
        }
    }

    fn expr(&self, e: &Expr) -> Result<Program, LinkError> {
        Ok(match e {
            Expr::And(a, b) => and(self.expr(a)?, self.expr(b)?),
            Expr::Or(a, b) => or(self.expr(a)?, self.expr(b)?),
            Expr::Not(a) => Program::Not(Box::new(self.expr(a)?)),
            Expr::Prim(p, vlans) => Program::Primitive(Box::new(self.prim(p, 4 * vlans)?)),
        })
    }

    /// Offset of the link layer's payload (the network header), after `shift` VLAN bytes.
    fn payload(&self, shift: u32) -> u32 {
        match self.link {
            Link::Ethernet => 14 + shift,
            Link::Cooked(_, payload) => payload,
            Link::Raw | Link::RawV4 | Link::RawV6 => 0,
            Link::Loopback(_) => 4,
        }
    }

    /// libpcap's `gen_linktype` for an EtherType.
    fn linktype(&self, ethertype: u16, shift: u32) -> Program {
        let t = u32::from(ethertype);
        match self.link {
            Link::Ethernet => eq(12 + shift, Size::Half, t),
            Link::Cooked(at, _) => eq(at, Size::Half, t),
            Link::Raw => match ethertype {
                ETHERTYPE_IP => test(Load::Abs(0, Size::Byte), 0xf0, Op::Eq, 0x40),
                ETHERTYPE_IPV6 => test(Load::Abs(0, Size::Byte), 0xf0, Op::Eq, 0x60),
                _ => Program::False,
            },
            Link::RawV4 if ethertype == ETHERTYPE_IP => Program::True,
            Link::RawV6 if ethertype == ETHERTYPE_IPV6 => Program::True,
            Link::RawV4 | Link::RawV6 => Program::False,
            Link::Loopback(host_order) => {
                // AF_INET, and the three BSDs' AF_INET6 values.
                let families: &[u32] = match ethertype {
                    ETHERTYPE_IP => &[2],
                    ETHERTYPE_IPV6 => &[24, 28, 30],
                    _ => return Program::False,
                };
                any(families.iter().map(|&af| {
                    let af = if host_order {
                        u32::from_be_bytes(af.to_ne_bytes())
                    } else {
                        af
                    };
                    eq(0, Size::Word, af)
                }))
            }
        }
    }

    fn prim(&self, p: &Primitive, shift: u32) -> Result<Program, LinkError> {
        let nl = self.payload(shift);
        Ok(match p {
            Primitive::EtherType(t) => self.linktype(*t, shift),
            Primitive::IpProto(family, proto) => {
                let v4 = || {
                    and(
                        self.linktype(ETHERTYPE_IP, shift),
                        eq(nl + 9, Size::Byte, u32::from(*proto)),
                    )
                };
                let v6 = || {
                    let p = u32::from(*proto);
                    and(
                        self.linktype(ETHERTYPE_IPV6, shift),
                        or(
                            eq(nl + 6, Size::Byte, p),
                            and(eq(nl + 6, Size::Byte, 44), eq(nl + 40, Size::Byte, p)),
                        ),
                    )
                };
                match family {
                    Family::V4 => v4(),
                    Family::V6 => v6(),
                    Family::Both => or(v4(), v6()),
                }
            }
            Primitive::Host4 {
                protos,
                dir,
                addr,
                mask,
            } => any(protos.iter().map(|proto| {
                let (ethertype, src, dst) = match proto {
                    Proto::Arp => (ETHERTYPE_ARP, 14, 24),
                    Proto::Rarp => (ETHERTYPE_RARP, 14, 24),
                    _ => (ETHERTYPE_IP, 12, 16),
                };
                let at = |off: u32| test(Load::Abs(nl + off, Size::Word), *mask, Op::Eq, *addr);
                and(
                    self.linktype(ethertype, shift),
                    by_dir(*dir, || at(src), || at(dst)),
                )
            })),
            Primitive::Host6 { dir, addr, mask } => {
                let at = |off: u32| {
                    (0..4)
                        .map(|i| {
                            let word = |b: &[u8; 16]| {
                                u32::from_be_bytes([
                                    b[4 * i],
                                    b[4 * i + 1],
                                    b[4 * i + 2],
                                    b[4 * i + 3],
                                ])
                            };
                            test(
                                Load::Abs(nl + off + 4 * i as u32, Size::Word),
                                word(mask),
                                Op::Eq,
                                word(addr),
                            )
                        })
                        .reduce(and)
                        .unwrap_or(Program::True)
                };
                and(
                    self.linktype(ETHERTYPE_IPV6, shift),
                    by_dir(*dir, || at(8), || at(24)),
                )
            }
            Primitive::Ether { dir, addr } => {
                if !matches!(self.link, Link::Ethernet) {
                    return Err(self.error("an ethernet address"));
                }
                let at = |off: u32| {
                    and(
                        eq(
                            off + 2,
                            Size::Word,
                            u32::from_be_bytes([addr[2], addr[3], addr[4], addr[5]]),
                        ),
                        eq(
                            off,
                            Size::Half,
                            u32::from(u16::from_be_bytes([addr[0], addr[1]])),
                        ),
                    )
                };
                by_dir(*dir, || at(6), || at(0))
            }
            Primitive::Port {
                protos,
                dir,
                low,
                high,
            } => {
                let range = |load: Load| {
                    if low == high {
                        test(load, u32::MAX, Op::Eq, u32::from(*low))
                    } else {
                        and(
                            test(load, u32::MAX, Op::Ge, u32::from(*low)),
                            Program::Not(Box::new(test(load, u32::MAX, Op::Gt, u32::from(*high)))),
                        )
                    }
                };
                let v6 = and(
                    self.linktype(ETHERTYPE_IPV6, shift),
                    any(protos.iter().map(|&p| {
                        and(
                            eq(nl + 6, Size::Byte, u32::from(p)),
                            by_dir(
                                *dir,
                                || range(Load::Abs(nl + 40, Size::Half)),
                                || range(Load::Abs(nl + 42, Size::Half)),
                            ),
                        )
                    })),
                );
                let v4 = and(
                    self.linktype(ETHERTYPE_IP, shift),
                    any(protos.iter().map(|&p| {
                        and(
                            and(
                                eq(nl + 9, Size::Byte, u32::from(p)),
                                // Not a fragment after the first.
                                Program::Not(Box::new(test(
                                    Load::Abs(nl + 6, Size::Half),
                                    u32::MAX,
                                    Op::Set,
                                    0x1fff,
                                ))),
                            ),
                            by_dir(
                                *dir,
                                || range(Load::BehindIp(nl, 0, Size::Half)),
                                || range(Load::BehindIp(nl, 2, Size::Half)),
                            ),
                        )
                    })),
                );
                or(v6, v4)
            }
            Primitive::Vlan(id) => {
                if !matches!(self.link, Link::Ethernet) {
                    return Err(self.error("vlan"));
                }
                let tpid = any([0x8100, 0x88a8, 0x9100].map(|t| eq(12 + shift, Size::Half, t)));
                match id {
                    None => tpid,
                    Some(id) => and(
                        tpid,
                        test(
                            Load::Abs(14 + shift, Size::Half),
                            0x0fff,
                            Op::Eq,
                            u32::from(*id),
                        ),
                    ),
                }
            }
            Primitive::Relation {
                base,
                mask,
                op,
                value,
            } => {
                let size = |bytes: u8| match bytes {
                    1 => Size::Byte,
                    2 => Size::Half,
                    _ => Size::Word,
                };
                let (guard, load) = match *base {
                    None => (Program::True, Load::Len),
                    Some((Base::Link, off, bytes)) => (Program::True, Load::Abs(off, size(bytes))),
                    Some((Base::Ip, off, bytes)) => (
                        self.linktype(ETHERTYPE_IP, shift),
                        Load::Abs(nl + off, size(bytes)),
                    ),
                    Some((Base::Ip6, off, bytes)) => (
                        self.linktype(ETHERTYPE_IPV6, shift),
                        Load::Abs(nl + off, size(bytes)),
                    ),
                    Some((Base::Transport(proto), off, bytes)) => (
                        and(
                            and(
                                self.linktype(ETHERTYPE_IP, shift),
                                eq(nl + 9, Size::Byte, u32::from(proto)),
                            ),
                            Program::Not(Box::new(test(
                                Load::Abs(nl + 6, Size::Half),
                                u32::MAX,
                                Op::Set,
                                0x1fff,
                            ))),
                        ),
                        Load::BehindIp(nl, off, size(bytes)),
                    ),
                };
                let cmp = |op, value| test(load, *mask, op, value);
                let not = |p| Program::Not(Box::new(p));
                let compare = match op {
                    Rel::Eq => cmp(Op::Eq, *value),
                    Rel::Ne => not(cmp(Op::Eq, *value)),
                    Rel::Gt => cmp(Op::Gt, *value),
                    Rel::Ge => cmp(Op::Ge, *value),
                    Rel::Lt => not(cmp(Op::Ge, *value)),
                    Rel::Le => not(cmp(Op::Gt, *value)),
                };
                match guard {
                    Program::True => compare,
                    guard => and(guard, compare),
                }
            }
            Primitive::Len(greater, n) => {
                let gt = test(Load::Len, u32::MAX, Op::Ge, *n);
                if *greater {
                    gt
                } else {
                    // `less N` is `len <= N`: not `len > N`.
                    Program::Not(Box::new(test(Load::Len, u32::MAX, Op::Gt, *n)))
                }
            }
        })
    }
}

/// A load past the captured bytes.
#[derive(Debug)]
struct OutOfRange;

impl Program {
    /// True when a frame of `data` captured bytes and `wire_len` bytes on the wire passes.
    pub fn matches(&self, data: &[u8], wire_len: u32) -> bool {
        self.decide(data, wire_len) == Some(true)
    }

    /// The program's answer, or `None` when it depends on bytes past the captured ones (the
    /// frame is then rejected, as BPF rejects a frame when a test reads past its end).
    ///
    /// libpcap's optimiser shares loads between primitives and runs first the tests that
    /// decide the whole expression (`tcp port 443 or ip` passes an IPv4 frame cut inside its
    /// TCP header: `ip` decides; `tcp port 443 or 8443` passes a frame cut after its source port
    /// 8443), while the tests of one primitive stay in their order (`ether host A` reads the
    /// source address first). So primitives combine in three-valued logic (`true or unknown`
    /// is true, `false and unknown` false) and each primitive's tests run in libpcap's order,
    /// unknown at the first byte missing. On a frame that holds every tested byte this is
    /// plain boolean logic; on a frame cut inside the tested headers it follows libpcap's
    /// optimised code in all the cases `tests/bpf_filter.rs` tries but a few (counted there).
    pub fn decide(&self, data: &[u8], wire_len: u32) -> Option<bool> {
        match self {
            Program::And(a, b) => match (a.decide(data, wire_len), b.decide(data, wire_len)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Program::Or(a, b) => match (a.decide(data, wire_len), b.decide(data, wire_len)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Program::Not(a) => a.decide(data, wire_len).map(|v| !v),
            Program::Primitive(p) => p.strict(data, wire_len),
            other => other.strict(data, wire_len),
        }
    }

    /// The answer with the tests run in order, `None` at the first one that reads past the
    /// captured bytes.
    fn strict(&self, data: &[u8], wire_len: u32) -> Option<bool> {
        match self {
            Program::True => Some(true),
            Program::False => Some(false),
            Program::And(a, b) => match a.strict(data, wire_len)? {
                true => b.strict(data, wire_len),
                false => Some(false),
            },
            Program::Or(a, b) => match a.strict(data, wire_len)? {
                true => Some(true),
                false => b.strict(data, wire_len),
            },
            Program::Not(a) => a.strict(data, wire_len).map(|v| !v),
            Program::Test(t) => t.eval(data, wire_len).ok(),
            Program::Primitive(p) => p.strict(data, wire_len),
        }
    }
}

impl Test {
    fn eval(&self, data: &[u8], wire_len: u32) -> Result<bool, OutOfRange> {
        let v = match self.load {
            Load::Abs(off, size) => load(data, off, size)?,
            Load::BehindIp(at, off, size) => {
                let x = 4 * (load(data, at, Size::Byte)? & 0xf);
                load(data, x.checked_add(at + off).ok_or(OutOfRange)?, size)?
            }
            Load::Len => wire_len,
        } & self.mask;
        Ok(match self.op {
            Op::Eq => v == self.value,
            Op::Ge => v >= self.value,
            Op::Gt => v > self.value,
            Op::Set => v & self.value != 0,
        })
    }
}

/// A big-endian value at `off`, or [`OutOfRange`].
fn load(data: &[u8], off: u32, size: Size) -> Result<u32, OutOfRange> {
    let off = off as usize;
    let len = match size {
        Size::Byte => 1,
        Size::Half => 2,
        Size::Word => 4,
    };
    let bytes = data
        .get(off..off.checked_add(len).ok_or(OutOfRange)?)
        .ok_or(OutOfRange)?;
    Ok(bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)))
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn run(expr: &str, link: u32, data: &[u8]) -> bool {
        compile(&parse(expr).unwrap(), LinkType(link))
            .unwrap()
            .matches(data, data.len() as u32)
    }

    /// Ethernet + IPv4 (IHL 5) + TCP 40000 → 443.
    fn tcp4() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&443u16.to_be_bytes());
        f
    }

    #[test]
    fn ports_only_in_first_fragments() {
        let mut f = tcp4();
        assert!(run("tcp port 443", 1, &f));
        assert!(run("dst port 443 and src host 10.0.0.1", 1, &f));
        assert!(!run("src port 443", 1, &f));
        f[20] = 0x00;
        f[21] = 0x10; // fragment offset 16
        assert!(!run("tcp port 443", 1, &f));
        assert!(run("tcp", 1, &f), "the protocol test ignores fragments");
    }

    #[test]
    fn a_frame_cut_inside_the_tested_headers() {
        // Cut after the source port (40000): the destination port is missing.
        let f = &tcp4()[..36];
        assert!(!run("tcp port 443", 1, f));
        assert!(!run("not tcp port 443", 1, f), "unknown, not false");
        // Another primitive decides, as libpcap's optimised code does.
        assert!(run("tcp port 443 or ip", 1, f));
        assert!(run("tcp port 443 or src port 40000", 1, f));
        assert!(!run("tcp port 443 and arp", 1, f));
        // Inside one primitive the order holds: the source address is read first.
        let mut e = tcp4();
        e[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        assert!(!run("ether host 02:00:00:00:00:01", 1, &e[..8]));
        assert!(run("ether host 02:00:00:00:00:01", 1, &e));
    }

    #[test]
    fn vlan_tags_are_seen_only_after_vlan() {
        let plain = tcp4();
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        tagged.extend_from_slice(&plain[12..]);
        assert!(!run("tcp port 443", 1, &tagged));
        assert!(run("vlan and tcp port 443", 1, &tagged));
        assert!(run("vlan 10 and host 10.0.0.2", 1, &tagged));
        assert!(!run("vlan 11", 1, &tagged));
        assert!(!run("vlan and tcp", 1, &plain));
    }

    #[test]
    fn link_types() {
        let ip = &tcp4()[14..];
        assert!(run("ip and tcp port 443", 101, ip));
        assert!(!run("ip6 or arp", 101, ip));
        assert!(run("host 10.0.0.1", 228, ip));
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&[0x08, 0x00]);
        sll2.extend_from_slice(ip);
        assert!(run("tcp dst port 443", 276, &sll2));
        assert!(compile(&parse("vlan").unwrap(), LinkType(276)).is_err());
        assert!(compile(&parse("tcp").unwrap(), LinkType(239)).is_err());
    }

    #[test]
    fn lengths_are_on_the_wire() {
        let p = compile(&parse("greater 100").unwrap(), LinkType(1)).unwrap();
        assert!(p.matches(&[0; 10], 100));
        assert!(!p.matches(&[0; 10], 99));
        let p = compile(&parse("less 100").unwrap(), LinkType(1)).unwrap();
        assert!(p.matches(&[0; 10], 100));
        assert!(!p.matches(&[0; 10], 101));
    }
}

//! Tokens in, an expression tree out, by libpcap's grammar (`grammar.y`) for the subset the
//! built-in filter reads: `and`/`or` of equal precedence, left to right; `not` binding
//! tightest; a bare value after `and`/`or` taking the qualifiers of the primitive before it
//! (`host a or b`, `tcp port 80 or 443`); and each primitive remembering how many `vlan`
//! keywords came before it, since libpcap shifts every later offset by a VLAN tag. Every
//! check libpcap makes while it builds code for a value (port over 65535, network bits set
//! outside the mask, `tcp` applied to a host, …) is made here, so an expression the built-in
//! filter accepts is one libpcap accepts.

use super::lexer::{LexError, READ_KEYWORDS, Rel, Token};
use std::fmt;

/// Direction qualifier (`src`, `dst`, `src or dst`, `src and dst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `src`.
    Src,
    /// `dst`.
    Dst,
    /// Either (the default, `src or dst`).
    Either,
    /// Both (`src and dst`).
    Both,
}

/// Protocol qualifier of a primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// None given.
    Default,
    /// `ether`.
    Link,
    /// `ip`.
    Ip,
    /// `ip6`.
    Ip6,
    /// `arp`.
    Arp,
    /// `rarp`.
    Rarp,
    /// `tcp`.
    Tcp,
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
    /// `icmp`.
    Icmp,
    /// `icmp6`.
    Icmp6,
}

impl Proto {
    fn keyword(word: &str) -> Option<Proto> {
        Some(match word {
            "ether" => Proto::Link,
            "ip" => Proto::Ip,
            "ip6" => Proto::Ip6,
            "arp" => Proto::Arp,
            "rarp" => Proto::Rarp,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "sctp" => Proto::Sctp,
            "icmp" => Proto::Icmp,
            "icmp6" => Proto::Icmp6,
            _ => return None,
        })
    }
}

/// Address qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    Default,
    Host,
    Net,
    Port,
    PortRange,
    Proto,
}

/// The qualifiers a value is read with (libpcap's `struct qual`); `None`: none may follow
/// (after `tcp` alone, `vlan`, `greater N`).
type Qual = Option<(Proto, Dir, Addr)>;

/// IP version a protocol-number test applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 (`ip proto`, `icmp`).
    V4,
    /// IPv6, also behind a fragment header (`ip6 proto`, `icmp6`).
    V6,
    /// Both, IPv4 first (`proto`, `tcp`, `udp`, `sctp`).
    Both,
}

/// A primitive test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Primitive {
    /// `ip`, `ip6`, `arp`, `rarp`: the link layer carries this EtherType.
    EtherType(u16),
    /// `tcp`, `udp`, `icmp`, `proto N`, `ip proto N`, `ip6 proto N`.
    IpProto(Family, u8),
    /// An IPv4 host or network: which protocols' addresses (`ip`, `arp`, `rarp`, in that
    /// order), direction, address and mask.
    Host4 {
        /// Protocols whose addresses are tested.
        protos: Vec<Proto>,
        /// Direction.
        dir: Dir,
        /// Address (network bits only).
        addr: u32,
        /// Mask.
        mask: u32,
    },
    /// An IPv6 host or network.
    Host6 {
        /// Direction.
        dir: Dir,
        /// Address.
        addr: [u8; 16],
        /// Mask.
        mask: [u8; 16],
    },
    /// `ether host MAC`.
    Ether {
        /// Direction.
        dir: Dir,
        /// Address.
        addr: [u8; 6],
    },
    /// `port`, `portrange`: transport protocols (empty: TCP, UDP and SCTP), direction and
    /// the inclusive range.
    Port {
        /// IP protocol numbers tested, in libpcap's order.
        protos: Vec<u8>,
        /// Direction.
        dir: Dir,
        /// Lowest port.
        low: u16,
        /// Highest port.
        high: u16,
    },
    /// `vlan` or `vlan N`.
    Vlan(Option<u16>),
    /// `greater N` (`true`) or `less N`: the length on the wire.
    Len(bool, u32),
    /// `PROTO[OFFSET:SIZE] & MASK RELOP VALUE`, `len RELOP VALUE`: a loaded value compared.
    Relation {
        /// Where the value is loaded from (`None`: the length on the wire).
        base: Option<(Base, u32, u8)>,
        /// Mask applied first (all ones when none).
        mask: u32,
        /// Comparison.
        op: Rel,
        /// Value compared with.
        value: u32,
    },
}

/// The header a `PROTO[…]` load counts its offset from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `ether[…]`: the link-layer header.
    Link,
    /// `ip[…]`: the IPv4 header (IPv4 frames only).
    Ip,
    /// `ip6[…]`: the IPv6 header (IPv6 frames only).
    Ip6,
    /// `tcp[…]`, `udp[…]`, `icmp[…]`: the header after an IPv4 header of this protocol, in a
    /// first fragment.
    Transport(u8),
}

/// An expression tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either (left first).
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A primitive, with the number of `vlan` keywords before it.
    Prim(Primitive, u32),
}

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The expression is empty.
    Empty,
    /// libpcap refuses it too: a syntax error, or a value that does not fit its qualifiers.
    Invalid(String),
    /// tcpdump syntax that the built-in filter does not read (the word or construct).
    Unsupported(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty filter expression"),
            ParseError::Invalid(why) => write!(f, "{why}"),
            ParseError::Unsupported(what) => write!(f, "{what}"),
        }
    }
}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        ParseError::Invalid(match e {
            LexError::BadNumber(w) => format!("number {w} has a digit its base does not have"),
            LexError::NumberOverflow(w) => format!("number {w} overflows 32 bits"),
            LexError::BadAddress(w) => format!("bad IPv4 address {w}"),
        })
    }
}

/// Parses a filter expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = super::lexer::tokens(text)?;
    if tokens.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut p = Parser {
        tokens,
        at: 0,
        vlans: 0,
    };
    let (e, _) = p.expr(None)?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(p.unexpected(&t.clone())),
    }
}

/// Recursive descent over libpcap's LALR grammar.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// `vlan` keywords read so far.
    vlans: u32,
}

fn syntax() -> ParseError {
    ParseError::Invalid("syntax error in filter expression".to_string())
}

fn invalid(why: impl Into<String>) -> ParseError {
    ParseError::Invalid(why.into())
}

/// True for a token that is a value (libpcap's `id` terminals).
fn is_value(t: Option<&Token>) -> bool {
    matches!(
        t,
        Some(
            Token::Number(_) | Token::Dotted(..) | Token::Ipv6(_) | Token::Mac(_) | Token::Name(_)
        )
    )
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.at + n)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, n: usize, word: &str) -> bool {
        matches!(self.peek_at(n), Some(Token::Keyword(k)) if k == word)
    }

    /// The error for a token found where it cannot stand.
    fn unexpected(&self, t: &Token) -> ParseError {
        match t {
            Token::Unsupported(s) => ParseError::Unsupported(format!("'{s}'")),
            Token::Keyword(k) if !supported(k) => ParseError::Unsupported(format!("'{k}'")),
            _ => syntax(),
        }
    }

    /// `expr: term | expr and term | expr and id | expr or term | expr or id`.
    fn expr(&mut self, before: Qual) -> Result<(Expr, Qual), ParseError> {
        let (mut e, mut q) = self.term(before)?;
        loop {
            let and = match self.peek() {
                Some(Token::And) => true,
                Some(Token::Or) => false,
                _ => return Ok((e, q)),
            };
            self.at += 1;
            let (r, rq) = if self.starts_id() {
                (self.id(q)?, q)
            } else {
                self.term(q)?
            };
            e = if and {
                Expr::And(Box::new(e), Box::new(r))
            } else {
                Expr::Or(Box::new(e), Box::new(r))
            };
            q = rq;
        }
    }

    /// True when the next tokens are an `id` (a value, `not` a value, `(` a value…) rather
    /// than a term.
    fn starts_id(&self) -> bool {
        let mut n = 0;
        while matches!(self.peek_at(n), Some(Token::Not)) {
            n += 1;
        }
        is_value(self.peek_at(n))
            || (matches!(self.peek_at(n), Some(Token::Open)) && is_value(self.peek_at(n + 1)))
    }

    /// `term: rterm | not term`.
    fn term(&mut self, before: Qual) -> Result<(Expr, Qual), ParseError> {
        if matches!(self.peek(), Some(Token::Not)) {
            self.at += 1;
            let (t, q) = self.term(before)?;
            return Ok((Expr::Not(Box::new(t)), q));
        }
        self.rterm(before)
    }

    /// `rterm: head id | paren expr ')' | pname | other`.
    fn rterm(&mut self, before: Qual) -> Result<(Expr, Qual), ParseError> {
        let Some(first) = self.peek().cloned() else {
            return Err(syntax());
        };
        match first {
            Token::Open => {
                self.at += 1;
                let (e, _) = self.expr(before)?;
                match self.next() {
                    Some(Token::Close) => Ok((e, before)),
                    Some(t) => Err(self.unexpected(&t)),
                    None => Err(syntax()),
                }
            }
            Token::Keyword(k) if k == "vlan" => {
                self.at += 1;
                let id = match self.peek() {
                    Some(Token::Number(n)) => {
                        let n = *n;
                        self.at += 1;
                        if n > 4095 {
                            return Err(invalid(format!("VLAN tag {n} greater than maximum 4095")));
                        }
                        Some(n as u16)
                    }
                    _ => None,
                };
                let e = Expr::Prim(Primitive::Vlan(id), self.vlans);
                self.vlans += 1;
                Ok((e, None))
            }
            Token::Keyword(k)
                if k == "len"
                    || (matches!(self.peek_at(1), Some(Token::OpenBracket))
                        && ["ether", "ip", "ip6", "tcp", "udp", "icmp"].contains(&k.as_str())) =>
            {
                self.at += 1;
                let p = self.relation(&k)?;
                Ok((self.prim(p), None))
            }
            Token::Keyword(k) if k == "greater" || k == "less" => {
                self.at += 1;
                match self.next() {
                    Some(Token::Number(n)) => Ok((
                        Expr::Prim(Primitive::Len(k == "greater", n), self.vlans),
                        None,
                    )),
                    Some(t) => Err(self.unexpected(&t)),
                    None => Err(syntax()),
                }
            }
            _ => self.head_id(),
        }
    }

    /// `PROTO[OFFSET(:SIZE)] (& MASK) RELOP VALUE` or `len RELOP VALUE`, the keyword read:
    /// libpcap's `arth relop arth` for a load (masked) compared with a constant.
    fn relation(&mut self, keyword: &str) -> Result<Primitive, ParseError> {
        let base = if keyword == "len" {
            None
        } else {
            self.at += 1; // `[`
            let (offset, size) = match self.next() {
                Some(Token::Number(n)) => (n, 1),
                Some(Token::Keyword(k)) => (named_offset(&k).ok_or_else(syntax)?, 1),
                Some(Token::Name(n)) if n.contains(':') => {
                    let (offset, size) = n.split_once(':').ok_or_else(syntax)?;
                    let number = |w: &str| match named_offset(w) {
                        Some(v) => Ok(v),
                        None => super::lexer::number(w).map_err(ParseError::from),
                    };
                    (number(offset)?, number(size)?)
                }
                Some(t) => return Err(self.unexpected(&t)),
                None => return Err(syntax()),
            };
            if !matches!(size, 1 | 2 | 4) {
                return Err(invalid("data size must be 1, 2, or 4"));
            }
            match self.next() {
                Some(Token::CloseBracket) => {}
                Some(t) => return Err(self.unexpected(&t)),
                None => return Err(syntax()),
            }
            let base = match keyword {
                "ether" => Base::Link,
                "ip" => Base::Ip,
                "ip6" => Base::Ip6,
                "tcp" => Base::Transport(6),
                "udp" => Base::Transport(17),
                _ => Base::Transport(1),
            };
            Some((base, offset, size as u8))
        };
        let mask = if matches!(self.peek(), Some(Token::Amp)) {
            self.at += 1;
            self.constant()?
        } else {
            u32::MAX
        };
        let op = match self.next() {
            Some(Token::Rel(op)) => op,
            None | Some(Token::And | Token::Or | Token::Close) => return Err(syntax()),
            Some(_) => return Err(arithmetic()),
        };
        let value = self.constant()?;
        if !matches!(
            self.peek(),
            None | Some(Token::And | Token::Or | Token::Close)
        ) {
            return Err(arithmetic());
        }
        Ok(Primitive::Relation {
            base,
            mask,
            op,
            value,
        })
    }

    /// A constant: numbers and named values (`tcp-syn`), or'ed with `|`, in parentheses or not.
    fn constant(&mut self) -> Result<u32, ParseError> {
        let mut value = self.constant_term()?;
        while matches!(self.peek(), Some(Token::Pipe)) {
            self.at += 1;
            value |= self.constant_term()?;
        }
        Ok(value)
    }

    fn constant_term(&mut self) -> Result<u32, ParseError> {
        match self.next() {
            Some(Token::Number(n)) => Ok(n),
            Some(Token::Name(n)) => named_value(&n).ok_or_else(|| {
                ParseError::Unsupported(format!("'{n}' as a value (give the number)"))
            }),
            Some(Token::Keyword(k)) if named_offset(&k).is_some() => {
                named_offset(&k).ok_or_else(syntax)
            }
            Some(Token::Open) => {
                let v = self.constant()?;
                match self.next() {
                    Some(Token::Close) => Ok(v),
                    Some(t) => Err(self.unexpected(&t)),
                    None => Err(syntax()),
                }
            }
            Some(Token::Keyword(k))
                if ["ether", "ip", "ip6", "tcp", "udp", "icmp", "len"].contains(&k.as_str()) =>
            {
                Err(ParseError::Unsupported(
                    "a load on both sides of a comparison".to_string(),
                ))
            }
            Some(t) => Err(self.unexpected(&t)),
            None => Err(syntax()),
        }
    }

    /// `head id` or `pname` alone.
    fn head_id(&mut self) -> Result<(Expr, Qual), ParseError> {
        let proto = match self.peek() {
            Some(Token::Keyword(k)) => Proto::keyword(k),
            _ => None,
        };
        if proto.is_some() {
            self.at += 1;
        }
        let dir = self.dqual();
        let addr = match self.peek() {
            Some(Token::Keyword(k)) => match k.as_str() {
                "host" => Some(Addr::Host),
                "net" => Some(Addr::Net),
                "port" => Some(Addr::Port),
                "portrange" => Some(Addr::PortRange),
                "proto" if dir.is_none() => Some(Addr::Proto),
                _ => None,
            },
            _ => None,
        };
        if addr.is_some() {
            self.at += 1;
        }
        let proto_given = proto.is_some();
        let proto = proto.unwrap_or(Proto::Default);
        if dir.is_none() && addr.is_none() {
            if !proto_given {
                return Err(match self.peek() {
                    Some(t) => self.unexpected(&t.clone()),
                    None => syntax(),
                });
            }
            if let Some(t @ (Token::Unsupported(_) | Token::Keyword(_))) = self.peek() {
                let t = t.clone();
                if !matches!(&t, Token::Keyword(k) if supported(k)) {
                    return Err(self.unexpected(&t));
                }
            }
            // `pname` alone: `tcp`, `ip6`, …
            return Ok((self.prim(proto_abbrev(proto)?), None));
        }
        let q = Some((
            proto,
            dir.unwrap_or(Dir::Either),
            addr.unwrap_or(Addr::Default),
        ));
        let e = self.id(q)?;
        Ok((e, q))
    }

    /// `dqual`: `src`, `dst`, `src or dst`, `dst or src`, `src and dst`, `dst and src`.
    fn dqual(&mut self) -> Option<Dir> {
        let first = if self.keyword(0, "src") {
            "dst"
        } else if self.keyword(0, "dst") {
            "src"
        } else {
            return None;
        };
        let single = if first == "dst" { Dir::Src } else { Dir::Dst };
        self.at += 1;
        let combined = match self.peek() {
            Some(Token::Or) if self.keyword(1, first) => Dir::Either,
            Some(Token::And) if self.keyword(1, first) => Dir::Both,
            _ => return Some(single),
        };
        self.at += 2;
        Some(combined)
    }

    fn prim(&self, p: Primitive) -> Expr {
        Expr::Prim(p, self.vlans)
    }

    /// `id: nid | pnum | paren pid ')'`, `nid: … | not id`, read with qualifiers `q`.
    fn id(&mut self, q: Qual) -> Result<Expr, ParseError> {
        match self.peek().cloned() {
            Some(Token::Not) => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.id(q)?)))
            }
            Some(Token::Open) => {
                self.at += 1;
                let e = self.pid(q)?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    Some(t) => Err(self.unexpected(&t)),
                    None => Err(syntax()),
                }
            }
            _ => self.value(q),
        }
    }

    /// `pid: nid | qid and id | qid or id`: values joined inside parentheses.
    fn pid(&mut self, q: Qual) -> Result<Expr, ParseError> {
        let mut e = match self.peek() {
            Some(Token::Not) => self.id(q)?,
            _ => self.value(q)?,
        };
        loop {
            let and = match self.peek() {
                Some(Token::And) => true,
                Some(Token::Or) => false,
                _ => return Ok(e),
            };
            self.at += 1;
            let r = self.id(q)?;
            e = if and {
                Expr::And(Box::new(e), Box::new(r))
            } else {
                Expr::Or(Box::new(e), Box::new(r))
            };
        }
    }

    /// One value with its qualifiers: libpcap's `gen_ncode`, `gen_scode`, `gen_mcode`,
    /// `gen_mcode6` and `gen_ecode`, with their checks.
    fn value(&mut self, q: Qual) -> Result<Expr, ParseError> {
        let Some(t) = self.next() else {
            return Err(syntax());
        };
        let Some((proto, dir, addr)) = q else {
            return Err(match t {
                Token::Unsupported(_) | Token::Keyword(_) => self.unexpected(&t),
                _ => syntax(),
            });
        };
        let p = match t {
            Token::Number(n) => match addr {
                Addr::Port | Addr::PortRange => port(proto, dir, n, n, addr)?,
                Addr::Proto => ip_proto(proto, dir, n)?,
                Addr::Default | Addr::Host | Addr::Net => {
                    return Err(ParseError::Unsupported(format!(
                        "the number {n} as an address (give a dotted address)"
                    )));
                }
            },
            Token::Dotted(value, bits) => {
                let (mut net, mut mask) = (value << (32 - bits), u32::MAX << (32 - bits));
                match self.peek() {
                    Some(Token::Slash) => {
                        self.at += 1;
                        let Some(Token::Number(len)) = self.next() else {
                            return Err(syntax());
                        };
                        if len > 32 {
                            return Err(invalid(format!("mask length must be <= 32, not {len}")));
                        }
                        mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                        net_checks(addr, net & !mask != 0)?;
                    }
                    Some(Token::Keyword(k)) if k == "mask" => {
                        self.at += 1;
                        let Some(Token::Dotted(m, mbits)) = self.next() else {
                            return Err(syntax());
                        };
                        mask = m << (32 - mbits);
                        net_checks(addr, net & !mask != 0)?;
                    }
                    _ => {}
                }
                if matches!(addr, Addr::Port | Addr::PortRange | Addr::Proto) {
                    return Err(invalid("'port', 'portrange' or 'proto' applied to ip host"));
                }
                net &= mask;
                let protos = match proto {
                    Proto::Default => vec![Proto::Ip, Proto::Arp, Proto::Rarp],
                    Proto::Ip | Proto::Arp | Proto::Rarp => vec![proto],
                    _ => return Err(invalid(format!("{proto:?} modifier applied to ip host"))),
                };
                Primitive::Host4 {
                    protos,
                    dir,
                    addr: net,
                    mask,
                }
            }
            Token::Ipv6(a) => {
                let mut len = 128;
                if matches!(self.peek(), Some(Token::Slash)) {
                    self.at += 1;
                    let Some(Token::Number(n)) = self.next() else {
                        return Err(syntax());
                    };
                    if n > 128 {
                        return Err(invalid(format!("mask length must be <= 128, not {n}")));
                    }
                    len = n;
                }
                let addr6 = a.octets();
                let mut mask = [0u8; 16];
                for (i, m) in mask.iter_mut().enumerate() {
                    let bits = len.saturating_sub(8 * i as u32).min(8);
                    *m = (0xff_u16 << (8 - bits)) as u8;
                }
                if addr6.iter().zip(&mask).any(|(a, m)| a & !m != 0) {
                    return Err(invalid("non-network bits set in IPv6 address"));
                }
                match addr {
                    Addr::Net => {}
                    Addr::Default | Addr::Host if len == 128 => {}
                    Addr::Default | Addr::Host => {
                        return Err(invalid("mask syntax for networks only"));
                    }
                    _ => return Err(invalid("invalid qualifier against IPv6 address")),
                }
                if !matches!(proto, Proto::Default | Proto::Ip6) {
                    return Err(invalid("IPv6 address with a modifier other than ip6"));
                }
                Primitive::Host6 {
                    dir,
                    addr: addr6,
                    mask,
                }
            }
            Token::Mac(mac) => {
                if matches!(addr, Addr::Host | Addr::Default) && proto == Proto::Link {
                    Primitive::Ether { dir, addr: mac }
                } else {
                    return Err(invalid("ethernet address used in non-ether expression"));
                }
            }
            Token::Name(name) => match (addr, range(&name)) {
                (Addr::PortRange, Some((a, b))) => port(proto, dir, a, b, addr)?,
                _ => {
                    return Err(ParseError::Unsupported(format!(
                        "the name '{name}' (host and service names are not resolved: give \
                         the address or number)"
                    )));
                }
            },
            other => return Err(self.unexpected(&other)),
        };
        Ok(self.prim(p))
    }
}

/// True for a keyword the built-in filter reads (others are named as unsupported): the
/// lexer's reserved words it reads, and libpcap's names for a length and named offsets.
fn supported(keyword: &str) -> bool {
    READ_KEYWORDS.contains(&keyword)
        || matches!(keyword, "len" | "tcpflags" | "icmptype" | "icmpcode")
}
/// Arithmetic the built-in filter does not read (`ip[2:2] - 20 > 100`, `tcp[12] >> 4`).
fn arithmetic() -> ParseError {
    ParseError::Unsupported(
        "arithmetic other than LOAD & MASK RELOP VALUE (such as tcp[13] & 0x12 != 0)".to_string(),
    )
}

/// libpcap's named offsets (`tcp[tcpflags]`, `icmp[icmptype]`).
fn named_offset(word: &str) -> Option<u32> {
    Some(match word {
        "tcpflags" => 13,
        "icmptype" => 0,
        "icmpcode" => 1,
        _ => return None,
    })
}

/// libpcap's named values: TCP flags and ICMP types.
fn named_value(word: &str) -> Option<u32> {
    Some(match word {
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        _ => return None,
    })
}

/// libpcap's checks of a network given with a mask: only `net` (or nothing) takes one, and
/// the address may not have bits outside it.
fn net_checks(addr: Addr, stray_bits: bool) -> Result<(), ParseError> {
    match addr {
        Addr::Net | Addr::Default => {}
        _ => return Err(invalid("mask syntax for networks only")),
    }
    if stray_bits {
        return Err(invalid("non-network bits set in the address"));
    }
    Ok(())
}

/// A numeric port range `a-b` (in either order, as libpcap swaps them).
fn range(name: &str) -> Option<(u32, u32)> {
    let (a, b) = name.split_once('-')?;
    if a.is_empty() || b.is_empty() || !(a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    Some((a.min(b), a.max(b)))
}

/// `pname` alone: libpcap's `gen_proto_abbrev`.
fn proto_abbrev(proto: Proto) -> Result<Primitive, ParseError> {
    Ok(match proto {
        Proto::Ip => Primitive::EtherType(0x0800),
        Proto::Ip6 => Primitive::EtherType(0x86dd),
        Proto::Arp => Primitive::EtherType(0x0806),
        Proto::Rarp => Primitive::EtherType(0x8035),
        Proto::Tcp => Primitive::IpProto(Family::Both, 6),
        Proto::Udp => Primitive::IpProto(Family::Both, 17),
        Proto::Sctp => Primitive::IpProto(Family::Both, 132),
        Proto::Icmp => Primitive::IpProto(Family::V4, 1),
        Proto::Icmp6 => Primitive::IpProto(Family::V6, 58),
        Proto::Link => return Err(invalid("link layer applied in wrong context")),
        Proto::Default => return Err(syntax()),
    })
}

/// `port N`, `portrange A-B` with their protocol qualifier.
fn port(proto: Proto, dir: Dir, low: u32, high: u32, addr: Addr) -> Result<Primitive, ParseError> {
    let protos = match proto {
        Proto::Default => vec![6, 17, 132],
        Proto::Tcp => vec![6],
        Proto::Udp => vec![17],
        Proto::Sctp => vec![132],
        _ => {
            return Err(invalid(if addr == Addr::Port {
                "illegal qualifier of 'port'"
            } else {
                "illegal qualifier of 'portrange'"
            }));
        }
    };
    for p in [low, high] {
        if p > 65535 {
            return Err(invalid(format!("illegal port number {p} > 65535")));
        }
    }
    Ok(Primitive::Port {
        protos,
        dir,
        low: low as u16,
        high: high as u16,
    })
}

/// `proto N`, `ip proto N`, `ip6 proto N`.
fn ip_proto(proto: Proto, dir: Dir, n: u32) -> Result<Primitive, ParseError> {
    if dir != Dir::Either {
        return Err(invalid("direction applied to 'proto'"));
    }
    let family = match proto {
        Proto::Default => Family::Both,
        Proto::Ip => Family::V4,
        Proto::Ip6 => Family::V6,
        _ => {
            return Err(ParseError::Unsupported(format!("'proto' after {proto:?}")));
        }
    };
    let Ok(n) = u8::try_from(n) else {
        return Err(ParseError::Unsupported(format!(
            "protocol number {n} over 255"
        )));
    };
    Ok(Primitive::IpProto(family, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn qualifiers_carry_over_to_bare_values() {
        let port = |low| Primitive::Port {
            protos: vec![6],
            dir: Dir::Either,
            low,
            high: low,
        };
        assert_eq!(
            p("tcp port 80 or 443"),
            Expr::Or(
                Box::new(Expr::Prim(port(80), 0)),
                Box::new(Expr::Prim(port(443), 0))
            )
        );
        assert_eq!(p("tcp port 80 or 443"), p("tcp port 80 or tcp port 443"));
        assert_eq!(
            p("host 10.0.0.1 and not 10.0.0.2"),
            p("host 10.0.0.1 and not host 10.0.0.2")
        );
        assert_eq!(
            p("src host 10.0.0.1 or (10.0.0.2 or 10.0.0.3)"),
            p("src host 10.0.0.1 or (src host 10.0.0.2 or src host 10.0.0.3)")
        );
        assert!(matches!(parse("tcp or 443"), Err(ParseError::Invalid(_))));
    }

    #[test]
    fn and_and_or_have_equal_precedence() {
        assert_eq!(p("tcp or udp and arp"), p("(tcp or udp) and arp"));
        assert_eq!(p("not tcp and udp"), p("(not tcp) and udp"));
    }

    #[test]
    fn vlan_shifts_what_follows() {
        // Equal precedence: `(tcp or vlan) and tcp`; the last `tcp` is behind the tag.
        let tcp = |vlans| Box::new(Expr::Prim(Primitive::IpProto(Family::Both, 6), vlans));
        assert_eq!(
            p("tcp or vlan and tcp"),
            Expr::And(
                Box::new(Expr::Or(
                    tcp(0),
                    Box::new(Expr::Prim(Primitive::Vlan(None), 0))
                )),
                tcp(1)
            )
        );
    }

    #[test]
    fn networks() {
        assert_eq!(
            p("net 10.0.0.0/8"),
            Expr::Prim(
                Primitive::Host4 {
                    protos: vec![Proto::Ip, Proto::Arp, Proto::Rarp],
                    dir: Dir::Either,
                    addr: 0x0a00_0000,
                    mask: 0xff00_0000
                },
                0
            )
        );
        assert_eq!(p("net 10.0.0.0 mask 255.0.0.0"), p("net 10.0.0.0/8"));
        assert_eq!(p("host 10.0"), p("net 10.0.0.0/16"));
        assert!(matches!(
            parse("net 10.0.0.1/8"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("host 10.0.0.0/8"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("net fe80::1/10"),
            Err(ParseError::Invalid(_))
        ));
        p("ip6 net fe80::/10");
    }

    #[test]
    fn refusals() {
        for (text, unsupported) in [
            ("", false),
            ("10.0.0.1", false),
            ("443", false),
            ("ip proto tcp", false),
            ("ip port 80", false),
            ("port 70000", false),
            ("tcp host 10.0.0.1", false),
            ("ip6 host 10.0.0.1", false),
            ("ip host ::1", false),
            ("host 00:11:22:33:44:55", false),
            ("vlan 4096", false),
            ("tcp port 80 and", false),
            ("(tcp", false),
            ("ether", false),
            ("tcp[13] + 1 != 0", true),
            ("ip[2:2] - 20 > 100", true),
            ("tcp[12] >> 4 > 5", true),
            ("tcp[13] & 2 != tcp[14]", true),
            ("tcp[13:3] = 0", false),
            ("tcp[13]", false),
            ("port https", true),
            ("host example.com", true),
            ("gateway 10.0.0.1", true),
            ("len > 100 +", true),
            ("ether broadcast", true),
        ] {
            match parse(text) {
                Err(ParseError::Unsupported(_)) if unsupported => {}
                Err(ParseError::Invalid(_) | ParseError::Empty) if !unsupported => {}
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}

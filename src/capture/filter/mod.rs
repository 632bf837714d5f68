//! Capture filters: a tcpdump filter expression (`tcp port 443`) applied to every frame of a
//! capture file, as `tcpdump -r FILE EXPR` applies it.
//!
//! Two engines give the same answers:
//! - **libpcap** (feature `live`, where libpcap is linked): libpcap compiles the expression for
//!   each link type the capture holds (a pcapng may hold several; each is compiled when first
//!   met) and its own offline filter runs the program on each frame's captured bytes and length
//!   on the wire. Full tcpdump syntax.
//! - **built-in** (every build, the engine of the default pure-Rust build): [`lexer`] →
//!   [`parser`] (libpcap's grammar and checks for a subset: `host`, `net` (`/len`, `mask`),
//!   `port`, `portrange`, `src`/`dst`, `ip`, `ip6`, `arp`, `rarp`, `tcp`, `udp`, `sctp`,
//!   `icmp`, `icmp6`, `proto`, `ether host`, `vlan`, `greater`, `less`, a masked load compared
//!   with a constant (`tcp[tcpflags] & tcp-syn != 0`, `ip[8] < 64`, `len >= 100`), `and` `or`
//!   `not` and parentheses) → [`program`] (the tests libpcap's code generator emits, evaluated as its BPF
//!   interpreter runs them). Anything outside the subset is refused with a message naming the
//!   word and the build that reads it; nothing is guessed.
//!
//! A [`FrameFilter`] counts the frames it passed and dropped. Frame numbers are not changed by
//! filtering: they stay those of the file. Memory: one compiled program per link type met.

pub mod lexer;
#[cfg(feature = "live")]
mod libpcap;
pub mod parser;
pub mod program;

use super::LinkType;
use std::fmt;

/// The build that reads every tcpdump filter expression.
pub const FULL_SYNTAX_BUILD: &str = "the build with libpcap (cargo build --features live)";

/// Why a filter expression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The expression is empty.
    Empty,
    /// The expression is not valid tcpdump syntax (libpcap refuses it too); the reason.
    Invalid(String),
    /// Valid tcpdump syntax that the built-in filter does not read: the word or construct.
    Unsupported(String),
    /// The expression does not compile for a link type the capture holds.
    Link {
        /// The link type.
        link_type: LinkType,
        /// The compiler's reason.
        reason: String,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Empty => write!(f, "empty filter expression"),
            FilterError::Invalid(why) => write!(f, "{why}"),
            FilterError::Unsupported(what) => write!(
                f,
                "{what} is not supported by the built-in filter of this build, which reads \
                 host, net, port, portrange, src, dst, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, \
                 icmp6, proto, ether host, vlan, greater, less, PROTO[OFFSET:SIZE] & MASK RELOP \
                 VALUE, len RELOP VALUE, and, or, not and parentheses; \
                 {FULL_SYNTAX_BUILD} reads full tcpdump syntax"
            ),
            FilterError::Link { link_type, reason } => {
                write!(f, "cannot filter link type {link_type}: {reason}")
            }
        }
    }
}

impl std::error::Error for FilterError {}

impl From<parser::ParseError> for FilterError {
    fn from(e: parser::ParseError) -> Self {
        match e {
            parser::ParseError::Empty => FilterError::Empty,
            parser::ParseError::Invalid(why) => FilterError::Invalid(why),
            parser::ParseError::Unsupported(what) => FilterError::Unsupported(what),
        }
    }
}

/// Which engine runs a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The built-in compiler and matcher (pure Rust).
    BuiltIn,
    /// libpcap's compiler and offline filter.
    #[cfg(feature = "live")]
    Libpcap,
}

/// A checked filter expression; [`Filter::matcher`] makes the per-capture matcher.
#[derive(Debug, Clone)]
pub struct Filter {
    expression: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    BuiltIn(parser::Expr),
    #[cfg(feature = "live")]
    Libpcap,
}

impl Filter {
    /// The filter of this build: libpcap's when it is linked (feature `live`), else built-in.
    pub fn new(expression: &str) -> Result<Filter, FilterError> {
        #[cfg(feature = "live")]
        return Filter::with_engine(expression, Engine::Libpcap);
        #[cfg(not(feature = "live"))]
        return Filter::with_engine(expression, Engine::BuiltIn);
    }

    /// The filter run by `engine`; the expression is checked now (libpcap compiles it for
    /// Ethernet).
    pub fn with_engine(expression: &str, engine: Engine) -> Result<Filter, FilterError> {
        let kind = match engine {
            Engine::BuiltIn => Kind::BuiltIn(parser::parse(expression)?),
            #[cfg(feature = "live")]
            Engine::Libpcap => {
                if expression.trim().is_empty() {
                    return Err(FilterError::Empty);
                }
                libpcap::compile(expression, LinkType::ETHERNET).map_err(|e| match e {
                    FilterError::Link { reason, .. } => FilterError::Invalid(reason),
                    other => other,
                })?;
                Kind::Libpcap
            }
        };
        Ok(Filter {
            expression: expression.to_string(),
            kind,
        })
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The engine that runs it.
    pub fn engine(&self) -> Engine {
        match self.kind {
            Kind::BuiltIn(_) => Engine::BuiltIn,
            #[cfg(feature = "live")]
            Kind::Libpcap => Engine::Libpcap,
        }
    }

    /// A matcher for one capture, with its counts at zero.
    pub fn matcher(&self) -> FrameFilter {
        FrameFilter {
            filter: self.clone(),
            programs: Vec::new(),
            counts: FilterCounts {
                expression: self.expression.clone(),
                matched: 0,
                dropped: 0,
            },
        }
    }
}

/// Frames a filter passed and dropped in one capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCounts {
    /// The expression.
    pub expression: String,
    /// Frames that passed.
    pub matched: u64,
    /// Frames that did not.
    pub dropped: u64,
}

/// One compiled program.
enum Compiled {
    BuiltIn(program::Program),
    #[cfg(feature = "live")]
    Libpcap(libpcap::Program),
}

/// Applies a [`Filter`] to the frames of one capture, compiling it once per link type.
pub struct FrameFilter {
    filter: Filter,
    /// The program (or the compiler's refusal) of each link type met, in order met.
    programs: Vec<(LinkType, Result<Compiled, FilterError>)>,
    counts: FilterCounts,
}

impl fmt::Debug for FrameFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameFilter")
            .field("filter", &self.filter)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl FrameFilter {
    /// True when a frame of `link_type`, with `data` captured of `wire_len` bytes, passes;
    /// counted. An error when the expression does not compile for the link type.
    pub fn matches(
        &mut self,
        link_type: LinkType,
        data: &[u8],
        wire_len: u32,
    ) -> Result<bool, FilterError> {
        let index = match self.programs.iter().position(|(l, _)| *l == link_type) {
            Some(i) => i,
            None => {
                let compiled = match &self.filter.kind {
                    Kind::BuiltIn(expr) => program::compile(expr, link_type)
                        .map(Compiled::BuiltIn)
                        .map_err(|e| FilterError::Link {
                            link_type,
                            reason: if e.what == "the built-in filter" {
                                format!(
                                    "the built-in filter reads Ethernet, Linux cooked (SLL, \
                                     SLL2), raw IP and loopback frames; {FULL_SYNTAX_BUILD} \
                                     reads the others"
                                )
                            } else {
                                format!("{} cannot be tested on it (nor can tcpdump)", e.what)
                            },
                        }),
                    #[cfg(feature = "live")]
                    Kind::Libpcap => {
                        libpcap::compile(&self.filter.expression, link_type).map(Compiled::Libpcap)
                    }
                };
                self.programs.push((link_type, compiled));
                self.programs.len() - 1
            }
        };
        let pass = match &self.programs[index].1 {
            Ok(Compiled::BuiltIn(p)) => p.matches(data, wire_len),
            #[cfg(feature = "live")]
            Ok(Compiled::Libpcap(p)) => p.matches(data, wire_len),
            Err(e) => return Err(e.clone()),
        };
        if pass {
            self.counts.matched += 1;
        } else {
            self.counts.dropped += 1;
        }
        Ok(pass)
    }

    /// The counts so far.
    pub fn counts(&self) -> &FilterCounts {
        &self.counts
    }

    /// Frames passed so far.
    pub fn matched(&self) -> u64 {
        self.counts.matched
    }
}

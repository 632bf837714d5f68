//! Plaintext protocols that switch their TCP stream to TLS: SMTP `STARTTLS` (RFC 3207), IMAP
//! `STARTTLS` (RFC 9051 §6.2.1), POP3 `STLS` (RFC 2595 §4), FTP `AUTH TLS`/`AUTH SSL`
//! (RFC 4217 §4), NNTP `STARTTLS` (RFC 4642), ManageSieve `STARTTLS` (RFC 5804 §2.2), XMPP
//! `<starttls/>` (RFC 6120 §5), the LDAP StartTLS extended operation (RFC 4511 §4.14), the
//! PostgreSQL `SSLRequest` and the MySQL/MariaDB `SSLRequest` (a short HandshakeResponse with
//! CLIENT_SSL set, sent after the server's Handshake v10 greeting offered CLIENT_SSL).
//!
//! A [`Negotiation`] reads one direction whose first bytes are not TLS, chunk by chunk, and is
//! recognised by content, never by port: a client direction must open with a command of one of
//! these protocols (`EHLO`, `a1 CAPABILITY`, `CAPA`, `AUTH TLS`, an LDAP StartTLS request, an
//! SSLRequest…), a server direction with a greeting (`220`, `* OK`, `+OK`, `200`, ManageSieve's
//! `"IMPLEMENTATION"` capability lines, a MySQL Handshake v10 packet) or the one-byte PostgreSQL
//! answer. Anything else is given up at once, so a direction that is not one of these
//! protocols is judged exactly as before. It then looks for the client's command, the server's
//! answer to it (the pipeline tells the server's reader when the client asked, see
//! [`Negotiation::peer_asked`]), and a TLS record right after them.
//!
//! Bounded: at most [`super::preamble::MAX_PREAMBLE_BYTES`] are read, lines are kept up to
//! [`MAX_LINE`] bytes and an LDAP message up to [`MAX_LDAP_MESSAGE`]; nothing here can panic.

use super::preamble::{MAX_PREAMBLE_BYTES, looks_like_record};
use std::borrow::Cow;

/// Longest plaintext line kept while it is incomplete (RFC 5321 §4.5.3.1.5: 512 for SMTP
/// replies; IMAP capability lines are longer).
pub const MAX_LINE: usize = 2048;
/// Longest LDAP message read (a StartTLS request is about 31 bytes).
pub const MAX_LDAP_MESSAGE: usize = 512;
/// Client lines read before its command: a client that sent this many without asking for TLS is
/// not negotiating it.
const MAX_CLIENT_LINES: usize = 8;
/// The LDAP StartTLS extended operation (RFC 4511 §4.14.1).
const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// The PostgreSQL `SSLRequest`: length 8, code 80877103 (1234 << 16 | 5679).
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// Longest MySQL server greeting read (MariaDB's and MySQL 8's are about 80–110 bytes).
pub const MAX_MYSQL_GREETING: usize = 512;
/// MySQL capability flag CLIENT_SSL (the server offers TLS; the client asks for it).
const MYSQL_CLIENT_SSL: u16 = 0x0800;
/// MySQL capability flag CLIENT_PROTOCOL_41 (the 4.1 HandshakeResponse layout).
const MYSQL_CLIENT_PROTOCOL_41: u16 = 0x0200;
/// Payload length of the MySQL `SSLRequest` (Protocol::SSLRequest: capabilities, max packet
/// size, character set, 23 reserved bytes — MariaDB puts its extended capabilities in the last
/// four).
const MYSQL_SSL_REQUEST_LEN: usize = 32;
/// Longest MySQL server version string read.
const MAX_MYSQL_VERSION: usize = 64;

/// The plaintext protocol that negotiated TLS. The names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTlsProtocol {
    /// SMTP (or LMTP) `STARTTLS`, answered `220`.
    Smtp,
    /// IMAP `tag STARTTLS`, answered `tag OK`.
    Imap,
    /// POP3 `STLS`, answered `+OK`.
    Pop3,
    /// FTP `AUTH TLS` / `AUTH SSL`, answered `234`.
    Ftp,
    /// NNTP `STARTTLS`, answered `382`.
    Nntp,
    /// XMPP `<starttls/>`, answered `<proceed/>`.
    Xmpp,
    /// LDAP StartTLS extended request, answered with resultCode success (0).
    Ldap,
    /// PostgreSQL `SSLRequest`, answered `S`.
    Postgresql,
    /// ManageSieve `STARTTLS` (RFC 5804), answered `OK`.
    Managesieve,
    /// MySQL/MariaDB `SSLRequest` after a greeting that offered CLIENT_SSL; the server answers
    /// with TLS at once.
    Mysql,
}

impl StartTlsProtocol {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            StartTlsProtocol::Smtp => "smtp",
            StartTlsProtocol::Imap => "imap",
            StartTlsProtocol::Pop3 => "pop3",
            StartTlsProtocol::Ftp => "ftp",
            StartTlsProtocol::Nntp => "nntp",
            StartTlsProtocol::Xmpp => "xmpp",
            StartTlsProtocol::Ldap => "ldap",
            StartTlsProtocol::Postgresql => "postgresql",
            StartTlsProtocol::Managesieve => "managesieve",
            StartTlsProtocol::Mysql => "mysql",
        }
    }

    /// True for the line-based protocols (their requests and answers are text from the wire).
    pub fn is_text(self) -> bool {
        !matches!(
            self,
            StartTlsProtocol::Ldap | StartTlsProtocol::Postgresql | StartTlsProtocol::Mysql
        )
    }

    /// True when the server's consent comes before the client's request: a MySQL greeting that
    /// offers CLIENT_SSL (the server answers the SSLRequest with TLS, not with a message).
    pub fn server_offers_first(self) -> bool {
        self == StartTlsProtocol::Mysql
    }

    /// The protocol's name in a sentence (`SMTP`, `PostgreSQL`).
    pub fn title(self) -> &'static str {
        match self {
            StartTlsProtocol::Smtp => "SMTP",
            StartTlsProtocol::Imap => "IMAP",
            StartTlsProtocol::Pop3 => "POP3",
            StartTlsProtocol::Ftp => "FTP",
            StartTlsProtocol::Nntp => "NNTP",
            StartTlsProtocol::Xmpp => "XMPP",
            StartTlsProtocol::Ldap => "LDAP",
            StartTlsProtocol::Postgresql => "PostgreSQL",
            StartTlsProtocol::Managesieve => "ManageSieve",
            StartTlsProtocol::Mysql => "MySQL",
        }
    }

    /// How the client's request is called in a sentence.
    pub fn command(self) -> &'static str {
        match self {
            StartTlsProtocol::Smtp
            | StartTlsProtocol::Imap
            | StartTlsProtocol::Nntp
            | StartTlsProtocol::Managesieve => "STARTTLS",
            StartTlsProtocol::Pop3 => "STLS",
            StartTlsProtocol::Ftp => "AUTH TLS",
            StartTlsProtocol::Xmpp => "<starttls/>",
            StartTlsProtocol::Ldap => "StartTLS extended request",
            StartTlsProtocol::Postgresql | StartTlsProtocol::Mysql => "SSLRequest",
        }
    }
}

impl std::fmt::Display for StartTlsProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the client asked for, as the server's reader needs it to find the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The protocol, when the client's opening named it (a bare `STARTTLS` does not).
    pub protocol: Option<StartTlsProtocol>,
    /// The IMAP tag the answer carries.
    pub tag: Option<String>,
}

/// What a chunk brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'b> {
    /// Nothing decided yet.
    NeedMore,
    /// The client asked to start TLS in this chunk (the command completed here); reading goes on:
    /// the bytes after the request are kept, and read by the next push (an empty one will do).
    Asked {
        /// The request.
        ask: Ask,
        /// The command as sent (escaped, at most [`MAX_SHOWN`] characters).
        command: String,
    },
    /// TLS starts: these bytes (the rest of this chunk, or kept bytes and it) are TLS records.
    Tls {
        /// The protocol, when known from this direction.
        protocol: Option<StartTlsProtocol>,
        /// The frame of the command (client) or of the positive answer (server).
        frame: u64,
        /// The first TLS bytes.
        rest: Cow<'b, [u8]>,
    },
    /// The server answered the client's request with a refusal.
    Refused {
        /// The protocol.
        protocol: Option<StartTlsProtocol>,
        /// The answer (escaped, at most [`MAX_SHOWN`] characters).
        reply: String,
    },
    /// The server's greeting does not offer TLS (a MySQL greeting without CLIENT_SSL) before
    /// any request; reading goes on (a request may still come and be refused).
    NotOffered {
        /// The protocol.
        protocol: StartTlsProtocol,
    },
    /// Not a negotiation of TLS (or no longer one): the direction is not TLS.
    NotTls,
}

/// Characters of a command or reply shown in a report.
pub const MAX_SHOWN: usize = 80;

/// Which side a direction's opening shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// A client's text command; the protocol, when the command names it.
    Client(Option<StartTlsProtocol>),
    /// A server greeting of a text protocol (`220` is SMTP or FTP: the answer code tells).
    Server(Greeting),
    /// An LDAP client (a StartTLS request first).
    LdapClient,
    /// An LDAP server's first message.
    LdapServer,
    /// A PostgreSQL client's SSLRequest.
    PgClient,
    /// A PostgreSQL server's one-byte answer.
    PgServer,
    /// An XMPP client's stream header (no `id`).
    XmppClient,
    /// An XMPP server's stream header (RFC 6120 §4.7.3: the server's carries an `id`).
    XmppServer,
    /// A MySQL client's SSLRequest.
    MysqlClient,
    /// A MySQL server's Handshake v10 greeting.
    MysqlServer,
    /// Not known yet: the first line (or message) is not whole, and could still open one of
    /// these protocols. Waiting for it keeps the outcome the same however the bytes were
    /// segmented.
    Pending,
}

/// A text server's greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeting {
    /// `220`: SMTP or FTP.
    Code220,
    /// `200`/`201`: NNTP.
    Nntp,
    /// `* OK` / `* PREAUTH`: IMAP.
    Imap,
    /// `+OK`: POP3.
    Pop3,
    /// ManageSieve capability lines (`"IMPLEMENTATION" "…"`), then `OK`.
    Sieve,
}

/// Reads the plaintext start of one direction (see the module documentation).
#[derive(Debug)]
pub struct Negotiation {
    opening: Opening,
    /// Bytes of an incomplete line or message.
    kept: Vec<u8>,
    /// Bytes of the whole lines or messages read so far.
    consumed: usize,
    /// Lines read (client) or final answers read (server, the greeting first).
    lines: usize,
    /// The client asked (client side) — TLS must follow; its frame.
    asked_frame: Option<u64>,
    /// The peer (client) asked: the server's next answer decides.
    peer_ask: Option<Ask>,
    /// The server agreed: TLS must follow; the protocol and the answer's frame.
    agreed: Option<(Option<StartTlsProtocol>, u64)>,
    /// The frame of the bytes kept from earlier chunks: a message they complete (a lone `S`
    /// judged once more bytes came) was read in that frame.
    kept_frame: u64,
    /// The protocol this direction's opening named.
    protocol: Option<StartTlsProtocol>,
}

impl Negotiation {
    /// A reader for a direction whose first bytes (`first`, a whole first chunk) are not TLS;
    /// `None` when they open none of the protocols read here.
    pub fn begin(first: &[u8]) -> Option<Negotiation> {
        let opening = match opening(first) {
            Some(opening) => opening,
            None if could_open(first) => Opening::Pending,
            None => return None,
        };
        let protocol = protocol_of(opening);
        Some(Negotiation {
            opening,
            kept: Vec::new(),
            consumed: 0,
            lines: 0,
            asked_frame: None,
            peer_ask: None,
            agreed: None,
            protocol,
            kept_frame: 0,
        })
    }

    /// The other direction (the client) asked to start TLS: the next answer decides.
    pub fn peer_asked(&mut self, ask: Ask) {
        // A server's reader, or one whose opening is not whole yet.
        if !matches!(
            self.opening,
            Opening::Client(_)
                | Opening::LdapClient
                | Opening::PgClient
                | Opening::XmppClient
                | Opening::MysqlClient
        ) {
            if let Some(p) = ask.protocol {
                self.protocol.get_or_insert(p);
            }
            // The answer comes after the request: a positive answer read before it (IMAP's
            // `. OK` to CAPABILITY) is not the one. A MySQL server consents in its greeting,
            // before the request, and answers it with TLS.
            if self.opening != Opening::MysqlServer {
                self.agreed = None;
            }
            self.peer_ask = Some(ask);
        }
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.kept.capacity()
    }

    /// Reads the next chunk, from `frame`.
    pub fn push<'b>(&mut self, frame: u64, bytes: &'b [u8]) -> Step<'b> {
        let mut kept = std::mem::take(&mut self.kept);
        let buffered = !kept.is_empty();
        if buffered {
            kept.extend_from_slice(bytes);
        }
        let view: &[u8] = if buffered { &kept } else { bytes };
        let old_len = if buffered {
            view.len() - bytes.len()
        } else {
            0
        };
        let (used, step) = self.scan(frame, view, old_len);
        if let Step::Tls {
            protocol, frame, ..
        } = step
        {
            let rest = if buffered {
                Cow::Owned(kept.split_off(used.min(kept.len())))
            } else {
                Cow::Borrowed(bytes.get(used..).unwrap_or(&[]))
            };
            return Step::Tls {
                protocol,
                frame,
                rest,
            };
        }
        // Keep what was not used.
        if buffered {
            kept.drain(..used.min(kept.len()));
        } else {
            kept.extend_from_slice(bytes.get(used..).unwrap_or(&[]));
        }
        self.kept = kept;
        if !bytes.is_empty() && !self.kept.is_empty() {
            self.kept_frame = frame;
        }
        // Limits on positions, never on how much one chunk brought: an incomplete line or
        // message ends at least a byte later.
        match step {
            Step::NeedMore
                if self.consumed + self.kept.len() >= MAX_PREAMBLE_BYTES
                    || self.kept.len() >= MAX_LINE =>
            {
                Step::NotTls
            }
            step => step,
        }
    }

    /// Reads complete lines or messages of `b`; returns the bytes used and what they showed.
    /// A [`Step::Tls`] returned here has an empty `rest`: the caller cuts it at `used`.
    fn scan<'b>(&mut self, frame: u64, b: &[u8], old_len: usize) -> (usize, Step<'b>) {
        if self.opening == Opening::Pending {
            // PostgreSQL's one-byte answer alone: a MySQL greeting may also start with `N` or
            // `S` (its length), so only the client's SSLRequest tells.
            let pg_asked = self
                .peer_ask
                .as_ref()
                .is_some_and(|a| a.protocol == Some(StartTlsProtocol::Postgresql));
            let opening = match b {
                [b'N' | b'S'] if pg_asked => Some(Opening::PgServer),
                _ => opening(b),
            };
            match opening {
                Some(opening) => {
                    self.opening = opening;
                    self.protocol = protocol_of(opening);
                }
                None if could_open(b) => return (0, Step::NeedMore),
                None => return (0, Step::NotTls),
            }
        }
        let mut at = 0;
        loop {
            let rest = b.get(at..).unwrap_or(&[]);
            if let Some(step) = self.after_request_or_answer(rest) {
                return (at, step);
            }
            let Some(len) = self.message_len(rest) else {
                return (at, Step::NeedMore);
            };
            let Some(message) = rest.get(..len) else {
                return (at, Step::NeedMore);
            };
            let text = is_text_opening(self.opening);
            if self.consumed + len > MAX_PREAMBLE_BYTES || (text && len > MAX_LINE) {
                return (at, Step::NotTls);
            }
            self.consumed += len;
            at += len;
            // A message within the bytes kept from earlier chunks was read in their frame.
            let read_in = if at <= old_len {
                self.kept_frame
            } else {
                frame
            };
            match self.message(read_in, message) {
                Step::NeedMore => {}
                step => return (at, step),
            }
        }
    }

    /// Once the client asked (client side) or the server agreed (server side), the next bytes
    /// must be a TLS record: `Some` when they decide.
    fn after_request_or_answer<'b>(&mut self, rest: &[u8]) -> Option<Step<'b>> {
        let (protocol, switched) = match (self.asked_frame, self.agreed) {
            (Some(f), _) => (self.protocol, f),
            (None, Some((p, f))) => (p.or(self.protocol), f),
            (None, None) => return None,
        };
        match looks_like_record(rest) {
            // The start of a record header, or nothing yet: wait (a text line never starts
            // with a record's content type).
            None => Some(Step::NeedMore),
            Some(true) => Some(Step::Tls {
                protocol,
                frame: switched,
                rest: Cow::Borrowed(&[]),
            }),
            // A positive answer the client's request was not seen for (a POP3 `+OK` opening a
            // capability list): read on.
            Some(false) if self.asked_frame.is_none() && self.peer_ask.is_none() => {
                self.agreed = None;
                None
            }
            // More plaintext after the request or its acceptance: refused, or never meant.
            Some(false) => Some(Step::NotTls),
        }
    }

    /// Length of the next complete line or message at the start of `b`, `None` until it is
    /// complete.
    fn message_len(&self, b: &[u8]) -> Option<usize> {
        match self.opening {
            Opening::Client(_) | Opening::Server(_) => {
                b.iter().position(|&c| c == b'\n').map(|p| p + 1)
            }
            Opening::LdapClient | Opening::LdapServer => ber_len(b),
            Opening::PgClient => (b.len() >= PG_SSL_REQUEST.len()).then_some(PG_SSL_REQUEST.len()),
            Opening::PgServer => (!b.is_empty()).then_some(1),
            Opening::MysqlClient | Opening::MysqlServer => mysql_packet_len(b),
            // One XML tag (and the text before it) at a time.
            Opening::XmppClient | Opening::XmppServer => {
                b.iter().position(|&c| c == b'>').map(|p| p + 1)
            }
            Opening::Pending => None,
        }
    }

    /// One complete line or message.
    fn message<'b>(&mut self, frame: u64, m: &[u8]) -> Step<'b> {
        match self.opening {
            Opening::Client(_) => self.client_line(frame, trim_eol(m)),
            Opening::Server(greeting) => self.server_line(frame, greeting, trim_eol(m)),
            Opening::LdapClient => match ldap_extended_request_oid(m) {
                Some(LDAP_STARTTLS_OID) => self.asked(frame, None, "StartTLS extended request"),
                _ => Step::NotTls,
            },
            Opening::LdapServer => match ldap_extended_response_code(m) {
                Some(0) => self.agree(frame, Some(StartTlsProtocol::Ldap)),
                Some(code) if self.peer_ask.is_some() => Step::Refused {
                    protocol: Some(StartTlsProtocol::Ldap),
                    reply: format!("resultCode {code} ({})", ldap_result_name(code)),
                },
                _ => Step::NotTls,
            },
            Opening::PgClient if m == PG_SSL_REQUEST => self.asked(frame, None, "SSLRequest"),
            Opening::PgClient | Opening::Pending => Step::NotTls,
            Opening::XmppClient => match xml_tag(m) {
                Some(tag) if is_xmpp_tls(tag, b"<starttls") && tag.ends_with(b"/>") => {
                    self.asked(frame, None, "<starttls/>")
                }
                _ => Step::NeedMore,
            },
            Opening::XmppServer => match xml_tag(m) {
                Some(tag) if is_xmpp_tls(tag, b"<proceed") => {
                    self.agree(frame, Some(StartTlsProtocol::Xmpp))
                }
                Some(tag) if is_xmpp_tls(tag, b"<failure") && self.peer_ask.is_some() => {
                    Step::Refused {
                        protocol: Some(StartTlsProtocol::Xmpp),
                        reply: shown(tag),
                    }
                }
                _ => Step::NeedMore,
            },
            Opening::MysqlClient if mysql_ssl_request(m) => self.asked(frame, None, "SSLRequest"),
            Opening::MysqlClient => Step::NotTls,
            Opening::MysqlServer => self.mysql_server_packet(frame, m),
            Opening::PgServer => match m {
                b"S" => self.agree(frame, Some(StartTlsProtocol::Postgresql)),
                b"N" if self.peer_ask.is_some() => Step::Refused {
                    protocol: Some(StartTlsProtocol::Postgresql),
                    reply: "N (the server does not accept SSL)".into(),
                },
                _ => Step::NotTls,
            },
        }
    }

    /// The client's request, read in `frame`.
    fn asked<'b>(&mut self, frame: u64, tag: Option<String>, command: &str) -> Step<'b> {
        self.asked_frame = Some(frame);
        Step::Asked {
            ask: Ask {
                protocol: self.protocol,
                tag,
            },
            command: shown(command.as_bytes()),
        }
    }

    /// The server agreed in `frame`: TLS must follow.
    fn agree<'b>(&mut self, frame: u64, protocol: Option<StartTlsProtocol>) -> Step<'b> {
        self.agreed = Some((protocol, frame));
        Step::NeedMore
    }

    /// One packet of a MySQL server: the greeting first (it offers TLS or not), then, after an
    /// SSLRequest the greeting did not offer TLS for, the answer (an ERR packet, say).
    fn mysql_server_packet<'b>(&mut self, frame: u64, m: &[u8]) -> Step<'b> {
        self.lines += 1;
        if self.lines == 1 {
            return match mysql_greeting(m) {
                Some(true) => self.agree(frame, Some(StartTlsProtocol::Mysql)),
                Some(false) => Step::NotOffered {
                    protocol: StartTlsProtocol::Mysql,
                },
                None => Step::NotTls,
            };
        }
        if self.peer_ask.is_none() {
            return Step::NotTls;
        }
        // MySQL ERR packet (0xff, then the error code): shown by its code.
        let reply = match m.get(4..) {
            Some([0xff, lo, hi, ..]) => {
                format!("ERR packet, error {}", u16::from_le_bytes([*lo, *hi]))
            }
            _ => "a packet other than TLS".to_string(),
        };
        Step::Refused {
            protocol: Some(StartTlsProtocol::Mysql),
            reply,
        }
    }

    fn client_line<'b>(&mut self, frame: u64, line: &[u8]) -> Step<'b> {
        self.lines += 1;
        if self.lines > MAX_CLIENT_LINES {
            return Step::NotTls;
        }
        let mut words = line.split(|&c| c == b' ');
        let first = words.next().unwrap_or(&[]);
        let second = words.next().unwrap_or(&[]);
        let is = |w: &[u8], name: &str| w.eq_ignore_ascii_case(name.as_bytes());
        let command = match self.protocol {
            Some(StartTlsProtocol::Imap) => {
                (is(second, "STARTTLS") && words.next().is_none()).then(|| shown(first))
            }
            Some(StartTlsProtocol::Pop3) => (is(line, "STLS")).then(String::new),
            Some(StartTlsProtocol::Ftp) => (is(first, "AUTH")
                && ["TLS", "SSL", "TLS-C", "TLS-P"]
                    .iter()
                    .any(|m| is(second, m))
                && words.next().is_none())
            .then(String::new),
            _ => is(line, "STARTTLS").then(String::new),
        };
        match command {
            Some(tag) if self.protocol == Some(StartTlsProtocol::Imap) => {
                let shown_line = shown(line);
                self.asked_frame = Some(frame);
                Step::Asked {
                    ask: Ask {
                        protocol: self.protocol,
                        tag: Some(tag),
                    },
                    command: shown_line,
                }
            }
            Some(_) => {
                let shown_line = shown(line);
                self.asked_frame = Some(frame);
                Step::Asked {
                    ask: Ask {
                        protocol: self.protocol,
                        tag: None,
                    },
                    command: shown_line,
                }
            }
            None if line.iter().all(|c| c.is_ascii_graphic() || *c == b' ') => Step::NeedMore,
            None => Step::NotTls,
        }
    }

    fn server_line<'b>(&mut self, frame: u64, greeting: Greeting, line: &[u8]) -> Step<'b> {
        if !line
            .iter()
            .all(|c| c.is_ascii_graphic() || *c == b' ' || *c == b'\t')
        {
            return Step::NotTls;
        }
        // The answer the peer's request is waiting for, and whether it agrees.
        let answer: Option<(bool, Option<StartTlsProtocol>)> = match greeting {
            Greeting::Code220 | Greeting::Nntp => reply_code(line).map(|code| match code {
                220 if greeting == Greeting::Code220 => (true, Some(StartTlsProtocol::Smtp)),
                234 | 334 if greeting == Greeting::Code220 => (true, Some(StartTlsProtocol::Ftp)),
                382 if greeting == Greeting::Nntp => (true, Some(StartTlsProtocol::Nntp)),
                _ => (false, None),
            }),
            // RFC 5804 §1.3: responses are `OK`, `NO` or `BYE`, then optional text; capability
            // lines start with a quoted string.
            Greeting::Sieve => {
                let word = line
                    .split(|&c| c == b' ' || c == b'(')
                    .next()
                    .unwrap_or(&[]);
                if word.eq_ignore_ascii_case(b"OK") {
                    Some((true, Some(StartTlsProtocol::Managesieve)))
                } else if word.eq_ignore_ascii_case(b"NO") || word.eq_ignore_ascii_case(b"BYE") {
                    Some((false, None))
                } else {
                    None
                }
            }
            Greeting::Pop3 => match line {
                [b'+', b'O', b'K', ..] => Some((true, Some(StartTlsProtocol::Pop3))),
                [b'-', b'E', b'R', b'R', ..] => Some((false, None)),
                _ => None,
            },
            Greeting::Imap => {
                let mut words = line.split(|&c| c == b' ');
                let tag = words.next().unwrap_or(&[]);
                let status = words.next().unwrap_or(&[]);
                let wanted = self.peer_ask.as_ref().and_then(|a| a.tag.as_deref());
                if tag == b"*" || tag == b"+" || wanted.is_some_and(|w| w.as_bytes() != tag) {
                    None
                } else if status.eq_ignore_ascii_case(b"OK") {
                    Some((true, Some(StartTlsProtocol::Imap)))
                } else if status.eq_ignore_ascii_case(b"NO") || status.eq_ignore_ascii_case(b"BAD")
                {
                    Some((false, None))
                } else {
                    None
                }
            }
        };
        let Some((agrees, protocol)) = answer else {
            return Step::NeedMore;
        };
        // The first answer of a code-based or POP3 server is its greeting.
        self.lines += 1;
        if greeting != Greeting::Imap && self.lines == 1 {
            return Step::NeedMore;
        }
        let asked = self.peer_ask.is_some();
        if agrees {
            // Without the client's request (its direction not captured) a positive answer
            // still counts when TLS follows it at once.
            let protocol = if asked {
                self.protocol.or(protocol)
            } else {
                protocol
            };
            self.agreed = Some((protocol, frame));
            return Step::NeedMore;
        }
        self.agreed = None;
        if asked {
            return Step::Refused {
                protocol: self.protocol,
                reply: shown(line),
            };
        }
        Step::NeedMore
    }
}

/// How a whole direction whose first bytes are not TLS opens, read at once (the extract reads
/// directions this way): `None` when it opens none of these protocols; else where its TLS
/// starts, `None` inside when it never does (refused, or not a negotiation of TLS). Read as the
/// stream parser reads it, within the first [`MAX_PREAMBLE_BYTES`].
pub fn tls_start(bytes: &[u8]) -> Option<Option<usize>> {
    let mut negotiation = Negotiation::begin(bytes)?;
    let head = bytes.get(..MAX_PREAMBLE_BYTES).unwrap_or(bytes);
    let mut step = negotiation.push(0, head);
    if matches!(step, Step::Asked { .. }) {
        step = negotiation.push(0, &[]);
    }
    Some(match step {
        Step::Tls { rest, .. } => Some(head.len().saturating_sub(rest.len())),
        _ => None,
    })
}

/// True when the first byte of a direction read here is text (a line-based protocol), not
/// binary (LDAP's BER, PostgreSQL's messages).
pub fn is_text(bytes: &[u8]) -> bool {
    Negotiation::begin(bytes).is_some_and(|n| is_text_opening(n.opening))
}

/// True for the openings of the line-based protocols (and XMPP's XML).
fn is_text_opening(opening: Opening) -> bool {
    matches!(
        opening,
        Opening::Client(_) | Opening::Server(_) | Opening::XmppClient | Opening::XmppServer
    )
}

/// Words a plaintext exchange before TLS keeps when redacted: commands, statuses and markers of
/// SMTP, IMAP, POP3, FTP, NNTP and ManageSieve (compared without case; ManageSieve's quoted
/// capability names without their quotes).
const KEYWORDS: [&str; 39] = [
    "EHLO",
    "HELO",
    "LHLO",
    "STARTTLS",
    "STLS",
    "AUTH",
    "TLS",
    "SSL",
    "TLS-C",
    "TLS-P",
    "CAPA",
    "FEAT",
    "CAPABILITY",
    "CAPABILITIES",
    "ID",
    "NOOP",
    "QUIT",
    "LOGOUT",
    "MODE",
    "READER",
    "OK",
    "NO",
    "BAD",
    "PREAUTH",
    "BYE",
    "*",
    "+",
    "+OK",
    "-ERR",
    ".",
    "IMAP4rev1",
    "IMPLEMENTATION",
    "SASL",
    "SIEVE",
    "MAXREDIRECTS",
    "NOTIFY",
    "LANGUAGE",
    "OWNER",
    "VERSION",
];

/// For redaction: keeps the keywords and reply codes of each line of `text` and overwrites every
/// other word (host names in greetings and `EHLO`, reply texts, IMAP tags) with `x`s of its
/// length (CR, LF and spaces stay).
pub fn keep_keywords(text: &mut [u8]) {
    for word in text.split_mut(|&c| c == b' ' || c == b'\r' || c == b'\n') {
        // ManageSieve quotes its capability names (`"SIEVE"`).
        let unquoted = word
            .strip_prefix(b"\"")
            .and_then(|w| w.strip_suffix(b"\""))
            .unwrap_or(word);
        let keep = match &*word {
            w if KEYWORDS
                .iter()
                .any(|k| unquoted.eq_ignore_ascii_case(k.as_bytes())) =>
            {
                w.len()
            }
            // `250-text` of a multi-line reply: the code and its dash.
            [a, b, c, rest @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => match rest {
                [] => 3,
                [b'-', ..] => 4,
                _ => 0,
            },
            // An enhanced status code (RFC 3463): class.subject.detail.
            w if is_enhanced_status(w) => w.len(),
            // XMPP: a tag's name (`<stream:stream`, `<starttls`), kept whole.
            [b'<', ..] => word.len(),
            // XMPP: an attribute (`to='host'`): its name and quotes stay, its value becomes `x`s
            // unless it is one of the protocol's namespaces; what follows the closing quote
            // (`/>`, the next tags) stays.
            w => match xml_attribute_value(w) {
                Some((from, to)) => {
                    let value = w.get(from..to).unwrap_or(&[]);
                    if !XMPP_NAMESPACES.contains(&value)
                        && let Some(v) = word.get_mut(from..to)
                    {
                        v.fill(b'x');
                    }
                    continue;
                }
                None => 0,
            },
        };
        if let Some(rest) = word.get_mut(keep..) {
            rest.fill(b'x');
        }
    }
}

/// Namespaces an XMPP stream opening and its TLS negotiation carry (RFC 6120 §4.8, §5.4).
const XMPP_NAMESPACES: [&[u8]; 4] = [
    XMPP_TLS_NS,
    b"jabber:client",
    b"jabber:server",
    b"http://etherx.jabber.org/streams",
];

/// Where the value of `name='value'` (or `"value"`) lies in `w`: (start, end) of the value.
fn xml_attribute_value(w: &[u8]) -> Option<(usize, usize)> {
    let eq = w.iter().position(|&c| c == b'=')?;
    let quote = *w.get(eq + 1)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let from = eq + 2;
    let len = w.get(from..)?.iter().position(|&c| c == quote)?;
    Some((from, from + len))
}

/// `4.7.0`: a class 2, 4 or 5, then two numbers of one to three digits (RFC 3463 §2).
fn is_enhanced_status(w: &[u8]) -> bool {
    let mut parts = w.split(|&c| c == b'.');
    let class = parts.next().unwrap_or(&[]);
    let numbers: Vec<&[u8]> = parts.collect();
    matches!(class, [b'2' | b'4' | b'5'])
        && numbers.len() == 2
        && numbers
            .iter()
            .all(|n| (1..=3).contains(&n.len()) && n.iter().all(u8::is_ascii_digit))
}

/// For redaction: [`keep_keywords`] applied to every part of `sentence` quoted in backticks (a
/// verdict detail quotes the request and the answer so).
pub fn keep_keywords_quoted(sentence: &str) -> String {
    let mut out = Vec::with_capacity(sentence.len());
    for (i, part) in sentence.split('`').enumerate() {
        if i > 0 {
            out.push(b'`');
        }
        let mut bytes = part.as_bytes().to_vec();
        if i % 2 == 1 {
            keep_keywords(&mut bytes);
        }
        out.extend_from_slice(&bytes);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The protocol an opening names.
fn protocol_of(opening: Opening) -> Option<StartTlsProtocol> {
    match opening {
        Opening::Client(p) => p,
        Opening::Server(Greeting::Imap) => Some(StartTlsProtocol::Imap),
        Opening::Server(Greeting::Pop3) => Some(StartTlsProtocol::Pop3),
        Opening::Server(Greeting::Nntp) => Some(StartTlsProtocol::Nntp),
        Opening::Server(Greeting::Code220) | Opening::Pending => None,
        Opening::LdapClient | Opening::LdapServer => Some(StartTlsProtocol::Ldap),
        Opening::PgClient | Opening::PgServer => Some(StartTlsProtocol::Postgresql),
        Opening::XmppClient | Opening::XmppServer => Some(StartTlsProtocol::Xmpp),
        Opening::Server(Greeting::Sieve) => Some(StartTlsProtocol::Managesieve),
        Opening::MysqlClient | Opening::MysqlServer => Some(StartTlsProtocol::Mysql),
    }
}

/// Length of the MySQL packet at the start of `b` (3-byte little-endian payload length, a
/// sequence id, the payload) once it is all there; a packet longer than
/// [`MAX_MYSQL_GREETING`] is reported whole at that size, and judged rather than waited for.
fn mysql_packet_len(b: &[u8]) -> Option<usize> {
    let [a, c, d, _, ..] = b else {
        return None;
    };
    let len = (usize::from(*a) | usize::from(*c) << 8 | usize::from(*d) << 16) + 4;
    let len = len.min(MAX_MYSQL_GREETING);
    (b.len() >= len).then_some(len)
}

/// A MySQL Handshake v10 greeting (sequence id 0, protocol version 10, a printable server
/// version ending in NUL, connection id, 8 bytes of scramble, a filler, the lower capability
/// flags): `Some(true)` when it offers CLIENT_SSL, `None` when `m` (a whole packet) is not one.
fn mysql_greeting(m: &[u8]) -> Option<bool> {
    // A length beyond the limit is not a greeting (as [`mysql_greeting_prefix`] judges it
    // before the packet is whole; found by the `tls_chunking` fuzz target).
    let [a, c, d, ..] = m else {
        return None;
    };
    let declared = usize::from(*a) | usize::from(*c) << 8 | usize::from(*d) << 16;
    if !(18..=MAX_MYSQL_GREETING - 4).contains(&declared) {
        return None;
    }
    let len = mysql_packet_len(m)?;
    let (header, payload) = m.get(..len)?.split_at_checked(4)?;
    if header.get(3) != Some(&0) || payload.first() != Some(&0x0a) {
        return None;
    }
    let version_len = payload.get(1..)?.iter().position(|&c| c == 0)?;
    if !(1..=MAX_MYSQL_VERSION).contains(&version_len)
        || !payload
            .get(1..1 + version_len)?
            .iter()
            .all(|c| c.is_ascii_graphic())
    {
        return None;
    }
    // Version, NUL, connection id (4), scramble part 1 (8), filler (1), capabilities (2).
    let at = 1 + version_len + 1 + 4 + 8 + 1;
    let caps = u16::from_le_bytes([*payload.get(at)?, *payload.get(at + 1)?]);
    Some(caps & MYSQL_CLIENT_SSL != 0)
}

/// True when `b`, not a whole greeting yet, is the start of one ([`mysql_greeting`] judges the
/// whole packet): every byte so far fits.
fn mysql_greeting_prefix(b: &[u8]) -> bool {
    if let [a, c, d, ..] = b {
        let len = usize::from(*a) | usize::from(*c) << 8 | usize::from(*d) << 16;
        if !(18..=MAX_MYSQL_GREETING - 4).contains(&len) || b.len() >= len + 4 {
            return false;
        }
    } else if b.get(1..).is_some_and(|r| r.iter().any(|&c| c > 1)) {
        // The second length byte of a greeting within the limit is 0 or 1.
        return false;
    }
    if b.get(3).is_some_and(|&seq| seq != 0) || b.get(4).is_some_and(|&v| v != 0x0a) {
        return false;
    }
    // The version so far: printable until its NUL.
    let version = b.get(5..).unwrap_or(&[]);
    let printable = version.iter().take_while(|&&c| c != 0).count();
    printable <= MAX_MYSQL_VERSION
        && version
            .iter()
            .take_while(|&&c| c != 0)
            .all(u8::is_ascii_graphic)
        && (printable > 0 || version.is_empty())
}

/// A MySQL `SSLRequest`: a 32-byte HandshakeResponse41 header, sequence id 1, with
/// CLIENT_SSL and CLIENT_PROTOCOL_41 among its capabilities.
fn mysql_ssl_request(m: &[u8]) -> bool {
    match m {
        [0x20, 0, 0, 1, lo, hi, rest @ ..] if rest.len() == MYSQL_SSL_REQUEST_LEN - 2 => {
            let caps = u16::from_le_bytes([*lo, *hi]);
            caps & MYSQL_CLIENT_SSL != 0 && caps & MYSQL_CLIENT_PROTOCOL_41 != 0
        }
        _ => false,
    }
}

/// True when `b`, shorter than an SSLRequest, is the start of one.
fn mysql_ssl_request_prefix(b: &[u8]) -> bool {
    let header: [u8; 4] = [0x20, 0, 0, 1];
    b.len() < MYSQL_SSL_REQUEST_LEN + 4
        && b.iter().zip(header).all(|(a, h)| *a == h)
        && match b.get(4..6) {
            Some([lo, hi]) => {
                let caps = u16::from_le_bytes([*lo, *hi]);
                caps & MYSQL_CLIENT_SSL != 0 && caps & MYSQL_CLIENT_PROTOCOL_41 != 0
            }
            _ => b.get(5).is_none_or(|hi| hi & 0x0a == 0x0a),
        }
}

/// The tag at the end of `m` (text before it, such as whitespace, is skipped).
fn xml_tag(m: &[u8]) -> Option<&[u8]> {
    let start = m.iter().position(|&c| c == b'<')?;
    m.get(start..)
}

/// True for a tag named `name` (`<proceed`, `<starttls`…) in the TLS namespace
/// `urn:ietf:params:xml:ns:xmpp-tls` (RFC 6120 §5.4.2).
fn is_xmpp_tls(tag: &[u8], name: &[u8]) -> bool {
    tag.starts_with(name)
        && matches!(tag.get(name.len()), Some(b' ' | b'/' | b'>'))
        && tag.windows(XMPP_TLS_NS.len()).any(|w| w == XMPP_TLS_NS)
}

/// The XMPP TLS namespace.
const XMPP_TLS_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-tls";

/// An XMPP stream's opening (RFC 6120 §4.7): an optional XML declaration, then the
/// `<stream:stream` header, whole. `None` when `b` is not one (or not whole yet).
fn xmpp_opening(b: &[u8]) -> Option<Opening> {
    let start = if b.starts_with(b"<?xml") {
        let end = b.iter().position(|&c| c == b'>')?;
        let rest = b.get(end + 1..)?;
        end + 1 + rest.iter().take_while(|c| c.is_ascii_whitespace()).count()
    } else {
        0
    };
    let header = b.get(start..)?;
    if !header.starts_with(b"<stream:stream") {
        return None;
    }
    let end = header.iter().position(|&c| c == b'>')?;
    let tag = header.get(..end)?;
    // Text only, as [`could_open`] requires of an opening not whole yet.
    if !b.get(..start + end)?.iter().all(|&c| is_text_byte(c)) {
        return None;
    }
    let has_id = tag.windows(4).any(|w| w == b" id=");
    Some(if has_id {
        Opening::XmppServer
    } else {
        Opening::XmppClient
    })
}

/// True when `b`, too short to tell, could still become an opening: the start of a text line
/// (printable ASCII, no line end yet, shorter than [`MAX_LINE`]), of an SSLRequest, or of an
/// LDAP message not all there.
fn could_open(b: &[u8]) -> bool {
    match b {
        [] => true,
        _ if PG_SSL_REQUEST.starts_with(b) => true,
        _ if mysql_greeting_prefix(b) || mysql_ssl_request_prefix(b) => true,
        [0x30, ..] => ber_len(b).is_none() && b.len() < MAX_LDAP_MESSAGE,
        // An XMPP stream header not whole yet (it may span lines): an XML declaration, then
        // (the start of) `<stream:stream`.
        [b'<', ..] => {
            let header = if b.starts_with(b"<?xml") {
                match b.iter().position(|&c| c == b'>') {
                    Some(end) => {
                        let rest = b.get(end + 1..).unwrap_or(&[]);
                        let blank = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
                        rest.get(blank..).unwrap_or(&[])
                    }
                    None => &[],
                }
            } else if b"<?xml".starts_with(b) {
                &[]
            } else {
                b
            };
            let stream: &[u8] = b"<stream:stream";
            b.len() < MAX_LINE
                && (stream.starts_with(header) || header.starts_with(stream))
                && b.iter().all(|&c| is_text_byte(c))
        }
        _ => {
            b.len() < MAX_LINE
                && b.iter()
                    .all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\t' || c == b'\r')
        }
    }
}

/// A byte of a text opening: printable ASCII or white space.
fn is_text_byte(c: u8) -> bool {
    c.is_ascii_graphic() || c.is_ascii_whitespace()
}

/// How a direction opens, from its first chunk; `None` for anything not read here.
fn opening(b: &[u8]) -> Option<Opening> {
    if b.starts_with(&PG_SSL_REQUEST) {
        return Some(Opening::PgClient);
    }
    if b.len() > MYSQL_SSL_REQUEST_LEN + 4 - 1 && mysql_ssl_request(b.get(..36)?) {
        return Some(Opening::MysqlClient);
    }
    if mysql_greeting(b).is_some() {
        return Some(Opening::MysqlServer);
    }
    // The start of a MySQL greeting or SSLRequest: wait for the whole packet.
    if mysql_greeting_prefix(b) || mysql_ssl_request_prefix(b) {
        return None;
    }
    match b {
        // PostgreSQL's answer: `N` (whatever follows but the start of a MySQL greeting), or
        // `S` then a record (or the start of one). A lone `S` may still be `STLS` or
        // `STARTTLS`, a lone `N` the length of a MySQL greeting: undecided (found by the
        // `tls_chunking` fuzz target); the client's SSLRequest, when it was read, tells.
        [b'N'] | [b'S'] => return None,
        [b'N', ..] => return Some(Opening::PgServer),
        [b'S', rest @ ..] if looks_like_record(rest) != Some(false) => {
            return Some(Opening::PgServer);
        }
        [0x30, ..] => {
            return match (ldap_extended_request_oid(b), ldap_extended_response_code(b)) {
                (Some(LDAP_STARTTLS_OID), _) => Some(Opening::LdapClient),
                (_, Some(_)) => Some(Opening::LdapServer),
                _ => None,
            };
        }
        [b'<', ..] => return xmpp_opening(b),
        _ => {}
    }
    // A text opening: the first line must be whole.
    let end = b.iter().position(|&c| c == b'\n')?;
    let line = trim_eol(b.get(..=end)?);
    // Text only, as [`could_open`] requires of a line not whole yet.
    if !line
        .iter()
        .all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\t' || c == b'\r')
    {
        return None;
    }
    let starts = |p: &str| {
        line.len() >= p.len()
            && line
                .get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    };
    let mut words = line.split(|&c| c == b' ');
    let first = words.next().unwrap_or(&[]);
    let second = words.next().unwrap_or(&[]);
    let is = |w: &[u8], name: &str| w.eq_ignore_ascii_case(name.as_bytes());
    if let [a, b2, c, rest @ ..] = line
        && a.is_ascii_digit()
        && b2.is_ascii_digit()
        && c.is_ascii_digit()
        && matches!(rest.first(), None | Some(b' ' | b'-'))
    {
        return match line.get(..3) {
            Some(b"220") => Some(Opening::Server(Greeting::Code220)),
            Some(b"200" | b"201") => Some(Opening::Server(Greeting::Nntp)),
            _ => None,
        };
    }
    if starts("* OK") || starts("* PREAUTH") {
        return Some(Opening::Server(Greeting::Imap));
    }
    if starts("+OK") {
        return Some(Opening::Server(Greeting::Pop3));
    }
    // RFC 5804 §1.7: a ManageSieve server greets with its capabilities, one quoted name a line.
    if SIEVE_CAPABILITIES
        .iter()
        .any(|c| first.eq_ignore_ascii_case(c.as_bytes()))
    {
        return Some(Opening::Server(Greeting::Sieve));
    }
    let protocol = if ["EHLO", "HELO", "LHLO"].iter().any(|c| is(first, c)) && !second.is_empty() {
        StartTlsProtocol::Smtp
    } else if is(line, "CAPA") || is(line, "STLS") || is(line, "AUTH") {
        // A bare `AUTH` asks a POP3 server for its SASL mechanisms (RFC 1734's clients, Outlook);
        // FTP's AUTH always names a mechanism.
        StartTlsProtocol::Pop3
    } else if is(line, "FEAT") || (is(first, "AUTH") && !second.is_empty()) {
        StartTlsProtocol::Ftp
    } else if is(line, "CAPABILITIES") || starts("MODE READER") {
        StartTlsProtocol::Nntp
    } else if is(line, "CAPABILITY") {
        // Untagged: ManageSieve (RFC 5804 §2.4); IMAP's carries a tag.
        StartTlsProtocol::Managesieve
    } else if is(line, "STARTTLS") {
        // SMTP, NNTP or ManageSieve: the server's answer tells.
        return Some(Opening::Client(None));
    } else if !first.is_empty()
        && first
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.')
        && ["CAPABILITY", "STARTTLS", "ID", "NOOP"]
            .iter()
            .any(|c| is(second, c))
    {
        StartTlsProtocol::Imap
    } else {
        return None;
    };
    Some(Opening::Client(Some(protocol)))
}

/// The capability names a ManageSieve greeting starts with (RFC 5804 §1.7), quoted.
const SIEVE_CAPABILITIES: [&str; 9] = [
    "\"IMPLEMENTATION\"",
    "\"SASL\"",
    "\"SIEVE\"",
    "\"STARTTLS\"",
    "\"MAXREDIRECTS\"",
    "\"NOTIFY\"",
    "\"LANGUAGE\"",
    "\"OWNER\"",
    "\"VERSION\"",
];

/// The line without its CR LF.
fn trim_eol(m: &[u8]) -> &[u8] {
    let m = m.strip_suffix(b"\n").unwrap_or(m);
    m.strip_suffix(b"\r").unwrap_or(m)
}

/// The reply code of a final reply line `ddd` or `ddd text` (RFC 5321 §4.2: `ddd-` lines
/// continue a multi-line reply and are not the answer).
fn reply_code(line: &[u8]) -> Option<u16> {
    match line {
        [a, b, c, rest @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && matches!(rest.first(), None | Some(b' ')) =>
        {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// A command or reply as shown in a report: escaped, cut at [`MAX_SHOWN`] characters.
fn shown(b: &[u8]) -> String {
    let cut = b.get(..MAX_SHOWN).unwrap_or(b);
    let mut s = super::alpn::escape_bytes(cut);
    if cut.len() < b.len() {
        s.push('…');
    }
    s
}

/// A BER length at the start of `b` → (length, bytes it took); `None` when incomplete or
/// longer than [`MAX_LDAP_MESSAGE`].
fn ber_length(b: &[u8]) -> Option<(usize, usize)> {
    match b {
        [n, ..] if *n < 0x80 => Some((usize::from(*n), 1)),
        [0x81, n, ..] => Some((usize::from(*n), 2)),
        [0x82, a, c, ..] => Some((usize::from(u16::from_be_bytes([*a, *c])), 3)),
        [0x84, a, c, d, e, ..] => usize::try_from(u32::from_be_bytes([*a, *c, *d, *e]))
            .ok()
            .map(|n| (n, 5)),
        _ => None,
    }
}

/// One BER element at the start of `b` → (tag, content, total length); `None` when incomplete.
fn ber_element(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let (&tag, rest) = b.split_first()?;
    let (len, used) = ber_length(rest)?;
    let content = rest.get(used..used.checked_add(len)?)?;
    Some((tag, content, 1 + used + len))
}

/// Length of the LDAPMessage SEQUENCE at the start of `b` once it is all there. A message
/// longer than [`MAX_LDAP_MESSAGE`] is reported as complete at that size, and judged (not a
/// StartTLS exchange) rather than waited for.
fn ber_len(b: &[u8]) -> Option<usize> {
    let (len, used) = ber_length(b.get(1..)?)?;
    let total = (1 + used).checked_add(len)?.min(MAX_LDAP_MESSAGE);
    (b.len() >= total).then_some(total)
}

/// The messageID and protocolOp of an LDAPMessage (RFC 4511 §4.1.1).
fn ldap_op(b: &[u8]) -> Option<(u8, &[u8])> {
    let (0x30, message, _) = ber_element(b)? else {
        return None;
    };
    let (0x02, _, id_len) = ber_element(message)? else {
        return None;
    };
    let (op, content, _) = ber_element(message.get(id_len..)?)?;
    Some((op, content))
}

/// The requestName of an ExtendedRequest ([APPLICATION 23], RFC 4511 §4.12).
fn ldap_extended_request_oid(b: &[u8]) -> Option<&[u8]> {
    let (0x77, content) = ldap_op(b)? else {
        return None;
    };
    let (0x80, oid, _) = ber_element(content)? else {
        return None;
    };
    Some(oid)
}

/// The resultCode of an ExtendedResponse ([APPLICATION 24], RFC 4511 §4.12).
fn ldap_extended_response_code(b: &[u8]) -> Option<u8> {
    let (0x78, content) = ldap_op(b)? else {
        return None;
    };
    match ber_element(content)? {
        (0x0a, [code], _) => Some(*code),
        _ => None,
    }
}

/// RFC 4511 Appendix A names of the result codes a StartTLS request may get (§4.14.2).
fn ldap_result_name(code: u8) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        8 => "strongerAuthRequired",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "unknown result code",
    }
}

#[cfg(test)]
mod tests;

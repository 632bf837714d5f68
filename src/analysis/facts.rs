//! What was observed on one flow, in client/server terms.

use crate::capture::Timestamp;
use crate::flow::{Endpoint, ReassemblyStats, SeqNumber, Side, TcpHealth};
use crate::tls::preamble::{Plaintext, ProxyKind};
use crate::tls::starttls::StartTlsProtocol;
use crate::tls::x509::CertificateNames;
use crate::tls::{AlpnList, ClientHello, ServerHello, StreamFault};
use serde::Serialize;

/// Which party of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The side that opened the connection (or sent the ClientHello).
    Client,
    /// The other side.
    Server,
}

impl Role {
    /// "client" or "server".
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An alert record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSeen {
    /// Sender.
    pub from: Role,
    /// 1 warning, 2 fatal, 0 unknown (encrypted).
    pub level: u8,
    /// Description code, `None` when encrypted.
    pub description: Option<u8>,
    /// Frame.
    pub frame: u64,
    /// Read by decrypting the record with a key log.
    pub decrypted: bool,
}

/// What the timing rules need of one packet of the handshake window beyond its time: who sent
/// it, what it acknowledged, and its IPv4 identification (consecutive values from one sender
/// show it sent nothing in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPacket {
    /// Frame.
    pub frame: u64,
    /// Sender, as a side of the flow key.
    pub side: Side,
    /// Acknowledgement number, when the ACK flag is set (and RST is not).
    pub ack: Option<SeqNumber>,
    /// IPv4 identification (`None` for IPv6 and reassembled datagrams).
    pub ip_id: Option<u16>,
}

/// A direction whose first bytes are not TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaintextSeen {
    /// Sender.
    pub from: Role,
    /// Frame where the bytes were recognised as not TLS.
    pub frame: u64,
    /// What the direction's first bytes are; `None` when its start was not captured (picked
    /// up mid-stream).
    pub start: Option<Plaintext>,
    /// How many bytes were looked at, up to `frame`.
    pub bytes: usize,
}

/// A plaintext protocol's request to switch the stream to TLS (STARTTLS and its kin), as both
/// directions showed it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartTlsSeen {
    /// The protocol: the server's answer names it, else the client's opening.
    pub protocol: Option<StartTlsProtocol>,
    /// The client's request as sent, and its frame.
    pub command: Option<(String, u64)>,
    /// The frame of the server's answer (the positive one TLS followed, or the refusal).
    pub reply_frame: Option<u64>,
    /// TLS followed the request or the answer in at least one direction.
    pub switched: bool,
    /// The server's refusal, as sent.
    pub refused: Option<String>,
    /// The frame of a server greeting that did not offer TLS (MySQL without CLIENT_SSL).
    pub not_offered: Option<u64>,
    /// The first frame of the client's and of the server's hello record found after plaintext
    /// alpnscope does not recognise.
    pub found_hello: [Option<u64>; 2],
}

impl StartTlsSeen {
    /// True when nothing of a plaintext exchange was recognised: only hello records found after
    /// plaintext alpnscope does not know.
    pub fn only_found_hello(&self) -> bool {
        self.protocol.is_none()
            && self.command.is_none()
            && self.reply_frame.is_none()
            && self.refused.is_none()
            && self.not_offered.is_none()
            && self.found_hello.iter().any(Option::is_some)
    }

    /// How the plaintext start ended, when it is worth reporting: TLS followed, the server
    /// refused (and sent no ServerHello: `has_server_hello` false), or its greeting did not offer
    /// TLS and TLS never followed.
    pub fn outcome(&self, has_server_hello: bool) -> Option<StartTlsOutcome> {
        if self.refused.is_some() && !has_server_hello {
            Some(StartTlsOutcome::Refused)
        } else if self.switched {
            Some(StartTlsOutcome::Switched)
        } else if self.found_hello.iter().any(Option::is_some) {
            Some(StartTlsOutcome::AfterUnknownPlaintext)
        } else if self.not_offered.is_some() {
            Some(StartTlsOutcome::NotOffered)
        } else if self.refused.is_some() {
            Some(StartTlsOutcome::Refused)
        } else {
            None
        }
    }
}

/// How a plaintext start (STARTTLS and its kin) ended. The names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTlsOutcome {
    /// TLS followed the request (or the server's consent).
    Switched,
    /// TLS began, with its hello records, after plaintext alpnscope does not recognise (a
    /// protocol that upgrades in its own way: ADB, NoMachine, Gnutella…).
    AfterUnknownPlaintext,
    /// The server refused the request; it sent no TLS.
    Refused,
    /// The server's greeting did not offer TLS (a MySQL greeting without CLIENT_SSL) and no TLS
    /// followed.
    NotOffered,
}

impl StartTlsOutcome {
    /// True when no TLS handshake took place: the flow is not a TLS flow.
    pub fn without_tls(self) -> bool {
        !matches!(
            self,
            StartTlsOutcome::Switched | StartTlsOutcome::AfterUnknownPlaintext
        )
    }
}

/// Whether key-log secrets were available for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStatus {
    /// No key log was given at all.
    #[default]
    NoKeyLog,
    /// A key log was given, without an entry for this ClientHello random.
    NoEntry,
    /// The key log holds this connection's handshake secrets.
    Found,
}

/// Why the flow's record was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowEnd {
    /// Still open when the capture ended.
    #[default]
    CaptureEnded,
    /// Idle longer than the idle timeout.
    Idle,
    /// Replaced by a new connection on the same ports.
    PortReused,
    /// A live capture was stopped while the flow was open.
    CaptureStopped,
    /// Closed early by the flow table, full or over its memory budget: what the flow did after
    /// its last frame so far was not followed (nothing is known of it).
    Evicted(Eviction),
    /// Reported while still in the flow table (live use, once its verdict is final): what the
    /// flow does after its last frame so far is not known yet.
    StillOpen,
}

/// Why the flow table closed a flow early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The table held its cap of flows and a new connection needed a place.
    TableFull,
    /// The flow table's state was over its memory budget (`--memory`).
    MemoryBudget,
}

impl Eviction {
    /// Why, in words: "the flow table was full", ….
    pub fn reason(self) -> &'static str {
        match self {
            Eviction::TableFull => "the flow table was full",
            Eviction::MemoryBudget => {
                "alpnscope's memory budget for flow state (--memory) was used up"
            }
        }
    }
}

/// Bytes alpnscope stopped holding for a flow past its handshake to stay within its memory
/// budget: it read no more of the flow's TLS streams after `frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoppedReading {
    /// Bytes released.
    pub bytes: u64,
    /// The last frame read.
    pub frame: u64,
}

/// Everything the pipeline saw of one flow.
#[derive(Debug, Clone, Default)]
pub struct FlowFacts {
    /// The flow's index within its capture, in order of first packet over every transport
    /// (the report's id is this plus the flows of earlier captures).
    pub index: u64,
    /// Wireshark's `tcp.stream` index within the capture (TCP flows).
    pub tcp_stream: Option<u64>,
    /// The connecting side.
    pub client: Endpoint,
    /// The accepting side.
    pub server: Endpoint,
    /// First frame of the flow.
    pub first_frame: u64,
    /// Time of the first frame.
    pub first_time: Timestamp,
    /// Reassembly statistics per side of the flow key (index: [`Side::index`]).
    pub reassembly: [ReassemblyStats; 2],
    /// TLS events over the parser's caps, not recorded, per side of the flow key.
    pub suppressed_events: [u64; 2],
    /// ClientHellos (two after a HelloRetryRequest) with their frames.
    pub client_hellos: Vec<(ClientHello, Vec<u64>)>,
    /// The first ClientHello as read from the other copy, when a retransmitted client segment
    /// carried bytes that differ from the first copy (which is the one analysed) and that copy
    /// parses: see [`ReassemblyStats::first_conflict`].
    pub other_client_hello: Option<ClientHello>,
    /// A ClientHello whose header was read but whose body did not all arrive by the end.
    pub partial_client_hello: Option<crate::tls::PartialMessage>,
    /// ServerHellos and HelloRetryRequests with their frames.
    pub server_hellos: Vec<(ServerHello, Vec<u64>)>,
    /// Alerts in order.
    pub alerts: Vec<AlertSeen>,
    /// RST segments: sender and frame (first few).
    pub resets: Vec<(Role, u64)>,
    /// FIN segments: sender and frame (first per side).
    pub fins: Vec<(Role, u64)>,
    /// Stream faults: direction, frame, fault.
    pub faults: Vec<(Role, u64, StreamFault)>,
    /// Proxy hop before TLS.
    pub proxy: Option<(ProxyKind, Option<String>)>,
    /// A plaintext protocol's request to start TLS in the stream (STARTTLS and its kin).
    pub starttls: Option<StartTlsSeen>,
    /// Decrypted EncryptedExtensions: its ALPN extension (if any) and frames.
    pub encrypted_extensions: Option<(Option<AlpnList>, Vec<u64>)>,
    /// The server's decrypted certificate names.
    pub server_certificate: Option<(CertificateNames, Vec<u64>)>,
    /// The first ChangeCipherSpec record of each side: sender and frame.
    pub change_cipher_specs: Vec<(Role, u64)>,
    /// The first protected (application data) record of each side: sender and frame.
    pub application_data: Vec<(Role, u64)>,
    /// Decrypted Finished messages: sender and frame.
    pub finished: Vec<(Role, u64)>,
    /// Key-log availability.
    pub keys: KeyStatus,
    /// TCP analysis of the flow.
    pub health: TcpHealth,
    /// Which side of the flow key is the client.
    pub client_side: Side,
    /// Times of the frames of the handshake window, by frame number.
    pub frame_times: Vec<(u64, Timestamp)>,
    /// The packets of the handshake window (as many as `frame_times`), by frame number.
    pub window_packets: Vec<WindowPacket>,
    /// Frame that ended the TLS handshake (server CCS for TLS ≤ 1.2, the client's first protected
    /// record for TLS 1.3), when it completed.
    pub handshake_end: Option<u64>,
    /// The flow carried payload.
    pub payload_seen: bool,
    /// The server endpoint is a TLS server (by port, or TLS seen on it in this capture).
    pub tls_candidate: bool,
    /// First frame with a TLS record.
    pub first_tls_frame: Option<u64>,
    /// A direction was recognised as not TLS.
    pub not_tls: bool,
    /// The directions recognised as not TLS, with what their first bytes are (one per side).
    pub plaintext: Vec<PlaintextSeen>,
    /// Frames of this flow cut short by the snaplen.
    pub truncated_frames: u64,
    /// First frame of this flow cut short by the snaplen.
    pub first_truncated_frame: Option<u64>,
    /// Snaplen of the capture (for advice).
    pub snaplen: u32,
    /// Last frame of the flow.
    pub last_frame: u64,
    /// Time of the last frame of the flow.
    pub last_time: Timestamp,
    /// The capture's clock when these facts were taken (the time of its latest frame).
    pub capture_time: Timestamp,
    /// How the flow record ended.
    pub end: FlowEnd,
    /// Packets the capture itself says it dropped (its pcapng interface statistics, or
    /// libpcap's counters live); 0 when it does not say.
    pub capture_drops: u64,
    /// Packets of this flow the capture filter dropped (`alpnscope FILE EXPR`), from the client
    /// and from the server: what they held is not in these facts.
    pub filter_dropped: [u64; 2],
    /// Copies of this flow's packets that a second capture point recorded (`--merge` of captures
    /// taken at both ends): each packet's time is that of its first capture.
    pub copies: u64,
    /// alpnscope stopped reading the flow after its handshake to free memory.
    pub stopped_reading: Option<StoppedReading>,
    /// A QUIC connection's own facts (`None` for TCP).
    pub quic: Option<super::QuicFacts>,
}

impl FlowFacts {
    /// The ClientHello that counts (the second one after a HelloRetryRequest).
    pub fn client_hello(&self) -> Option<&(ClientHello, Vec<u64>)> {
        self.client_hellos.last()
    }

    /// True when `role` sent a FIN before `frame`: a RST it sends then answers bytes that came
    /// after it closed (RFC 9293 §3.10.7.4), not a reset of a live connection.
    pub fn closed_before(&self, role: Role, frame: u64) -> bool {
        self.fins.iter().any(|(r, f)| *r == role && *f < frame)
    }

    /// The real ServerHello (not a HelloRetryRequest).
    pub fn server_hello(&self) -> Option<&(ServerHello, Vec<u64>)> {
        self.server_hellos
            .iter()
            .find(|(h, _)| !h.is_hello_retry_request)
    }

    /// The HelloRetryRequest, if the server sent one.
    pub fn hello_retry_request(&self) -> Option<&(ServerHello, Vec<u64>)> {
        self.server_hellos
            .iter()
            .find(|(h, _)| h.is_hello_retry_request)
    }

    /// The client's first bytes, when they are not TLS.
    pub fn client_plaintext(&self) -> Option<&PlaintextSeen> {
        self.plaintext.iter().find(|p| p.from == Role::Client)
    }

    /// The server's first bytes, when they are not TLS.
    pub fn server_plaintext(&self) -> Option<&PlaintextSeen> {
        self.plaintext.iter().find(|p| p.from == Role::Server)
    }

    /// True when the flow carries TLS.
    pub fn is_tls(&self) -> bool {
        self.first_tls_frame.is_some()
    }

    /// True when the flow was followed to its end: closed (a FIN or a RST), idle past the idle
    /// timeout, or replaced by a new connection on its ports. A flow that was still open when it
    /// was reported, or when the capture ended or was stopped, was not: its silence since its
    /// last frame says nothing about what it did next.
    pub fn ended(&self) -> bool {
        matches!(self.end, FlowEnd::Idle | FlowEnd::PortReused)
            || !self.fins.is_empty()
            || !self.resets.is_empty()
    }

    /// True when the facts are a snapshot of a flow still in the flow table (live use).
    pub fn still_open(&self) -> bool {
        self.end == FlowEnd::StillOpen
    }
}

/// Name of an alert description (RFC 8446 §6, RFC 7301 §3.2).
pub fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => "unknown",
    }
}

//! The compare report: serde types that are the JSON contract of `alpnscope compare` (the
//! README's "compare JSON" section). The flow objects inside are `analyze`'s, unchanged.

use crate::report::model::{CaptureReport, FlowReport, Tool};
use serde::Serialize;

/// Version of the compare JSON schema.
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// Findings cite at most this many pairs (and their frames); `count` says how many there are.
pub const MAX_CITED_PAIRS: usize = 20;

/// Two captures of the same connections, paired.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    /// Always [`COMPARE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that made the report.
    pub tool: Tool,
    /// Capture A (index 0, nearer the client) and capture B (index 1, nearer the server).
    pub captures: Vec<CaptureReport>,
    /// B's clock minus A's as used for pairing by time: `--clock-offset`, or as far as the
    /// connections paired by their ClientHello show it (the median B−A time of their hellos,
    /// which includes the time the middlebox took to forward them); null when neither: the
    /// clocks are then taken as equal.
    pub clock_offset_ms: Option<f64>,
    /// Where `clock_offset_ms` came from; null when there is none.
    pub clock_offset_from: Option<OffsetSource>,
    /// Pairs in order of A's flow id.
    pub pairs: Vec<Pair>,
    /// Flows of either capture without a counterpart in the other.
    pub unpaired: Unpaired,
    /// Conclusions across the pairs.
    pub findings: Vec<CompareFinding>,
}

/// One connection seen in both captures.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// The flow in capture A, as `analyze` reports it.
    pub a: FlowReport,
    /// The flow in capture B, as `analyze` reports it (`capture` is 1).
    pub b: FlowReport,
    /// How the two were matched.
    #[serde(rename = "match")]
    pub matched: MatchKind,
    /// How sure the match is.
    pub confidence: Confidence,
    /// B's ClientHello time minus A's, in ms, each by its own capture's clock (two captures
    /// taken on different machines: see `clock_offset_ms`); null when a time is missing.
    pub hello_delay_ms: Option<f64>,
    /// What differs between the two legs, in a fixed order.
    pub changes: Vec<Change>,
    /// What cannot be compared, because a capture does not show it.
    pub not_comparable: Vec<NotComparable>,
}

/// How a pair was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The same ClientHello random in both captures: the middlebox forwarded the client's
    /// hello (it may have changed other bytes of it).
    Hello,
    /// Different randoms (the middlebox opened its own connection): the nearest earlier
    /// ClientHello in A with the same SNI.
    Timing,
}

/// How sure a pairing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Several candidates about as close, or the closest one was already paired.
    Low,
    /// The chosen candidate is at least twice as close as the next.
    Medium,
    /// The same random, or the only candidate (or ten times closer than the next).
    High,
}

/// Where the clock offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetSource {
    /// `--clock-offset`.
    Option,
    /// The median B−A time of the hellos paired by random.
    HelloPairs,
}

/// Which capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureSide {
    /// Capture A (nearer the client).
    A,
    /// Capture B (nearer the server).
    B,
}

/// One difference between the two legs of a pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// B's ClientHello lacks protocols A's offered (and adds none).
    AlpnRemoved {
        /// The protocols missing, in A's order.
        protocols: Vec<String>,
        /// B's hello has no ALPN extension at all.
        extension_removed: bool,
    },
    /// B's ClientHello offers protocols A's did not (and lacks none).
    AlpnAdded {
        /// The protocols added, in B's order.
        protocols: Vec<String>,
    },
    /// B's ClientHello lacks some of A's protocols and offers others.
    AlpnReplaced {
        /// A's protocols missing in B.
        removed: Vec<String>,
        /// B's protocols not in A.
        added: Vec<String>,
    },
    /// The same protocols in another order.
    AlpnReordered {
        /// A's list.
        a: Vec<String>,
        /// B's list.
        b: Vec<String>,
    },
    /// The two legs' servers selected different protocols (null: none).
    SelectedDiffers {
        /// A's selection.
        a: Option<String>,
        /// B's selection.
        b: Option<String>,
    },
    /// The server_name differs.
    SniChanged {
        /// A's SNI.
        a: Option<String>,
        /// B's SNI.
        b: Option<String>,
    },
    /// The server certificates (decrypted with a key log) come from different issuers.
    IssuerDiffers {
        /// A's certificate issuer.
        a: String,
        /// B's certificate issuer.
        b: String,
    },
    /// A forwarded hello (same random) whose other extensions differ (ALPN's own changes are
    /// reported above).
    ExtensionsChanged {
        /// Extension types (4-digit hex) of A's hello missing in B's.
        removed: Vec<String>,
        /// Extension types of B's hello not in A's.
        added: Vec<String>,
    },
}

/// Something a pair's captures do not show, so it is not compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotComparable {
    /// The capture cut this side's ClientHello before its ALPN extension.
    OfferUnknown {
        /// The side.
        side: CaptureSide,
    },
    /// This side's selection is not known (no ServerHello, or TLS 1.3 without a key log).
    SelectionUnknown {
        /// The side.
        side: CaptureSide,
    },
}

/// Flows without a counterpart.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unpaired {
    /// Flows of A.
    pub a: Vec<FlowReport>,
    /// Flows of B.
    pub b: Vec<FlowReport>,
}

/// What a finding concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareFindingKind {
    /// The middlebox removed protocols from the client's ClientHello (same random).
    MiddleboxStripsAlpn,
    /// The middlebox's own ClientHello (another random) offers less than the client's.
    MiddleboxOffersLess,
    /// The middlebox added protocols to the ClientHello.
    MiddleboxAddsAlpn,
    /// The middlebox reordered the ALPN list.
    MiddleboxReordersAlpn,
    /// The two legs negotiate different protocols.
    LegsNegotiateDifferently,
    /// The middlebox presents a certificate from another issuer (TLS interception).
    CertificateIssuerDiffers,
    /// The SNI differs between the legs.
    SniChanged,
    /// A forwarded hello's other extensions differ.
    HelloExtensionsChanged,
    /// The middlebox forwards the ClientHello unchanged.
    ForwardedUnchanged,
    /// Pairs or flows the captures do not let compare (cut hellos, hellos seen on one side).
    CannotCompare,
}

impl CompareFindingKind {
    /// Every kind, in report order.
    pub const ALL: [CompareFindingKind; 10] = [
        CompareFindingKind::MiddleboxStripsAlpn,
        CompareFindingKind::MiddleboxOffersLess,
        CompareFindingKind::MiddleboxAddsAlpn,
        CompareFindingKind::MiddleboxReordersAlpn,
        CompareFindingKind::LegsNegotiateDifferently,
        CompareFindingKind::CertificateIssuerDiffers,
        CompareFindingKind::SniChanged,
        CompareFindingKind::HelloExtensionsChanged,
        CompareFindingKind::ForwardedUnchanged,
        CompareFindingKind::CannotCompare,
    ];

    /// The name used in JSON and by `--fail-on`.
    pub fn name(self) -> &'static str {
        match self {
            CompareFindingKind::MiddleboxStripsAlpn => "middlebox_strips_alpn",
            CompareFindingKind::MiddleboxOffersLess => "middlebox_offers_less",
            CompareFindingKind::MiddleboxAddsAlpn => "middlebox_adds_alpn",
            CompareFindingKind::MiddleboxReordersAlpn => "middlebox_reorders_alpn",
            CompareFindingKind::LegsNegotiateDifferently => "legs_negotiate_differently",
            CompareFindingKind::CertificateIssuerDiffers => "certificate_issuer_differs",
            CompareFindingKind::SniChanged => "sni_changed",
            CompareFindingKind::HelloExtensionsChanged => "hello_extensions_changed",
            CompareFindingKind::ForwardedUnchanged => "forwarded_unchanged",
            CompareFindingKind::CannotCompare => "cannot_compare",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<CompareFindingKind> {
        CompareFindingKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
    }
}

impl std::fmt::Display for CompareFindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A conclusion across pairs, with the frames of both captures that show it.
#[derive(Debug, Clone, Serialize)]
pub struct CompareFinding {
    /// What it concludes.
    pub kind: CompareFindingKind,
    /// One or two sentences for people.
    pub detail: String,
    /// How many pairs (or unpaired flows, for `cannot_compare`) it covers.
    pub count: usize,
    /// Indexes into `pairs` (at most [`MAX_CITED_PAIRS`]).
    pub pairs: Vec<usize>,
    /// Frames of capture A that show it (ClientHello and ServerHello frames of the cited
    /// pairs or flows).
    pub frames_a: Vec<u64>,
    /// Frames of capture B that show it.
    pub frames_b: Vec<u64>,
}

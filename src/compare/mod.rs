//! `alpnscope compare A B`: two captures of the same connections, taken on both sides of a
//! middlebox (A nearer the client, B nearer the server), and what changed in transit.
//!
//! Each capture goes through the `analyze` pipeline on its own ([`files`]), with its own key
//! logs; the flow reports that come out are paired ([`pairing`]: by ClientHello random, then
//! by time and SNI), each pair's legs compared ([`changes`]), and the differences concluded
//! across pairs ([`findings`]) into one [`model::CompareReport`], which [`render`] writes as
//! text, JSON or Markdown. Nothing here parses packets or reads the clock; the driver reads the
//! two captures on two threads, and the result does not depend on which finishes first.

pub mod changes;
pub mod files;
pub mod findings;
pub mod model;
pub mod pairing;
pub mod render;

use crate::report::model::{Report, Tool};
use model::{COMPARE_SCHEMA_VERSION, CompareReport, Pair, Unpaired};
use pairing::{HelloKey, PairingOptions};

/// Pairs and compares the flows of two `analyze` reports (with their flows): `a` nearer the
/// client, `b` nearer the server.
pub fn compare(a: Report, mut b: Report, options: PairingOptions, tool: Tool) -> CompareReport {
    // B's flows point at B's capture record, the second of the compare report's.
    for flow in &mut b.flows {
        flow.capture = 1;
    }
    let matched = {
        let keys_a: Vec<HelloKey<'_>> = a.flows.iter().map(HelloKey::of).collect();
        let keys_b: Vec<HelloKey<'_>> = b.flows.iter().map(HelloKey::of).collect();
        pairing::pair(&keys_a, &keys_b, options)
    };
    let mut a_flows: Vec<Option<_>> = a.flows.into_iter().map(Some).collect();
    let mut b_flows: Vec<Option<_>> = b.flows.into_iter().map(Some).collect();
    let mut pairs = Vec::with_capacity(matched.pairs.len());
    for m in &matched.pairs {
        let (Some(fa), Some(fb)) = (
            a_flows.get_mut(m.a).and_then(Option::take),
            b_flows.get_mut(m.b).and_then(Option::take),
        ) else {
            continue;
        };
        let hello_delay_ms = match (fa.client_hello_time, fb.client_hello_time) {
            (Some(ta), Some(tb)) => Some(millis(tb.nanos_since(ta))),
            _ => None,
        };
        let (changes, not_comparable) = changes::changes(&fa, &fb, m.kind);
        pairs.push(Pair {
            a: fa,
            b: fb,
            matched: m.kind,
            confidence: m.confidence,
            hello_delay_ms,
            changes,
            not_comparable,
        });
    }
    let unpaired = Unpaired {
        a: a_flows.into_iter().flatten().collect(),
        b: b_flows.into_iter().flatten().collect(),
    };
    let window_ms = options.window_ns as f64 / 1_000_000.0;
    let findings = findings::findings(&pairs, &unpaired, window_ms);
    let mut captures = a.captures;
    captures.extend(b.captures);
    CompareReport {
        schema_version: COMPARE_SCHEMA_VERSION,
        tool,
        captures,
        clock_offset_ms: matched.offset_ns.map(millis),
        clock_offset_from: matched.offset_from,
        pairs,
        unpaired,
        findings,
    }
}

/// Nanoseconds as milliseconds, to the microsecond.
fn millis(nanos: i64) -> f64 {
    (nanos / 1000) as f64 / 1000.0
}

//! Pairing: which flow of capture B is which flow of capture A.
//!
//! Takes each flow's ClientHello random, SNI and ClientHello time ([`HelloKey`]); gives pairs
//! of indexes with how they were matched and how sure the match is. Two passes:
//!
//! 1. **Hello**: the same 32-byte ClientHello random in both captures (a middlebox that
//!    forwards the client's hello). Confidence high. The median B−A time of these pairs is
//!    the clock offset between the captures, unless the user gave one.
//! 2. **Timing**: each B flow left, in time order, takes the A flow left with the same SNI
//!    whose ClientHello (shifted by the clock offset) is the nearest one before it, at most
//!    `window` earlier — a middlebox that terminates TLS opens its own connection after the
//!    client's hello. Only when there is none, one at most [`CLOCK_SLACK_NS`] later (two
//!    clocks never agree exactly). Confidence high when no other earlier A hello is in the
//!    window or the next one is ten times farther, medium when twice as far, low otherwise or
//!    when the nearest was taken; a later hello is at most medium.
//!
//! One-to-one, deterministic (ties go to the lower flow index), O(n log n): the A hellos of an
//! SNI are sorted once, and a union-find over them skips the ones already taken.

use std::collections::{BTreeMap, HashMap};

use super::model::{Confidence, MatchKind, OffsetSource};
use crate::report::model::FlowReport;

/// How much later than B's an A ClientHello may be and still be its candidate, in ns.
pub const CLOCK_SLACK_NS: i64 = 100_000_000;

/// What pairing reads of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloKey<'a> {
    /// The ClientHello random (hex), when a ClientHello was seen.
    pub random: Option<&'a str>,
    /// The SNI.
    pub sni: Option<&'a str>,
    /// The ClientHello's time in ns since the epoch, when a ClientHello was seen.
    pub time: Option<i64>,
}

impl<'a> HelloKey<'a> {
    /// The key of a reported flow.
    pub fn of(flow: &'a FlowReport) -> HelloKey<'a> {
        let hello = flow.client_hello.as_ref();
        HelloKey {
            random: hello.map(|h| h.random.as_str()).filter(|r| !r.is_empty()),
            sni: flow.sni.as_deref(),
            time: hello.and(flow.client_hello_time).map(|t| t.0),
        }
    }
}

/// One pair: indexes into A's and B's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// Index of the A flow.
    pub a: usize,
    /// Index of the B flow.
    pub b: usize,
    /// How.
    pub kind: MatchKind,
    /// How sure.
    pub confidence: Confidence,
}

/// The outcome of pairing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pairing {
    /// Pairs in order of A's index.
    pub pairs: Vec<Matched>,
    /// B's clock minus A's in ns as used: given, or the median of the hello pairs; `None`
    /// without either.
    pub offset_ns: Option<i64>,
    /// Where `offset_ns` came from.
    pub offset_from: Option<OffsetSource>,
}

/// How to pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingOptions {
    /// How much earlier than B's an A ClientHello may be, in ns.
    pub window_ns: i64,
    /// B's clock minus A's in ns, when the user knows it: used instead of the estimate.
    pub clock_offset_ns: Option<i64>,
}

/// Pairs the flows of A and B.
pub fn pair(a: &[HelloKey<'_>], b: &[HelloKey<'_>], options: PairingOptions) -> Pairing {
    let window_ns = options.window_ns;
    let mut a_taken = vec![false; a.len()];
    let mut b_taken = vec![false; b.len()];
    let mut pairs = Vec::new();

    // 1. The same random. The first A flow with a random stands for it.
    let mut by_random: HashMap<&str, usize> = HashMap::with_capacity(a.len());
    for (i, key) in a.iter().enumerate() {
        if let Some(random) = key.random {
            by_random.entry(random).or_insert(i);
        }
    }
    let mut deltas = Vec::new();
    for (j, key) in b.iter().enumerate() {
        let Some(&i) = key.random.and_then(|r| by_random.get(r)) else {
            continue;
        };
        if a_taken[i] {
            continue;
        }
        a_taken[i] = true;
        b_taken[j] = true;
        if let (Some(ta), Some(tb)) = (a[i].time, key.time) {
            deltas.push(tb.saturating_sub(ta));
        }
        pairs.push(Matched {
            a: i,
            b: j,
            kind: MatchKind::Hello,
            confidence: Confidence::High,
        });
    }
    deltas.sort_unstable();
    let estimate = deltas.get(deltas.len() / 2).copied();
    let (offset_ns, offset_from) = match (options.clock_offset_ns, estimate) {
        (Some(given), _) => (Some(given), Some(OffsetSource::Option)),
        (None, Some(estimate)) => (Some(estimate), Some(OffsetSource::HelloPairs)),
        (None, None) => (None, None),
    };
    let offset = offset_ns.unwrap_or(0);

    // 2. Timing within each SNI.
    let mut groups: BTreeMap<Option<&str>, Group> = BTreeMap::new();
    for (i, key) in a.iter().enumerate() {
        if let (false, Some(t)) = (a_taken[i], key.time) {
            groups
                .entry(key.sni)
                .or_default()
                .hellos
                .push((t.saturating_add(offset), i));
        }
    }
    for group in groups.values_mut() {
        group.ready();
    }
    let mut waiting: Vec<(i64, usize)> = b
        .iter()
        .enumerate()
        .filter(|(j, _)| !b_taken[*j])
        .filter_map(|(j, key)| key.time.map(|t| (t, j)))
        .collect();
    waiting.sort_unstable();
    for (tb, j) in waiting {
        let Some(group) = groups.get_mut(&b[j].sni) else {
            continue;
        };
        let earliest = tb.saturating_sub(window_ns);
        let latest = tb.saturating_add(CLOCK_SLACK_NS);
        let distance = |t: i64| (tb - t).abs();
        // Positions: `at` is the first hello after B's, `end` the first beyond the slack.
        let at = group.hellos.partition_point(|(t, _)| *t <= tb);
        let end = group.hellos.partition_point(|(t, _)| *t <= latest);
        // The nearest hellos left on either side of B's.
        let before = group.nearest_left(at);
        let after = group.nearest_right(at).filter(|p| *p < end);
        let time = |p: usize| group.hellos.get(p).map(|(t, _)| *t);
        let before = before.filter(|p| time(*p).is_some_and(|t| t >= earliest));
        // The nearest earlier hello; a later one (clock slack) only when none is left.
        let (chosen, later) = match (before, after) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => continue,
        };
        let Some(&(ta, i)) = group.hellos.get(chosen) else {
            continue;
        };
        let in_window = |p: &usize| time(*p).is_some_and(|t| t >= earliest && t <= latest);
        // The hello this rule picks when nothing is taken yet.
        let first_choice = at
            .checked_sub(1)
            .filter(in_window)
            .or(Some(at).filter(in_window));
        let confidence = if first_choice != Some(chosen) {
            // The nearest hello was paired already.
            Confidence::Low
        } else {
            let d1 = distance(ta).max(1_000_000);
            // The next candidate in the same direction, taken or not.
            let runner_up = if later {
                Some(chosen + 1)
            } else {
                chosen.checked_sub(1)
            }
            .filter(in_window)
            .and_then(time)
            .map(distance);
            let confidence = match runner_up {
                None => Confidence::High,
                Some(d2) if d2 >= 10 * d1 => Confidence::High,
                Some(d2) if d2 >= 2 * d1 => Confidence::Medium,
                Some(_) => Confidence::Low,
            };
            if later {
                // A hello after B's: only a clock difference explains it.
                confidence.min(Confidence::Medium)
            } else {
                confidence
            }
        };
        group.take(chosen);
        pairs.push(Matched {
            a: i,
            b: j,
            kind: MatchKind::Timing,
            confidence,
        });
    }
    pairs.sort_unstable_by_key(|m| (m.a, m.b));
    Pairing {
        pairs,
        offset_ns,
        offset_from,
    }
}

/// The A hellos of one SNI, by time, and which are left.
#[derive(Debug, Default)]
struct Group {
    /// (time shifted by the offset, A index), sorted.
    hellos: Vec<(i64, usize)>,
    /// Union-find over 0..=len: from `p + 1`, the root is 1 + the nearest position ≤ p not
    /// taken, or 0 when there is none.
    left: Vec<usize>,
    /// Union-find over 0..=len: from `p`, the root is the nearest position ≥ p not taken, or
    /// len when there is none.
    right: Vec<usize>,
}

impl Group {
    /// Sorts the hellos and marks them all left.
    fn ready(&mut self) {
        self.hellos.sort_unstable();
        self.left = (0..=self.hellos.len()).collect();
        self.right = (0..=self.hellos.len()).collect();
    }

    /// The nearest position before `end` not taken.
    fn nearest_left(&mut self, end: usize) -> Option<usize> {
        root(&mut self.left, end).checked_sub(1)
    }

    /// The nearest position at or after `start` not taken.
    fn nearest_right(&mut self, start: usize) -> Option<usize> {
        let found = root(&mut self.right, start);
        (found < self.hellos.len()).then_some(found)
    }

    /// Marks position `p` taken.
    fn take(&mut self, p: usize) {
        if let Some(slot) = self.left.get_mut(p + 1) {
            *slot = p;
        }
        if let Some(slot) = self.right.get_mut(p) {
            *slot = p + 1;
        }
    }
}

/// The root of `node` in the union-find `parent` (a root is its own parent), compressing the
/// path; a node outside `parent` is its own root.
fn root(parent: &mut [usize], node: usize) -> usize {
    let mut top = node;
    while let Some(&up) = parent.get(top) {
        if up == top {
            break;
        }
        top = up;
    }
    let mut at = node;
    while let Some(slot) = parent.get_mut(at) {
        if *slot == at {
            break;
        }
        at = std::mem::replace(slot, top);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    const OPTIONS: PairingOptions = PairingOptions {
        window_ns: 2_000 * MS,
        clock_offset_ns: None,
    };

    fn key(random: Option<&'static str>, sni: &'static str, ms: i64) -> HelloKey<'static> {
        HelloKey {
            random,
            sni: Some(sni),
            time: Some(ms * MS),
        }
    }

    fn pairs(p: &Pairing) -> Vec<(usize, usize, MatchKind, Confidence)> {
        p.pairs
            .iter()
            .map(|m| (m.a, m.b, m.kind, m.confidence))
            .collect()
    }

    #[test]
    fn the_same_random_pairs_and_gives_the_clock_offset() {
        let a = [
            key(Some("aa"), "x", 0),
            key(Some("bb"), "x", 500),
            key(Some("cc"), "x", 1000),
        ];
        // B's clock is 5 s ahead; its flows come in another order, one is missing.
        let b = [key(Some("cc"), "x", 6001), key(Some("aa"), "x", 5001)];
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(
            pairs(&p),
            [
                (0, 1, MatchKind::Hello, Confidence::High),
                (2, 0, MatchKind::Hello, Confidence::High)
            ]
        );
        assert_eq!(p.offset_ns, Some(5001 * MS));
    }

    #[test]
    fn timing_takes_the_nearest_earlier_hello_with_the_same_sni() {
        let a = [
            key(Some("a0"), "x", 0),
            key(Some("a1"), "y", 400),
            key(Some("a2"), "x", 500),
        ];
        let b = [key(Some("b0"), "x", 3), key(Some("b1"), "x", 503)];
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(
            pairs(&p),
            [
                (0, 0, MatchKind::Timing, Confidence::High),
                (2, 1, MatchKind::Timing, Confidence::High)
            ]
        );
        assert_eq!(p.offset_ns, None);
    }

    #[test]
    fn hellos_outside_the_window_or_of_another_sni_stay_unpaired() {
        let a = [key(None, "x", 0), key(None, "y", 2900)];
        let b = [key(None, "x", 2500), key(None, "z", 3000)];
        assert!(pair(&a, &b, OPTIONS).pairs.is_empty());
        // A slightly later A hello (clock slack) still pairs, with medium confidence at most.
        let b = [key(None, "x", -50)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [(0, 0, MatchKind::Timing, Confidence::Medium)]
        );
    }

    #[test]
    fn an_earlier_hello_wins_over_a_nearer_later_one() {
        // Sequential connections 2 ms apart through a proxy that opens its own 1.3 ms later:
        // B's hello is nearer the next A hello (0.7 ms after it) than its own (1.3 ms before).
        let a: Vec<HelloKey<'_>> = (0..4)
            .map(|i| HelloKey {
                random: None,
                sni: Some("x"),
                time: Some(i * 2 * MS),
            })
            .collect();
        let b: Vec<HelloKey<'_>> = a
            .iter()
            .map(|k| HelloKey {
                time: k.time.map(|t| t + 1_300_000),
                ..*k
            })
            .collect();
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(
            pairs(&p),
            [
                (0, 0, MatchKind::Timing, Confidence::High),
                (1, 1, MatchKind::Timing, Confidence::Medium),
                (2, 2, MatchKind::Timing, Confidence::Medium),
                (3, 3, MatchKind::Timing, Confidence::Medium),
            ]
        );
    }

    #[test]
    fn a_later_hello_within_the_clock_slack_pairs_when_no_earlier_one_is_left() {
        // B's clock lags A's by 30 ms: A's own hello looks 28 ms later than B's; the previous
        // connection's is out of the window.
        let a = [key(None, "x", 0), key(None, "x", 2500)];
        let b = [key(None, "x", 2472)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [(1, 0, MatchKind::Timing, Confidence::Medium)]
        );
    }

    #[test]
    fn close_candidates_lower_the_confidence() {
        // Two A hellos 3 ms apart, B 2 ms after the second: the first is only 2.5× farther.
        let a = [key(None, "x", 0), key(None, "x", 3)];
        let b = [key(None, "x", 5)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [(1, 0, MatchKind::Timing, Confidence::Medium)]
        );
        // B 7 ms after the second, 10 ms after the first.
        let b = [key(None, "x", 10)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [(1, 0, MatchKind::Timing, Confidence::Low)]
        );
    }

    #[test]
    fn a_taken_nearest_hello_gives_low_confidence_and_ties_are_deterministic() {
        // Two B flows after the same A hello: the first in time takes it, the second falls
        // back to the earlier hello, with low confidence.
        let a = [key(None, "x", 0), key(None, "x", 100)];
        let b = [key(None, "x", 110), key(None, "x", 105)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [
                (0, 0, MatchKind::Timing, Confidence::Low),
                (1, 1, MatchKind::Timing, Confidence::High)
            ]
        );
        // Two A hellos at the same instant: the lower index goes first.
        let a = [key(None, "x", 100), key(None, "x", 100)];
        let b = [key(None, "x", 101), key(None, "x", 102)];
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(
            p.pairs.iter().map(|m| (m.a, m.b)).collect::<Vec<_>>(),
            [(0, 1), (1, 0)]
        );
    }

    #[test]
    fn the_offset_from_hello_pairs_shifts_the_timing_window() {
        // B's clock is 10 s ahead: a forwarded hello gives the offset, then a terminated
        // connection pairs by timing across the offset.
        let a = [key(Some("r1"), "x", 0), key(Some("a2"), "y", 1000)];
        let b = [key(Some("r1"), "x", 10_000), key(Some("b2"), "y", 11_002)];
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(p.offset_ns, Some(10_000 * MS));
        assert_eq!(
            pairs(&p),
            [
                (0, 0, MatchKind::Hello, Confidence::High),
                (1, 1, MatchKind::Timing, Confidence::High)
            ]
        );
    }

    #[test]
    fn a_given_clock_offset_replaces_the_estimate() {
        // B's clock is 5 s behind A's: without the offset nothing pairs by time.
        let a = [key(None, "x", 5000)];
        let b = [key(None, "x", 2)];
        assert_eq!(pair(&a, &b, OPTIONS).pairs, []);
        let given = PairingOptions {
            clock_offset_ns: Some(-5000 * MS),
            ..OPTIONS
        };
        let p = pair(&a, &b, given);
        assert_eq!(pairs(&p), [(0, 0, MatchKind::Timing, Confidence::High)]);
        assert_eq!(
            (p.offset_ns, p.offset_from),
            (Some(-5000 * MS), Some(OffsetSource::Option))
        );
        // Hello pairs would estimate 1 ms; the given offset wins.
        let a = [key(Some("r"), "x", 0)];
        let b = [key(Some("r"), "x", 1)];
        let p = pair(&a, &b, given);
        assert_eq!(
            (p.offset_ns, p.offset_from),
            (Some(-5000 * MS), Some(OffsetSource::Option))
        );
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(
            (p.offset_ns, p.offset_from),
            (Some(MS), Some(OffsetSource::HelloPairs))
        );
    }

    #[test]
    fn flows_without_a_client_hello_are_never_paired() {
        let none = HelloKey {
            random: None,
            sni: Some("x"),
            time: None,
        };
        let a = [none, key(Some("r"), "x", 0)];
        let b = [none, key(Some("r"), "x", 1)];
        assert_eq!(
            pairs(&pair(&a, &b, OPTIONS)),
            [(1, 1, MatchKind::Hello, Confidence::High)]
        );
    }

    /// The pairing rule written the slow way (O(n²), no union-find): the same pairs.
    fn reference(
        a: &[HelloKey<'_>],
        b: &[HelloKey<'_>],
        options: PairingOptions,
    ) -> Vec<(usize, usize)> {
        let fast = pair(a, b, options);
        let offset = fast.offset_ns.unwrap_or(0);
        let mut pairs: Vec<(usize, usize)> = fast
            .pairs
            .iter()
            .filter(|m| m.kind == MatchKind::Hello)
            .map(|m| (m.a, m.b))
            .collect();
        let mut a_taken: Vec<bool> = (0..a.len())
            .map(|i| pairs.iter().any(|p| p.0 == i))
            .collect();
        let b_taken: Vec<bool> = (0..b.len())
            .map(|j| pairs.iter().any(|p| p.1 == j))
            .collect();
        let mut waiting: Vec<(i64, usize)> = (0..b.len())
            .filter(|j| !b_taken[*j])
            .filter_map(|j| b[j].time.map(|t| (t, j)))
            .collect();
        waiting.sort_unstable();
        for (tb, j) in waiting {
            let candidates = || {
                (0..a.len())
                    .filter(|i| !a_taken[*i] && a[*i].sni == b[j].sni)
                    .filter_map(|i| a[i].time.map(|t| (t + offset, i)))
            };
            let before = candidates()
                .filter(|(t, _)| *t <= tb && *t >= tb - options.window_ns)
                .max();
            let after = candidates()
                .filter(|(t, _)| *t > tb && *t <= tb + CLOCK_SLACK_NS)
                .min();
            if let Some((_, i)) = before.or(after) {
                a_taken[i] = true;
                pairs.push((i, j));
            }
        }
        pairs.sort_unstable();
        pairs
    }

    /// A small linear congruential generator: the same cases on every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (self.0 >> 33) % n
        }

        fn flows(&mut self, n: u64) -> Vec<HelloKey<'static>> {
            const SNIS: [&str; 3] = ["a", "b", "c"];
            const RANDOMS: [&str; 6] = ["r0", "r1", "r2", "r3", "r4", "r5"];
            (0..n)
                .map(|_| {
                    let random = if self.next(4) == 0 {
                        Some(RANDOMS[self.next(6) as usize])
                    } else {
                        None
                    };
                    let sni = if self.next(8) != 0 {
                        Some(SNIS[self.next(3) as usize])
                    } else {
                        None
                    };
                    let time = if self.next(10) != 0 {
                        Some(self.next(5_000) as i64 * MS)
                    } else {
                        None
                    };
                    HelloKey { random, sni, time }
                })
                .collect()
        }
    }

    #[test]
    fn the_union_find_pairs_as_the_slow_rule_does() {
        let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
        for case in 0..500 {
            let (na, nb) = (rng.next(12), rng.next(12));
            let a = rng.flows(na);
            let b = rng.flows(nb);
            let window_ns = (1 + rng.next(3) as i64) * 500 * MS;
            let clock_offset_ns = if rng.next(3) == 0 {
                Some(rng.next(200) as i64 * MS - 100 * MS)
            } else {
                None
            };
            let options = PairingOptions {
                window_ns,
                clock_offset_ns,
            };
            let fast = pair(&a, &b, options);
            let got: Vec<(usize, usize)> = fast.pairs.iter().map(|m| (m.a, m.b)).collect();
            assert_eq!(
                got,
                reference(&a, &b, options),
                "case {case}: {a:?} {b:?} {options:?}"
            );
            // One to one.
            let mut seen_a: Vec<usize> = got.iter().map(|p| p.0).collect();
            let mut seen_b: Vec<usize> = got.iter().map(|p| p.1).collect();
            seen_a.dedup();
            seen_b.sort_unstable();
            seen_b.dedup();
            assert_eq!(
                (seen_a.len(), seen_b.len()),
                (got.len(), got.len()),
                "case {case}"
            );
            for m in &fast.pairs {
                match m.kind {
                    MatchKind::Hello => assert_eq!(a[m.a].random, b[m.b].random),
                    MatchKind::Timing => assert_eq!(a[m.a].sni, b[m.b].sni),
                }
            }
        }
    }

    #[test]
    fn many_flows_pair_one_to_one() {
        // 10,000 connections 1 ms apart, B 0.3 ms later: each pairs with its own.
        let a: Vec<HelloKey<'_>> = (0..10_000)
            .map(|i| HelloKey {
                random: None,
                sni: Some("x"),
                time: Some(i * MS),
            })
            .collect();
        let b: Vec<HelloKey<'_>> = a
            .iter()
            .map(|k| HelloKey {
                time: k.time.map(|t| t + 300_000),
                ..*k
            })
            .collect();
        let p = pair(&a, &b, OPTIONS);
        assert_eq!(p.pairs.len(), 10_000);
        assert!(p.pairs.iter().all(|m| m.a == m.b));
    }
}

//! The flow table's output: final flow reports in order of flow id, as soon as no earlier flow
//! is still open, so that a run keeps only what its summary and diagnosis need instead of every
//! report.
//!
//! A report waits while a flow with a smaller id is still open; at most
//! [`MAX_WAITING_REPORTS`] wait, and beyond that the oldest waiting report is handed out
//! anyway: a flow that stays open while thousands of later flows end is written when it ends,
//! after them. Every report handed out is counted in the summary and diagnosis tallies.

use crate::report::diagnosis::DiagnosisTally;
use crate::report::model::FlowReport;
use crate::report::summary::SummaryTally;
use std::collections::{BTreeMap, BTreeSet};

/// Most final reports held back behind a flow that is still open.
pub const MAX_WAITING_REPORTS: usize = 1024;

/// Final reports on their way out, in order of flow id.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Report-wide ids of the flows not concluded yet.
    open: BTreeSet<u64>,
    /// Reports of concluded flows waiting behind an open one.
    waiting: BTreeMap<u64, Box<FlowReport>>,
    /// Reports ready for the driver, in order. Boxed: a report is 1.2 KB, and it is handed on
    /// several times on its way out.
    #[allow(clippy::vec_box)]
    ready: Vec<Box<FlowReport>>,
    /// Reports handed out of order because too many waited.
    pub early: u64,
    /// The summary and diagnosis tallies are left to whoever takes the reports.
    untallied: bool,
    /// Counts over every report handed out.
    pub summary: SummaryTally,
    /// The diagnosis's view of every report handed out.
    pub diagnosis: DiagnosisTally,
}

impl Output {
    /// An output that counts every report handed out in its summary and diagnosis tallies,
    /// unless `untallied` (whoever takes the reports counts them).
    pub fn new(untallied: bool) -> Output {
        Output {
            untallied,
            ..Output::default()
        }
    }

    /// A flow with report-wide id `id` joined the table.
    pub fn opened(&mut self, id: u64) {
        self.open.insert(id);
    }

    /// The flow `id` was concluded: `report` is its final report, or `None` when it is not
    /// reported.
    pub fn concluded(&mut self, id: u64, report: Option<Box<FlowReport>>) {
        self.open.remove(&id);
        if let Some(report) = report {
            self.waiting.insert(id, report);
        }
        self.release();
    }

    /// Hands out the waiting reports that no open flow precedes, and the oldest ones beyond
    /// [`MAX_WAITING_REPORTS`].
    fn release(&mut self) {
        let first_open = self.open.first().copied().unwrap_or(u64::MAX);
        let mut waiting = self.waiting.len();
        while let Some(entry) = self.waiting.first_entry() {
            let early = *entry.key() > first_open;
            if early && waiting <= MAX_WAITING_REPORTS {
                break;
            }
            let report = entry.remove();
            waiting -= 1;
            self.early += u64::from(early);
            if !self.untallied {
                self.summary.add(&report);
                self.diagnosis.add(&report);
            }
            self.ready.push(report);
        }
    }

    /// The reports handed out since the last call, in order.
    #[allow(clippy::vec_box)] // see `ready`
    pub fn take(&mut self) -> Vec<Box<FlowReport>> {
        std::mem::take(&mut self.ready)
    }

    /// True when reports are ready.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: u64) -> FlowReport {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls12-h2-agreed.pcap");
        let options = crate::pipeline::files::AnalyzeOptions::default();
        let report =
            crate::pipeline::files::analyze_files(&[path.to_string()], &options, &mut |_| {})
                .unwrap();
        FlowReport {
            id,
            ..report.flows[0].clone()
        }
    }

    fn ids(reports: &[Box<FlowReport>]) -> Vec<u64> {
        reports.iter().map(|r| r.id).collect()
    }

    #[test]
    fn reports_wait_for_earlier_open_flows() {
        let one = report(0);
        let mut out = Output::default();
        for id in 0..4 {
            out.opened(id);
        }
        out.concluded(
            2,
            Some(Box::new(FlowReport {
                id: 2,
                ..one.clone()
            })),
        );
        out.concluded(1, None);
        assert!(out.take().is_empty());
        out.concluded(
            0,
            Some(Box::new(FlowReport {
                id: 0,
                ..one.clone()
            })),
        );
        assert_eq!(ids(&out.take()), [0, 2]);
        out.concluded(3, Some(Box::new(FlowReport { id: 3, ..one })));
        assert_eq!(ids(&out.take()), [3]);
        assert_eq!(out.early, 0);
        assert_eq!(out.summary.summary(0).tls_flows, 3);
    }

    #[test]
    fn an_untallied_output_hands_out_the_same_reports_and_counts_none() {
        for untallied in [false, true] {
            let mut out = Output::new(untallied);
            out.opened(0);
            out.concluded(0, Some(Box::new(report(0))));
            assert_eq!(ids(&out.take()), [0]);
            let counted = if untallied { 0 } else { 1 };
            assert_eq!(out.summary.summary(0).tls_flows, counted);
        }
    }

    #[test]
    fn too_many_waiting_reports_go_out_early() {
        let one = report(0);
        let mut out = Output::default();
        let last = MAX_WAITING_REPORTS as u64 + 3;
        for id in 0..=last {
            out.opened(id);
        }
        for id in 1..=last {
            out.concluded(id, Some(Box::new(FlowReport { id, ..one.clone() })));
        }
        // Flow 0 is still open: all but MAX_WAITING_REPORTS of the later reports went out.
        assert_eq!(ids(&out.take()), [1, 2, 3]);
        assert_eq!(out.early, 3);
        out.concluded(0, Some(Box::new(FlowReport { id: 0, ..one })));
        let rest = out.take();
        assert_eq!(rest.len(), MAX_WAITING_REPORTS + 1);
        assert_eq!(rest[0].id, 0);
        assert_eq!(rest[1].id, 4);
    }
}

//! The shipped fixture captures, for unit tests that run over all of them.

use std::path::PathBuf;

/// Every capture file in `fixtures/`, in name order.
pub fn captures() -> Vec<PathBuf> {
    captures_in(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

/// Every `.pcap`, `.pcapng` and `.cap` file in `dir` (none when it cannot be read), in name
/// order.
pub fn captures_in(dir: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "cap")
        })
        .collect();
    paths.sort();
    paths
}

//! The Markdown report stays pasteable on a big capture: under GitHub's 65,536 characters for an
//! issue body, every distinct problem still named with its count.

mod common;

use common::run;

/// `fixtures/many-flows.pcap`: 300 handshakes with a server without ALPN, 50 with one without h2
/// (downgraded to http/1.1), and a handful of other problems.
#[test]
fn markdown_of_a_big_capture_fits_an_issue_and_names_every_problem() {
    let path = common::project_path("fixtures/many-flows.pcap");
    let out = run(&["analyze", "--format", "markdown", path.to_str().unwrap()]);
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    let chars = md.chars().count();
    assert!(chars < 65_536, "{chars} characters");

    // Every server with its verdict counts.
    for row in [
        "| `127.0.0.1:8443` | `alpn.test` | 300 | - | `server_declined` 300 |",
        "| `127.0.0.1:8444` | `h1.alpn.test` | 54 | `http/1.1` | `downgraded` 50, `no_common_protocol` 2, `not_offered` 2 |",
        "| `127.0.0.1:8445` | `h2.alpn.test` | 2 | `h2` | `agreed` 2 |",
    ] {
        assert!(md.contains(row), "missing row {row}");
    }
    // What was collapsed, and the large group with its count, examples and the other ids.
    assert!(md.contains(
        "354 problem flows in 4 groups of one capture, server and verdict. Groups of more than 3 \
         flows (2 here) show 3 examples and list the other 344 flows by id; `--format json` \
         reports every flow."
    ));
    assert!(md.contains("### 300 flows: `server_declined` — server 127.0.0.1:8443\n"));
    assert!(md.contains("SNI: `alpn.test` (300). Offered: `h2,http/1.1` (300)."));
    assert!(md.contains(
        "| 0 | 127.0.0.1:45170 | `alpn.test` | `h2`, `http/1.1` | - | 1.2 | 4, 6 | `tcp.stream eq 0` |"
    ));
    assert!(md.contains(
        "Not shown: 297 more flows with this verdict to this server: flows 3, 4, 5, 6, 7, 8, 9, \
         10, 11, 12 and 287 more."
    ));
    assert!(md.contains("### 50 flows: `downgraded` — server 127.0.0.1:8444\n"));
    assert!(md.contains("SNI: `h1.alpn.test` (50). Offered: `h2,http/1.1` (50)."));
    assert!(md.contains(
        "Not shown: 47 more flows with this verdict to this server: flows 303, 304, 305, 306, \
         307, 308, 309, 310, 311, 312 and 37 more."
    ));
    assert_eq!(md.matches("| example flow |").count(), 2);
    // Small groups stay whole: two flows each, in their own sections.
    for (flow, verdict) in [
        (350, "no_common_protocol"),
        (351, "no_common_protocol"),
        (352, "not_offered"),
        (353, "not_offered"),
    ] {
        assert!(
            md.contains(&format!("### Flow {flow}: `{verdict}` — ")),
            "flow {flow}"
        );
    }
    assert_eq!(md.matches("### Flow ").count(), 4);
    // Findings keep every server's problem, with short id lists.
    assert!(md.contains(
        "got no ALPN extension back in 300 flows (0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 290 more)"
    ));
    assert!(md.contains(
        "**server without h2** — server-side: h1.alpn.test (127.0.0.1:8444) negotiates ALPN"
    ));
    assert!(
        md.contains(
            "**no common protocol** — no protocol in common: h1.alpn.test (127.0.0.1:8444)"
        )
    );
    assert!(!md.contains("11, 12, 13, 14"), "a long id list left");
}

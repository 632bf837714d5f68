//! Conclusions across flows (`diagnosis`), on captures that show each rule.

mod common;

use common::{numbers, project_path, run};
use serde_json::Value;

fn diagnosis(fixtures: &[&str]) -> Vec<Value> {
    let paths: Vec<String> = fixtures
        .iter()
        .map(|f| {
            project_path(&format!("fixtures/{f}"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["diagnosis"].as_array().unwrap().clone()
}

fn kinds(d: &[Value]) -> Vec<&str> {
    d.iter().map(|x| x["kind"].as_str().unwrap()).collect()
}

#[test]
fn server_without_alpn_seen_by_two_different_clients() {
    let d = diagnosis(&["tls12-server-no-alpn.pcap"]);
    assert_eq!(kinds(&d), ["server_without_alpn"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6, 21, 23]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(c.contains("2 different clients"), "{c}");
    assert!(
        c.contains("http2 on;") && c.contains("alpn h2,http/1.1"),
        "{c}"
    );
    // A server that never answers with ALPN may be too old for it.
    assert!(
        c.ends_with("OpenSSL older than 1.0.2 cannot do ALPN at all"),
        "{c}"
    );
}

/// nginx without http2: curl's h2,http/1.1 is downgraded to http/1.1. The finding reads the
/// downgraded flow, and its advice leaves out old OpenSSL: this server does ALPN.
#[test]
fn server_that_never_picks_h2() {
    let d = diagnosis(&["tls12-nginx-http1-only.pcap"]);
    assert_eq!(kinds(&d), ["server_without_h2"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6]);
    assert_eq!(
        d[0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8443) negotiates ALPN but never picks h2 although clients rank it higher (flow 0, offering h2, http/1.1; selected: http/1.1): HTTP/2 is not enabled there; nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context"
    );
}

/// One name on three ports of one address: nginx with http2 (8443), nginx without (8444),
/// s_server without ALPN (8445), curl --http2 to each twice. Three servers, judged apart: the
/// h2 server has no finding, and nothing calls the name "inconsistent".
#[test]
fn one_name_on_three_ports_is_three_servers() {
    let d = diagnosis(&["diagnosis-two-ports.pcap"]);
    assert_eq!(kinds(&d), ["server_without_h2", "server_without_alpn"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8444)");
    assert_eq!(numbers(&d[0]["flows"]), [1, 4]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [22, 24, 72, 74]);
    assert_eq!(
        d[0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8444) negotiates ALPN but never picks h2 although clients rank it higher (flows 1, 4, offering h2, http/1.1; selected: http/1.1): HTTP/2 is not enabled there; nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context"
    );
    assert_eq!(d[1]["server"], "alpn.test (127.0.0.1:8445)");
    assert_eq!(numbers(&d[1]["flows"]), [2, 5]);
    assert_eq!(numbers(&d[1]["evidence_frames"]), [37, 39, 87, 89]);
    assert_eq!(
        d[1]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8445) never negotiates ALPN — its client offered h2, http/1.1 and got no ALPN extension back in 2 flows (2, 5), so they fell back to HTTP/1.1; enable it: nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context; OpenSSL older than 1.0.2 cannot do ALPN at all"
    );
}

#[test]
fn no_protocol_in_common_and_network_failures() {
    let d = diagnosis(&["alert-120-no-application-protocol.pcap"]);
    assert_eq!(kinds(&d), ["no_common_protocol"]);
    assert!(d[0]["conclusion"].as_str().unwrap().contains("spdy/3.1"));
    let d = diagnosis(&["reset-injected-ttl.pcap"]);
    assert_eq!(kinds(&d), ["network"]);
    assert!(
        d[0]["conclusion"]
            .as_str()
            .unwrap()
            .contains("resets that a middlebox injected")
    );
    let d = diagnosis(&["client-hello-unanswered.pcap"]);
    assert_eq!(kinds(&d), ["network"]);
    assert!(d[0]["conclusion"].as_str().unwrap().contains("packet loss"));
}

#[test]
fn same_offer_different_answers_points_at_the_server_side() {
    let d = diagnosis(&["tls12-h2-agreed.pcap", "tls12-server-no-alpn.pcap"]);
    assert_eq!(kinds(&d), ["inconsistent_server"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1, 2, 3]);
    assert_eq!(
        d[0]["conclusion"],
        "alpn.test (127.0.0.1:8443) answered the same offer (h2, http/1.1 or h2) differently: selected a protocol in flows 0, 1, declined ALPN (no ALPN extension back) in flows 2, 3 — different backends behind one address (a load balancer) or a configuration change between them"
    );
}

#[test]
fn healthy_and_hidden_captures() {
    assert!(diagnosis(&["tls12-h2-agreed.pcap"]).is_empty());
    assert!(
        diagnosis(&["http-connect-proxy.pcap"]).is_empty(),
        "same outcome through the proxy and directly"
    );
    let d = diagnosis(&["tls13-hidden.pcap"]);
    assert_eq!(kinds(&d), ["needs_keys"]);
    assert_eq!(
        d[0]["conclusion"],
        "TLS 1.3 hides the choice of alpn.test (127.0.0.1:8443) in both flows: log the client's keys (SSLKEYLOGFILE) and rerun with --keylog to see it"
    );
}

fn diagnosis_with(fixture: &str, extra: &[&str]) -> Vec<Value> {
    let path = project_path(&format!("fixtures/{fixture}"));
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    let out = run(&args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["diagnosis"].as_array().unwrap().clone()
}

/// curl (two ways), openssl s_client and Python against a server selecting h2 and one without
/// ALPN.
#[test]
fn several_real_clients_against_two_servers() {
    let d = diagnosis(&["diagnosis-clients.pcap"]);
    assert_eq!(
        kinds(&d),
        ["client_side", "no_common_protocol", "server_without_alpn"]
    );
    assert_eq!(d[0]["server"], "a.alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [2]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [37, 39]);
    // curl --http1.1 offered only http/1.1; the server selected nothing but h2 anywhere.
    assert_eq!(
        d[0]["conclusion"],
        "client-side: a.alpn.test (127.0.0.1:8443) selected a protocol for some clients (flows 0, 4, 6, offering h2, http/1.1) but not for others (refused with alert no_application_protocol in flow 2, offering http/1.1; fingerprints t12d2807h1_d943125447b4_a44c6288192a): their offers hold nothing it selected in any flow here — make those clients offer h2, or enable what they offer on the server"
    );
    assert_eq!(d[2]["server"], "b.alpn.test (127.0.0.1:8444)");
    assert_eq!(numbers(&d[2]["flows"]), [1, 3, 5, 7]);
    assert!(
        d[2]["conclusion"]
            .as_str()
            .unwrap()
            .contains("4 different clients")
    );
}

#[test]
fn outcome_depends_on_the_proxy_path() {
    let d = diagnosis(&["diagnosis-proxy-path.pcap"]);
    // The path compares the name and port across paths; each server is judged on its own: the
    // h1-only nginx at 127.0.0.2 (reached by the proxy's own legs, flows 1 and 3) and what the
    // proxy reaches for the client (flows 0 and 2) never select h2.
    assert_eq!(
        kinds(&d),
        ["path", "server_without_h2", "server_without_h2"]
    );
    assert_eq!(d[0]["server"], "app.alpn.test:8443");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1, 2, 3, 4, 5]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(
        c.contains("through the proxy downgraded to http/1.1 (flows 0, 2)"),
        "{c}"
    );
    assert!(
        c.contains("at 127.0.0.1:8443 agreed on h2 (flows 4, 5)"),
        "{c}"
    );
    assert_eq!(
        d[1]["server"],
        "app.alpn.test (app.alpn.test:8443 via proxy 127.0.0.1:3128)"
    );
    assert_eq!(numbers(&d[1]["flows"]), [0, 2]);
    assert_eq!(d[2]["server"], "app.alpn.test (127.0.0.2:8443)");
    assert_eq!(numbers(&d[2]["flows"]), [1, 3]);
    assert_eq!(numbers(&d[2]["evidence_frames"]), [12, 14, 44, 46]);
}

#[test]
fn different_certificate_issuers_point_at_interception() {
    let keys = project_path("fixtures/diagnosis-interception.keys");
    let d = diagnosis_with(
        "diagnosis-interception.pcap",
        &["--keylog", keys.to_str().unwrap()],
    );
    // Certificates compare the name across addresses; the interceptor (192.0.2.3, nginx
    // without http2) is also a server of its own that never selects h2.
    assert_eq!(kinds(&d), ["interception", "server_without_h2"]);
    assert_eq!(d[0]["server"], "shop.alpn.test:8443");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1, 2, 3]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(
        c.contains("Corp Inspection CA") && c.contains("Real Shop CA"),
        "{c}"
    );
    assert_eq!(d[1]["server"], "shop.alpn.test (192.0.2.3:8443)");
    assert_eq!(numbers(&d[1]["flows"]), [2, 3]);
    // Without the keys the TLS 1.3 certificates stay hidden: no such conclusion, and each
    // address is a server whose choices need keys.
    let d = diagnosis_with("diagnosis-interception.pcap", &[]);
    assert_eq!(kinds(&d), ["needs_keys", "needs_keys"]);
    assert_eq!(d[0]["server"], "shop.alpn.test (192.0.2.2:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1]);
    assert_eq!(d[1]["server"], "shop.alpn.test (192.0.2.3:8443)");
    assert_eq!(numbers(&d[1]["flows"]), [2, 3]);
}

/// nginx with http2 and only CBC suites preferred for TLS 1.2 (fixtures/make-fixtures.sh
/// h2_forbidden_cipher): both curl connections get h2 on TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
/// (0xc009, tshark: ServerHello frames 6 and 26), a suite HTTP/2 forbids; the second client
/// offered AEAD suites (frame 24 lists 0xc02c first), so the server's preference is the fault.
/// One finding naming the suite, both flows and their hello frames, and a note on each flow.
#[test]
fn h2_on_a_cipher_suite_http2_forbids() {
    let d = diagnosis(&["h2-forbidden-cipher.pcap"]);
    assert_eq!(kinds(&d), ["h2_forbidden_cipher"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6, 24, 26]);
    assert_eq!(
        d[0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8443) selects h2 with a cipher suite HTTP/2 forbids (TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA) in flows 0, 1 (RFC 9113 §9.2.2: no ephemeral key exchange, or not an AEAD cipher); browsers end such connections with INADEQUATE_SECURITY (curl does not check); the clients offered suites HTTP/2 allows in flow 1, so the server prefers the forbidden ones: put ECDHE suites with AES-GCM or ChaCha20-Poly1305 first in its TLS settings (nginx: ssl_ciphers; Apache: SSLCipherSuite)"
    );
    let doc = common::analyze_json(
        project_path("fixtures/h2-forbidden-cipher.pcap")
            .to_str()
            .unwrap(),
        &[],
    );
    let notes: Vec<&str> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["notes"][0].as_str().unwrap())
        .collect();
    let note = |frame: u64, offered: &str| {
        format!(
            "the server selected h2 with TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA (frame {frame}), a cipher suite HTTP/2 forbids (RFC 9113 §9.2.2: no ephemeral key exchange, or not an AEAD cipher): clients that check, such as browsers, end the connection with INADEQUATE_SECURITY; {offered}"
        )
    };
    assert_eq!(
        notes,
        [
            note(6, "the client offered no suite HTTP/2 allows"),
            note(
                26,
                "the client offered suites HTTP/2 allows, so the server chose this one"
            )
        ]
    );
    // h2 on an AEAD suite is no finding.
    assert!(diagnosis(&["tls12-h2-agreed.pcap"]).is_empty());
}

/// lighttpd 1.4.69 picks ALPN by the client's order (fixtures/make-fixtures.sh offer_order).
/// On 8443 `openssl s_client -alpn http/1.1,h2` gets http/1.1 (tshark: ClientHello frame 4
/// offers http/1.1,h2; ServerHello frame 6 selects http/1.1) and `curl --http2` gets h2 (frames
/// 20, 22): the server has h2 and follows the client. On 8444 only the s_client connects
/// (frames 39, 41): that it ranked http/1.1 first is all the packets prove. Both flows are
/// `agreed`: the server selected the client's first choice.
#[test]
fn client_that_ranks_http1_above_h2() {
    let d = diagnosis(&["offer-order.pcap"]);
    assert_eq!(kinds(&d), ["client_prefers_http1", "client_prefers_http1"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6]);
    assert_eq!(
        d[0]["conclusion"],
        "client-side: the client ranked http/1.1 above h2 (offering http/1.1, h2; JA4 t12d2808h1_d943125447b4_e7e480e5a997) and alpn.test (127.0.0.1:8443) selected http/1.1, the client's own first choice, in flow 0; the same server selected h2 for clients that ranked h2 above http/1.1 (flow 1), so it has h2 and follows the client's order: put h2 first in that client's ALPN list (curl --http2 does)"
    );
    assert_eq!(d[1]["server"], "alpn.test (127.0.0.1:8444)");
    assert_eq!(numbers(&d[1]["flows"]), [2]);
    assert_eq!(numbers(&d[1]["evidence_frames"]), [39, 41]);
    assert_eq!(
        d[1]["conclusion"],
        "client-side: the client ranked http/1.1 above h2 (offering http/1.1, h2; JA4 t12d2808h1_d943125447b4_e7e480e5a997) and alpn.test (127.0.0.1:8444) selected http/1.1, the client's own first choice, in flow 2; a server that honours the client's order (lighttpd does) selects http/1.1 for such an offer even when it has h2, and no flow here shows what this one selects for a client that ranks h2 first: put h2 first in that client's ALPN list (curl --http2 does) to find out"
    );
    let doc = common::analyze_json(
        project_path("fixtures/offer-order.pcap").to_str().unwrap(),
        &[],
    );
    let verdicts: Vec<(&str, &str)> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["verdict"].as_str().unwrap(),
                f["alpn_selected"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("agreed", "http/1.1"),
            ("agreed", "h2"),
            ("agreed", "http/1.1")
        ]
    );
}

/// `openssl s_server -nextprotoneg h2,http/1.1` without `-alpn` (fixtures/make-fixtures.sh
/// server_npn_only): `openssl s_client -nextprotoneg … -alpn h2,http/1.1` gets a ServerHello
/// with NPN (extension 13172) and no ALPN (tshark: frame 6); curl, which no longer offers NPN,
/// gets neither (frame 20). One finding naming NPN, in place of `server_without_alpn`.
#[test]
fn server_that_answers_with_npn_and_no_alpn() {
    let d = diagnosis(&["server-npn-only.pcap"]);
    assert_eq!(kinds(&d), ["server_npn_only"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6, 18, 20]);
    assert_eq!(
        d[0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8443) never negotiates ALPN and answered with NPN (next_protocol_negotiation, extension 13172), the mechanism ALPN replaced, in flow 0 (offering h2, http/1.1 by ALPN, and NPN): a TLS stack older than ALPN (OpenSSL before 1.0.2) or one set up for NPN only; clients that do not offer NPN (current browsers, curl since 7.86) get no protocol from it, as in flow 1; upgrade it or enable ALPN: nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context"
    );
    let doc = common::analyze_json(
        project_path("fixtures/server-npn-only.pcap")
            .to_str()
            .unwrap(),
        &[],
    );
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows[0]["server_hello"]["npn"], true);
    assert_eq!(flows[1]["server_hello"]["npn"], false);
    assert_eq!(
        flows[0]["detail"],
        "the client offered h2, http/1.1 but the ServerHello (frame 6) has no ALPN extension: the server does not negotiate ALPN here, so the client falls back to its default (curl: \"ALPN: server did not agree on a protocol\"). It answered with NPN instead, the pre-ALPN mechanism: the server software predates ALPN (e.g. OpenSSL < 1.0.2) or is set up for NPN only."
    );
}

/// The NPN server's flows beside nginx's h2 flows on the same address, port and name (two
/// captures): one server that sometimes selects by ALPN and sometimes answers with NPN. The NPN
/// flow is named as something behind the address; the same offer answered two ways is
/// `inconsistent_server`.
#[test]
fn npn_beside_alpn_on_one_address_names_the_npn_flows() {
    let d = diagnosis(&["tls12-h2-agreed.pcap", "server-npn-only.pcap"]);
    assert_eq!(kinds(&d), ["server_npn_only", "inconsistent_server"]);
    assert_eq!(d[0]["server"], "alpn.test (127.0.0.1:8443)");
    assert_eq!(numbers(&d[0]["flows"]), [2]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6]);
    assert_eq!(
        d[0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:8443) answered with NPN (next_protocol_negotiation, extension 13172), the mechanism ALPN replaced, and no ALPN extension in flow 2, but selected a protocol by ALPN in flows 0, 1: something behind this address (another backend, an old TLS terminator) runs a TLS stack older than ALPN (OpenSSL before 1.0.2) or one set up for NPN only"
    );
    assert_eq!(numbers(&d[1]["flows"]), [0, 1, 2, 3]);
}

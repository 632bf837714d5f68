//! TLS after a plaintext start (STARTTLS and its kin), on captures of real servers and clients:
//! `starttls-protocols.pcap` (SMTP, IMAP, POP3, FTP, LDAP with the Python STARTTLS server,
//! openssl s_client and curl), `starttls-postgresql.pcap` (PostgreSQL 15 and psql: `S`, then
//! `N`), `starttls-refused.pcap` (SMTP `454`, IMAP `NO`). Every flow is found by content (none
//! is on its protocol's port), reported with its `starttls` field, and a refusal is the
//! server's, never the network's.

mod common;

use common::{analyze_json, numbers, project_path, run, strings};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    project_path("fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// One flow: id, server port, verdict, offered, selected, evidence frames, starttls.
type Flow = (u64, u64, String, Vec<String>, Value, Vec<u64>, Value);

/// Every listed flow.
fn flows(doc: &Value) -> Vec<Flow> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["server"]["port"].as_u64().unwrap(),
                f["verdict"].as_str().unwrap().to_string(),
                strings(&f["alpn_offered"]),
                f["alpn_selected"].clone(),
                numbers(&f["evidence_frames"]),
                f["starttls"].clone(),
            )
        })
        .collect()
}

/// A plaintext start TLS followed.
fn starttls(protocol: &str, command: &str, frame: u64, reply_frame: u64) -> Value {
    json!({"protocol": protocol, "command": command, "frame": frame, "reply_frame": reply_frame,
           "outcome": "switched"})
}

/// A plaintext start the server refused.
fn refused(protocol: &str, command: &str, frame: u64, reply_frame: u64) -> Value {
    json!({"protocol": protocol, "command": command, "frame": frame, "reply_frame": reply_frame,
           "outcome": "refused"})
}

fn details(doc: &Value) -> Vec<String> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["detail"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_protocol_switches_to_tls_with_its_offer_and_selection() {
    let doc = analyze_json(&fixture("starttls-protocols.pcap"), &[]);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                8025,
                "server_declined".into(),
                s(&["smtp"]),
                Value::Null,
                vec![11, 12],
                starttls("smtp", "STARTTLS", 9, 10)
            ),
            (
                1,
                8025,
                "not_offered".into(),
                s(&[]),
                Value::Null,
                vec![29, 30],
                starttls("smtp", "STARTTLS", 27, 28)
            ),
            (
                2,
                8143,
                "agreed".into(),
                s(&["imap"]),
                json!("imap"),
                vec![48, 49],
                starttls("imap", ". STARTTLS", 46, 47)
            ),
            (
                3,
                8110,
                "agreed".into(),
                s(&["pop3"]),
                json!("pop3"),
                vec![64, 65],
                starttls("pop3", "STLS", 61, 63)
            ),
            (
                4,
                8021,
                "agreed".into(),
                s(&["ftp"]),
                json!("ftp"),
                vec![80, 81],
                starttls("ftp", "AUTH TLS", 77, 79)
            ),
            (
                5,
                8389,
                "agreed".into(),
                s(&["ldap"]),
                json!("ldap"),
                vec![95, 96],
                starttls("ldap", "StartTLS extended request", 91, 93)
            ),
        ]
    );
    // Neither the HTTP fallback nor curl's message for SMTP: the plaintext start settled it.
    assert_eq!(
        details(&doc)[..2],
        [
            "the client offered smtp but the ServerHello (frame 12) has no ALPN extension: the server does not negotiate ALPN here; the SMTP session itself was settled by the plaintext exchange before TLS, so the client goes on with it unless it requires ALPN.",
            "the client sent no ALPN extension, so the server could not select a protocol; the application protocol (SMTP) was settled by the plaintext exchange before TLS, so the handshake did not depend on ALPN",
        ]
    );
    assert_eq!(
        details(&doc)[2..],
        [
            "the server selected imap, the client's first choice",
            "the server selected pop3, the client's first choice",
            "the server selected ftp, the client's first choice",
            "the server selected ldap, the client's first choice",
        ]
    );
    // The SMTP server without ALPN is a finding, without the HTTP fallback and web-server fixes.
    assert_eq!(
        doc["diagnosis"],
        json!([{
            "kind": "server_without_alpn",
            "server": "alpn.test (127.0.0.1:8025)",
            "conclusion": "server-side: alpn.test (127.0.0.1:8025) never negotiates ALPN — its client offered smtp and got no ALPN extension back in 1 flow (0): its TLS setup names no application protocol (a client that requires ALPN fails there); OpenSSL older than 1.0.2 cannot do ALPN at all",
            "flows": [0],
            "evidence_frames": [11, 12]
        }])
    );
    assert_eq!(doc["summary"]["tls_flows"], 6);
    assert_eq!(doc["summary"]["non_tls_flows"], 0);
    // The SNI and the TLS version are read from the hellos after the plaintext start.
    assert_eq!(doc["flows"][2]["sni"], "alpn.test");
    assert_eq!(doc["flows"][2]["tls_version"], "1.2");
}

#[test]
fn postgresql_ssl_request_accepted_and_refused() {
    let doc = analyze_json(&fixture("starttls-postgresql.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                5432,
                "not_offered".into(),
                vec![],
                Value::Null,
                vec![10, 11],
                starttls("postgresql", "SSLRequest", 4, 6)
            ),
            (
                1,
                5433,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![25, 27],
                refused("postgresql", "SSLRequest", 25, 27)
            ),
        ]
    );
    // libpq 15 offers no ALPN; the server's TLS 1.3 answer came after a HelloRetryRequest.
    assert_eq!(doc["flows"][0]["tls_version"], "1.3");
    assert_eq!(
        details(&doc)[0],
        "the client sent no ALPN extension, so the server could not select a protocol; the application protocol (PostgreSQL) was settled by the plaintext exchange before TLS, so the handshake did not depend on ALPN"
    );
    // The refused flow carried no TLS: it is not a TLS flow.
    assert_eq!(doc["summary"]["tls_flows"], 1);
    assert_eq!(doc["summary"]["starttls_refused_flows"], 1);
    assert_eq!(doc["summary"]["verdicts"]["incomplete"], 0);
    assert_eq!(
        details(&doc)[1],
        "the server refused to start TLS: it answered the client's PostgreSQL request `SSLRequest` (frame 25) with `N (the server does not accept SSL)` (frame 27), so no TLS handshake took place — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    );
    assert_eq!(doc["flows"][1]["tcp"]["resets"], json!([]));
}

#[test]
fn a_refusal_is_the_servers_not_the_networks() {
    let doc = analyze_json(&fixture("starttls-refused.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                8025,
                "incomplete".into(),
                vec!["smtp".to_string()],
                Value::Null,
                vec![9, 10, 11],
                refused("smtp", "STARTTLS", 9, 10)
            ),
            (
                1,
                8025,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![25, 26],
                refused("smtp", "STARTTLS", 25, 26)
            ),
            (
                2,
                8143,
                "incomplete".into(),
                vec!["imap".to_string()],
                Value::Null,
                vec![38, 39, 40],
                refused("imap", ". STARTTLS", 38, 39)
            ),
        ]
    );
    let fix = " — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network";
    assert_eq!(
        details(&doc),
        [
            format!(
                "the server refused to start TLS: it answered the client's SMTP request `STARTTLS` (frame 9) with `454 4.7.0 TLS not available due to local problem` (frame 10); the client sent its ClientHello anyway (frame 11), which the server, still speaking plaintext, did not answer with TLS{fix}"
            ),
            format!(
                "the server refused to start TLS: it answered the client's SMTP request `STARTTLS` (frame 25) with `454 4.7.0 TLS not available due to local problem` (frame 26), so no TLS handshake took place{fix}"
            ),
            format!(
                "the server refused to start TLS: it answered the client's IMAP request `. STARTTLS` (frame 38) with `. NO TLS not available` (frame 39); the client sent its ClientHello anyway (frame 40), which the server, still speaking plaintext, did not answer with TLS{fix}"
            ),
        ]
    );
    // openssl s_client waited 15 s for a ServerHello, then reset: not a network finding.
    for flow in doc["flows"].as_array().unwrap() {
        assert_eq!(flow["network"], Value::Null);
    }
    assert_eq!(doc["diagnosis"], json!([]));
    // No TLS handshake took place in any of them: no TLS flow, no server, no reset counted.
    let summary = &doc["summary"];
    assert_eq!(summary["tls_flows"], 0);
    assert_eq!(summary["starttls_refused_flows"], 3);
    assert_eq!(summary["non_tls_flows"], 0);
    assert_eq!(summary["reset_flows"], 0);
    assert_eq!(summary["servers"], json!([]));
    assert_eq!(summary["verdicts"]["incomplete"], 0);
    let out = run(&[
        "analyze",
        "--color",
        "never",
        &fixture("starttls-refused.pcap"),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.ends_with("summary 0 TLS flows, 3 refused to start TLS, 0 TCP flows without TLS\n"),
        "{text}"
    );
}

#[test]
fn text_and_markdown_show_the_starttls_line() {
    let path = fixture("starttls-protocols.pcap");
    let out = run(&["analyze", "--color", "never", &path]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let flow2: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("flow 2 "))
        .take(5)
        .collect();
    assert_eq!(
        flow2,
        [
            "flow 2  127.0.0.1:32844 → 127.0.0.1:8143  frames 38–55",
            "  starttls  imap: . STARTTLS in frame 46, answered in frame 47",
            "  SNI       alpn.test",
            "  offered   imap",
            "  selected  imap  (ServerHello, TLS 1.2)",
        ]
    );
    let out = run(&[
        "analyze",
        "--format",
        "markdown",
        &fixture("starttls-refused.pcap"),
    ]);
    assert!(out.status.success());
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.contains(
            "| STARTTLS | smtp: STARTTLS in frame 25, answered in frame 26 |\n| SNI | - |"
        ),
        "{markdown}"
    );
}

/// `--redact`: the words of a text exchange (a reply's text names hosts) become `x`s, keywords
/// and codes stay; the flow keeps its verdict.
#[test]
fn redaction_keeps_only_the_keywords_of_the_exchange() {
    let doc = analyze_json(
        &fixture("starttls-refused.pcap"),
        &["--redact", "--redact-key", "k"],
    );
    assert_eq!(
        details(&doc)[1],
        "the server refused to start TLS: it answered the client's SMTP request `STARTTLS` (frame 25) with `454 4.7.0 TLS xxx xxxxxxxxx xxx xx xxxxx xxxxxxx` (frame 26), so no TLS handshake took place — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    );
    assert_eq!(doc["flows"][2]["starttls"]["command"], ". STARTTLS");
    assert_eq!(doc["flows"][2]["verdict"], "incomplete");
}

/// XMPP (RFC 6120 §5), `starttls-xmpp.pcap`: `<starttls/>` answered `<proceed/>` then TLS
/// selecting `xmpp-client`; and `<failure/>`, a refusal.
#[test]
fn xmpp_proceed_and_failure() {
    let doc = analyze_json(&fixture("starttls-xmpp.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                8222,
                "agreed".into(),
                vec!["xmpp-client".to_string()],
                json!("xmpp-client"),
                vec![10, 11],
                starttls("xmpp", "<starttls/>", 8, 9)
            ),
            (
                1,
                8223,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![25, 26],
                refused("xmpp", "<starttls/>", 25, 26)
            ),
        ]
    );
    assert_eq!(
        details(&doc)[1],
        "the server refused to start TLS: it answered the client's XMPP request `<starttls/>` (frame 25) with `<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` (frame 26), so no TLS handshake took place — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    );
}

/// MariaDB 10.11, `starttls-mysql.pcap`: the server consents in its greeting (CLIENT_SSL), the
/// client's SSLRequest follows and TLS at once (the mariadb client without ALPN, openssl
/// s_client offering `mysql`, which MariaDB does not negotiate); a server without TLS: the
/// mariadb client goes on in plaintext (not TLS, listed with --all), openssl s_client closes.
#[test]
fn mysql_ssl_request_and_a_server_without_tls() {
    let doc = analyze_json(&fixture("starttls-mysql.pcap"), &["--all"]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                3306,
                "not_offered".into(),
                vec![],
                Value::Null,
                vec![8, 10],
                starttls("mysql", "SSLRequest", 6, 4)
            ),
            (
                1,
                3306,
                "server_declined".into(),
                vec!["mysql".to_string()],
                Value::Null,
                vec![29, 31],
                starttls("mysql", "SSLRequest", 27, 25)
            ),
            (
                2,
                3307,
                "not_tls".into(),
                vec![],
                Value::Null,
                vec![],
                json!({"protocol": "mysql", "command": null, "frame": null, "reply_frame": 41,
                       "outcome": "not_offered"})
            ),
            (
                3,
                3307,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![55, 57],
                json!({"protocol": "mysql", "command": null, "frame": null, "reply_frame": 55,
                       "outcome": "not_offered"})
            ),
        ]
    );
    assert_eq!(
        details(&doc),
        [
            "the client sent no ALPN extension, so the server could not select a protocol; the application protocol (MySQL) was settled by the plaintext exchange before TLS, so the handshake did not depend on ALPN",
            "the client offered mysql but the ServerHello (frame 31) has no ALPN extension: the server does not negotiate ALPN here; the MySQL session itself was settled by the plaintext exchange before TLS, so the client goes on with it unless it requires ALPN.",
            "no TLS: the MySQL server's greeting (frame 41) does not offer TLS (no CLIENT_SSL capability), and the client went on without it (frame 43)",
            "the MySQL server does not offer TLS: its greeting (frame 55) lacks the CLIENT_SSL capability, and the client closed the connection (FIN in frame 57) without answering it, as a client that requires TLS does (mysql --ssl-mode=REQUIRED, openssl s_client -starttls mysql); no TLS handshake took place — the server's TLS setup (ssl_cert and ssl_key, have_ssl) is what to check, not the network",
        ]
    );
    assert_eq!(doc["flows"][0]["tls_version"], "1.3");
    assert_eq!(doc["flows"][1]["tls_version"], "1.2");
    assert_eq!(doc["summary"]["tls_flows"], 2);
    assert_eq!(doc["summary"]["starttls_refused_flows"], 1);
    assert_eq!(doc["summary"]["non_tls_flows"], 1);
    // The MySQL server without ALPN: no HTTP fallback or web-server fixes.
    assert_eq!(
        doc["diagnosis"][0]["conclusion"],
        "server-side: alpn.test (127.0.0.1:3306) never negotiates ALPN — its client offered mysql and got no ALPN extension back in 1 flow (1): its TLS setup names no application protocol (a client that requires ALPN fails there); OpenSSL older than 1.0.2 cannot do ALPN at all"
    );
    assert_eq!(doc["diagnosis"].as_array().unwrap().len(), 1);
    // The text names the greeting that offered TLS (or did not).
    let out = run(&[
        "analyze",
        "--color",
        "never",
        &fixture("starttls-mysql.pcap"),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "  starttls  mysql: SSLRequest in frame 6, TLS offered in the greeting in frame 4\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  starttls  mysql: TLS not offered in the greeting in frame 55\n"),
        "{text}"
    );
}

/// Dovecot's ManageSieve, `starttls-managesieve.pcap`: `STARTTLS` answered `OK` (openssl
/// s_client offering `managesieve`, sieve-connect without ALPN), and `NO` from a server without
/// TLS.
#[test]
fn managesieve_ok_and_no() {
    let doc = analyze_json(&fixture("starttls-managesieve.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                4190,
                "server_declined".into(),
                vec!["managesieve".to_string()],
                Value::Null,
                vec![9, 11],
                starttls("managesieve", "STARTTLS", 6, 8)
            ),
            (
                1,
                4190,
                "not_offered".into(),
                vec![],
                Value::Null,
                vec![31, 33],
                starttls("managesieve", "STARTTLS", 28, 30)
            ),
            (
                2,
                4191,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![58, 60],
                refused("managesieve", "STARTTLS", 58, 60)
            ),
        ]
    );
    assert_eq!(
        details(&doc)[2],
        "the server refused to start TLS: it answered the client's ManageSieve request `STARTTLS` (frame 58) with `NO \"TLS support isn't enabled.\"` (frame 60), so no TLS handshake took place — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    );
    assert_eq!(
        details(&doc)[1],
        "the client sent no ALPN extension, so the server could not select a protocol; the application protocol (ManageSieve) was settled by the plaintext exchange before TLS, so the handshake did not depend on ALPN"
    );
    assert_eq!(doc["summary"]["tls_flows"], 2);
    assert_eq!(doc["summary"]["starttls_refused_flows"], 1);
}

/// NNTP (RFC 4642), `starttls-nntp.pcap`: CAPABILITIES, `STARTTLS` answered `382` then TLS
/// selecting `nntp`; and `580`, a refusal.
#[test]
fn nntp_382_and_580() {
    let doc = analyze_json(&fixture("starttls-nntp.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            (
                0,
                8119,
                "agreed".into(),
                vec!["nntp".to_string()],
                json!("nntp"),
                vec![11, 12],
                starttls("nntp", "STARTTLS", 9, 10)
            ),
            (
                1,
                8120,
                "incomplete".into(),
                vec![],
                Value::Null,
                vec![27, 28],
                refused("nntp", "STARTTLS", 27, 28)
            ),
        ]
    );
    assert_eq!(
        details(&doc)[1],
        "the server refused to start TLS: it answered the client's NNTP request `STARTTLS` (frame 27) with `580 Can not initiate TLS negotiation` (frame 28), so no TLS handshake took place — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    );
}

/// PostgreSQL 17's direct TLS (a ClientHello first, ALPN `postgresql`) sent to PostgreSQL 15,
/// which reads it as a startup packet and closes (`postgresql-direct-tls-pg15.pcap`). What it
/// proves: the flow is TLS from the first byte (no plaintext start), the offer is read, and the
/// server's close is the server's, not the network's — its RST (frame 8) answered the client's
/// alert sent after the server's FIN (frame 6). Not covered: a PostgreSQL 17 server's answer.
#[test]
fn postgresql_direct_tls_to_a_server_before_17() {
    let doc = analyze_json(&fixture("postgresql-direct-tls-pg15.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [(
            0,
            5432,
            "incomplete".into(),
            vec!["postgresql".to_string()],
            Value::Null,
            vec![4, 6],
            Value::Null
        )]
    );
    assert_eq!(
        details(&doc),
        [
            "the server closed the connection (FIN in frame 6) without a ServerHello after the ClientHello (frame 4)"
        ]
    );
    assert_eq!(doc["flows"][0]["network"], Value::Null);
    assert_eq!(doc["diagnosis"], json!([]));
}

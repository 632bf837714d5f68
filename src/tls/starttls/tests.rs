use super::*;

/// A ClientHello record header and a few body bytes.
const RECORD: &[u8] = &[0x16, 3, 1, 0, 200, 1, 0, 0, 196];

/// Feeds `chunks` (frame, bytes) to a reader begun on the first; returns every step that is not
/// `NeedMore`, with TLS reduced to its protocol, frame and first TLS bytes.
fn run(chunks: &[(u64, &[u8])], ask: Option<Ask>) -> Vec<String> {
    let mut n = Negotiation::begin(chunks[0].1).expect("an opening");
    if let Some(ask) = ask {
        n.peer_asked(ask);
    }
    let mut out = Vec::new();
    for (frame, bytes) in chunks {
        match n.push(*frame, bytes) {
            Step::NeedMore => {}
            Step::Tls {
                protocol,
                frame,
                rest,
            } => out.push(format!("tls {protocol:?} {frame} {:?}", &rest[..2])),
            step => out.push(format!("{step:?}")),
        }
    }
    out
}

#[test]
fn smtp_client_asks_then_tls() {
    let steps = run(
        &[
            (4, b"EHLO mail.test\r\n"),
            (8, b"STARTTLS\r\n"),
            (10, RECORD),
        ],
        None,
    );
    assert_eq!(
        steps,
        [
            "Asked { ask: Ask { protocol: Some(Smtp), tag: None }, command: \"STARTTLS\" }",
            "tls Some(Smtp) 8 [22, 3]"
        ]
    );
}

#[test]
fn smtp_server_greeting_is_not_the_answer() {
    let mut n = Negotiation::begin(b"220 mail.test ESMTP\r\n").expect("greeting");
    assert_eq!(n.push(1, b"220 mail.test ESMTP\r\n"), Step::NeedMore);
    assert_eq!(
        n.push(5, b"250-mail.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
        Step::NeedMore
    );
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Smtp),
        tag: None,
    });
    assert_eq!(
        n.push(9, b"220 2.0.0 Ready to start TLS\r\n"),
        Step::NeedMore
    );
    assert!(matches!(
        n.push(11, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Smtp),
            frame: 9,
            ..
        }
    ));
}

#[test]
fn smtp_refusal() {
    let mut n = Negotiation::begin(b"220 mail.test ESMTP\r\n").expect("greeting");
    assert_eq!(
        n.push(1, b"220 mail.test ESMTP\r\n250 x\r\n"),
        Step::NeedMore
    );
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Smtp),
        tag: None,
    });
    assert_eq!(
        n.push(9, b"454 4.7.0 TLS not available due to local problem\r\n"),
        Step::Refused {
            protocol: Some(StartTlsProtocol::Smtp),
            reply: "454 4.7.0 TLS not available due to local problem".into()
        }
    );
}

#[test]
fn ftp_answer_234_names_ftp() {
    let mut n = Negotiation::begin(b"220 (vsFTPd 3.0.3)\r\n").expect("greeting");
    assert_eq!(n.push(1, b"220 (vsFTPd 3.0.3)\r\n"), Step::NeedMore);
    assert_eq!(
        n.push(3, b"234 Proceed with negotiation.\r\n"),
        Step::NeedMore
    );
    assert!(matches!(
        n.push(5, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Ftp),
            frame: 3,
            ..
        }
    ));
    let steps = run(&[(2, b"AUTH TLS\r\n"), (4, RECORD)], None);
    assert_eq!(steps[1], "tls Some(Ftp) 2 [22, 3]");
}

#[test]
fn imap_tagged_answer() {
    let mut n = Negotiation::begin(b"* OK IMAP ready\r\n").expect("greeting");
    assert_eq!(n.push(1, b"* OK IMAP ready\r\n"), Step::NeedMore);
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Imap),
        tag: Some("a2".into()),
    });
    assert_eq!(
        n.push(5, b"* CAPABILITY IMAP4rev1\r\na1 OK done\r\n"),
        Step::NeedMore
    );
    assert_eq!(
        n.push(7, b"a2 BAD not now\r\n"),
        Step::Refused {
            protocol: Some(StartTlsProtocol::Imap),
            reply: "a2 BAD not now".into()
        }
    );
    let steps = run(
        &[
            (4, b"a1 CAPABILITY\r\n"),
            (6, b"a2 STARTTLS\r\n"),
            (8, RECORD),
        ],
        None,
    );
    assert_eq!(
        steps,
        [
            "Asked { ask: Ask { protocol: Some(Imap), tag: Some(\"a2\") }, command: \"a2 STARTTLS\" }",
            "tls Some(Imap) 6 [22, 3]"
        ]
    );
}

/// `openssl s_client -starttls imap` tags every command `.`: the `. OK` to CAPABILITY, read
/// before the request, is not the answer to STARTTLS.
#[test]
fn imap_answer_before_the_request_is_not_the_answer() {
    let mut n = Negotiation::begin(b"* OK ready\r\n").expect("greeting");
    assert_eq!(n.push(1, b"* OK ready\r\n"), Step::NeedMore);
    assert_eq!(
        n.push(5, b"* CAPABILITY IMAP4rev1 STARTTLS\r\n. OK done\r\n"),
        Step::NeedMore
    );
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Imap),
        tag: Some(".".into()),
    });
    assert_eq!(
        n.push(9, b". OK Begin TLS negotiation now\r\n"),
        Step::NeedMore
    );
    assert!(matches!(
        n.push(11, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Imap),
            frame: 9,
            ..
        }
    ));
}

#[test]
fn pop3_capability_list_then_stls() {
    let mut n = Negotiation::begin(b"+OK POP3 ready\r\n").expect("greeting");
    assert_eq!(n.push(1, b"+OK POP3 ready\r\n"), Step::NeedMore);
    // The CAPA answer: a positive line, then plaintext: not the TLS answer.
    assert_eq!(n.push(3, b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"), Step::NeedMore);
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Pop3),
        tag: None,
    });
    assert_eq!(n.push(5, b"+OK Begin TLS\r\n"), Step::NeedMore);
    assert!(matches!(
        n.push(7, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Pop3),
            frame: 5,
            ..
        }
    ));
}

/// A POP3 client that first asks `AUTH` (the mechanism list, as Outlook does; the server may
/// answer -ERR) and `CAPA`, then `STLS` (nDPI's pop3_stls.pcap).
#[test]
fn pop3_client_asking_auth_and_capa_before_stls() {
    let steps = run(
        &[
            (5, b"AUTH\r\n"),
            (8, b"CAPA\r\n"),
            (11, b"STLS\r\n"),
            (13, RECORD),
        ],
        None,
    );
    assert_eq!(
        steps,
        [
            "Asked { ask: Ask { protocol: Some(Pop3), tag: None }, command: \"STLS\" }",
            "tls Some(Pop3) 11 [22, 3]"
        ]
    );
}

#[test]
fn postgresql_ssl_request() {
    let steps = run(&[(4, &PG_SSL_REQUEST), (8, RECORD)], None);
    assert_eq!(
        steps,
        [
            "Asked { ask: Ask { protocol: Some(Postgresql), tag: None }, command: \"SSLRequest\" }",
            "tls Some(Postgresql) 4 [22, 3]"
        ]
    );
    let ask = Some(Ask {
        protocol: Some(StartTlsProtocol::Postgresql),
        tag: None,
    });
    assert_eq!(
        run(&[(6, b"S"), (10, RECORD)], ask.clone()),
        ["tls Some(Postgresql) 6 [22, 3]"]
    );
    assert_eq!(
        run(&[(6, b"N")], ask),
        ["Refused { protocol: Some(Postgresql), reply: \"N (the server does not accept SSL)\" }"]
    );
    // Refused, the client goes on in plaintext (a StartupMessage): not TLS.
    assert_eq!(
        run(
            &[(4, &PG_SSL_REQUEST), (8, &[0, 0, 0, 40, 0, 3, 0, 0])],
            None
        )[1],
        "NotTls"
    );
    // An `N` nobody asked for may be the length of a MySQL greeting: it waits; what follows
    // tells (here PostgreSQL's ErrorResponse: not TLS). `SSH-…` is not read here.
    assert_eq!(run(&[(6, b"N")], None), Vec::<String>::new());
    assert_eq!(run(&[(6, b"N"), (8, b"E\0\0\0\x08")], None), ["NotTls"]);
    assert!(Negotiation::begin(b"SSH-2.0-OpenSSH_9.2\r\n").is_none());
}

/// `openssl s_client -starttls ldap`'s request (message 1) and OpenLDAP's success answer.
#[test]
fn ldap_extended_operation() {
    let mut request = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    request.extend_from_slice(LDAP_STARTTLS_OID);
    let steps = run(&[(4, &request), (8, RECORD)], None);
    assert_eq!(steps[1], "tls Some(Ldap) 4 [22, 3]");
    let success = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    assert_eq!(
        run(&[(6, &success), (10, RECORD)], None),
        ["tls Some(Ldap) 6 [22, 3]"]
    );
    let mut refusal = success;
    refusal[9] = 52;
    let ask = Some(Ask {
        protocol: Some(StartTlsProtocol::Ldap),
        tag: None,
    });
    assert_eq!(
        run(&[(6, &refusal)], ask),
        ["Refused { protocol: Some(Ldap), reply: \"resultCode 52 (unavailable)\" }"]
    );
}

/// Only the openings of these protocols are read: everything else is judged as before.
#[test]
fn other_openings_are_not_read() {
    for other in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"HTTP/1.1 400 Bad Request\r\n",
        b"hello\r\n",
        b"SSH-2.0-OpenSSH\r\n",
        b"500 error\r\n",
        &[0u8; 64],
        b"S\x00\x05",
    ] {
        assert!(Negotiation::begin(other).is_none(), "{other:?}");
    }
    // A first line not whole yet waits, then is judged.
    let mut n = Negotiation::begin(b"EHL").expect("could open");
    assert_eq!(n.push(1, b"EHL"), Step::NeedMore);
    assert_eq!(n.push(2, b"O a\r\n"), Step::NeedMore);
    let mut n = Negotiation::begin(b"GE").expect("could open");
    assert_eq!(n.push(1, b"GE"), Step::NeedMore);
    assert_eq!(n.push(2, b"T / HTTP/1.1\r\n"), Step::NotTls);
}

#[test]
fn bounded() {
    let mut n = Negotiation::begin(b"220 x\r\n").expect("greeting");
    let long = vec![b'a'; MAX_LINE + 1];
    assert_eq!(n.push(1, &long), Step::NotTls);
    let mut n = Negotiation::begin(b"EHLO x\r\n").expect("opening");
    for line in 0..MAX_CLIENT_LINES {
        assert_eq!(n.push(line as u64, b"NOOP\r\n"), Step::NeedMore);
    }
    assert_eq!(n.push(99, b"NOOP\r\n"), Step::NotTls);
}

/// However the bytes are cut into chunks, the outcome is the same.
#[test]
fn chunking_does_not_matter() {
    let stream: Vec<u8> = [&b"EHLO a\r\nSTARTTLS\r\n"[..], RECORD].concat();
    for cut in 1..stream.len() {
        let (a, b) = stream.split_at(cut);
        let Some(mut n) = Negotiation::begin(a) else {
            continue;
        };
        let mut tls: Option<(u64, Vec<u8>)> = None;
        for (frame, chunk) in [(1, a), (2, b)] {
            // Once TLS started, the bytes are records (read by the record layer).
            if let Some((_, rest)) = &mut tls {
                rest.extend_from_slice(chunk);
                continue;
            }
            let mut step = n.push(frame, chunk);
            // Bytes after a request are read by pushing nothing (as the stream parser does).
            if matches!(step, Step::Asked { .. }) {
                step = n.push(frame, &[]);
            }
            if let Step::Tls { rest, frame, .. } = step {
                tls = Some((frame, rest.to_vec()));
            }
        }
        let (frame, rest) = tls.expect("TLS found");
        assert_eq!(rest, RECORD, "cut {cut}");
        // The request's frame: the one that completed `STARTTLS\r\n`.
        assert_eq!(frame, if cut >= 18 { 1 } else { 2 }, "cut {cut}");
    }
}

#[test]
fn redaction_keeps_keywords_and_codes_only() {
    let mut text = b"220 mail.corp.example ESMTP\r\n250-mail.corp.example\r\nEHLO laptop\r\n\
454 4.7.0 TLS not available\r\na001 STARTTLS\r\n* OK [CAPABILITY IMAP4rev1] 10.1.2.3\r\n"
        .to_vec();
    keep_keywords(&mut text);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "220 xxxxxxxxxxxxxxxxx xxxxx\r\n250-xxxxxxxxxxxxxxxxx\r\nEHLO xxxxxx\r\n\
454 4.7.0 TLS xxx xxxxxxxxx\r\nxxxx STARTTLS\r\n* OK xxxxxxxxxxx xxxxxxxxxx xxxxxxxx\r\n"
    );
    assert_eq!(
        keep_keywords_quoted("answered `a1 STARTTLS` with `a1 NO host.example down` (frame 9)"),
        "answered `xx STARTTLS` with `xx NO xxxxxxxxxxxx xxxx` (frame 9)"
    );
    // ManageSieve: the quoted capability names stay, so a redacted greeting is still one.
    let mut sieve =
        b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto\"\r\nOK \"ready\"\r\n"
            .to_vec();
    keep_keywords(&mut sieve);
    assert_eq!(
        String::from_utf8(sieve.clone()).unwrap(),
        "\"IMPLEMENTATION\" xxxxxxxx xxxxxxxxxxx\r\n\"SIEVE\" xxxxxxxxxx\r\nOK xxxxxxx\r\n"
    );
    assert!(Negotiation::begin(&sieve).is_some());
}

/// A whole direction read at once (as the extract reads it): where TLS starts, if it does.
#[test]
fn tls_start_of_a_whole_direction() {
    let client = [&b"EHLO a\r\nSTARTTLS\r\n"[..], RECORD].concat();
    assert_eq!(tls_start(&client), Some(Some(18)));
    let server = [&b"220 hi\r\n250 ok\r\n220 go\r\n"[..], RECORD].concat();
    assert_eq!(tls_start(&server), Some(Some(24)));
    assert_eq!(tls_start(b"220 hi\r\n454 no\r\n221 bye\r\n"), Some(None));
    assert_eq!(
        tls_start(&[&PG_SSL_REQUEST[..], RECORD].concat()),
        Some(Some(8))
    );
    assert_eq!(tls_start(b"GET / HTTP/1.1\r\n"), None);
    assert_eq!(tls_start(&[&b"S"[..], RECORD].concat()), Some(Some(1)));
    assert!(is_text(b"220 hi\r\n"));
    assert!(!is_text(&PG_SSL_REQUEST));
}

/// The stream parser fed a STARTTLS direction whole and a byte at a time emits the same events
/// (what the `tls_chunking` fuzz target checks): an opening is read once it is whole, and the
/// limits are on positions.
#[test]
fn the_stream_parser_reads_an_exchange_alike_however_it_is_segmented() {
    use crate::tls::stream::DirectionParser;
    let hello =
        crate::tls::testing::record(22, &crate::tls::testing::client_hello_message(&[b"imap"]));
    let mut ldap = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    ldap.extend_from_slice(LDAP_STARTTLS_OID);
    let long_line = [&b"EHLO "[..], &[b'a'; MAX_LINE], b"\r\nSTARTTLS\r\n"].concat();
    let streams: Vec<Vec<u8>> = vec![
        [&b"EHLO a.test\r\nSTARTTLS\r\n"[..], &hello].concat(),
        [&b"a1 CAPABILITY\r\na2 STARTTLS\r\n"[..], &hello].concat(),
        [&PG_SSL_REQUEST[..], &hello].concat(),
        // Found by the `tls_chunking` fuzz target: `S`, then a record header a byte at a time.
        [&b"S"[..], &hello].concat(),
        // Found by the fuzz target too: a lone `S` that becomes `STLS`.
        [&b"CAPA\r\nSTLS\r\n"[..], &hello].concat(),
        [&b"STLS\r\n"[..], &hello].concat(),
        [&ldap[..], &hello].concat(),
        [&long_line[..], &hello].concat(),
        // Found by the fuzz target: an XML declaration, then bytes that are not text before the
        // `>` that would have closed a stream header.
        b"<?xml[[[<><stream:streamG\xff\xffG<<>GG".to_vec(),
        b"EHLO \xff\r\nSTARTTLS\r\n".to_vec(),
        b"EHLO a.test\r\nQUIT\r\n".to_vec(),
        b"hello there".to_vec(),
    ];
    let events = |stream: &[u8], step: usize| {
        let mut parser = DirectionParser::new(false);
        let mut events = Vec::new();
        for chunk in stream.chunks(step) {
            parser.feed(1, chunk, &mut events);
        }
        let mut shown: Vec<String> = events
            .into_iter()
            .map(|e| match e {
                crate::tls::TlsEvent::NotTls { frame, start, .. } => {
                    format!("NotTls {frame} {start:?}")
                }
                other => format!("{other:?}"),
            })
            .collect();
        if let Some(pending) = parser.pending_not_tls() {
            shown.push(format!("pending {:?}", std::mem::discriminant(pending)));
        }
        shown
    };
    for stream in &streams {
        let whole = events(stream, stream.len());
        for step in [1, 2, 3, 7] {
            assert_eq!(
                events(stream, step),
                whole,
                "{stream:?} in chunks of {step}"
            );
        }
    }
    // What they are: switched to TLS (a ClientHello event), or not. The over-long EHLO line
    // ends the SMTP exchange; the search for a hello record after it finds the ClientHello.
    let hello_seen: Vec<bool> = streams
        .iter()
        .map(|s| {
            events(s, s.len())
                .iter()
                .any(|e| e.starts_with("ClientHello"))
        })
        .collect();
    assert_eq!(
        hello_seen,
        [
            true, true, true, true, true, true, true, true, false, false, false, false
        ]
    );
}

/// MariaDB 10.11's greeting (`starttls-mysql.pcap` frame 4): Handshake v10, CLIENT_SSL offered.
const MARIADB_GREETING: &str = "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275310003000000693a223a3c604f4a00feff080200ff81150000000000001d000000643c3a5167326174463d3d5d006d7973716c5f6e61746976655f70617373776f726400";
/// The mariadb client's SSLRequest (frame 6): 32 bytes, sequence 1, CLIENT_SSL and
/// CLIENT_PROTOCOL_41 set, MariaDB's extended capabilities in the last four.
const MARIADB_SSL_REQUEST: &str =
    "2000000184aabf000000100021000000000000000000000000000000000000001d000000";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// MySQL: the server consents in its greeting, before the request; the greeting stays the
/// answer when the request comes, and TLS follows at once on both sides.
#[test]
fn mysql_greeting_then_ssl_request() {
    let greeting = hex(MARIADB_GREETING);
    let mut n = Negotiation::begin(&greeting).expect("greeting");
    assert_eq!(n.push(4, &greeting), Step::NeedMore);
    n.peer_asked(Ask {
        protocol: Some(StartTlsProtocol::Mysql),
        tag: None,
    });
    assert!(matches!(
        n.push(10, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Mysql),
            frame: 4,
            ..
        }
    ));
    let request = hex(MARIADB_SSL_REQUEST);
    assert_eq!(
        run(&[(6, &request), (8, RECORD)], None),
        [
            "Asked { ask: Ask { protocol: Some(Mysql), tag: None }, command: \"SSLRequest\" }",
            "tls Some(Mysql) 6 [22, 3]"
        ]
    );
    // A greeting without CLIENT_SSL: not offered; a plaintext login after it is not TLS.
    let mut plain = greeting.clone();
    let caps = 4 + 1 + 33 + 4 + 8 + 1;
    plain[caps + 1] &= !0x08;
    let login = [&[0x0c, 0, 0, 2][..], &[0; 12]].concat();
    assert_eq!(
        run(&[(4, &plain), (8, &login)], None),
        ["NotOffered { protocol: Mysql }", "NotTls"]
    );
    // After an SSLRequest the greeting did not offer TLS for, an ERR packet is a refusal.
    let err = [&[9, 0, 0, 2, 0xff, 0x04, 0x08][..], b"#08S01"].concat();
    let ask = Some(Ask {
        protocol: Some(StartTlsProtocol::Mysql),
        tag: None,
    });
    assert_eq!(
        run(&[(4, &plain), (8, &err)], ask),
        [
            "NotOffered { protocol: Mysql }",
            "Refused { protocol: Some(Mysql), reply: \"ERR packet, error 2052\" }"
        ]
    );
}

/// A MySQL greeting whose length byte is `N` or `S` (78 or 83 bytes) is read as MySQL whole
/// and cut anywhere, never as PostgreSQL's one-byte answer.
#[test]
fn mysql_greeting_of_78_bytes_is_not_postgresql() {
    let mut greeting = hex(MARIADB_GREETING);
    // Cut the plugin name so the payload is 78 bytes.
    greeting.truncate(4 + 78);
    greeting[0] = b'N';
    for cut in 1..greeting.len() {
        let (a, b) = greeting.split_at(cut);
        let mut n = Negotiation::begin(a).expect("could open");
        assert_eq!(n.push(4, a), Step::NeedMore, "cut {cut}");
        assert_eq!(n.push(4, b), Step::NeedMore, "cut {cut}");
        assert_eq!(n.opening, Opening::MysqlServer, "cut {cut}");
    }
    // PostgreSQL's `N` alone, after the client's SSLRequest, is its refusal.
    let ask = Some(Ask {
        protocol: Some(StartTlsProtocol::Postgresql),
        tag: None,
    });
    assert_eq!(
        run(&[(6, b"N")], ask),
        ["Refused { protocol: Some(Postgresql), reply: \"N (the server does not accept SSL)\" }"]
    );
}

/// ManageSieve (RFC 5804): capability lines and `OK` greet; `STARTTLS` is answered `OK` (TLS
/// follows) or `NO` (refused).
#[test]
fn managesieve_capabilities_then_starttls() {
    let greeting: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK \"ready\"\r\n";
    let ask = Ask {
        protocol: None,
        tag: None,
    };
    let mut n = Negotiation::begin(greeting).expect("greeting");
    assert_eq!(n.push(4, greeting), Step::NeedMore);
    n.peer_asked(ask.clone());
    assert_eq!(
        n.push(8, b"OK \"Begin TLS negotiation now\"\r\n"),
        Step::NeedMore
    );
    assert!(matches!(
        n.push(10, RECORD),
        Step::Tls {
            protocol: Some(StartTlsProtocol::Managesieve),
            frame: 8,
            ..
        }
    ));
    let mut n = Negotiation::begin(greeting).expect("greeting");
    assert_eq!(n.push(4, greeting), Step::NeedMore);
    n.peer_asked(ask);
    assert_eq!(
        n.push(8, b"NO \"TLS not available\"\r\n"),
        Step::Refused {
            protocol: Some(StartTlsProtocol::Managesieve),
            reply: "NO \"TLS not available\"".into()
        }
    );
    // The client: an untagged CAPABILITY names ManageSieve, then STARTTLS.
    assert_eq!(
        run(
            &[(5, b"CAPABILITY\r\n"), (7, b"STARTTLS\r\n"), (9, RECORD)],
            None
        ),
        [
            "Asked { ask: Ask { protocol: Some(Managesieve), tag: None }, command: \"STARTTLS\" }",
            "tls Some(Managesieve) 7 [22, 3]"
        ]
    );
}

/// A packet header declaring 7 MB whose first 512 bytes look like a greeting is no greeting,
/// whole or cut (found by the `tls_chunking` fuzz target: the whole chunk was read as a
/// greeting cut at the limit, the first bytes alone were not).
#[test]
fn an_over_long_mysql_packet_is_not_a_greeting() {
    let mut packet = vec![0x24, 0, 0x6c, 0, 0x0a, b'{', b'{', 0];
    packet.resize(521, 0x29);
    assert!(Negotiation::begin(&packet).is_none());
    assert!(Negotiation::begin(&packet[..3]).is_none());
}

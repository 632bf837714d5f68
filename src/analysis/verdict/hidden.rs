//! The sentence of a `hidden` verdict: why a TLS 1.3 selection could not be read (no keys, no
//! key-log entry for this ClientHello, keys that do not open the records, or a capture gap before
//! the EncryptedExtensions), and how to get it read.
//!
//! Takes [`FlowFacts`] and the client's offer; emits one sentence. A gap in the capture is named
//! before any advice about keys.

use super::{cut_advice, cut_cause, cut_offer, list};
use crate::analysis::{Application, FlowFacts, KeyStatus};
use crate::tls::decrypt::DecryptError;
use crate::tls::hello::{Tls13Evidence, version_name};
use crate::tls::{ClientHello, ServerHello, StreamFault};

/// Why a TLS 1.3 selection could not be read, and how to get it read.
pub(super) fn hidden_detail(
    facts: &FlowFacts,
    client_hello: &ClientHello,
    server_hello: &ServerHello,
) -> String {
    let version = tls13_label(server_hello);
    let choices = if client_hello.offer_unknown() {
        format!(
            "the protocols the client offered ({})",
            cut_offer(facts, client_hello)
        )
    } else {
        list(client_hello.offered())
    };
    let decrypt_failure = facts.faults.iter().find_map(|(_, _, f)| match f {
        StreamFault::Decryption(e) => Some(*e),
        _ => None,
    });
    // A gap in the capture before the EncryptedExtensions: the keys are right, the bytes missing.
    let gap = facts.faults.iter().find_map(|(role, _, f)| match f {
        StreamFault::DecryptionAfterGap {
            missing,
            before_frame,
            ..
        } => Some((*role, *missing, *before_frame)),
        _ => None,
    });
    if let Some(cut) = server_hello.cut {
        // The records after a cut ServerHello are cut too: keys alone cannot open them.
        let by = match server_hello.cut_tls13_evidence() {
            Some(Tls13Evidence::SupportedVersions) => {
                "its supported_versions extension".to_string()
            }
            _ => format!(
                "the ServerHello's cipher suite {}, which exists only in TLS 1.3,",
                suite_name(server_hello.cipher_suite)
            ),
        };
        let (client_cut, among, offer) = match client_hello.cut {
            Some(c) if client_hello.offer_unknown() => (
                format!(" and {} of the ClientHello's {} bytes", c.captured, c.len),
                String::new(),
                ", and whether the client offered ALPN at all is not in the captured bytes",
            ),
            _ => (String::new(), format!(" among {choices}"), ""),
        };
        return format!(
            "{version}: the capture holds only {} of the ServerHello's {} bytes{client_cut} ({}), but {by} shows TLS 1.3, so the server's choice{among} is in the encrypted EncryptedExtensions{offer}. To read it, {}, log the client's keys (SSLKEYLOGFILE=keys.log) and run alpnscope analyze --keylog keys.log",
            cut.captured,
            cut.len,
            cut_cause(facts),
            cut_advice(facts)
        );
    }
    if decrypt_failure.is_none()
        && let Some((role, missing, before_frame)) = gap
    {
        return format!(
            "{version}: the server's choice among {choices} is in the encrypted EncryptedExtensions, which the key log could not open because {missing} bytes of the {} stream are missing from the capture before frame {before_frame}: the records after a gap cannot be decrypted, so the selection is unknown",
            role.name()
        );
    }
    match (facts.keys, decrypt_failure) {
        (_, Some(failure @ DecryptError::UnsupportedVersion(_))) => format!(
            "{version}: the server's choice among {choices} is in the encrypted EncryptedExtensions, and {failure}, so the selection stays unknown although the key log has this connection's keys"
        ),
        (_, Some(failure)) => format!(
            "{version}: the server's choice among {choices} is in the encrypted EncryptedExtensions, and {failure} (the key-log entry for this ClientHello random does not open its records)"
        ),
        (KeyStatus::NoEntry, None) => {
            let random =
                crate::hex::encode(&client_hello.random[..client_hello.random.len().min(8)]);
            format!(
                "{version}: the server's choice among {choices} is encrypted, and the key log has no entry for this ClientHello random ({random}…): it holds other connections' keys; log the keys while reproducing this connection"
            )
        }
        // Nearly every TLS 1.3 flow without keys: joined, not formatted.
        _ => {
            // Browsers and curl are named only where the flow may be HTTP.
            let advice = if Application::of(facts).may_be_http() {
                "log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log)"
            } else {
                "log the client's TLS keys (SSLKEYLOGFILE=keys.log for a client whose TLS library honours it; openssl s_client: -keylogfile keys.log)"
            };
            [
                &version,
                ": the server's choice among ",
                &choices,
                " is in the encrypted EncryptedExtensions. To read it, ",
                advice,
                " and run alpnscope analyze --keylog keys.log",
            ]
            .concat()
        }
    }
}

/// "TLS 1.3", or "TLS 1.3 (draft 23)" for a pre-standard version.
fn tls13_label(server_hello: &ServerHello) -> String {
    ["TLS ", &version_name(server_hello.version())].concat()
}

/// The IANA name of a cipher suite, or its number.
fn suite_name(suite: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(suite)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{suite:04x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Role, VerdictKind, judge};
    use crate::tls::{ClientHello, ServerHello};

    /// TLS 1.3 with keys, where the EncryptedExtensions could not be opened because bytes of
    /// the server's stream are missing from the capture before it: the gap is named, not the
    /// keys, nor the advice to log keys.
    #[test]
    fn a_hidden_selection_behind_a_capture_gap_names_the_gap() {
        use crate::tls::testing::{client_hello_message, tls13_server_hello_record};
        let ch = ClientHello::parse(&client_hello_message(&[b"h2", b"http/1.1"])[4..]).unwrap();
        let sh = ServerHello::parse(&tls13_server_hello_record()[9..]).unwrap();
        let facts = FlowFacts {
            client_hellos: vec![(ch, vec![4])],
            server_hellos: vec![(sh, vec![6])],
            keys: KeyStatus::Found,
            first_tls_frame: Some(4),
            faults: vec![(
                Role::Server,
                12,
                StreamFault::DecryptionAfterGap {
                    missing: 206,
                    before_frame: 12,
                    opened_before: false,
                },
            )],
            ..FlowFacts::default()
        };
        let verdict = judge(&facts);
        assert_eq!(verdict.kind, VerdictKind::Hidden);
        assert_eq!(
            verdict.detail,
            "TLS 1.3: the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions, which the key log could not open because 206 bytes of the server stream are missing from the capture before frame 12: the records after a gap cannot be decrypted, so the selection is unknown"
        );
    }
}

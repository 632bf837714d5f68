//! The sentence of a `hidden` verdict: why a TLS 1.3 selection could not be read (no keys, no
//! key-log entry for this ClientHello, keys that do not open the records, or a capture gap before
//! the EncryptedExtensions), and how to get it read.
//!
//! Takes [`FlowFacts`] and the client's offer; emits one sentence. A gap in the capture is named
//! before any advice about keys.

use super::list;
use crate::analysis::{FlowFacts, KeyStatus};
use crate::tls::{ProtocolName, StreamFault};

/// Why a TLS 1.3 selection could not be read, and how to get the keys.
pub(super) fn hidden_detail(
    facts: &FlowFacts,
    offered: &[ProtocolName],
    client_random: &[u8],
) -> String {
    let choices = list(offered);
    let decrypt_failure = facts.faults.iter().find_map(|(_, _, f)| match f {
        StreamFault::Decryption(e) => Some(e.to_string()),
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
    if decrypt_failure.is_none()
        && let Some((role, missing, before_frame)) = gap
    {
        return format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions, which the key log could not open because {missing} bytes of the {} stream are missing from the capture before frame {before_frame}: the records after a gap cannot be decrypted, so the selection is unknown",
            role.name()
        );
    }
    match (facts.keys, decrypt_failure) {
        (_, Some(failure)) => format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions, and {failure} (the key-log entry for this ClientHello random does not open its records)"
        ),
        (KeyStatus::NoEntry, None) => {
            let random: String = client_random
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            format!(
                "TLS 1.3: the server's choice among {choices} is encrypted, and the key log has no entry for this ClientHello random ({random}…): it holds other connections' keys; log the keys while reproducing this connection"
            )
        }
        _ => format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log"
        ),
    }
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

//! What application protocol a flow carries, as far as its packets tell. A sentence gives advice
//! that belongs to one protocol (an HTTP client's fallback to HTTP/1.1, curl's message, a
//! browser's key log) only when the flow may be that protocol.
//!
//! Pure: reads [`FlowFacts`], never a sentence.

use super::FlowFacts;
use crate::tls::starttls::StartTlsProtocol;

/// The application protocol of a flow, as far as the packets tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// TLS after a plaintext start (STARTTLS and its kin): that protocol, when known.
    StartTls(Option<StartTlsProtocol>),
    /// The client offered an HTTP version in ALPN (`h2`, `http/1.1`…).
    Http,
    /// The client offered only protocols other than HTTP (`smtp`, `postgresql`…).
    Other,
    /// Nothing tells: no plaintext start and no ALPN offer (TLS from the first byte, HTTPS as
    /// often as not).
    Unknown,
}

impl Application {
    /// The application protocol of the flow `facts` describes: a plaintext start names it,
    /// else the client's ALPN offer.
    pub fn of(facts: &FlowFacts) -> Application {
        // TLS found after plaintext alpnscope does not recognise says nothing of the application.
        if let Some(seen) = &facts.starttls
            && !seen.only_found_hello()
        {
            return Application::StartTls(seen.protocol);
        }
        let Some((hello, _)) = facts.client_hello() else {
            return Application::Unknown;
        };
        let offered = hello.offered();
        if offered.iter().any(|p| p.is_http()) {
            Application::Http
        } else if offered.iter().any(|p| !p.is_grease()) {
            Application::Other
        } else {
            Application::Unknown
        }
    }

    /// True when the flow may be HTTP: advice for HTTP clients and web servers applies.
    pub fn may_be_http(self) -> bool {
        matches!(self, Application::Http | Application::Unknown)
    }

    /// The protocol's name in a sentence ("SMTP"), for a plaintext start whose protocol is known.
    pub fn starttls_title(self) -> Option<&'static str> {
        match self {
            Application::StartTls(Some(p)) => Some(p.title()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::StartTlsSeen;
    use crate::tls::starttls::StartTlsProtocol;

    /// Hello records found after plaintext alpnscope does not recognise say nothing of the
    /// application: no "settled by the plaintext exchange"; a recognised exchange does.
    #[test]
    fn unrecognised_plaintext_tells_nothing_of_the_application() {
        let mut facts = FlowFacts {
            starttls: Some(StartTlsSeen {
                found_hello: [Some(8), Some(9)],
                ..StartTlsSeen::default()
            }),
            ..FlowFacts::default()
        };
        assert_eq!(Application::of(&facts), Application::Unknown);
        if let Some(seen) = &mut facts.starttls {
            seen.protocol = Some(StartTlsProtocol::Smtp);
        }
        assert_eq!(
            Application::of(&facts),
            Application::StartTls(Some(StartTlsProtocol::Smtp))
        );
    }
}

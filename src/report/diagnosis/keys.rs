//! How flows are told apart as servers (address and port, proxy target, SNI, transport) and as
//! services (the name and port the client asked for, whichever address, path or transport
//! answered). A QUIC listener and a TCP listener on one address and port are two servers: they
//! are configured apart, and one may work while the other does not.

use crate::report::model::{EndpointReport, FlowReport, Transport};
use std::fmt;

/// The server a flow reached: where its TLS went (the proxy's target too, for a proxied flow)
/// and the name the client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ServerKey {
    /// The address and port the TLS connection went to.
    endpoint: EndpointReport,
    /// The target asked of a proxy (`host:port`), for a proxied flow.
    target: Option<String>,
    /// The SNI.
    sni: Option<String>,
    /// TCP or QUIC.
    transport: Transport,
}

impl ServerKey {
    /// The server `flow` reached.
    pub(super) fn of(flow: &FlowReport) -> ServerKey {
        ServerKey {
            endpoint: flow.server.clone(),
            target: flow.proxy.as_ref().and_then(|p| p.target.clone()),
            sni: flow.sni.clone(),
            transport: flow.transport,
        }
    }

    /// TCP or QUIC.
    pub(super) fn transport(&self) -> Transport {
        self.transport
    }

    /// The same server over `transport`.
    pub(super) fn over(&self, transport: Transport) -> ServerKey {
        ServerKey {
            transport,
            ..self.clone()
        }
    }

    /// The address and port the TLS connection went to.
    pub(super) fn endpoint(&self) -> &EndpointReport {
        &self.endpoint
    }

    /// The name and port the client asked for, compared across addresses and paths; without
    /// SNI (or a readable target port), the server itself.
    pub(super) fn service(&self) -> ServiceKey {
        let port = match &self.target {
            Some(target) => target
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok()),
            None => Some(self.endpoint.port),
        };
        match (&self.sni, port) {
            (Some(sni), Some(port)) => ServiceKey::Name {
                sni: sni.clone(),
                port,
            },
            _ => ServiceKey::Server(self.clone()),
        }
    }
}

impl fmt::Display for ServerKey {
    /// `alpn.test (127.0.0.1:8443)`, `app.test (app.test:443 via proxy 127.0.0.1:3128)`,
    /// `alpn.test (127.0.0.1:443 over QUIC)`, or the address alone without SNI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = match &self.target {
            Some(target) => format!("{target} via proxy {}", self.endpoint),
            None => self.endpoint.to_string(),
        };
        if self.transport == Transport::Quic {
            place.push_str(" over QUIC");
        }
        match &self.sni {
            Some(sni) => write!(f, "{sni} ({place})"),
            None => f.write_str(&place),
        }
    }
}

/// A name and port as the client asked for them, whichever address or path answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ServiceKey {
    /// The SNI and the port (the proxy target's port for a proxied flow).
    Name { sni: String, port: u16 },
    /// No name to compare by: the server alone.
    Server(ServerKey),
}

impl fmt::Display for ServiceKey {
    /// `alpn.test:8443`, else the server.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Name { sni, port } => write!(f, "{sni}:{port}"),
            ServiceKey::Server(server) => server.fmt(f),
        }
    }
}

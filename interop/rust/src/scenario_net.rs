//! The transport and secure channel of the scenarios whose swarms are their own (request-response,
//! rendezvous, mdns): the contract's `transport` (`tcp` | `quic-v1`) and `security` (`noise` |
//! `tls`), CONTRACT.md. Their swarms carry TCP upgraded with `security` then yamux, and QUIC v1
//! (TLS 1.3 with the libp2p certificate, QUIC's own streams), and listen on the one `transport` names.

use std::net::IpAddr;

use libp2p::{multiaddr::Protocol, Multiaddr};

use crate::{die, stack::Security};

/// What the runner asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub quic: bool,
    pub security: Security,
}

/// `transport` and `security` from the environment (defaults `tcp`, `noise`); dies on values
/// these scenarios do not run on (`ws`, or `quic-v1` without `tls`).
pub fn from_env() -> Net {
    let transport = std::env::var("transport").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "tcp".into());
    let security = std::env::var("security").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "noise".into());
    let security = Security::parse(&security).unwrap_or_else(|| die(format!("unsupported security {security:?}")));
    match transport.as_str() {
        "tcp" => Net { quic: false, security },
        "quic-v1" if security == Security::Tls => Net { quic: true, security },
        "quic-v1" => die("quic-v1 needs security tls"),
        other => die(format!("this scenario runs over tcp or quic-v1, not {other:?}")),
    }
}

impl Net {
    /// `/ip4/<ip>/tcp/0` or `/ip4/<ip>/udp/0/quic-v1`.
    pub fn listen_addr(&self, ip: IpAddr) -> Multiaddr {
        let mut a: Multiaddr = match ip {
            IpAddr::V4(v4) => Protocol::Ip4(v4).into(),
            IpAddr::V6(v6) => Protocol::Ip6(v6).into(),
        };
        if self.quic {
            a.push(Protocol::Udp(0));
            a.push(Protocol::QuicV1);
        } else {
            a.push(Protocol::Tcp(0));
        }
        a
    }

    /// Whether `a` is an address of this transport (`/tcp/<port>` without `/ws`, or `/udp/<port>/quic-v1`).
    pub fn is_ours(&self, a: &Multiaddr) -> bool {
        let ps: Vec<Protocol> = a.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
        if self.quic {
            ps.len() == 3 && matches!(ps[1], Protocol::Udp(_)) && matches!(ps[2], Protocol::QuicV1)
        } else {
            ps.len() == 2 && matches!(ps[1], Protocol::Tcp(_))
        }
    }

    /// For log lines: `tcp/noise`, `tcp/tls`, `quic-v1`.
    pub fn name(&self) -> &'static str {
        match (self.quic, self.security) {
            (true, _) => "quic-v1",
            (false, Security::Noise) => "tcp/noise",
            (false, Security::Tls) => "tcp/tls",
        }
    }
}

/// SwarmBuilder after `with_tokio()`: TCP (nodelay) upgraded with `net.security` + yamux, and QUIC v1.
macro_rules! scenario_transports {
    ($builder:expr, $net:expr) => {{
        let security = $net.security;
        $builder
            .with_other_transport(move |key| crate::stack::tcp_transport(key, security))
            .unwrap_or_else(|e| crate::die(format!("tcp transport: {e}")))
            .with_other_transport(|key| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(crate::stack::quic_transport(key)))
            .unwrap_or_else(|e| crate::die(format!("quic transport: {e}")))
    }};
}
pub(crate) use scenario_transports;

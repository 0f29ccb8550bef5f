//! The transports of the transport-interop and perf modes: TCP and WebSocket upgraded with the secure
//! channel the contract's `security` names (Noise or TLS, one of them, then yamux), plus QUIC v1
//! (TLS 1.3 with the libp2p certificate and QUIC's own streams, whatever `security` says).
//! Also the `cert` mode: a certificate as rust-libp2p's TLS presents it, for
//! spec/vectors/tls-peers.json (interop/README.md, "TLS certificates").

use std::{error::Error, time::Duration};

use libp2p::{
    core::{muxing::StreamMuxerBox, transport::Boxed, upgrade, Transport as _},
    identify, identity, noise, ping, quic, tcp, tls, websocket, yamux, PeerId, Swarm, SwarmBuilder,
};
use tokio::sync::mpsc;

use crate::{die, streams, Behaviour, ECHO, LIBP2P_VERSION, PERF, PROTOCOL_VERSION, RESET};

/// The secure channel of TCP and WebSocket connections (CONTRACT.md `security`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Noise,
    Tls,
}

impl Security {
    pub fn parse(s: &str) -> Option<Security> {
        match s {
            "noise" => Some(Security::Noise),
            "tls" => Some(Security::Tls),
            _ => None,
        }
    }
}

type BoxErr = Box<dyn Error + Send + Sync>;

/// `t` upgraded with `security` then yamux, boxed (so that Noise and TLS give the same type).
macro_rules! secured {
    ($t:expr, $key:expr, $security:expr) => {
        match $security {
            Security::Noise => $t
                .upgrade(upgrade::Version::V1Lazy)
                .authenticate(noise::Config::new($key)?)
                .multiplex(yamux::Config::default())
                .map(|(p, c), _| (p, StreamMuxerBox::new(c)))
                .boxed(),
            Security::Tls => $t
                .upgrade(upgrade::Version::V1Lazy)
                .authenticate(tls::Config::new($key)?)
                .multiplex(yamux::Config::default())
                .map(|(p, c), _| (p, StreamMuxerBox::new(c)))
                .boxed(),
        }
    };
}

pub(crate) fn tcp_transport(key: &identity::Keypair, security: Security) -> Result<Boxed<(PeerId, StreamMuxerBox)>, BoxErr> {
    let t = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    Ok(secured!(t, key, security))
}

fn ws_transport(key: &identity::Keypair, security: Security) -> Result<Boxed<(PeerId, StreamMuxerBox)>, BoxErr> {
    // WebSocket over TCP, without the DNS layer the builder's with_websocket insists on.
    let t = websocket::Config::new(tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)));
    Ok(secured!(t, key, security))
}

pub(crate) fn quic_transport(key: &identity::Keypair) -> Boxed<(PeerId, StreamMuxerBox)> {
    quic::tokio::Transport::new(quic::Config::new(key))
        .map(|(p, c), _| (p, StreamMuxerBox::new(c)))
        .boxed()
}

/// The swarm of the transport-interop and perf modes: TCP, WebSocket (both secured with
/// `security`) and QUIC v1; ping, identify and the echo/reset/perf stream protocols.
pub fn build_swarm(
    key: identity::Keypair,
    ping_interval: Duration,
    security: Security,
) -> (Swarm<Behaviour>, streams::Control, mpsc::UnboundedReceiver<streams::Inbound>) {
    let (sb, control, inbound) = streams::Behaviour::new(&[ECHO, RESET, PERF]);
    let mut sb = Some(sb);
    let swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| tcp_transport(key, security))
        .unwrap_or_else(|e| die(format!("tcp transport: {e}")))
        .with_other_transport(|key| ws_transport(key, security))
        .unwrap_or_else(|e| die(format!("ws transport: {e}")))
        .with_other_transport(|key| Ok::<_, BoxErr>(quic_transport(key)))
        .unwrap_or_else(|e| die(format!("quic transport: {e}")))
        .with_behaviour(|key| Behaviour {
            ping: ping::Behaviour::new(ping::Config::new().with_interval(ping_interval)),
            identify: identify::Behaviour::new(
                // Config::new (no signed peer record): rust-libp2p signs records with the legacy
                // "libp2p-routing-state" domain, which other implementations reject.
                identify::Config::new(PROTOCOL_VERSION.to_string(), key.public())
                    .with_agent_version(format!("rust-libp2p-interop/{LIBP2P_VERSION}")),
            ),
            streams: sb.take().expect("behaviour built once"),
        })
        .unwrap_or_else(|e| die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    (swarm, control, inbound)
}

/// `cert [ed25519...]`: one JSON line per certificate, `{keyType, peerId, certDerHex}`: what
/// libp2p::tls::certificate::generate (the certificate rust-libp2p's TLS and QUIC present) makes
/// for a fresh host key, and the peer id a verifier must derive from it.
pub fn cert_mode(args: &[String]) {
    let types: Vec<String> = if args.is_empty() { vec!["ed25519".into()] } else { args.to_vec() };
    for kt in types {
        let key = match kt.as_str() {
            "ed25519" => identity::Keypair::generate_ed25519(),
            other => die(format!("cert: unsupported key type {other:?} (this build has ed25519 only)")),
        };
        let (cert, _) = tls::certificate::generate(&key).unwrap_or_else(|e| die(format!("cert: {e}")));
        let hex: String = cert.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "{}",
            serde_json::json!({"keyType": kt, "peerId": key.public().to_peer_id().to_string(), "certDerHex": hex})
        );
    }
}

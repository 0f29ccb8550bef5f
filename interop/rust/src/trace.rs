//! Trace mode (interop/CONTRACT.md "trace"): a listener for `weft trace`, on TCP with the secure
//! channel `security` names (noise or tls, stack.rs) or on QUIC v1 (transport quic-v1). It serves ping,
//! identify, kad (server mode) and gossipsub, prints on stdout ONE JSON line with what its
//! identify sends (agent and protocol version, protocols, listen addresses, peer id, public key),
//! publishes listenerAddr and serves until killed; interop/lib/trace-case.mjs compares that line
//! with the identify message weft's tracer decoded.
//!
//! rust-libp2p has no API listing the protocols identify advertises (its handler collects the
//! inbound protocols of every behaviour's handler), so `PROTOCOLS` lists them from this swarm's
//! configuration: ping, identify + push, kad in server mode, gossipsub 0.50's default
//! `ProtocolConfig` (meshsub 1.3.0 down to 1.0.0, no floodsub).

use std::{net::IpAddr, time::Duration};

use futures::StreamExt as _;
use libp2p::{
    gossipsub, identify, identity, kad, multiaddr::Protocol, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    StreamProtocol, SwarmBuilder,
};

use crate::stack::Security;

use crate::resp::Redis;

const TOPIC: &str = "weft-trace";
const PROTOCOLS: &[&str] = &[
    "/ipfs/id/1.0.0",
    "/ipfs/id/push/1.0.0",
    "/ipfs/kad/1.0.0",
    "/ipfs/ping/1.0.0",
    "/meshsub/1.0.0",
    "/meshsub/1.1.0",
    "/meshsub/1.2.0",
    "/meshsub/1.3.0",
];

#[derive(NetworkBehaviour)]
struct TraceBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn run() {
    let timeout: u64 = crate::env("test_timeout_seconds", "60").parse().unwrap_or(60);
    crate::arm_test_timeout(timeout);
    let quic = match crate::env("transport", "").as_str() {
        "tcp" => false,
        "quic-v1" => true,
        _ => crate::die("scenario trace: only a listener on tcp or quic-v1"),
    };
    let security = Security::parse(&crate::env("security", "noise")).unwrap_or_else(|| crate::die("unsupported security"));
    if crate::env("is_dialer", "") != "false" || (quic && security != Security::Tls) {
        crate::die("scenario trace: only a listener (is_dialer=false); quic-v1 needs security tls");
    }
    let ip: IpAddr = crate::env("ip", "127.0.0.1").parse().unwrap_or_else(|_| crate::die("bad ip"));
    let mut redis = Redis::connect(&crate::env("redis_addr", "redis:6379"), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| crate::die(e));
    let key = identity::Keypair::generate_ed25519();
    let peer_id = key.public().to_peer_id();
    let public_key = hex(&key.public().encode_protobuf());
    let agent = format!("rust-libp2p-interop/{} (trace)", crate::LIBP2P_VERSION);
    let agent2 = agent.clone();
    let mut swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            if quic { Ok(crate::stack::quic_transport(key)) } else { crate::stack::tcp_transport(key, security) }
        })
        .unwrap_or_else(|e| crate::die(format!("transport: {e}")))
        .with_behaviour(move |key| {
            let gs = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossipsub::ConfigBuilder::default().build().expect("gossipsub config"),
            )
            .expect("gossipsub behaviour");
            let pid = key.public().to_peer_id();
            let mut k = kad::Behaviour::with_config(
                pid,
                kad::store::MemoryStore::new(pid),
                kad::Config::new(StreamProtocol::new("/ipfs/kad/1.0.0")),
            );
            k.set_mode(Some(kad::Mode::Server));
            TraceBehaviour {
                ping: ping::Behaviour::new(ping::Config::new()),
                identify: identify::Behaviour::new(
                    identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public()).with_agent_version(agent2),
                ),
                gossipsub: gs,
                kad: k,
            }
        })
        .unwrap_or_else(|e| crate::die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let topic = gossipsub::IdentTopic::new(TOPIC);
    swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap_or_else(|e| crate::die(format!("subscribe: {e}")));
    let listen = if quic {
        let mut a: libp2p::Multiaddr = match ip {
            IpAddr::V4(v4) => Protocol::Ip4(v4).into(),
            IpAddr::V6(v6) => Protocol::Ip6(v6).into(),
        };
        a.push(Protocol::Udp(0));
        a.push(Protocol::QuicV1);
        a
    } else {
        crate::tcp_listen_addr(ip)
    };
    swarm.listen_on(listen).unwrap_or_else(|e| crate::die(format!("listen: {e}")));
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    let line = serde_json::json!({"identify": {
        "agentVersion": agent, "protocolVersion": crate::PROTOCOL_VERSION, "protocols": PROTOCOLS,
        "listenAddrs": [addr.to_string()], "peerId": peer_id.to_string(), "publicKey": public_key, "topic": TOPIC,
    }});
    println!("{line}");
    let mut full = addr.clone();
    full.push(Protocol::P2p(peer_id));
    eprintln!("[rust-peer] trace listener {full}");
    redis.rpush("listenerAddr", &full.to_string()).await.unwrap_or_else(|e| crate::die(e));
    // A message on the topic every 500 ms, so a gossipsub subscriber sees one decoded.
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                n += 1;
                let _ = swarm.behaviour_mut().gossipsub.publish(topic.clone(), format!("rust trace {n}").into_bytes());
            }
            ev = swarm.select_next_some() => {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } = ev {
                    eprintln!("[rust-peer] connected: {peer_id}");
                }
            }
        }
    }
}

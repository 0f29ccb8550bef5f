//! Browser mode (env scenario=browser; interop/CONTRACT.md "browser"): the rust node a weft page
//! running in Chromium talks to (test/browser/). No Redis: it listens on /ip4/<ip>/tcp/0/ws, prints
//! ONE JSON line on stdout (address, peer id, agent version, protocols, the gossipsub topic, the kad
//! keys it holds, its kad neighbours) and serves until stdin closes (the test owns it) or the
//! timeout.
//!
//! It serves identify, ping, `/weft/echo/1.0.0` (every byte back until EOF, then close), gossipsub
//! on `weft-browser` (each message from another peer is re-published as "rust echo: <data>"), and
//! kad in server mode holding its own /pk record and a provider record for
//! sha256("provide/browser-rust"); two neighbour swarms in this process (WebSocket, kad server) sit
//! in its routing table, so a FIND_NODE lookup for a neighbour has somewhere to go.

use std::{io::Read as _, net::IpAddr, time::Duration};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    core::{muxing::StreamMuxerBox, upgrade, Transport as _},
    gossipsub, identify,
    kad::{self, store::RecordStore as _},
    multiaddr::Protocol,
    noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, websocket, yamux, Multiaddr, Stream, StreamProtocol, Swarm, SwarmBuilder,
};
use sha2::{Digest as _, Sha256};

use crate::streams;

const TOPIC: &str = "weft-browser";
const ECHO: &str = "/weft/echo/1.0.0";
const PROVIDE: &str = "provide/browser-rust";

#[derive(NetworkBehaviour)]
struct BrowserBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    streams: streams::Behaviour,
}

fn agent() -> String {
    format!("rust-libp2p-interop/{} (browser)", crate::LIBP2P_VERSION)
}

/// A WebSocket-only swarm listening on /ip4/<ip>/tcp/0/ws; returns it with its bound address.
async fn build(ip: IpAddr) -> (Swarm<BrowserBehaviour>, Multiaddr, tokio::sync::mpsc::UnboundedReceiver<streams::Inbound>) {
    let (sb, _control, inbound) = streams::Behaviour::new(&[ECHO]);
    let mut sb = Some(sb);
    let mut swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            // WebSocket over TCP, without the DNS layer the builder's with_websocket insists on.
            let ws = websocket::Config::new(tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)));
            Ok(ws
                .upgrade(upgrade::Version::V1Lazy)
                .authenticate(noise::Config::new(key)?)
                .multiplex(yamux::Config::default())
                .map(|(p, c), _| (p, StreamMuxerBox::new(c))))
        })
        .unwrap_or_else(|e| crate::die(format!("ws transport: {e}")))
        .with_behaviour(|key| {
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
            BrowserBehaviour {
                ping: ping::Behaviour::new(ping::Config::new()),
                identify: identify::Behaviour::new(
                    identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public()).with_agent_version(agent()),
                ),
                gossipsub: gs,
                kad: k,
                streams: sb.take().expect("behaviour built once"),
            }
        })
        .unwrap_or_else(|e| crate::die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let mut listen = crate::tcp_listen_addr(ip);
    listen.push(Protocol::Ws("/".into()));
    swarm.listen_on(listen).unwrap_or_else(|e| crate::die(format!("listen: {e}")));
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    (swarm, addr, inbound)
}

/// Every byte back until EOF, then close (rust's yamux reads a reset as EOF: the write then fails).
async fn serve_echo(s: Stream) {
    let (mut r, mut w) = s.split();
    match futures::io::copy(&mut r, &mut w).await {
        Ok(n) => {
            let closed = w.close().await;
            eprintln!("[rust-peer] echo: {n} bytes, close: {closed:?}");
        }
        Err(e) => eprintln!("[rust-peer] echo failed: {e}"),
    }
}

fn spawn_echo(mut inbound: tokio::sync::mpsc::UnboundedReceiver<streams::Inbound>) {
    tokio::spawn(async move {
        while let Some((_peer, _proto, stream)) = inbound.recv().await {
            tokio::spawn(serve_echo(stream));
        }
    });
}

fn provide_key() -> Vec<u8> {
    let mut k = vec![0x12, 0x20];
    k.extend_from_slice(&Sha256::digest(PROVIDE.as_bytes()));
    k
}

pub async fn run() {
    let timeout: u64 = crate::env("test_timeout_seconds", "300").parse().unwrap_or(300);
    crate::arm_test_timeout(timeout);
    let ip: IpAddr = crate::env("ip", "127.0.0.1").parse().unwrap_or_else(|_| crate::die("bad ip"));
    // Serve until whoever started us closes our stdin.
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        eprintln!("[rust-peer] stdin closed: exiting");
        std::process::exit(0);
    });
    let (mut swarm, addr, inbound) = build(ip).await;
    spawn_echo(inbound);
    let peer_id = *swarm.local_peer_id();
    // Two neighbours, kad servers too, in our routing table.
    let mut neighbours = Vec::new();
    for _ in 0..2 {
        let (mut n, naddr, ninbound) = build(ip).await;
        spawn_echo(ninbound);
        let nid = *n.local_peer_id();
        n.behaviour_mut().kad.add_address(&peer_id, addr.clone());
        tokio::spawn(async move {
            loop {
                n.select_next_some().await;
            }
        });
        swarm.behaviour_mut().kad.add_address(&nid, naddr.clone());
        swarm.dial(naddr.with(Protocol::P2p(nid))).unwrap_or_else(|e| crate::die(format!("dial neighbour: {e}")));
        neighbours.push(nid.to_string());
    }
    let kad = &mut swarm.behaviour_mut().kad;
    // an Ed25519 peer id is the identity multihash of the public key protobuf
    let mut pk = b"/pk/".to_vec();
    pk.extend_from_slice(&peer_id.to_bytes());
    kad.store_mut()
        .put(kad::Record::new(kad::RecordKey::new(&pk), peer_id.to_bytes()[2..].to_vec()))
        .unwrap_or_else(|e| crate::die(format!("store /pk: {e}")));
    kad.store_mut()
        .add_provider(kad::ProviderRecord::new(kad::RecordKey::new(&provide_key()), peer_id, vec![]))
        .unwrap_or_else(|e| crate::die(format!("store provider: {e}")));
    let topic = gossipsub::IdentTopic::new(TOPIC);
    swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap_or_else(|e| crate::die(format!("subscribe: {e}")));
    let line = serde_json::json!({
        "addr": addr.clone().with(Protocol::P2p(peer_id)).to_string(), "peerId": peer_id.to_string(),
        "agentVersion": agent(), "protocolVersion": crate::PROTOCOL_VERSION,
        "protocols": ["/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/kad/1.0.0", "/ipfs/ping/1.0.0",
            "/meshsub/1.0.0", "/meshsub/1.1.0", "/meshsub/1.2.0", "/meshsub/1.3.0", ECHO],
        "topic": TOPIC, "echo": ECHO, "provide": PROVIDE, "neighbours": neighbours,
    });
    println!("{line}");
    eprintln!("[rust-peer] browser peer {addr}/p2p/{peer_id}");
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                eprintln!("[rust-peer] connected: {peer_id} via {}", endpoint.get_remote_address());
            }
            SwarmEvent::Behaviour(BrowserBehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                if message.source == Some(peer_id) {
                    continue;
                }
                eprintln!("[rust-peer] gossipsub: {:?} from {:?}", String::from_utf8_lossy(&message.data), message.source);
                let mut data = b"rust echo: ".to_vec();
                data.extend_from_slice(&message.data);
                if let Err(e) = swarm.behaviour_mut().gossipsub.publish(topic.clone(), data) {
                    eprintln!("[rust-peer] publish: {e}");
                }
            }
            _ => {}
        }
    }
}

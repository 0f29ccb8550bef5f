//! Scale-server mode (bench/memory.mjs runScale, bench/README.md "Scale"): a rust-libp2p swarm that
//! accepts as many idle inbound connections as it is given, for the same-run comparison with weft.
//!
//!     peer scale-server [--listen 127.0.0.1:0]
//!
//! TCP only, Noise, yamux, identify and ping (the ping behaviour answers pings; its own outbound
//! pings are every hour, so it does not probe the holders), no connection limits, an idle
//! connection timeout of one day. stdout: {"addr": "<multiaddr>/p2p/<id>"} once listening, then one
//! JSON line per "stats" (or "measure") line on stdin: {"connections": open now, "established": opened since
//! start, "closed": closed since start}. RSS and CPU time are read by the bench from /proc/<pid>.

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::{
    identify, identity, noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, SwarmBuilder,
};
use tokio::sync::mpsc;

#[derive(NetworkBehaviour)]
struct ScaleBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("[rust-scale] error: {msg}");
    std::process::exit(1);
}

pub async fn run(args: Vec<String>) {
    let mut listen = "127.0.0.1:0".to_string();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => listen = it.next().unwrap_or_else(|| fail("--listen needs host:port")),
            other => fail(format!("unknown argument {other:?}")),
        }
    }
    let (host, port) = listen.rsplit_once(':').unwrap_or_else(|| fail("--listen: expected host:port"));
    let addr: Multiaddr = format!("/ip4/{host}/tcp/{port}").parse().unwrap_or_else(|e| fail(format!("--listen: {e}")));

    let key = identity::Keypair::generate_ed25519();
    let mut swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .unwrap_or_else(|e| fail(format!("tcp transport: {e}")))
        .with_behaviour(|key| ScaleBehaviour {
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(3600))),
            identify: identify::Behaviour::new(
                identify::Config::new("ipfs/0.1.0".to_string(), key.public())
                    .with_agent_version("rust-libp2p-interop/scale".to_string()),
            ),
        })
        .unwrap_or_else(|e| fail(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(86_400)))
        .build();
    swarm.listen_on(addr).unwrap_or_else(|e| fail(format!("listen: {e}")));

    // stdin is read on a plain thread (tokio's io-std feature is not enabled for the interop peer).
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if tx.send(line.trim().to_string()).is_err() {
                return;
            }
            line.clear();
        }
        std::process::exit(0);
    });

    let (mut established, mut closed) = (0u64, 0u64);
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { address, .. } => {
                    println!("{}", serde_json::json!({ "addr": format!("{address}/p2p/{}", swarm.local_peer_id()) }));
                }
                SwarmEvent::ConnectionEstablished { .. } => established += 1,
                SwarmEvent::ConnectionClosed { .. } => closed += 1,
                _ => {}
            },
            cmd = rx.recv() => match cmd.as_deref() {
                Some("stats" | "measure") => println!("{}", serde_json::json!({
                    "connections": established - closed, "established": established, "closed": closed,
                })),
                Some(_) => {}
                None => return,
            },
        }
    }
}

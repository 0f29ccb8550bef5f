//! Scenario `mdns` (interop/CONTRACT.md, section `mdns`): the rust side, run in its own network
//! namespace by interop/lib/mdns-case.mjs. One swarm: TCP (nodelay) + Noise or TLS + yamux, and QUIC
//! v1 (scenario_net.rs), ping and `mdns::tokio::Behaviour` with rust-libp2p's default config (queries
//! at 0.5/1/2/4/8 s, TTL 6 min).
//!
//! Both roles listen on `/ip4/<ip>/tcp/0` or `/ip4/<ip>/udp/0/quic-v1` (the runner's `transport`;
//! rust's responder only announces listen addresses, so a dialer without one would be invisible);
//! the dialer dials a discovered address of that transport and checks the connection uses it.
//! Each side publishes its own peer id (`RPUSH <role>PeerId`) and learns
//! the other's (`BLPOP`), so that discovering *that* peer is told apart from anything else on the group.
//! Listener: pushes `listenerResult` ok once mDNS reported the dialer (15 s). Dialer: waits for mDNS to
//! report the listener (15 s), dials a discovered address, prints the result line at the first ping,
//! then waits for `listenerResult` (20 s) while still answering mDNS queries.

use std::{
    collections::HashMap,
    str::FromStr,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p::{
    identity, mdns,
    multiaddr::Protocol,
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, SwarmBuilder,
};
use tokio::sync::mpsc;

use crate::{die, env, ms, resp::Redis, scenario_net::{self, scenario_transports}};

macro_rules! log {
    ($($t:tt)*) => { eprintln!("[rust-peer] {}", format!($($t)*)) };
}

/// How long each side has to discover the other (the budget).
const DISCOVERY: Duration = Duration::from_secs(15);
/// How long the dialer waits for `listenerResult` after its own checks.
const RESULT_WAIT: Duration = Duration::from_secs(20);

#[derive(NetworkBehaviour)]
struct Behaviour {
    ping: ping::Behaviour,
    mdns: mdns::tokio::Behaviour,
}

enum Msg {
    OtherId(PeerId),
    ListenerResultSeen,
}

pub async fn run() {
    let is_dialer = match env("is_dialer", "").as_str() {
        "true" => true,
        "false" => false,
        other => die(format!("is_dialer must be true or false, got {other:?}")),
    };
    let net = scenario_net::from_env();
    let ip = env("ip", "");
    let redis_addr = env("redis_addr", "redis:6379");
    let timeout: u64 = env("test_timeout_seconds", "60").parse().unwrap_or_else(|_| die("bad test_timeout_seconds"));
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
        die(format!("test_timeout_seconds ({timeout}s) passed"));
    });

    let key = identity::Keypair::generate_ed25519();
    let me = key.public().to_peer_id();
    let mut swarm = scenario_transports!(SwarmBuilder::with_existing_identity(key).with_tokio(), net)
        .with_behaviour(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Behaviour {
                ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(1))),
                mdns: mdns::tokio::Behaviour::new(mdns::Config::default(), key.public().to_peer_id())?,
            })
        })
        .unwrap_or_else(|e| die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let ip: std::net::IpAddr = ip.parse().unwrap_or_else(|e| die(format!("bad ip {ip:?}: {e}")));
    let listen = net.listen_addr(ip);
    swarm.listen_on(listen.clone()).unwrap_or_else(|e| die(format!("listen on {listen}: {e}")));
    log!("mdns: peer id {me}, dialer {is_dialer}, {}, listening on {listen}", net.name());

    // The peer-id exchange runs beside the swarm (which must keep answering mDNS meanwhile).
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (mine, theirs) = if is_dialer { ("dialerPeerId", "listenerPeerId") } else { ("listenerPeerId", "dialerPeerId") };
    {
        let (tx, addr, me) = (tx.clone(), redis_addr.clone(), me.to_string());
        tokio::spawn(async move {
            let mut r = Redis::connect(&addr, Duration::from_secs(10)).await.unwrap_or_else(|e| die(e));
            r.rpush(mine, &me).await.unwrap_or_else(|e| die(e));
            match r.blpop(theirs, DISCOVERY.as_secs()).await {
                Ok(Some(id)) => {
                    let id = PeerId::from_str(id.trim()).unwrap_or_else(|e| die(format!("bad {theirs} {id:?}: {e}")));
                    let _ = tx.send(Msg::OtherId(id));
                }
                Ok(None) => die(format!("no {theirs} within {} s", DISCOVERY.as_secs())),
                Err(e) => die(e),
            }
        });
    }
    let mut redis = Redis::connect(&redis_addr, Duration::from_secs(10)).await.unwrap_or_else(|e| die(e));

    let started = Instant::now();
    let mut other: Option<PeerId> = None;
    let mut discovered: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
    let mut reported = false; // listener: result pushed; dialer: result line printed
    let mut dial_start: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                    for (peer, addr) in list {
                        log!("mdns: discovered {peer} at {addr}");
                        let addr: Multiaddr = addr.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
                        let e = discovered.entry(peer).or_default();
                        if !e.contains(&addr) {
                            e.push(addr);
                        }
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Expired(list))) => {
                    for (peer, addr) in list {
                        log!("mdns: expired {peer} at {addr}");
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result, .. })) => {
                    if is_dialer && !reported && Some(peer) == other {
                        match result {
                            Ok(rtt) => {
                                let start = dial_start.unwrap_or_else(|| die("ping before the dial"));
                                println!(
                                    "{{\"handshakePlusOneRTTMillis\": {:.3}, \"pingRTTMilllis\": {:.3}}}",
                                    ms(start.elapsed()),
                                    ms(rtt)
                                );
                                reported = true;
                                let (tx, addr) = (tx.clone(), redis_addr.clone());
                                tokio::spawn(async move {
                                    let mut r = Redis::connect(&addr, Duration::from_secs(10)).await.unwrap_or_else(|e| die(e));
                                    let until = Instant::now() + RESULT_WAIT;
                                    while Instant::now() < until {
                                        if let Ok(crate::resp::Reply::Int(n)) = r.cmd(&["LLEN", "listenerResult"]).await {
                                            if n > 0 {
                                                break;
                                            }
                                        }
                                        tokio::time::sleep(Duration::from_millis(100)).await;
                                    }
                                    let _ = tx.send(Msg::ListenerResultSeen);
                                });
                            }
                            Err(e) => die(format!("ping {peer}: {e}")),
                        }
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    log!("connected to {peer_id} via {}", endpoint.get_remote_address());
                    if is_dialer && Some(peer_id) == other && !net.is_ours(endpoint.get_remote_address()) {
                        die(format!("connected to the listener via {}, not a {} address", endpoint.get_remote_address(), net.name()));
                    }
                }
                SwarmEvent::OutgoingConnectionError { error, .. } if is_dialer && !reported => die(format!("dial failed: {error}")),
                SwarmEvent::NewListenAddr { address, .. } => log!("listening on {address}"),
                _ => {}
            },
            m = rx.recv() => match m {
                Some(Msg::OtherId(id)) => {
                    log!("mdns: the other side is {id}");
                    other = Some(id);
                }
                Some(Msg::ListenerResultSeen) => {
                    log!("mdns: done");
                    std::process::exit(0);
                }
                None => die("channel closed"),
            },
            _ = tick.tick() => {}
        }

        let Some(o) = other else { continue };
        let found = discovered.get(&o).cloned();
        match (found, is_dialer) {
            (Some(addrs), false) if !reported => {
                log!("mdns: discovered the dialer {o} in {:.0} ms: {addrs:?}", ms(started.elapsed()));
                redis.rpush("listenerResult", "{\"ok\":true}").await.unwrap_or_else(|e| die(e));
                reported = true;
            }
            (Some(addrs), true) if dial_start.is_none() => {
                let Some(addr) = addrs.iter().find(|a| net.is_ours(a)) else {
                    if started.elapsed() > DISCOVERY {
                        die(format!("discovered the listener at {addrs:?}: no {} address", net.name()));
                    }
                    continue;
                };
                let addr = addr.clone().with(Protocol::P2p(o));
                log!("mdns: discovered the listener in {:.0} ms; dialing {addr}", ms(started.elapsed()));
                dial_start = Some(Instant::now());
                swarm.dial(addr).unwrap_or_else(|e| die(format!("dial: {e}")));
            }
            (None, _) if !reported && started.elapsed() > DISCOVERY => {
                let seen: Vec<String> = discovered.keys().map(|p| p.to_string()).collect();
                let msg = format!(
                    "rust {} did not discover {o} by mDNS within {} s (discovered: {seen:?})",
                    if is_dialer { "dialer" } else { "listener" },
                    DISCOVERY.as_secs()
                );
                if is_dialer {
                    die(msg);
                }
                let j = serde_json::json!({ "ok": false, "error": msg }).to_string();
                redis.rpush("listenerResult", &j).await.unwrap_or_else(|e| die(e));
                reported = true;
            }
            _ => {}
        }
    }
}

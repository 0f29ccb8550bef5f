//! Scenario `rendezvous` (interop/CONTRACT.md): rust-libp2p 0.57.1's rendezvous::server (listener,
//! the rendezvous point) and rendezvous::client (dialer) on `/rendezvous/1.0.0`.
//!
//! Dialer: dial, one ping, wait for identify of the point (its agent tells whether the point is
//! rust), then: register in `weft-interop` with TTL 7200; discover and find itself (peer id and
//! addresses from the signed record); discover with the cookie and get nothing; unregister and
//! discover nothing; a REGISTER with a 256-byte namespace, sent on a raw stream because the rust
//! client API refuses one locally, gets E_INVALID_NAMESPACE (100) from a weft point, and no response
//! at all from a rust point (its codec fails to decode it; see interop/README.md, Known quirks).
//! Listener: serves and pushes listenerResult once it saw the dialer register and unregister.
//! Over the transport and secure channel the runner names (TCP + Noise or TLS, or QUIC v1: scenario_net.rs).

use std::time::{Duration, Instant};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    identify, identity,
    multiaddr::Protocol,
    ping, rendezvous,
    swarm::{NetworkBehaviour, SwarmEvent},
    core::PeerRecord,
    Multiaddr, PeerId, Swarm, SwarmBuilder,
};

use crate::{arm_test_timeout, die, ms, push_listener_result, resp::Redis, scenario_net::{self, scenario_transports, Net}, streams, take_listener_addr, wait_listener_result};

macro_rules! log {
    ($($t:tt)*) => { eprintln!("[rust-peer] {}", format!($($t)*)) };
}

const NS: &str = "weft-interop";
const TTL: u64 = 7200;
const STEP: Duration = Duration::from_secs(10);

#[derive(NetworkBehaviour)]
struct DialerBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    rendezvous: rendezvous::client::Behaviour,
    raw: streams::Behaviour,
}

#[derive(NetworkBehaviour)]
struct ListenerBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    rendezvous: rendezvous::server::Behaviour,
}

fn ident(key: &identity::Keypair) -> identify::Behaviour {
    identify::Behaviour::new(
        identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public())
            .with_agent_version(format!("rust-libp2p-interop/{}", crate::LIBP2P_VERSION)),
    )
}

fn ping_b() -> ping::Behaviour {
    ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(1)))
}

/// Drive `swarm` until `f` returns Some (or STEP passes: Err(what)).
async fn wait<B: NetworkBehaviour, T>(
    swarm: &mut Swarm<B>,
    what: &str,
    mut f: impl FnMut(SwarmEvent<B::ToSwarm>) -> Option<T>,
) -> Result<T, String> {
    let until = tokio::time::Instant::now() + STEP;
    loop {
        match tokio::time::timeout_at(until, swarm.select_next_some()).await {
            Ok(ev) => {
                if let Some(t) = f(ev) {
                    return Ok(t);
                }
            }
            Err(_) => return Err(format!("{what}: nothing within {STEP:?}")),
        }
    }
}

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn put_bytes(b: &mut Vec<u8>, field: u64, data: &[u8]) {
    put_varint(b, field << 3 | 2);
    put_varint(b, data.len() as u64);
    b.extend_from_slice(data);
}

/// The fields of one protobuf message: (number, varint value or bytes).
fn fields(mut b: &[u8]) -> Result<Vec<(u64, Result<u64, Vec<u8>>)>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&x, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(x & 0x7f) << (7 * i);
            if x < 0x80 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        match key & 7 {
            0 => out.push((key >> 3, Ok(varint(&mut b)?))),
            2 => {
                let n = varint(&mut b)? as usize;
                if n > b.len() {
                    return Err("truncated field".into());
                }
                out.push((key >> 3, Err(b[..n].to_vec())));
                b = &b[n..];
            }
            t => return Err(format!("wire type {t}")),
        }
    }
    Ok(out)
}

/// Sends REGISTER with a 256-byte namespace on a raw stream; Some(status) or None (no response).
async fn register_long_namespace(
    swarm: &mut Swarm<DialerBehaviour>,
    control: &streams::Control,
    key: &identity::Keypair,
    point: PeerId,
    addrs: Vec<Multiaddr>,
) -> Result<Option<u64>, String> {
    let record = PeerRecord::new(key, addrs).map_err(|e| format!("peer record: {e}"))?;
    let mut reg = Vec::new();
    put_bytes(&mut reg, 1, "x".repeat(256).as_bytes());
    put_bytes(&mut reg, 2, &record.into_signed_envelope().into_protobuf_encoding());
    put_varint(&mut reg, 3 << 3);
    put_varint(&mut reg, TTL);
    let mut msg = vec![0x08, 0x00]; // type REGISTER
    put_bytes(&mut msg, 2, &reg);
    let mut frame = Vec::new();
    put_varint(&mut frame, msg.len() as u64);
    frame.extend_from_slice(&msg);
    let exchange = async {
        let mut s = control.open(point, "/rendezvous/1.0.0").await?;
        s.write_all(&frame).await.map_err(|e| format!("write: {e}"))?;
        s.close().await.map_err(|e| format!("close: {e}"))?;
        let mut buf = Vec::new();
        // the point answers one message and closes (or closes without one)
        let _ = s.read_to_end(&mut buf).await;
        if buf.is_empty() {
            return Ok::<Option<u64>, String>(None);
        }
        let mut body: &[u8] = &buf;
        let mut len = 0u64;
        for i in 0..10 {
            let (&x, rest) = body.split_first().ok_or("truncated length")?;
            body = rest;
            len |= u64::from(x & 0x7f) << (7 * i);
            if x < 0x80 {
                break;
            }
        }
        let body = body.get(..len as usize).ok_or("truncated response")?;
        for (f, v) in fields(body)? {
            if let (3, Err(inner)) = (f, v) {
                for (g, w) in fields(&inner)? {
                    if let (1, Ok(status)) = (g, w) {
                        return Ok(Some(status));
                    }
                }
                return Ok(Some(0));
            }
        }
        Err(format!("response without registerResponse: {} bytes", body.len()))
    };
    tokio::pin!(exchange);
    let until = tokio::time::Instant::now() + STEP;
    loop {
        tokio::select! {
            r = &mut exchange => return r,
            _ = swarm.select_next_some() => {}
            _ = tokio::time::sleep_until(until) => return Err("raw REGISTER: no end within 10 s".into()),
        }
    }
}

pub async fn run(is_dialer: bool, ip: std::net::IpAddr, redis_addr: String, timeout: u64) {
    arm_test_timeout(timeout);
    let key = identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let mut redis = Redis::connect(&redis_addr, Duration::from_secs(timeout)).await.unwrap_or_else(|e| die(e));
    let net = scenario_net::from_env();
    log!("peer id {local}, scenario rendezvous, {}, dialer {is_dialer}", net.name());
    let listen = net.listen_addr(ip);
    if is_dialer {
        dialer(key, local, net, listen, &mut redis, timeout).await
    } else {
        listener(key, local, net, listen, &mut redis).await
    }
}

async fn dialer(key: identity::Keypair, local: PeerId, net: Net, listen: Multiaddr, redis: &mut Redis, timeout: u64) {
    let (raw, control, _inbound) = streams::Behaviour::new(&[]);
    let mut raw = Some(raw);
    let mut swarm = scenario_transports!(SwarmBuilder::with_existing_identity(key.clone()).with_tokio(), net)
        .with_behaviour(|key| DialerBehaviour {
            ping: ping_b(),
            identify: ident(key),
            rendezvous: rendezvous::client::Behaviour::new(key.clone()),
            raw: raw.take().expect("once"),
        })
        .unwrap_or_else(|e| die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    // Listen so there is an address to register (the rust client registers external addresses only).
    swarm.listen_on(listen.clone()).unwrap_or_else(|e| die(format!("listen on {listen}: {e}")));
    let mine = wait(&mut swarm, "listen", |ev| match ev {
        SwarmEvent::NewListenAddr { address, .. } => Some(address),
        _ => None,
    })
    .await
    .unwrap_or_else(|e| die(e));
    swarm.add_external_address(mine.clone());
    let (addr, point) = take_listener_addr(redis, timeout).await;
    let start = Instant::now();
    swarm.dial(addr.clone()).unwrap_or_else(|e| die(format!("dial: {e}")));
    let mut agent = None;
    let rtt = wait(&mut swarm, "first ping", |ev| match ev {
        SwarmEvent::Behaviour(DialerBehaviourEvent::Ping(ping::Event { peer, result, .. })) if peer == point => {
            Some(result.unwrap_or_else(|e| die(format!("ping failed: {e}"))))
        }
        SwarmEvent::Behaviour(DialerBehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) if peer_id == point => {
            agent = Some(info.agent_version);
            None
        }
        SwarmEvent::OutgoingConnectionError { error, .. } => die(format!("dial failed: {error}")),
        _ => None,
    })
    .await
    .unwrap_or_else(|e| die(e));
    let handshake = start.elapsed();
    log!("handshake+1RTT {:.3} ms, ping RTT {:.3} ms", ms(handshake), ms(rtt));
    if agent.is_none() {
        agent = Some(
            wait(&mut swarm, "identify of the point", |ev| match ev {
                SwarmEvent::Behaviour(DialerBehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) if peer_id == point => Some(info.agent_version),
                _ => None,
            })
            .await
            .unwrap_or_else(|e| die(e)),
        );
    }
    let agent = agent.unwrap_or_default();
    let rust_point = agent.starts_with("rust-libp2p");
    log!("point agent {agent:?}");
    if let Err(e) = checks(&mut swarm, &control, &key, local, point, mine, rust_point).await {
        die(format!("rendezvous: {e}"));
    }
    log!("rendezvous checks passed");
    wait_listener_result(redis).await;
    println!("{{\"handshakePlusOneRTTMillis\": {}, \"pingRTTMilllis\": {}}}", ms(handshake), ms(rtt));
    std::process::exit(0);
}

type Discovered = (Vec<rendezvous::Registration>, rendezvous::Cookie);

async fn discover(swarm: &mut Swarm<DialerBehaviour>, point: PeerId, cookie: Option<rendezvous::Cookie>, what: &str) -> Result<Discovered, String> {
    swarm.behaviour_mut().rendezvous.discover(Some(rendezvous::Namespace::from_static(NS)), cookie, None, point);
    wait(swarm, what, |ev| match ev {
        SwarmEvent::Behaviour(DialerBehaviourEvent::Rendezvous(rendezvous::client::Event::Discovered { registrations, cookie, .. })) => Some(Ok((registrations, cookie))),
        SwarmEvent::Behaviour(DialerBehaviourEvent::Rendezvous(rendezvous::client::Event::DiscoverFailed { error, .. })) => Some(Err(format!("{what}: discover failed: {error:?}"))),
        _ => None,
    })
    .await?
}

async fn checks(
    swarm: &mut Swarm<DialerBehaviour>,
    control: &streams::Control,
    key: &identity::Keypair,
    local: PeerId,
    point: PeerId,
    mine: Multiaddr,
    rust_point: bool,
) -> Result<(), String> {
    let ns = rendezvous::Namespace::from_static(NS);
    // 1. register
    swarm.behaviour_mut().rendezvous.register(ns.clone(), point, Some(TTL)).map_err(|e| format!("register: {e}"))?;
    let ttl = wait(swarm, "register", |ev| match ev {
        SwarmEvent::Behaviour(DialerBehaviourEvent::Rendezvous(rendezvous::client::Event::Registered { ttl, .. })) => Some(Ok(ttl)),
        SwarmEvent::Behaviour(DialerBehaviourEvent::Rendezvous(rendezvous::client::Event::RegisterFailed { error, .. })) => Some(Err(format!("register refused: {error:?}"))),
        _ => None,
    })
    .await??;
    if ttl != TTL {
        return Err(format!("register: granted TTL {ttl}, want {TTL}"));
    }
    log!("(1) registered, ttl {ttl}");
    // 2. discover finds us, with our address from the signed record
    let (regs, cookie) = discover(swarm, point, None, "discover").await?;
    let me = regs.iter().find(|r| r.record.peer_id() == local).ok_or(format!("discover: {} registrations, none of ours", regs.len()))?;
    if me.record.addresses() != [mine.clone()] {
        return Err(format!("discover: our record has {:?}, want [{mine}]", me.record.addresses()));
    }
    if me.namespace.to_string() != NS {
        return Err(format!("discover: namespace {}, want {NS}", me.namespace));
    }
    log!("(2) discovered ourselves with {:?}", me.record.addresses());
    // 3. with the cookie: nothing new
    let (again, _) = discover(swarm, point, Some(cookie), "discover with cookie").await?;
    if !again.is_empty() {
        return Err(format!("discover with the cookie: {} registrations, want none", again.len()));
    }
    log!("(3) discover with the cookie: nothing new");
    // 4. unregister (no response), then discover finds nothing (the unregister travels on its own stream: retry a little)
    swarm.behaviour_mut().rendezvous.unregister(ns.clone(), point);
    let mut left = usize::MAX;
    for _ in 0..20 {
        let (regs, _) = discover(swarm, point, None, "discover after unregister").await?;
        left = regs.iter().filter(|r| r.record.peer_id() == local).count();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if left != 0 {
        return Err("discover after unregister still finds us".into());
    }
    log!("(4) unregistered; discover finds nothing");
    // 5. too long a namespace
    if rendezvous::Namespace::new("x".repeat(256)).is_ok() {
        return Err("rust's Namespace::new accepted 256 bytes".into());
    }
    let status = register_long_namespace(swarm, control, key, point, vec![mine]).await?;
    match (status, rust_point) {
        (Some(100), false) => log!("(5) 256-byte namespace: E_INVALID_NAMESPACE"),
        (None, true) => log!("(5) 256-byte namespace: the rust point closed the stream without a response (known quirk)"),
        (s, _) => return Err(format!("256-byte namespace: status {s:?}, want {}", if rust_point { "no response (rust point)" } else { "Some(100)" })),
    }
    Ok(())
}

async fn listener(key: identity::Keypair, local: PeerId, net: Net, listen: Multiaddr, redis: &mut Redis) {
    let mut swarm = scenario_transports!(SwarmBuilder::with_existing_identity(key).with_tokio(), net)
        .with_behaviour(|key| ListenerBehaviour {
            ping: ping_b(),
            identify: ident(key),
            rendezvous: rendezvous::server::Behaviour::new(rendezvous::server::Config::default()),
        })
        .unwrap_or_else(|e| die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.listen_on(listen.clone()).unwrap_or_else(|e| die(format!("listen on {listen}: {e}")));
    let bound = wait(&mut swarm, "listen", |ev| match ev {
        SwarmEvent::NewListenAddr { address, .. } => Some(address),
        _ => None,
    })
    .await
    .unwrap_or_else(|e| die(e));
    let published = bound.with(Protocol::P2p(local));
    redis.rpush("listenerAddr", &published.to_string()).await.unwrap_or_else(|e| die(e));
    log!("listening; published {published}");
    let mut registered = None;
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let result: Result<(), String> = loop {
        let ev = match tokio::time::timeout_at(until, swarm.select_next_some()).await {
            Ok(ev) => ev,
            Err(_) => break Err(format!("after 60 s: register {}, unregister not seen", if registered.is_some() { "seen" } else { "not seen" })),
        };
        match ev {
            SwarmEvent::Behaviour(ListenerBehaviourEvent::Rendezvous(e)) => match e {
                rendezvous::server::Event::PeerRegistered { peer, registration } => {
                    log!("registered {peer} in {} ttl {}", registration.namespace, registration.ttl);
                    if registration.namespace.to_string() == NS {
                        registered = Some(peer);
                    }
                }
                rendezvous::server::Event::PeerNotRegistered { peer, namespace, error } => log!("refused {peer} in {namespace}: {error:?}"),
                rendezvous::server::Event::PeerUnregistered { peer, namespace } => {
                    log!("unregistered {peer} from {namespace}");
                    if registered == Some(peer) && namespace.to_string() == NS {
                        break Ok(());
                    }
                }
                rendezvous::server::Event::DiscoverServed { enquirer, registrations } => log!("discover by {enquirer}: {} registrations", registrations.len()),
                other => log!("rendezvous: {other:?}"),
            },
            SwarmEvent::ConnectionEstablished { peer_id, .. } => log!("connection from {peer_id}"),
            _ => {}
        }
    };
    push_listener_result(redis, &result).await;
    // Serve until killed.
    loop {
        swarm.select_next_some().await;
    }
}

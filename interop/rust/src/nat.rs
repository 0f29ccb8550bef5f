//! NAT mode (interop/NAT.md, the NAT peer contract): the rust side of `npm run interop:nat`.
//! Selected by the env var `NAT_ROLE` = `relay` | `listener` | `dialer` | `autonat-server`.
//!
//! Env: `REDIS_ADDR` (`unix:<path>` or `host:port`), `TEST_KEY` (key prefix), `LISTEN_IP` (never
//! 0.0.0.0), `TIMEOUT_SECONDS` (default 60), relay: `RELAY_LIMIT_DURATION` (s), `RELAY_LIMIT_DATA`
//! (bytes), dialer: `SCENARIO` (`relay` | `hole-punch` | `limit` | `no-reservation`),
//! `TARGET_PEER_ID` (no-reservation), listener: `HOLE_PUNCH=false` turns DCUtR off, `TRANSPORT` =
//! `tcp` (default) | `quic-v1`: the relay, listener and dialer listen and dial on it only, autonat-server: `AUTONAT_ALLOW_PRIVATE=1` (rust's v1 server
//! refuses clients observed at non-global IPs by default, `only_global_ips: true`).
//!
//! One swarm for every role: TCP (nodelay) + Noise + yamux, QUIC v1 (only the addresses listened on
//! and dialed pick one), the relay client transport (Noise + yamux over either), identify,
//! ping, relay client, and by role a relay server, DCUtR, AutoNAT v1 server + v2 server, and the
//! `/weft/echo/1.0.0` stream protocol (src/streams.rs; rust has no "limited connection" gate, so it
//! is served on relayed connections too). Logs go to stderr; the dialer's result is the last stdout
//! line (src/nat_dialer.rs).

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    time::Duration,
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    autonat, dcutr, identify, identity,
    multiaddr::Protocol,
    noise, ping, relay,
    swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Stream, Swarm, SwarmBuilder,
};
use tokio::sync::mpsc;

use crate::{resp::Redis, streams};

macro_rules! nat_log {
    ($($t:tt)*) => { eprintln!("[rust-nat {}] {}", std::env::var("NAT_ROLE").unwrap_or_default(), format!($($t)*)) };
}
pub(crate) use nat_log;

/// Recent failures (dial errors, DCUtR errors) for the dialer's timeout message.
static NOTES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn note(s: String) {
    let mut n = NOTES.lock().unwrap();
    if n.len() >= 4 {
        n.remove(0);
    }
    n.push(s);
}

/// The recent failures, joined (empty when none).
pub fn notes() -> String {
    NOTES.lock().unwrap().join("; ")
}

#[derive(NetworkBehaviour)]
pub struct NatBehaviour {
    pub relay_client: relay::client::Behaviour,
    pub relay: Toggle<relay::Behaviour>,
    pub dcutr: Toggle<dcutr::Behaviour>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub autonat: Toggle<autonat::v1::Behaviour>,
    pub autonat2: Toggle<autonat::v2::server::Behaviour>,
    pub autonat2c: Toggle<autonat::v2::client::Behaviour>,
    pub streams: streams::Behaviour,
}

/// Which optional behaviours a role runs.
#[derive(Default, Clone, Copy)]
pub struct Parts {
    pub relay_server: bool,
    pub dcutr: bool,
    pub autonat_server: bool,
    /// AutoNAT v1 client (probing through the server added by the role) + v2 client.
    pub autonat_client: bool,
}

fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(v.parse().unwrap_or_else(|_| crate::die(format!("{name} must be a number, got {v:?}"))))
}

fn relay_config() -> relay::Config {
    let mut c = relay::Config::default();
    if let Some(s) = env_num("RELAY_LIMIT_DURATION") {
        c.max_circuit_duration = Duration::from_secs(s);
    }
    if let Some(b) = env_num("RELAY_LIMIT_DATA") {
        // rust counts the bytes of BOTH directions together (copy_future.rs), not per direction.
        c.max_circuit_bytes = b;
    }
    nat_log!(
        "relay limits: duration {:?}, data {} bytes (both directions together)",
        c.max_circuit_duration,
        c.max_circuit_bytes
    );
    c
}

pub fn build(parts: Parts, inbound_protocols: &[&'static str]) -> (Swarm<NatBehaviour>, streams::Control, mpsc::UnboundedReceiver<streams::Inbound>) {
    let (sb, control, inbound) = streams::Behaviour::new(inbound_protocols);
    let mut sb = Some(sb);
    let swarm = SwarmBuilder::with_existing_identity(identity::Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .unwrap_or_else(|e| crate::die(format!("tcp transport: {e}")))
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .unwrap_or_else(|e| crate::die(format!("relay client transport: {e}")))
        .with_behaviour(|key, relay_client| {
            let me = key.public().to_peer_id();
            NatBehaviour {
                relay_client,
                relay: Toggle::from(parts.relay_server.then(|| relay::Behaviour::new(me, relay_config()))),
                dcutr: Toggle::from(parts.dcutr.then(|| dcutr::Behaviour::new(me))),
                identify: identify::Behaviour::new(
                    identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public())
                        .with_agent_version(format!("rust-libp2p-interop/{}", crate::LIBP2P_VERSION)),
                ),
                ping: ping::Behaviour::new(ping::Config::new()),
                autonat: Toggle::from((parts.autonat_server || parts.autonat_client).then(|| {
                    let allow_private = std::env::var("AUTONAT_ALLOW_PRIVATE").is_ok_and(|v| v == "1");
                    let config = if parts.autonat_client {
                        autonat::v1::Config {
                            boot_delay: Duration::from_secs(2),
                            use_connected: false,
                            only_global_ips: !allow_private,
                            ..Default::default()
                        }
                    } else {
                        autonat::v1::Config {
                            // Server only: never probe our own addresses through connected peers.
                            use_connected: false,
                            boot_delay: Duration::from_secs(3600),
                            only_global_ips: !allow_private,
                            ..Default::default()
                        }
                    };
                    autonat::v1::Behaviour::new(me, config)
                })),
                autonat2: Toggle::from(parts.autonat_server.then(autonat::v2::server::Behaviour::default)),
                autonat2c: Toggle::from(parts.autonat_client.then(autonat::v2::client::Behaviour::default)),
                streams: sb.take().expect("behaviour built once"),
            }
        })
        .unwrap_or_else(|e| crate::die(format!("behaviour: {e}")))
        // >= 60 s (the relayed connection carries no keep-alive protocol of its own).
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    (swarm, control, inbound)
}

/// The swarm plus what the roles wait for.
pub struct Node {
    pub swarm: Swarm<NatBehaviour>,
    pub control: streams::Control,
    pub listen: Vec<Multiaddr>,
    /// Open connections: id -> (peer, remote address).
    pub conns: HashMap<ConnectionId, (PeerId, Multiaddr)>,
    /// Successful pings: connection -> rtt.
    pub pings: HashMap<ConnectionId, Duration>,
    /// identify::Event::Received: (peer, connection).
    pub identified: HashSet<(PeerId, ConnectionId)>,
    /// Our observed addresses, as reported by identify.
    pub observed: Vec<Multiaddr>,
    /// Failed dials: connection -> error (Debug form, keeps the relay's status names).
    pub dial_errors: HashMap<ConnectionId, String>,
    pub reservation_accepted: bool,
    pub relay_enabled: bool,
    /// dcutr::Event Ok: peer -> direct connection id.
    pub dcutr_direct: HashMap<PeerId, ConnectionId>,
    pub dcutr_errors: Vec<String>,
    /// AutoNAT client results: v1 probe outcomes, v2 tested address outcomes.
    pub autonat_v1: Vec<Result<Multiaddr, String>>,
    pub autonat_v2: Vec<(Multiaddr, Result<(), String>)>,
}

pub fn is_relayed(a: &Multiaddr) -> bool {
    a.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

impl Node {
    pub fn new(parts: Parts, inbound_protocols: &[&'static str]) -> (Self, mpsc::UnboundedReceiver<streams::Inbound>) {
        let (swarm, control, inbound) = build(parts, inbound_protocols);
        nat_log!("peer id {}", swarm.local_peer_id());
        let node = Node {
            swarm,
            control,
            listen: Vec::new(),
            conns: HashMap::new(),
            pings: HashMap::new(),
            identified: HashSet::new(),
            observed: Vec::new(),
            dial_errors: HashMap::new(),
            reservation_accepted: false,
            relay_enabled: false,
            dcutr_direct: HashMap::new(),
            dcutr_errors: Vec::new(),
            autonat_v1: Vec::new(),
            autonat_v2: Vec::new(),
        };
        (node, inbound)
    }

    /// Polls the swarm once and records what happened.
    pub async fn step(&mut self) {
        let ev = self.swarm.select_next_some().await;
        self.record(ev);
    }

    /// Runs the swarm until `cond` holds.
    pub async fn until(&mut self, mut cond: impl FnMut(&Node) -> bool) {
        while !cond(self) {
            self.step().await;
        }
    }

    /// Runs the swarm while `fut` runs; returns its output.
    pub async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return out,
                ev = self.swarm.select_next_some() => self.record(ev),
            }
        }
    }

    fn record(&mut self, ev: SwarmEvent<NatBehaviourEvent>) {
        use NatBehaviourEvent as B;
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                nat_log!("listening on {address}");
                self.listen.push(address);
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                let addr = endpoint.get_remote_address().clone();
                nat_log!("connection {connection_id} to {peer_id} via {addr} ({})", if endpoint.is_dialer() { "outbound" } else { "inbound" });
                self.conns.insert(connection_id, (peer_id, addr));
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, cause, .. } => {
                nat_log!("connection {connection_id} to {peer_id} closed: {cause:?}");
                self.conns.remove(&connection_id);
            }
            SwarmEvent::OutgoingConnectionError { connection_id, peer_id, error } => {
                let e = format!("{error:?}");
                nat_log!("dial {connection_id} to {peer_id:?} failed: {e}");
                note(format!("dial to {peer_id:?} failed: {error}"));
                self.dial_errors.insert(connection_id, e);
            }
            SwarmEvent::IncomingConnectionError { error, send_back_addr, .. } => {
                nat_log!("incoming connection from {send_back_addr} failed: {error}");
            }
            SwarmEvent::ExternalAddrConfirmed { address } => nat_log!("external address confirmed: {address}"),
            SwarmEvent::NewExternalAddrCandidate { address } => nat_log!("external address candidate: {address}"),
            SwarmEvent::Behaviour(B::Ping(ping::Event { peer, connection, result })) => match result {
                Ok(rtt) => {
                    self.pings.insert(connection, rtt);
                }
                Err(e) => nat_log!("ping {peer} on {connection} failed: {e}"),
            },
            SwarmEvent::Behaviour(B::Identify(identify::Event::Received { peer_id, connection_id, info })) => {
                nat_log!(
                    "identified {peer_id} on {connection_id}: agent {:?}, observed us as {}",
                    info.agent_version,
                    info.observed_addr
                );
                if !self.conns.get(&connection_id).is_some_and(|(_, a)| is_relayed(a)) {
                    self.observed.push(info.observed_addr);
                }
                self.identified.insert((peer_id, connection_id));
            }
            SwarmEvent::Behaviour(B::Identify(identify::Event::Error { peer_id, error, .. })) => {
                nat_log!("identify with {peer_id} failed: {error}")
            }
            SwarmEvent::Behaviour(B::RelayClient(e)) => {
                nat_log!("relay client: {e:?}");
                if matches!(e, relay::client::Event::ReservationReqAccepted { .. }) {
                    self.reservation_accepted = true;
                }
            }
            SwarmEvent::Behaviour(B::Relay(e)) => {
                nat_log!("relay server: {e:?}");
                if let relay::Event::StatusChanged { status } = e {
                    self.relay_enabled = status == relay::Status::Enable;
                }
            }
            SwarmEvent::Behaviour(B::Dcutr(dcutr::Event { remote_peer_id, result })) => match result {
                Ok(conn) => {
                    nat_log!("dcutr: direct connection {conn} to {remote_peer_id}");
                    self.dcutr_direct.insert(remote_peer_id, conn);
                }
                Err(e) => {
                    nat_log!("dcutr with {remote_peer_id} failed: {e}");
                    note(format!("dcutr: {e}"));
                    self.dcutr_errors.push(e.to_string());
                }
            },
            SwarmEvent::Behaviour(B::Autonat(e)) => {
                nat_log!("autonat v1: {e:?}");
                use autonat::v1::{Event as E, OutboundProbeEvent as O};
                match e {
                    E::OutboundProbe(O::Response { address, .. }) => self.autonat_v1.push(Ok(address)),
                    // peer None: the probe never left (no server / no address yet); not a result.
                    E::OutboundProbe(O::Error { error, peer: Some(_), .. }) => self.autonat_v1.push(Err(format!("{error:?}"))),
                    _ => {}
                }
            }
            SwarmEvent::Behaviour(B::Autonat2c(e)) => {
                nat_log!("autonat v2 client: {e:?}");
                self.autonat_v2.push((e.tested_addr, e.result.map_err(|e| e.to_string())));
            }
            SwarmEvent::Behaviour(B::Autonat2(e)) => nat_log!("autonat v2 server: {e:?}"),
            _ => {}
        }
    }

    /// Listens on `/ip4/$LISTEN_IP/tcp/0` (or `/ip4/$LISTEN_IP/udp/0/quic-v1` when `quic`) and
    /// returns the bound address.
    pub async fn listen_on(&mut self, quic: bool) -> Multiaddr {
        let ip = crate::env("LISTEN_IP", "127.0.0.1");
        let ma = if quic { format!("/ip4/{ip}/udp/0/quic-v1") } else { format!("/ip4/{ip}/tcp/0") };
        let ma: Multiaddr = ma.parse().unwrap_or_else(|e| crate::die(format!("LISTEN_IP {ip:?}: {e}")));
        self.swarm.listen_on(ma).unwrap_or_else(|e| crate::die(format!("listen: {e}")));
        self.until(|n| !n.listen.is_empty()).await;
        self.listen[0].clone()
    }

    /// Dials the relay (`<addr>/p2p/<id>`) and waits until identify with it completed over a
    /// direct connection (rust's DCUtR captures its address candidates when the relayed
    /// connection's handler is created: without our observed address it would have none).
    pub async fn connect_relay(&mut self, relay: &Multiaddr) -> PeerId {
        let Some(Protocol::P2p(rid)) = relay.iter().last() else {
            crate::die(format!("relay address {relay} does not end with /p2p/<id>"))
        };
        self.swarm.dial(relay.clone()).unwrap_or_else(|e| crate::die(format!("dial relay: {e}")));
        self.until(|n| {
            n.identified.iter().any(|(p, c)| *p == rid && n.conns.get(c).is_some_and(|(_, a)| !is_relayed(a)))
                || n.dial_errors.len() > 0
        })
        .await;
        if let Some(e) = self.dial_errors.values().next() {
            crate::die(format!("dial relay {relay}: {e}"));
        }
        rid
    }
}

pub struct Ctx {
    pub redis: Redis,
    pub key: String,
}

impl Ctx {
    pub async fn new() -> Self {
        let addr = crate::env("REDIS_ADDR", "unix:/tmp/weft-nat/redis.sock");
        let redis = Redis::connect(&addr, Duration::from_secs(30)).await.unwrap_or_else(|e| crate::die(e));
        Ctx { redis, key: crate::env("TEST_KEY", "") }
    }

    pub fn k(&self, name: &str) -> String {
        format!("{}_{name}", self.key)
    }

    pub async fn set(&mut self, name: &str, value: &str) {
        let k = self.k(name);
        nat_log!("SET {k} {value}");
        self.redis.set(&k, value).await.unwrap_or_else(|e| crate::die(e));
    }

    /// Polls `GET <key>` every 200 ms until the key exists.
    pub async fn wait(&mut self, name: &str) -> String {
        let k = self.k(name);
        loop {
            if let Some(v) = self.redis.get(&k).await.unwrap_or_else(|e| crate::die(e)) {
                nat_log!("GET {k} -> {v}");
                return v;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `TRANSPORT=quic-v1` (the relay, listener and dialer roles): QUIC only; `tcp` (default): TCP only.
pub fn quic() -> bool {
    match crate::env("TRANSPORT", "tcp").as_str() {
        "tcp" | "" => false,
        "quic-v1" => true,
        other => crate::die(format!("unsupported TRANSPORT {other:?} (tcp | quic-v1)")),
    }
}

pub fn timeout_secs() -> u64 {
    env_num("TIMEOUT_SECONDS").unwrap_or(60)
}

/// Echo: every byte back as it arrives, until EOF, then close.
async fn serve_echo(mut s: Stream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0usize;
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = s.write_all(&buf[..n]).await {
                    nat_log!("echo: write failed after {total} bytes: {e}");
                    return;
                }
                total += n;
            }
            Err(e) => {
                nat_log!("echo: read failed after {total} bytes: {e}");
                return;
            }
        }
    }
    let _ = s.close().await;
    nat_log!("echo: done, {total} bytes");
}

fn spawn_echo_server(mut inbound: mpsc::UnboundedReceiver<streams::Inbound>) {
    tokio::spawn(async move {
        while let Some((peer, _proto, stream)) = inbound.recv().await {
            nat_log!("echo stream from {peer}");
            tokio::spawn(serve_echo(stream));
        }
    });
}

pub async fn nat_mode(role: String) {
    match role.as_str() {
        "relay" => relay_role().await,
        "autonat-server" => autonat_server().await,
        "listener" => listener().await,
        "dialer" => crate::nat_dialer::dialer().await,
        "autonat-client" => crate::nat_dialer::autonat_client().await,
        other => crate::die(format!("unsupported NAT_ROLE {other:?}")),
    }
}

async fn run_forever(mut node: Node) -> ! {
    loop {
        node.step().await;
    }
}

async fn relay_role() {
    let mut ctx = Ctx::new().await;
    let (mut node, _inbound) = Node::new(Parts { relay_server: true, ..Default::default() }, &[]);
    let addr = node.listen_on(quic()).await;
    // rust serves hop only with a confirmed external address; reservations carry these addresses.
    node.swarm.add_external_address(addr.clone());
    node.until(|n| n.relay_enabled).await;
    let me = *node.swarm.local_peer_id();
    ctx.set("relay_multiaddr", &format!("{addr}/p2p/{me}")).await;
    run_forever(node).await
}

async fn autonat_server() {
    let mut ctx = Ctx::new().await;
    let (mut node, _inbound) = Node::new(Parts { autonat_server: true, ..Default::default() }, &[]);
    let addr = node.listen_on(false).await;
    node.swarm.add_external_address(addr.clone());
    let me = *node.swarm.local_peer_id();
    ctx.set("autonat_multiaddr", &format!("{addr}/p2p/{me}")).await;
    run_forever(node).await
}

async fn listener() {
    let mut ctx = Ctx::new().await;
    let relay: Multiaddr = ctx.wait("relay_multiaddr").await.parse().unwrap_or_else(|e| crate::die(format!("relay_multiaddr: {e}")));
    // HOLE_PUNCH=false (the orchestrator's relay/limit cases): no DCUtR, whose negotiation would
    // also spend bytes of a small circuit data limit.
    let dcutr = std::env::var("HOLE_PUNCH").map_or(true, |v| v != "false");
    let (mut node, inbound) = Node::new(Parts { dcutr, ..Default::default() }, &[crate::ECHO]);
    spawn_echo_server(inbound);
    // Listen first: dials reuse the listen port, so the relay observes our NAT mapping of it.
    node.listen_on(quic()).await;
    node.connect_relay(&relay).await;
    let circuit = relay.with(Protocol::P2pCircuit);
    node.swarm.listen_on(circuit.clone()).unwrap_or_else(|e| crate::die(format!("listen on {circuit}: {e}")));
    let deadline = tokio::time::sleep(Duration::from_secs(timeout_secs()));
    tokio::pin!(deadline);
    tokio::select! {
        _ = node.until(|n| n.reservation_accepted) => {}
        _ = &mut deadline => crate::die("no reservation accepted before TIMEOUT_SECONDS"),
    }
    let me = *node.swarm.local_peer_id();
    ctx.set("listener_peer_id", &me.to_string()).await;
    run_forever(node).await
}

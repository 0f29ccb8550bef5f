//! Network mode (interop/NETWORK.md): one node of a mixed weft/go/rust network, coordinated through
//! Redis by interop/network.mjs. Selected by the env var `network_scenario` (gossip-content,
//! gossip-badsig, kad); the result is RPUSHed to `results` as JSON.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p::{
    gossipsub, identify, identity, kad,
    multiaddr::Protocol,
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder,
};
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::resp::{Redis, Reply};
use crate::stack::Security;

const TOPIC: &str = "weft-interop";

macro_rules! nlog {
    ($($t:tt)*) => { eprintln!("[{}] {}", std::env::var("node_name").unwrap_or_default(), format!($($t)*)) };
}

#[derive(NetworkBehaviour)]
pub struct NetBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
}

type Cmd = Box<dyn FnOnce(&mut Swarm<NetBehaviour>, &mut Queries) + Send>;

#[derive(Default)]
pub struct Queries {
    waiting: HashMap<kad::QueryId, (Vec<kad::QueryResult>, Option<oneshot::Sender<Vec<kad::QueryResult>>>)>,
}

struct Net {
    tx: mpsc::UnboundedSender<Cmd>,
    got: Arc<Mutex<HashMap<String, usize>>>,
    name: String,
    count: usize,
    redis: Redis,
    peer_id: PeerId,
}

#[derive(Clone)]
pub struct NodeInfo {
    pub name: String,
    pub addr: Multiaddr,
    pub peer: PeerId,
}

impl Net {
    async fn with<T: Send + 'static>(&self, f: impl FnOnce(&mut Swarm<NetBehaviour>) -> T + Send + 'static) -> T {
        let (otx, orx) = oneshot::channel();
        let _ = self.tx.send(Box::new(move |s, _| {
            let _ = otx.send(f(s));
        }));
        orx.await.expect("swarm task alive")
    }

    /// Start a kad query and wait for all its steps (at most `secs`).
    async fn query(&self, secs: u64, f: impl FnOnce(&mut Swarm<NetBehaviour>) -> Result<kad::QueryId, String> + Send + 'static) -> Result<Vec<kad::QueryResult>, String> {
        let (otx, orx) = oneshot::channel();
        let (etx, erx) = oneshot::channel::<String>();
        let _ = self.tx.send(Box::new(move |s, q| match f(s) {
            Ok(id) => {
                q.waiting.insert(id, (Vec::new(), Some(otx)));
            }
            Err(e) => {
                let _ = etx.send(e);
            }
        }));
        tokio::select! {
            r = orx => r.map_err(|_| "query dropped".to_string()),
            Ok(e) = erx => Err(e),
            _ = tokio::time::sleep(Duration::from_secs(secs)) => Err(format!("query timed out after {secs} s")),
        }
    }

    async fn until(&mut self, secs: u64, what: &str, mut f: impl FnMut(&mut Self) -> futures::future::BoxFuture<'_, bool>) -> Result<(), String> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if f(self).await {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!("{what}: timed out after {secs} s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn llen(&mut self, key: &str) -> usize {
        match self.redis.cmd(&["LLEN", key]).await {
            Ok(Reply::Int(n)) => n as usize,
            _ => 0,
        }
    }

    async fn barrier(&mut self, key: &str) -> Result<(), String> {
        let name = self.name.clone();
        self.redis.rpush(key, &name).await?;
        let count = self.count;
        let key = key.to_string();
        self.until(30, &format!("barrier {key}"), move |n| {
            let key = key.clone();
            Box::pin(async move { n.llen(&key).await >= count })
        })
        .await
    }

    async fn push_result(&mut self, mut r: serde_json::Value) {
        r["name"] = self.name.clone().into();
        r["impl"] = "rust".into();
        let s = r.to_string();
        nlog!("result {s}");
        if let Err(e) = self.redis.rpush("results", &s).await {
            nlog!("pushing result: {e}");
        }
    }

    /// Register, wait for all nodes, dial every node listed before us; tell kad about everyone.
    async fn join(&mut self, own: Multiaddr) -> Result<Vec<NodeInfo>, String> {
        let me = format!("{} {}/p2p/{}", self.name, own, self.peer_id);
        self.redis.rpush("nodes", &me).await?;
        let count = self.count;
        let mut list: Vec<String> = Vec::new();
        let end = Instant::now() + Duration::from_secs(30);
        while list.len() < count {
            if Instant::now() > end {
                return Err("all nodes registered: timed out".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(Reply::Array(Some(items))) = self.redis.cmd(&["LRANGE", "nodes", "0", "-1"]).await {
                list = items
                    .into_iter()
                    .filter_map(|i| match i {
                        Reply::Bulk(Some(v)) => Some(String::from_utf8_lossy(&v).into_owned()),
                        _ => None,
                    })
                    .collect();
            }
        }
        let mut nodes = Vec::new();
        for l in &list {
            let (name, addr) = l.split_once(' ').ok_or("bad nodes entry")?;
            let addr: Multiaddr = addr.parse().map_err(|e| format!("bad addr {addr}: {e}"))?;
            let peer = match addr.iter().last() {
                Some(Protocol::P2p(p)) => p,
                _ => return Err(format!("no /p2p in {addr}")),
            };
            nodes.push(NodeInfo { name: name.to_string(), addr, peer });
        }
        let mine = list.iter().position(|l| *l == me).ok_or("own entry missing")?;
        for (i, n) in nodes.iter().enumerate() {
            if n.peer == self.peer_id {
                continue;
            }
            let (peer, addr, dial) = (n.peer, n.addr.clone(), i < mine);
            let bare: Multiaddr = addr.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
            if dial {
                nlog!("dialing {} {}", n.name, addr);
            }
            let r = self
                .with(move |s| {
                    s.behaviour_mut().kad.add_address(&peer, bare);
                    if dial {
                        s.dial(addr).map_err(|e| e.to_string())
                    } else {
                        Ok(())
                    }
                })
                .await;
            r?;
        }
        // wait until connected to everyone we dialed (and everyone who dials us)
        let peers: Vec<PeerId> = nodes.iter().map(|n| n.peer).filter(|p| *p != self.peer_id).collect();
        self.until(30, "connected to all", move |n| {
            let peers = peers.clone();
            Box::pin(async move { n.with(move |s| peers.iter().all(|p| s.is_connected(p))).await })
        })
        .await?;
        Ok(nodes)
    }
}

fn spawn_swarm(mut swarm: Swarm<NetBehaviour>, mut rx: mpsc::UnboundedReceiver<Cmd>, got: Arc<Mutex<HashMap<String, usize>>>) {
    tokio::spawn(async move {
        let mut q = Queries::default();
        loop {
            tokio::select! {
                Some(cmd) = rx.recv() => cmd(&mut swarm, &mut q),
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::Behaviour(NetBehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                        let d = String::from_utf8_lossy(&message.data).into_owned();
                        *got.lock().unwrap().entry(d).or_default() += 1;
                    }
                    SwarmEvent::Behaviour(NetBehaviourEvent::Kad(kad::Event::OutboundQueryProgressed { id, result, step, .. })) => {
                        if let Some(w) = q.waiting.get_mut(&id) {
                            w.0.push(result);
                            if step.last {
                                let (v, tx) = q.waiting.remove(&id).unwrap();
                                if let Some(tx) = tx {
                                    let _ = tx.send(v);
                                }
                            }
                        }
                    }
                    SwarmEvent::ConnectionClosed { peer_id, cause, .. } => nlog!("connection to {peer_id} closed: {cause:?}"),
                    SwarmEvent::OutgoingConnectionError { error, .. } => nlog!("dial failed: {error}"),
                    _ => {}
                },
            }
        }
    });
}

pub async fn network_mode(scenario: String) {
    let name = std::env::var("node_name").unwrap_or_else(|_| "rust".into());
    let count: usize = std::env::var("node_count").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    if count < 2 {
        crate::die("node_count must be an integer >= 2");
    }
    let messages: usize = std::env::var("messages").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let timeout: u64 = std::env::var("test_timeout_seconds").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
        crate::die("test timeout reached");
    });
    let ip = std::env::var("ip").unwrap_or_else(|_| "127.0.0.1".into());
    let redis_addr = std::env::var("redis_addr").unwrap_or_else(|_| "redis:6379".into());
    let redis = Redis::connect(&redis_addr, Duration::from_secs(30)).await.unwrap_or_else(|e| crate::die(e));

    // transport (tcp | quic-v1) and security (noise | tls): the network's channel (NETWORK.md).
    let transport = std::env::var("transport").unwrap_or_else(|_| "tcp".into());
    let security = std::env::var("security").unwrap_or_else(|_| "noise".into());
    let security = Security::parse(&security).unwrap_or_else(|| crate::die(format!("unsupported security {security:?}")));
    if transport != "tcp" && transport != "quic-v1" {
        crate::die(format!("unsupported transport {transport:?} (want tcp or quic-v1)"));
    }
    let key = identity::Keypair::generate_ed25519();
    let peer_id = key.public().to_peer_id();
    let content = scenario != "gossip-seqno";
    let mut swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| crate::stack::tcp_transport(key, security))
        .unwrap_or_else(|e| crate::die(format!("tcp transport: {e}")))
        .with_other_transport(|key| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(crate::stack::quic_transport(key)))
        .unwrap_or_else(|e| crate::die(format!("quic transport: {e}")))
        .with_behaviour(|key| {
            let mut b = gossipsub::ConfigBuilder::default();
            b.validation_mode(gossipsub::ValidationMode::Strict).heartbeat_interval(Duration::from_secs(1));
            if content {
                b.message_id_fn(|m: &gossipsub::Message| gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec()));
            }
            let gs = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), b.build().expect("gossipsub config"))
                .expect("gossipsub behaviour");
            let pid = key.public().to_peer_id();
            let mut kcfg = kad::Config::new(StreamProtocol::new("/ipfs/kad/1.0.0"));
            kcfg.set_query_timeout(Duration::from_secs(20));
            let mut k = kad::Behaviour::with_config(pid, kad::store::MemoryStore::new(pid), kcfg);
            k.set_mode(Some(kad::Mode::Server));
            NetBehaviour {
                ping: ping::Behaviour::new(ping::Config::new()),
                identify: identify::Behaviour::new(
                    identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public())
                        .with_agent_version(format!("rust-libp2p-interop/{}", crate::LIBP2P_VERSION)),
                ),
                gossipsub: gs,
                kad: k,
            }
        })
        .unwrap_or_else(|e| crate::die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let listen: Multiaddr = if transport == "quic-v1" { format!("/ip4/{ip}/udp/0/quic-v1") } else { format!("/ip4/{ip}/tcp/0") }
        .parse()
        .unwrap_or_else(|e| crate::die(format!("bad ip {ip:?}: {e}")));
    swarm.listen_on(listen).unwrap_or_else(|e| crate::die(format!("listen: {e}")));
    let own = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    nlog!("peer id {peer_id} scenario {scenario} listening on {own}");
    let (tx, rx) = mpsc::unbounded_channel();
    let got = Arc::new(Mutex::new(HashMap::new()));
    spawn_swarm(swarm, rx, got.clone());
    let mut net = Net { tx, got, name, count, redis, peer_id };
    let r = match scenario.as_str() {
        "gossip-content" | "gossip-seqno" | "gossip-badsig" => gossip(&mut net, own, messages).await,
        "kad" => kad_scenario(&mut net, own).await,
        other => crate::die(format!("unsupported network_scenario {other:?}")),
    };
    if let Err(e) = r {
        nlog!("error: {e}");
        net.push_result(serde_json::json!({"ok": false, "error": e})).await;
    }
    std::future::pending::<()>().await;
}

async fn gossip(net: &mut Net, own: Multiaddr, messages: usize) -> Result<(), String> {
    let topic = gossipsub::IdentTopic::new(TOPIC);
    let t = topic.clone();
    net.with(move |s| s.behaviour_mut().gossipsub.subscribe(&t).map(|_| ()).map_err(|e| e.to_string())).await?;
    let nodes = net.join(own).await?;
    let others = nodes.len() - 1;
    let hash = topic.hash();
    net.until(30, "all peers subscribed", move |n| {
        let hash = hash.clone();
        Box::pin(async move {
            n.with(move |s| s.behaviour().gossipsub.all_peers().filter(|(_, ts)| ts.contains(&&hash)).count()).await >= others
        })
    })
    .await?;
    net.barrier("ready").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..messages {
        let data = format!("{}/{}", net.name, i).into_bytes();
        let mut attempt = 0;
        loop {
            let (t, d) = (topic.clone(), data.clone());
            match net.with(move |s| s.behaviour_mut().gossipsub.publish(t, d).map(|_| ()).map_err(|e| e.to_string())).await {
                Ok(()) => break,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    nlog!("publish {i}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("publish {i}: {e}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nlog!("published {messages}");
    let expected: Vec<String> = nodes
        .iter()
        .filter(|n| n.name != net.name)
        .flat_map(|n| (0..messages).map(move |i| format!("{}/{}", n.name, i)))
        .collect();
    let missing = |got: &Arc<Mutex<HashMap<String, usize>>>| -> Vec<String> {
        let g = got.lock().unwrap();
        expected.iter().filter(|d| !g.contains_key(*d)).cloned().collect()
    };
    let end = Instant::now() + Duration::from_secs(30);
    while !missing(&net.got).is_empty() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let miss = missing(&net.got);
    let (received, dups, invalid) = {
        let g = net.got.lock().unwrap();
        let dups: Vec<String> = g.iter().filter(|(_, c)| **c > 1).map(|(d, c)| format!("{d}x{c}")).take(10).collect();
        let invalid: Vec<String> = g.keys().filter(|d| d.ends_with("/invalid")).cloned().collect();
        (g.len(), dups, invalid)
    };
    let ok = miss.is_empty() && dups.is_empty() && invalid.is_empty();
    let miss: Vec<String> = miss.into_iter().take(10).collect();
    net.push_result(serde_json::json!({"ok": ok, "received": received, "expected": expected.len(),
        "missing": miss, "duplicates": dups, "invalidDelivered": invalid}))
    .await;
    Ok(())
}

fn provide_key(name: &str) -> Vec<u8> {
    let mut k = vec![0x12, 0x20];
    k.extend_from_slice(&Sha256::digest(format!("provide/{name}").as_bytes()));
    k
}

/// The /pk record key of a peer: "/pk/" + its multihash bytes.
fn pk_key(p: &PeerId) -> kad::RecordKey {
    let mut k = b"/pk/".to_vec();
    k.extend_from_slice(&p.to_bytes());
    kad::RecordKey::new(&k)
}

async fn kad_scenario(net: &mut Net, own: Multiaddr) -> Result<(), String> {
    let nodes = net.join(own).await?;
    net.barrier("ready").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // an Ed25519 peer id is the identity multihash of the public key protobuf
    let pid = net.peer_id.to_bytes();
    let value = pid[2..].to_vec();
    let key = pk_key(&net.peer_id);
    let r = net.query(30, move |s| s.behaviour_mut().kad.put_record(kad::Record::new(key, value), kad::Quorum::One).map_err(|e| e.to_string())).await?;
    if !r.iter().any(|x| matches!(x, kad::QueryResult::PutRecord(Ok(_)))) {
        return Err(format!("put failed: {r:?}"));
    }
    net.barrier("put").await?;
    let pk = kad::RecordKey::new(&provide_key(&net.name));
    let r = net.query(30, move |s| s.behaviour_mut().kad.start_providing(pk).map_err(|e| e.to_string())).await?;
    if !r.iter().any(|x| matches!(x, kad::QueryResult::StartProviding(Ok(_)))) {
        return Err(format!("provide failed: {r:?}"));
    }
    net.barrier("provided").await?;
    let mut checks = serde_json::Map::new();
    let mut failures: Vec<String> = Vec::new();
    for o in nodes.iter().filter(|o| o.name != net.name) {
        let want = o.peer.to_bytes()[2..].to_vec();
        let k = pk_key(&o.peer);
        let r = net.query(20, move |s| Ok(s.behaviour_mut().kad.get_record(k))).await;
        let ok = matches!(&r, Ok(v) if v.iter().any(|x| matches!(x, kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(pr))) if pr.record.value == want)));
        checks.insert(format!("get {}", o.name), ok.into());
        if !ok { failures.push(format!("get {}: {r:?}", o.name)); }

        let pk = kad::RecordKey::new(&provide_key(&o.name));
        let r = net.query(20, move |s| Ok(s.behaviour_mut().kad.get_providers(pk))).await;
        let who = o.peer;
        let ok = matches!(&r, Ok(v) if v.iter().any(|x| matches!(x, kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders { providers, .. })) if providers.contains(&who))));
        checks.insert(format!("providers {}", o.name), ok.into());
        if !ok { failures.push(format!("providers {}: {r:?}", o.name)); }

        let r = net.query(20, move |s| Ok(s.behaviour_mut().kad.get_closest_peers(who))).await;
        let ok = matches!(&r, Ok(v) if v.iter().any(|x| matches!(x, kad::QueryResult::GetClosestPeers(Ok(c)) if c.peers.iter().any(|p| p.peer_id == who))));
        checks.insert(format!("find-node {}", o.name), ok.into());
        if !ok { failures.push(format!("find-node {}: {r:?}", o.name)); }
    }
    nlog!("kad checks: {checks:?}");
    net.push_result(serde_json::json!({"ok": failures.is_empty(), "checks": checks, "failures": failures})).await;
    Ok(())
}

#[allow(dead_code)]
fn unused(_: HashSet<()>) {}

//! Limits mode (interop/README.md "Limits"): the rust side of the connection-manager scenarios,
//! driven by interop/limits.mjs through Redis. Selected by the env var `limits_scenario`:
//!
//! * `weft-trims`: env `hosts` (default 3) swarms in this process; each RPUSHes `rust <peer id>`
//!   to `peers`, waits for the key `start`, dials the address in `weftAddr` and RPUSHes
//!   `{"event":"held"}` to `events` once connected. rust-libp2p has no connection manager and
//!   closes idle connections after `idle_connection_timeout` (10 s by default): here it is one hour,
//!   so only the remote (weft trimming) closes them. When a connection closes the swarm RPUSHes
//!   `{"event":"closed"}` with the `ConnectionError` it reported (yamux 0.14 does not expose
//!   the GoAway code). Once `report` is set, every swarm still connected RPUSHes `{"event":"open"}`
//!   to `status`, then `{"event":"done"}` follows.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt as _;
use libp2p::{
    identify, identity, noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};

use crate::resp::{Redis, Reply};

macro_rules! llog {
    ($($t:tt)*) => { eprintln!("[rust-limits] {}", format!($($t)*)) };
}

#[derive(NetworkBehaviour)]
struct LimitsBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

async fn get(redis: &mut Redis, key: &str) -> Option<String> {
    match redis.cmd(&["GET", key]).await {
        Ok(Reply::Bulk(Some(v))) => Some(String::from_utf8_lossy(&v).into_owned()),
        _ => None,
    }
}

async fn wait_key(redis: &mut Redis, key: &str) -> String {
    loop {
        if let Some(v) = get(redis, key).await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn push(redis: &mut Redis, key: &str, json: String) {
    llog!("{key} <- {json}");
    if let Err(e) = redis.rpush(key, &json).await {
        llog!("RPUSH {key}: {e}");
    }
}

fn build(key: identity::Keypair) -> Swarm<LimitsBehaviour> {
    SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .unwrap_or_else(|e| crate::die(format!("tcp transport: {e}")))
        .with_behaviour(|key| LimitsBehaviour {
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(3600))),
            identify: identify::Behaviour::new(
                identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public())
                    .with_agent_version(format!("rust-libp2p-interop/{}", crate::LIBP2P_VERSION)),
            ),
        })
        .unwrap_or_else(|e| crate::die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build()
}

pub async fn limits_mode(scenario: String) {
    if scenario != "weft-trims" {
        crate::die(format!("unsupported limits_scenario {scenario:?}"));
    }
    let hosts: usize = crate::env("hosts", "3").parse().unwrap_or_else(|_| crate::die("bad hosts"));
    let timeout: u64 = crate::env("test_timeout_seconds", "60").parse().unwrap_or(60);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
        crate::die("test timeout reached");
    });
    let redis_addr = crate::env("redis_addr", "redis:6379");
    let mut redis = Redis::connect(&redis_addr, Duration::from_secs(30)).await.unwrap_or_else(|e| crate::die(e));

    let mut swarms = Vec::new();
    for _ in 0..hosts {
        let swarm = build(identity::Keypair::generate_ed25519());
        redis
            .rpush("peers", &format!("rust {}", swarm.local_peer_id()))
            .await
            .unwrap_or_else(|e| crate::die(e));
        swarms.push(swarm);
    }
    wait_key(&mut redis, "start").await;
    let addr: Multiaddr = wait_key(&mut redis, "weftAddr")
        .await
        .parse()
        .unwrap_or_else(|e| crate::die(format!("weftAddr: {e}")));

    let open: Arc<Mutex<HashMap<PeerId, bool>>> = Arc::default();
    for mut swarm in swarms {
        let me = *swarm.local_peer_id();
        let open = open.clone();
        let addr = addr.clone();
        let mut r = Redis::connect(&redis_addr, Duration::from_secs(30)).await.unwrap_or_else(|e| crate::die(e));
        tokio::spawn(async move {
            if let Err(e) = swarm.dial(addr) {
                let err = json_str(&format!("dial: {e}"));
                push(&mut r, "events", format!(r#"{{"impl":"rust","peer":"{me}","event":"closed","error":{err}}}"#)).await;
                return;
            }
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { .. } => {
                        open.lock().unwrap().insert(me, true);
                        push(&mut r, "events", format!(r#"{{"impl":"rust","peer":"{me}","event":"held"}}"#)).await;
                    }
                    SwarmEvent::ConnectionClosed { cause, num_established, .. } => {
                        if num_established == 0 {
                            open.lock().unwrap().insert(me, false);
                        }
                        let err = json_str(&format!("{cause:?}"));
                        push(&mut r, "events", format!(r#"{{"impl":"rust","peer":"{me}","event":"closed","error":{err}}}"#)).await;
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        let err = json_str(&format!("dial: {error}"));
                        push(&mut r, "events", format!(r#"{{"impl":"rust","peer":"{me}","event":"closed","error":{err}}}"#)).await;
                    }
                    _ => {}
                }
            }
        });
    }
    wait_key(&mut redis, "report").await;
    let still: Vec<PeerId> = open.lock().unwrap().iter().filter(|(_, o)| **o).map(|(p, _)| *p).collect();
    for p in still {
        push(&mut redis, "status", format!(r#"{{"impl":"rust","peer":"{p}","event":"open"}}"#)).await;
    }
    push(&mut redis, "status", r#"{"impl":"rust","event":"done"}"#.to_string()).await;
    futures::future::pending::<()>().await;
}

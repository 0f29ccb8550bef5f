//! weft interop peer built on rust-libp2p. See interop/CONTRACT.md and README.md.

mod browser_peer;
mod limits;
mod mdns;
mod nat;
mod nat_dialer;
mod network;
mod reqresp;
mod rendezvous;
mod resp;
mod scale;
mod scenario_net;
mod stack;
mod streams;
mod trace;

use std::{
    io::Write as _,
    net::IpAddr,
    str::FromStr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    identify, identity,
    multiaddr::Protocol,
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, Stream, Swarm,
};
use stack::{build_swarm, Security};
use tokio::sync::mpsc;

const LIBP2P_VERSION: &str = "0.57.1";
const PROTOCOL_VERSION: &str = "ipfs/0.1.0";
const ECHO: &str = "/weft/echo/1.0.0";
const RESET: &str = "/weft/reset/1.0.0";
const PERF: &str = "/perf/1.0.0";
const PERF_BYTES: u64 = 64 * 1024 * 1024;
const ECHO_STREAMS: usize = 64;
const ECHO_BYTES: usize = 1024 * 1024;
/// Peer id of Ed25519 secret key seed [0u8; 32] (the perf server's fixed identity).
const PERF_SERVER_ID: &str = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";

macro_rules! log {
    ($($t:tt)*) => { eprintln!("[rust-peer] {}", format!($($t)*)) };
}

fn die(msg: impl std::fmt::Display) -> ! {
    log!("error: {msg}");
    let _ = std::io::stderr().flush();
    std::process::exit(1);
}

/// Dies once `test_timeout_seconds` have passed (CONTRACT.md).
fn arm_test_timeout(timeout: u64) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
        die(format!("test_timeout_seconds ({timeout}s) passed"));
    });
}

/// `/ip4|ip6/<ip>/tcp/0`.
fn tcp_listen_addr(ip: IpAddr) -> Multiaddr {
    let mut listen: Multiaddr = match ip {
        IpAddr::V4(v4) => Protocol::Ip4(v4).into(),
        IpAddr::V6(v6) => Protocol::Ip6(v6).into(),
    };
    listen.push(Protocol::Tcp(0));
    listen
}

/// The dialer's `BLPOP listenerAddr`: the address (with /p2p) and the listener's peer id.
async fn take_listener_addr(redis: &mut resp::Redis, timeout: u64) -> (Multiaddr, PeerId) {
    let addr = match redis.blpop("listenerAddr", timeout).await {
        Ok(Some(a)) => a,
        Ok(None) => die("timed out waiting for listenerAddr"),
        Err(e) => die(e),
    };
    let addr = Multiaddr::from_str(addr.trim()).unwrap_or_else(|e| die(format!("bad listenerAddr {addr:?}: {e}")));
    let remote = match addr.iter().last() {
        Some(Protocol::P2p(p)) => p,
        _ => die(format!("listenerAddr {addr} has no /p2p")),
    };
    log!("dialing {addr}");
    (addr, remote)
}

/// Keeps the dialer up until the listener has pushed `listenerResult` (without consuming it: the
/// orchestrator reads it); gives up after 10 s.
async fn wait_listener_result(redis: &mut resp::Redis) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(resp::Reply::Int(n)) = redis.cmd(&["LLEN", "listenerResult"]).await {
            if n > 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    log!("listenerResult did not appear within 10 s; exiting anyway");
}

/// The listener's verdict as `listenerResult`, on one line.
async fn push_listener_result(redis: &mut resp::Redis, result: &Result<(), String>) {
    let json = match result {
        Ok(()) => serde_json::json!({"ok": true}),
        Err(e) => serde_json::json!({"ok": false, "error": e.replace('\n', " ")}),
    };
    log!("listener result: {json}");
    redis.rpush("listenerResult", &json.to_string()).await.unwrap_or_else(|e| die(e));
}

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    streams: streams::Behaviour,
}

/// Swarm events the scenario logic cares about (the swarm runs in its own task).
#[derive(Debug)]
#[allow(dead_code)]
enum Ev {
    Listen(Multiaddr),
    Connected(PeerId, Multiaddr),
    Ping(PeerId, Result<Duration, String>),
    Identified(PeerId, Box<identify::Info>),
    IdentifyError(PeerId, String),
    IdentifySent(PeerId),
    DialFailed(String),
}

/// What the inbound protocol handlers observed.
#[derive(Debug)]
enum Outcome {
    EchoDone(usize),
    EchoReset,
    EchoError(String),
    ResetServed,
    PerfDone(u64),
    PerfError(String),
}

/// Drives the swarm forever, forwarding interesting events.
fn spawn_driver(mut swarm: Swarm<Behaviour>, tx: mpsc::UnboundedSender<Ev>) {
    tokio::spawn(async move {
        loop {
            let ev = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => Ev::Listen(address),
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    log!("connected to {peer_id} via {}", endpoint.get_remote_address());
                    Ev::Connected(peer_id, endpoint.get_remote_address().clone())
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                    log!("connection to {peer_id} closed: {cause:?}");
                    continue;
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => Ev::DialFailed(error.to_string()),
                SwarmEvent::IncomingConnectionError { error, .. } => {
                    log!("incoming connection failed: {error}");
                    continue;
                }
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result, .. })) => {
                    Ev::Ping(peer, result.map_err(|e| e.to_string()))
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => match e {
                    identify::Event::Received { peer_id, info, .. } => {
                        Ev::Identified(peer_id, Box::new(info))
                    }
                    identify::Event::Error { peer_id, error, .. } => {
                        Ev::IdentifyError(peer_id, error.to_string())
                    }
                    identify::Event::Sent { peer_id, .. } => Ev::IdentifySent(peer_id),
                    _ => continue,
                },
                _ => continue,
            };
            if tx.send(ev).is_err() {
                // Nobody listens any more; keep serving.
            }
        }
    });
}

fn spawn_servers(mut inbound: mpsc::UnboundedReceiver<streams::Inbound>, out: mpsc::UnboundedSender<Outcome>) {
    tokio::spawn(async move {
        while let Some((_peer, proto, stream)) = inbound.recv().await {
            let out = out.clone();
            let p = proto.as_ref().to_string();
            tokio::spawn(async move {
                let o = match p.as_str() {
                    ECHO => serve_echo(stream).await,
                    RESET => serve_reset(stream).await,
                    PERF => serve_perf(stream).await,
                    _ => return,
                };
                let _ = out.send(o);
            });
        }
    });
}

async fn serve_echo(mut s: Stream) -> Outcome {
    let mut buf = Vec::new();
    // rust-libp2p's yamux reports a received RST as a clean EOF on read; the difference shows on
    // write: after a FIN we can still write, after an RST writing fails.
    if let Err(e) = s.read_to_end(&mut buf).await {
        log!("echo: read failed ({e}) after {} bytes: treating as reset", buf.len());
        return Outcome::EchoReset;
    }
    // write_all(&[]) never touches the stream, so probe it explicitly when nothing was read
    // (yamux's poll_write fails once the stream is reset or the connection is gone).
    let probe = if buf.is_empty() { s.write(&[]).await.map(|_| ()) } else { s.write_all(&buf).await };
    if let Err(e) = probe {
        log!("echo: write after EOF failed ({e}) after reading {} bytes: remote reset the stream", buf.len());
        return Outcome::EchoReset;
    }
    match s.close().await {
        Ok(()) => Outcome::EchoDone(buf.len()),
        Err(e) => Outcome::EchoError(format!("echo close: {e}")),
    }
}

async fn serve_reset(mut s: Stream) -> Outcome {
    let mut b = [0u8; 1];
    let _ = s.read_exact(&mut b).await;
    drop(s); // dropping a yamux stream that is not closed sends RST
    Outcome::ResetServed
}

async fn serve_perf(mut s: Stream) -> Outcome {
    let mut hdr = [0u8; 8];
    if let Err(e) = s.read_exact(&mut hdr).await {
        return Outcome::PerfError(format!("perf: reading header: {e}"));
    }
    let to_send = u64::from_be_bytes(hdr);
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => received += n as u64,
            Err(e) => return Outcome::PerfError(format!("perf: read after {received} bytes: {e}")),
        }
    }
    let zeros = vec![0u8; 64 * 1024];
    let mut left = to_send;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if let Err(e) = s.write_all(&zeros[..n]).await {
            return Outcome::PerfError(format!("perf: write after {} bytes: {e}", to_send - left));
        }
        left -= n as u64;
    }
    if let Err(e) = s.close().await {
        return Outcome::PerfError(format!("perf: close: {e}"));
    }
    Outcome::PerfDone(received)
}

/// Client side of /perf/1.0.0; counters are updated as bytes move.
async fn perf_client(
    mut s: Stream,
    upload: u64,
    download: u64,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
) -> Result<(), String> {
    s.write_all(&download.to_be_bytes()).await.map_err(|e| format!("perf: write header: {e}"))?;
    let chunk = vec![0u8; 64 * 1024];
    let mut left = upload;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..n]).await.map_err(|e| format!("perf: upload: {e}"))?;
        up.fetch_add(n as u64, Ordering::Relaxed);
        left -= n as u64;
    }
    s.close().await.map_err(|e| format!("perf: close write side: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                got += n as u64;
                down.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => return Err(format!("perf: download after {got} bytes: {e}")),
        }
    }
    if got != download {
        return Err(format!("perf: downloaded {got} bytes, expected {download}"));
    }
    Ok(())
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn strip_p2p(a: &Multiaddr) -> Multiaddr {
    a.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "cert") {
        stack::cert_mode(&args[1..]);
    } else if args.first().is_some_and(|a| a == "scale-server") {
        rt.block_on(scale::run(args[1..].to_vec()));
    } else if args.first().is_some_and(|a| a.starts_with("--")) {
        rt.block_on(perf_cli(args));
    } else if let Ok(s) = std::env::var("network_scenario") {
        rt.block_on(network::network_mode(s));
    } else if let Ok(r) = std::env::var("NAT_ROLE") {
        rt.block_on(nat::nat_mode(r));
    } else if std::env::var("scenario").is_ok_and(|s| s == "mdns") {
        rt.block_on(mdns::run());
    } else if std::env::var("scenario").is_ok_and(|s| s == "browser") {
        rt.block_on(browser_peer::run());
    } else if std::env::var("scenario").is_ok_and(|s| s == "trace") {
        rt.block_on(trace::run());
    } else if let Ok(s) = std::env::var("limits_scenario") {
        rt.block_on(limits::limits_mode(s));
    } else {
        rt.block_on(interop());
    }
}

// ---------------------------------------------------------------------------------------------
// transport-interop mode

async fn interop() {
    let transport = env("transport", "");
    let muxer = env("muxer", "");
    let security = env("security", "");
    let scenario = env("scenario", "ping");
    let is_dialer = match env("is_dialer", "").as_str() {
        "true" => true,
        "false" => false,
        other => die(format!("is_dialer must be true or false, got {other:?}")),
    };
    let ip = env("ip", "0.0.0.0");
    let redis_addr = env("redis_addr", "redis:6379");
    let timeout: u64 = env("test_timeout_seconds", "180")
        .parse()
        .unwrap_or_else(|_| die("test_timeout_seconds is not an integer"));
    if transport != "tcp" && transport != "ws" && transport != "quic-v1" {
        die(format!("unsupported transport {transport:?}"));
    }
    // QUIC v1 carries TLS 1.3 and its own streams: security must be tls, muxer is not used.
    if transport == "quic-v1" && security != "tls" {
        die(format!("unsupported security {security:?} for quic-v1 (want tls)"));
    }
    if transport != "quic-v1" && muxer != "yamux" {
        die(format!("unsupported muxer {muxer:?}"));
    }
    let security = Security::parse(&security).unwrap_or_else(|| die(format!("unsupported security {security:?}")));
    if scenario == "request-response" {
        // Its own swarm (reqresp.rs), on the transport and security of scenario_net.rs.
        let ip: IpAddr = ip.parse().unwrap_or_else(|_| die(format!("bad ip {ip:?}")));
        return reqresp::run(is_dialer, ip, redis_addr, timeout).await;
    }
    if scenario == "rendezvous" {
        // Its own swarm (rendezvous.rs), on the transport and security of scenario_net.rs.
        let ip: IpAddr = ip.parse().unwrap_or_else(|_| die(format!("bad ip {ip:?}")));
        return rendezvous::run(is_dialer, ip, redis_addr, timeout).await;
    }
    if !["ping", "identify", "streams", "perf", "ping-load"].contains(&scenario.as_str()) {
        die(format!("unsupported scenario {scenario:?}"));
    }
    let ip: IpAddr = ip.parse().unwrap_or_else(|_| die(format!("bad ip {ip:?}")));

    arm_test_timeout(timeout);

    let ping_interval = if scenario == "ping-load" && is_dialer {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let key = identity::Keypair::generate_ed25519();
    let local_id = key.public().to_peer_id();
    let (mut swarm, control, inbound) = build_swarm(key, ping_interval, security);
    let (otx, orx) = mpsc::unbounded_channel();
    spawn_servers(inbound, otx);
    let mut redis = resp::Redis::connect(&redis_addr, Duration::from_secs(timeout))
        .await
        .unwrap_or_else(|e| die(e));
    log!("peer id {local_id}, scenario {scenario}, transport {transport}, security {security:?}, dialer {is_dialer}");

    let (tx, mut rx) = mpsc::unbounded_channel();
    if is_dialer {
        let (addr, remote) = take_listener_addr(&mut redis, timeout).await;
        let start = Instant::now();
        swarm.dial(addr.clone()).unwrap_or_else(|e| die(format!("dial: {e}")));
        spawn_driver(swarm, tx);
        dialer(scenario, addr, remote, start, control, &mut rx).await;
    } else {
        let mut listen = tcp_listen_addr(ip);
        if transport == "ws" {
            listen.push(Protocol::Ws("/".into()));
        }
        if transport == "quic-v1" {
            listen = listen.replace(1, |_| Some(Protocol::Udp(0))).expect("ip/tcp").with(Protocol::QuicV1);
        }
        swarm.listen_on(listen.clone()).unwrap_or_else(|e| die(format!("listen on {listen}: {e}")));
        spawn_driver(swarm, tx);
        listener(scenario, ip, local_id, &mut redis, &mut rx, orx).await;
    }
}

async fn next_ev(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Ev {
    rx.recv().await.unwrap_or_else(|| die("swarm task ended"))
}

/// Contract identify checks; `dialed` only on the dialer side.
fn check_identify(remote: PeerId, info: &identify::Info, dialed: Option<&Multiaddr>) -> Result<(), String> {
    log!(
        "identify from {remote}: agent {:?}, protocol {:?}, protocols {:?}, listen {:?}, observed {}",
        info.agent_version,
        info.protocol_version,
        info.protocols.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        info.listen_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        info.observed_addr
    );
    if info.agent_version.is_empty() {
        return Err("empty agentVersion".into());
    }
    if info.protocol_version.is_empty() {
        return Err("empty protocolVersion".into());
    }
    for p in ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"] {
        if !info.protocols.iter().any(|x| x.as_ref() == p) {
            return Err(format!("protocols lack {p}"));
        }
    }
    if info.public_key.to_peer_id() != remote {
        return Err(format!("public key gives {} not {remote}", info.public_key.to_peer_id()));
    }
    if let Some(d) = dialed {
        let d = strip_p2p(d);
        if !info.listen_addrs.iter().any(|a| strip_p2p(a) == d) {
            return Err(format!("listenAddrs do not contain the dialed address {d}"));
        }
    }
    let parts: Vec<Protocol> = info.observed_addr.iter().collect();
    let lo = matches!(parts.first(), Some(Protocol::Ip4(a)) if a.is_loopback() && a.octets() == [127, 0, 0, 1]);
    let tcp = matches!(parts.get(1), Some(Protocol::Tcp(p)) if *p != 0)
        && (parts.len() == 2 || (parts.len() == 3 && matches!(parts[2], Protocol::Ws(_))));
    let quic = parts.len() == 3 && matches!(parts[1], Protocol::Udp(p) if p != 0) && matches!(parts[2], Protocol::QuicV1);
    if !(lo && (tcp || quic)) {
        return Err(format!(
            "observedAddr {:?} is not /ip4/127.0.0.1/tcp/<port>[/ws] or /ip4/127.0.0.1/udp/<port>/quic-v1",
            info.observed_addr.to_string()
        ));
    }
    match &info.signed_peer_record {
        None => log!(
            "signedPeerRecord: none received (note: rust-libp2p drops records it cannot verify with its legacy domain)"
        ),
        Some(env) => {
            log!("signedPeerRecord: received one");
            let rec = libp2p::core::PeerRecord::from_signed_envelope_interop(env.clone())
                .map_err(|e| format!("signedPeerRecord does not verify with domain libp2p-peer-record / 0x0301: {e}"))?;
            if rec.peer_id() != remote {
                return Err("signedPeerRecord is for another peer".into());
            }
            if rec.addresses().is_empty() {
                return Err("signedPeerRecord has no addresses".into());
            }
        }
    }
    Ok(())
}

async fn dialer(
    scenario: String,
    addr: Multiaddr,
    remote: PeerId,
    start: Instant,
    control: streams::Control,
    rx: &mut mpsc::UnboundedReceiver<Ev>,
) {
    let mut identified: Option<Box<identify::Info>> = None;
    let mut id_sent = false;
    // dial + first ping
    let (handshake, rtt) = loop {
        match next_ev(rx).await {
            Ev::Ping(p, Ok(rtt)) if p == remote => break (start.elapsed(), rtt),
            Ev::Ping(p, Err(e)) if p == remote => die(format!("ping failed: {e}")),
            Ev::DialFailed(e) => die(format!("dial failed: {e}")),
            Ev::Identified(p, info) if p == remote => identified = Some(info),
            Ev::IdentifySent(p) if p == remote => id_sent = true,
            _ => {}
        }
    };
    log!("handshake+1RTT {:.3} ms, ping RTT {:.3} ms", ms(handshake), ms(rtt));
    let mut rtt_ms = ms(rtt);

    match scenario.as_str() {
        "ping" => {}
        "identify" => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let info = loop {
                if let Some(i) = identified.take() {
                    break i;
                }
                match tokio::time::timeout_at(deadline, next_ev(rx)).await {
                    Err(_) => die("identify of the listener did not complete within 10 s"),
                    Ok(Ev::Identified(p, info)) if p == remote => identified = Some(info),
                    Ok(Ev::IdentifyError(p, e)) if p == remote => die(format!("identify failed: {e}")),
                    Ok(Ev::IdentifySent(p)) if p == remote => id_sent = true,
                    Ok(_) => {}
                }
            };
            check_identify(remote, &info, Some(&addr)).unwrap_or_else(|e| die(format!("identify check: {e}")));
            log!("identify checks passed");
            // The listener identifies us too: don't exit before we have answered its request.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while !id_sent {
                match tokio::time::timeout_at(deadline, next_ev(rx)).await {
                    Err(_) => {
                        log!("listener did not request identify within 5 s");
                        break;
                    }
                    Ok(Ev::IdentifySent(p)) if p == remote => id_sent = true,
                    Ok(_) => {}
                }
            }
        }
        "streams" => {
            streams_dialer(&control, remote).await.unwrap_or_else(|e| die(e));
            log!("streams checks passed");
        }
        "perf" | "ping-load" => {
            let up = Arc::new(AtomicU64::new(0));
            let down = Arc::new(AtomicU64::new(0));
            let s = control.open(remote, PERF).await.unwrap_or_else(|e| die(e));
            let t0 = Instant::now();
            let mut task = tokio::spawn(perf_client(s, PERF_BYTES, PERF_BYTES, up, down));
            let mut rtts: Vec<f64> = Vec::new();
            let mut done = false;
            // while the transfer runs, collect ping RTTs (ping-load: one every 100 ms);
            // keep going after it ends until at least 5 were collected.
            loop {
                if done && (scenario != "ping-load" || rtts.len() >= 5) {
                    break;
                }
                tokio::select! {
                    r = &mut task, if !done => {
                        match r {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => die(e),
                            Err(e) => die(format!("perf task: {e}")),
                        }
                        let secs = t0.elapsed().as_secs_f64();
                        log!(
                            "perf: 64 MiB up + 64 MiB down in {secs:.3} s ({:.1} MiB/s each way), {} pings during transfer",
                            64.0 / secs, rtts.len()
                        );
                        done = true;
                    }
                    ev = next_ev(rx) => match ev {
                        Ev::Ping(p, Ok(r)) if p == remote => rtts.push(ms(r)),
                        Ev::Ping(p, Err(e)) if p == remote && scenario == "ping-load" => die(format!("ping during load failed: {e}")),
                        _ => {}
                    }
                }
            }
            if scenario == "ping-load" {
                log!("ping-load RTTs (ms): {rtts:?}");
                rtt_ms = median(&mut rtts);
            }
        }
        _ => unreachable!(),
    }
    println!(
        "{}",
        serde_json::json!({"handshakePlusOneRTTMillis": ms(handshake), "pingRTTMilllis": rtt_ms})
    );
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

fn echo_pattern(i: usize) -> Vec<u8> {
    (0..ECHO_BYTES).map(|j| ((j * 31 + i) & 0xff) as u8).collect()
}

async fn streams_dialer(control: &streams::Control, remote: PeerId) -> Result<(), String> {
    // 1. 64 concurrent 1 MiB echoes
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..ECHO_STREAMS)
        .map(|i| {
            let control = control.clone();
            tokio::spawn(async move {
                let mut s = control.open(remote, ECHO).await.map_err(|e| format!("echo {i}: {e}"))?;
                let data = echo_pattern(i);
                s.write_all(&data).await.map_err(|e| format!("echo {i}: write: {e}"))?;
                s.close().await.map_err(|e| format!("echo {i}: close: {e}"))?;
                let mut back = Vec::with_capacity(ECHO_BYTES);
                s.read_to_end(&mut back).await.map_err(|e| format!("echo {i}: read: {e}"))?;
                if back.len() != data.len() {
                    return Err(format!("echo {i}: got {} bytes back, expected {}", back.len(), data.len()));
                }
                if back != data {
                    return Err(format!("echo {i}: content mismatch"));
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    let results = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(tasks))
        .await
        .map_err(|_| "64 echo streams did not finish within 60 s".to_string())?;
    for r in results {
        r.map_err(|e| format!("echo task: {e}"))??;
    }
    log!("64 x 1 MiB echoes ok in {:.3} s", t0.elapsed().as_secs_f64());

    // 2. reset stream: write one byte, expect a reset (not a clean EOF) within 10 s
    let mut s = control.open(remote, RESET).await?;
    s.write_all(&[0x42]).await.map_err(|e| format!("reset: write: {e}"))?;
    s.flush().await.map_err(|e| format!("reset: flush: {e}"))?;
    let verdict = tokio::time::timeout(Duration::from_secs(10), async {
        let mut b = [0u8; 16];
        match s.read(&mut b).await {
            Err(e) => Ok(format!("read error {e}")),
            Ok(n) if n > 0 => Err(format!("reset: got {n} unexpected bytes")),
            // rust-libp2p's yamux surfaces RST as EOF on read; after a FIN we could still write,
            // after an RST the write fails.
            Ok(_) => match s.write_all(&[0x43]).await {
                Err(e) => Ok(format!("EOF on read, then write failed: {e}")),
                Ok(()) => Err("reset: stream ended with a clean EOF (FIN), not a reset".to_string()),
            },
        }
    })
    .await
    .map_err(|_| "reset: no reset within 10 s".to_string())??;
    log!("reset stream: saw reset ({verdict})");
    drop(s);

    // 3. echo stream: write 1000 bytes, then reset it
    let mut s = control.open(remote, ECHO).await?;
    s.write_all(&[7u8; 1000]).await.map_err(|e| format!("echo-reset: write: {e}"))?;
    s.flush().await.map_err(|e| format!("echo-reset: flush: {e}"))?;
    drop(s); // not closed: yamux sends RST
    log!("reset an echo stream after 1000 bytes");
    // give the RST frame time to leave before the process exits
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

async fn listener(
    scenario: String,
    ip: IpAddr,
    local_id: PeerId,
    redis: &mut resp::Redis,
    rx: &mut mpsc::UnboundedReceiver<Ev>,
    mut outcomes: mpsc::UnboundedReceiver<Outcome>,
) {
    // pick the address to publish
    let mut published: Option<Multiaddr> = None;
    let mut fallback: Option<Multiaddr> = None;
    while published.is_none() {
        let ev = if fallback.is_some() {
            match tokio::time::timeout(Duration::from_secs(2), next_ev(rx)).await {
                Ok(ev) => ev,
                Err(_) => {
                    published = fallback.take();
                    break;
                }
            }
        } else {
            next_ev(rx).await
        };
        if let Ev::Listen(a) = ev {
            log!("listening on {a}");
            let loopback = a.iter().any(|p| matches!(p, Protocol::Ip4(x) if x.is_loopback()));
            if !ip.is_unspecified() || !loopback {
                published = Some(a);
            } else if fallback.is_none() {
                fallback = Some(a);
            }
        }
    }
    let mut addr = published.expect("address");
    addr.push(Protocol::P2p(local_id));
    log!("publishing {addr}");
    redis.rpush("listenerAddr", &addr.to_string()).await.unwrap_or_else(|e| die(e));

    let result: Option<Result<(), String>> = match scenario.as_str() {
        "ping" => None,
        "identify" => Some(listener_identify(rx).await),
        "streams" => Some(listener_streams(rx, &mut outcomes).await),
        "perf" | "ping-load" => Some(listener_perf(rx, &mut outcomes).await),
        _ => unreachable!(),
    };
    if let Some(r) = result {
        push_listener_result(redis, &r).await;
    }
    // serve until killed
    loop {
        tokio::select! {
            ev = rx.recv() => if ev.is_none() { die("swarm task ended") },
            o = outcomes.recv() => if let Some(o) = o { log!("after result: {o:?}") },
        }
    }
}

async fn wait_connected(rx: &mut mpsc::UnboundedReceiver<Ev>, early: &mut Vec<Ev>) -> PeerId {
    loop {
        match next_ev(rx).await {
            Ev::Connected(p, _) => return p,
            ev => early.push(ev),
        }
    }
}

async fn listener_identify(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Result<(), String> {
    let mut early = Vec::new();
    let remote = wait_connected(rx, &mut early).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let info = loop {
        match tokio::time::timeout_at(deadline, next_ev(rx)).await {
            Err(_) => return Err("identify of the dialer did not complete within 10 s".into()),
            Ok(Ev::Identified(p, info)) if p == remote => break info,
            Ok(Ev::IdentifyError(p, e)) if p == remote => return Err(format!("identify failed: {e}")),
            Ok(_) => {}
        }
    };
    check_identify(remote, &info, None)
}

async fn listener_streams(
    rx: &mut mpsc::UnboundedReceiver<Ev>,
    outcomes: &mut mpsc::UnboundedReceiver<Outcome>,
) -> Result<(), String> {
    let mut early = Vec::new();
    wait_connected(rx, &mut early).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (mut echoes, mut resets, mut errors) = (0usize, 0usize, Vec::new());
    loop {
        if echoes >= ECHO_STREAMS && resets >= 1 {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!("after 60 s: {echoes} echoes completed, {resets} echo resets seen, errors: {errors:?}"));
            }
            ev = rx.recv() => if ev.is_none() { return Err("swarm task ended".into()) },
            o = outcomes.recv() => match o {
                Some(Outcome::EchoDone(n)) => { echoes += 1; if n != ECHO_BYTES { log!("echo of {n} bytes completed"); } }
                Some(Outcome::EchoReset) => resets += 1,
                Some(Outcome::EchoError(e)) => { log!("{e}"); errors.push(e) }
                Some(Outcome::ResetServed) => log!("served a reset stream"),
                Some(o) => log!("unexpected: {o:?}"),
                None => return Err("stream servers ended".into()),
            }
        }
    }
}

async fn listener_perf(
    rx: &mut mpsc::UnboundedReceiver<Ev>,
    outcomes: &mut mpsc::UnboundedReceiver<Outcome>,
) -> Result<(), String> {
    loop {
        tokio::select! {
            ev = rx.recv() => if ev.is_none() { return Err("swarm task ended".into()) },
            o = outcomes.recv() => match o {
                Some(Outcome::PerfDone(n)) if n == PERF_BYTES => return Ok(()),
                Some(Outcome::PerfDone(n)) => return Err(format!("perf stream received {n} bytes, expected {PERF_BYTES}")),
                Some(Outcome::PerfError(e)) => return Err(e),
                Some(o) => log!("unexpected: {o:?}"),
                None => return Err("stream servers ended".into()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// perf CLI mode (libp2p test-plans perf contract)

fn perf_key() -> identity::Keypair {
    identity::Keypair::ed25519_from_bytes([0u8; 32]).expect("ed25519 key")
}

fn ip_port(s: &str) -> (Multiaddr, u16) {
    let sa: std::net::SocketAddr = s.parse().unwrap_or_else(|_| die(format!("--server-address {s:?} is not ip:port")));
    let m: Multiaddr = match sa.ip() {
        IpAddr::V4(v4) => Protocol::Ip4(v4).into(),
        IpAddr::V6(v6) => Protocol::Ip6(v6).into(),
    };
    (m, sa.port())
}

async fn perf_cli(args: Vec<String>) {
    let mut run_server = false;
    let mut server_address = None;
    let mut transport = "tcp".to_string();
    let mut security = Security::Noise;
    let mut upload: u64 = 0;
    let mut download: u64 = 0;
    let mut streams: u64 = 1;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| die(format!("{name} needs a value")));
        match a.as_str() {
            "--run-server" => run_server = true,
            "--server-address" => server_address = Some(val("--server-address")),
            "--transport" => transport = val("--transport"),
            "--security" => security = Security::parse(&val("--security")).unwrap_or_else(|| die("--security must be noise or tls")),
            "--upload-bytes" => upload = val("--upload-bytes").parse().unwrap_or_else(|_| die("bad --upload-bytes")),
            "--download-bytes" => download = val("--download-bytes").parse().unwrap_or_else(|_| die("bad --download-bytes")),
            "--streams" => {
                streams = val("--streams").parse().ok().filter(|n| (1..=16).contains(n)).unwrap_or_else(|| die("--streams must be an integer from 1 to 16"))
            }
            "--secret-key-seed" => { let _ = val("--secret-key-seed"); }
            other => die(format!("unknown argument {other:?}")),
        }
    }
    let server_address = server_address.unwrap_or_else(|| die("--server-address is required"));
    let (ipm, port) = ip_port(&server_address);
    let ws_port = port.checked_add(1).unwrap_or_else(|| die("port + 1 overflows"));
    let key = perf_key();
    let server_id = PeerId::from_str(PERF_SERVER_ID).expect("peer id");

    if run_server {
        assert_eq!(key.public().to_peer_id(), server_id, "fixed perf identity");
        let (mut swarm, _control, inbound) = build_swarm(key, Duration::from_secs(15), security);
        let (otx, mut orx) = mpsc::unbounded_channel();
        spawn_servers(inbound, otx);
        let tcp_addr = ipm.clone().with(Protocol::Tcp(port));
        let ws_addr = ipm.clone().with(Protocol::Tcp(ws_port)).with(Protocol::Ws("/".into()));
        let quic_addr = ipm.clone().with(Protocol::Udp(port)).with(Protocol::QuicV1); // UDP: TCP's port number
        for a in [&tcp_addr, &ws_addr, &quic_addr] {
            swarm.listen_on(a.clone()).unwrap_or_else(|e| die(format!("listen on {a}: {e}")));
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        spawn_driver(swarm, tx);
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(Ev::Listen(a)) => eprintln!("{}", a.with(Protocol::P2p(server_id))),
                    Some(_) => {}
                    None => die("swarm task ended"),
                },
                o = orx.recv() => if let Some(o) = o { log!("{o:?}") },
            }
        }
    }

    let mut addr = match transport.as_str() {
        "tcp" => ipm.with(Protocol::Tcp(port)),
        "ws" => ipm.with(Protocol::Tcp(ws_port)).with(Protocol::Ws("/".into())),
        "quic-v1" => ipm.with(Protocol::Udp(port)).with(Protocol::QuicV1),
        other => die(format!("unsupported --transport {other:?}")),
    };
    addr.push(Protocol::P2p(server_id));
    let start = Instant::now();
    let (mut swarm, control, inbound) = build_swarm(identity::Keypair::generate_ed25519(), Duration::from_secs(15), security);
    let (otx, _orx) = mpsc::unbounded_channel();
    spawn_servers(inbound, otx);
    swarm.dial(addr.clone()).unwrap_or_else(|e| die(format!("dial {addr}: {e}")));
    let (tx, mut rx) = mpsc::unbounded_channel();
    spawn_driver(swarm, tx);
    loop {
        match next_ev(&mut rx).await {
            Ev::Connected(p, _) if p == server_id => break,
            Ev::DialFailed(e) => die(format!("dial {addr}: {e}")),
            _ => {}
        }
    }
    let up = Arc::new(AtomicU64::new(0));
    let down = Arc::new(AtomicU64::new(0));
    // --streams N: N perf streams at once on this connection, each with its share of the bytes
    // (the first streams take the remainder), as `weft perf --streams N` does.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..streams {
        let share = |total: u64| total / streams + u64::from(i < total % streams);
        let (control, up, down) = (control.clone(), up.clone(), down.clone());
        let (u, d) = (share(upload), share(download));
        set.spawn(async move {
            let s = control.open(server_id, PERF).await?;
            perf_client(s, u, d, up, down).await
        });
    }
    let mut task = tokio::spawn(async move {
        while let Some(r) = set.join_next().await {
            r.map_err(|e| format!("perf stream task: {e}"))??;
        }
        Ok::<(), String>(())
    });
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    let (mut last_t, mut last_up, mut last_down) = (Instant::now(), 0u64, 0u64);
    let emit = |v: serde_json::Value| {
        println!("{v}");
        let _ = std::io::stdout().flush();
    };
    loop {
        tokio::select! {
            r = &mut task => {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => die(e),
                    Err(e) => die(format!("perf task: {e}")),
                }
                break;
            }
            _ = tick.tick() => {
                let (u, d) = (up.load(Ordering::Relaxed), down.load(Ordering::Relaxed));
                emit(serde_json::json!({
                    "type": "intermediary",
                    "timeSeconds": last_t.elapsed().as_secs_f64(),
                    "uploadBytes": u - last_up,
                    "downloadBytes": d - last_down,
                }));
                (last_t, last_up, last_down) = (Instant::now(), u, d);
            }
        }
    }
    let mut fin = serde_json::json!({
        "type": "final",
        "timeSeconds": start.elapsed().as_secs_f64(),
        "uploadBytes": up.load(Ordering::Relaxed), // what the streams moved, not what was asked
        "downloadBytes": down.load(Ordering::Relaxed),
    });
    if streams > 1 {
        fin["streams"] = serde_json::json!(streams);
    }
    emit(fin);
    std::process::exit(0);
}


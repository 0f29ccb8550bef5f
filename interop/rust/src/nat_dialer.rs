//! NAT mode, role `dialer` (see src/nat.rs): connects to the relay, waits for identify with it,
//! dials `<relay>/p2p-circuit/p2p/<target>` and runs `SCENARIO`. The result JSON is the last stdout
//! line; exit 0 when ok, 1 otherwise (also when TIMEOUT_SECONDS passes first).

use std::{io::Write as _, time::Duration};

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::{multiaddr::Protocol, swarm::dial_opts::DialOpts, Multiaddr, PeerId};

use crate::nat::{is_relayed, nat_log, quic, timeout_secs, Ctx, Node, Parts};

const LIMIT_TOTAL: usize = 16 * 1024;
const LIMIT_PIECE: usize = 1024;
/// autonat-client: how long to wait for the first v2 result once v1 answered.
const V2_WAIT_SECS: u64 = 25;

fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn finish(ok: bool, line: String) -> ! {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    std::process::exit(if ok { 0 } else { 1 });
}

fn fail(scenario: &str, error: impl std::fmt::Display) -> ! {
    let e = error.to_string().replace('\n', " ");
    nat_log!("FAILED: {e}");
    finish(false, format!(r#"{{"ok":false,"scenario":{},"error":{}}}"#, json(scenario), json(&e)))
}

pub async fn dialer() {
    let scenario = crate::env("SCENARIO", "relay");
    if !["relay", "hole-punch", "limit", "no-reservation"].contains(&scenario.as_str()) {
        fail(&scenario, format!("unsupported SCENARIO {scenario:?}"));
    }
    let secs = timeout_secs();
    let sc = scenario.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let n = crate::nat::notes();
        fail(&sc, if n.is_empty() { format!("timeout after {secs} s") } else { format!("timeout after {secs} s; last errors: {n}") });
    });
    let mut ctx = Ctx::new().await;
    let relay: Multiaddr = ctx
        .wait("relay_multiaddr")
        .await
        .parse()
        .unwrap_or_else(|e| fail(&scenario, format!("relay_multiaddr: {e}")));
    let target: PeerId = if scenario == "no-reservation" {
        match std::env::var("TARGET_PEER_ID").ok().filter(|v| !v.is_empty()) {
            Some(v) => v.parse().unwrap_or_else(|e| fail(&scenario, format!("TARGET_PEER_ID: {e}"))),
            None => PeerId::random(),
        }
    } else {
        ctx.wait("listener_peer_id")
            .await
            .parse()
            .unwrap_or_else(|e| fail(&scenario, format!("listener_peer_id: {e}")))
    };
    let (mut node, _inbound) = Node::new(Parts { dcutr: scenario == "hole-punch", ..Default::default() }, &[]);
    node.listen_on(quic()).await;
    node.connect_relay(&relay).await;
    let circuit = relay.with(Protocol::P2pCircuit).with(Protocol::P2p(target));
    let opts: DialOpts = circuit.clone().into();
    let dial = opts.connection_id();
    nat_log!("dialing {circuit}");
    if let Err(e) = node.swarm.dial(opts) {
        fail(&scenario, format!("dial {circuit}: {e}"));
    }
    match scenario.as_str() {
        "no-reservation" => no_reservation(&mut node, dial).await,
        "relay" => relayed(&mut node, target, dial).await,
        "hole-punch" => hole_punch(&mut node, target, dial).await,
        _ => limit(&mut node, target, dial).await,
    }
}

/// Waits until the circuit dial `dial` is up (or fails).
async fn wait_circuit(node: &mut Node, scenario: &str, dial: libp2p::swarm::ConnectionId) {
    node.until(|n| n.conns.contains_key(&dial) || n.dial_errors.contains_key(&dial)).await;
    if let Some(e) = node.dial_errors.get(&dial) {
        fail(scenario, format!("circuit dial failed: {e}"));
    }
}

async fn no_reservation(node: &mut Node, dial: libp2p::swarm::ConnectionId) {
    node.until(|n| n.conns.contains_key(&dial) || n.dial_errors.contains_key(&dial)).await;
    let Some(e) = node.dial_errors.get(&dial) else {
        fail("no-reservation", "the circuit to a peer without a reservation was established");
    };
    // The relay client transport's error: Connect(NoReservation) for status NO_RESERVATION (204).
    let status = if e.contains("NoReservation") {
        "NO_RESERVATION"
    } else if e.contains("ResourceLimitExceeded") {
        "RESOURCE_LIMIT_EXCEEDED"
    } else if e.contains("PermissionDenied") {
        "PERMISSION_DENIED"
    } else if e.contains("ConnectionFailed") {
        "CONNECTION_FAILED"
    } else {
        fail("no-reservation", format!("unexpected dial error: {e}"));
    };
    let ok = status == "NO_RESERVATION";
    finish(ok, format!(r#"{{"ok":{ok},"scenario":"no-reservation","status":"{status}"}}"#))
}

async fn relayed(node: &mut Node, target: PeerId, dial: libp2p::swarm::ConnectionId) {
    wait_circuit(node, "relay", dial).await;
    node.until(|n| {
        (n.identified.contains(&(target, dial)) && n.pings.contains_key(&dial)) || !n.conns.contains_key(&dial)
    })
    .await;
    let Some((_, addr)) = node.conns.get(&dial) else {
        fail("relay", "the relayed connection closed before identify and ping completed");
    };
    let limited = is_relayed(addr);
    let rtt = node.pings[&dial].as_secs_f64() * 1000.0;
    nat_log!("identify and ping over {addr}: rtt {rtt:.3} ms");
    finish(limited, format!(r#"{{"ok":{limited},"scenario":"relay","rttMillis":{rtt:.3},"limited":{limited}}}"#))
}

async fn hole_punch(node: &mut Node, target: PeerId, dial: libp2p::swarm::ConnectionId) {
    wait_circuit(node, "hole-punch", dial).await;
    // The direct connection is the one DCUtR reports; the rtt is that of a ping on it.
    node.until(|n| {
        n.dcutr_direct
            .get(&target)
            .is_some_and(|c| n.pings.contains_key(c) || !n.conns.contains_key(c))
    })
    .await;
    let conn = node.dcutr_direct[&target];
    let Some((_, addr)) = node.conns.get(&conn).cloned() else {
        fail("hole-punch", "the direct connection closed before a ping");
    };
    if is_relayed(&addr) {
        fail("hole-punch", format!("dcutr reported a relayed connection: {addr}"));
    }
    let rtt = node.pings[&conn].as_secs_f64() * 1000.0;
    // rust dials DCUtR addresses with /p2p/<peer> appended; report the transport address only.
    let addr: Multiaddr = addr.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
    println!(r#"{{"rtt_to_holepunched_peer_millis": {}}}"#, rtt.round() as u64);
    finish(
        true,
        format!(r#"{{"ok":true,"scenario":"hole-punch","rttMillis":{rtt:.3},"direct":{}}}"#, json(&addr.to_string())),
    )
}

async fn limit(node: &mut Node, target: PeerId, dial: libp2p::swarm::ConnectionId) {
    wait_circuit(node, "limit", dial).await;
    let control = node.control.clone();
    // Lockstep: write a 1 KiB piece, read its echo, repeat; stops at the first EOF / error.
    let run = async move {
        let mut s = control.open(target, crate::ECHO).await?;
        let piece = vec![0x5au8; LIMIT_PIECE];
        let mut buf = vec![0u8; LIMIT_PIECE];
        let mut got = 0usize;
        while got < LIMIT_TOTAL {
            if let Err(e) = s.write_all(&piece).await {
                return Ok((got, format!("write failed: {e}")));
            }
            let mut this = 0;
            while this < LIMIT_PIECE {
                match s.read(&mut buf[this..]).await {
                    Ok(0) => return Ok((got, "eof".to_string())),
                    Ok(n) => {
                        this += n;
                        got += n;
                    }
                    Err(e) => return Ok((got, format!("read failed: {e}"))),
                }
            }
        }
        let _ = s.close().await;
        Ok::<_, String>((got, "all echoed".to_string()))
    };
    match node.drive(run).await {
        Err(e) => fail("limit", format!("echo stream: {e}")),
        Ok((got, end)) => {
            nat_log!("limit: echo ended ({end}) after {got} bytes");
            if got >= LIMIT_TOTAL {
                fail("limit", format!("all {got} bytes came back: the relay did not end the circuit"));
            }
            finish(true, format!(r#"{{"ok":true,"scenario":"limit","echoed":{got}}}"#))
        }
    }
}

/// `NAT_ROLE=autonat-client` (rust-only control for the autonat-server role): GET
/// `<TEST_KEY>_autonat_multiaddr`, connect, wait for identify, then wait for the first AutoNAT v1
/// probe result through that server and the first v2 result. Result line
/// `{"ok":true,"role":"autonat-client","reachability":"public"|"private"|"mixed","v1":{"reachable":bool,..},
/// "v2":{"reachable":bool|null,..}}`; with `EXPECT=public|private`, ok only when the verdict equals it.
pub async fn autonat_client() {
    if let Ok(m) = std::env::var("AUTONAT_MODE") {
        if !m.is_empty() && m != "probe" {
            fail("autonat-client", format!("AUTONAT_MODE {m:?}: the rust control client only probes"));
        }
    }
    let secs = timeout_secs();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        fail("autonat-client", format!("timeout after {secs} s"));
    });
    let mut ctx = Ctx::new().await;
    let server: Multiaddr = ctx
        .wait("autonat_multiaddr")
        .await
        .parse()
        .unwrap_or_else(|e| fail("autonat-client", format!("autonat_multiaddr: {e}")));
    let (mut node, _inbound) = Node::new(Parts { autonat_client: true, ..Default::default() }, &[]);
    let Some(Protocol::P2p(sid)) = server.iter().last() else {
        fail("autonat-client", format!("{server} does not end with /p2p/<id>"));
    };
    node.swarm.behaviour_mut().autonat.as_mut().expect("v1 on").add_server(sid, Some(server.clone()));
    node.listen_on(false).await;
    node.connect_relay(&server).await;
    node.until(|n| !n.autonat_v1.is_empty()).await;
    // rust's v2 server sends no answer when its dial-back times out (filtered NAT): bound the wait.
    let v2_wait = node.until(|n| !n.autonat_v2.is_empty());
    let _ = tokio::time::timeout(Duration::from_secs(V2_WAIT_SECS), v2_wait).await;
    let v1 = match &node.autonat_v1[0] {
        Ok(a) => format!(r#"{{"reachable":true,"addr":{}}}"#, json(&a.to_string())),
        Err(e) => format!(r#"{{"reachable":false,"error":{}}}"#, json(e)),
    };
    let v2_ok = node.autonat_v2.first().map(|(_, r)| r.is_ok());
    let v2 = match node.autonat_v2.first() {
        Some((addr, Ok(()))) => format!(r#"{{"reachable":true,"addr":{}}}"#, json(&addr.to_string())),
        Some((addr, Err(e))) => format!(r#"{{"reachable":false,"addr":{},"error":{}}}"#, json(&addr.to_string()), json(e)),
        None => format!(r#"{{"reachable":null,"error":"no v2 result within {V2_WAIT_SECS} s"}}"#),
    };
    // The verdict: v1's, when v2 agrees or gave no answer; "mixed" when they disagree.
    let v1_ok = node.autonat_v1[0].is_ok();
    let verdict = match v2_ok {
        Some(v2) if v2 != v1_ok => "mixed",
        _ if v1_ok => "public",
        _ => "private",
    };
    let ok = std::env::var("EXPECT").map_or(true, |want| want.is_empty() || want == verdict);
    finish(ok, format!(r#"{{"ok":{ok},"role":"autonat-client","reachability":"{verdict}","v1":{v1},"v2":{v2}}}"#))
}

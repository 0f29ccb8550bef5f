//! Scenario `request-response` (interop/CONTRACT.md): rust-libp2p's request_response::cbor and
//! ::json behaviours on `/weft-interop/rr/cbor/1.0.0` and `/weft-interop/rr/json/1.0.0`.
//!
//! Listener: serves both protocols (Resp { id, payload: resp_len bytes, byte j = j & 0xff } after
//! delay_ms, or no response when omit) and pushes listenerResult once it has sent every expected
//! response, seen both omissions and the delayed request, and seen the oversize request fail.
//! Dialer: dial, one ping, then the sub-checks (a) one request per codec, (b) 64 concurrent,
//! (c) oversize then a normal request, (d) timeout (a second cbor behaviour with a 2 s
//! request_timeout), (e) omitted responses; the first failed sub-check is the error.
//! Over the transport and secure channel the runner names (TCP + Noise or TLS, or QUIC v1: scenario_net.rs).

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    io,
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{AsyncRead, AsyncWrite, StreamExt as _};
use libp2p::{
    identify, identity,
    multiaddr::Protocol,
    ping,
    request_response::{
        self, cbor, json, InboundFailure, InboundRequestId, Message, OutboundFailure, OutboundRequestId,
        ProtocolSupport, ResponseChannel,
    },
    swarm::{NetworkBehaviour, SwarmEvent},
    PeerId, StreamProtocol, Swarm, SwarmBuilder,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::{arm_test_timeout, die, ms, push_listener_result, resp::Redis, scenario_net::{self, scenario_transports, Net}, take_listener_addr, wait_listener_result};

macro_rules! log {
    ($($t:tt)*) => { eprintln!("[rust-peer] {}", format!($($t)*)) };
}

const CBOR: &str = "/weft-interop/rr/cbor/1.0.0";
const JSON: &str = "/weft-interop/rr/json/1.0.0";
const MIB: usize = 1024 * 1024;
/// The dialer's request timeout in sub-check (d); the listener delays DELAY_MS.
const SHORT_TIMEOUT: Duration = Duration::from_secs(2);
const DELAY_MS: u32 = 4000;
const ID_A_CBOR: u64 = (1 << 40) + 1;
const ID_A_JSON: u64 = (1 << 40) + 2;
const ID_B0: u64 = 1000;
const CONCURRENT: u64 = 64;
const ID_OVERSIZE: u64 = 2000;
const ID_AFTER: u64 = 2001;
const ID_DELAY: u64 = 3000;
const ID_OMIT_CBOR: u64 = 4000;
const ID_OMIT_JSON: u64 = 4001;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Req {
    id: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    delay_ms: u32,
    resp_len: u32,
    omit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resp {
    id: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

/// Request payloads: 16 bytes, byte j = (id + j) & 0xff (the oversize one: 1 MiB + 1 such bytes).
fn req_payload(id: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((id + j as u64) & 0xff) as u8).collect()
}

fn resp_payload(len: u32) -> Vec<u8> {
    (0..len as usize).map(|j| (j & 0xff) as u8).collect()
}

fn normal(id: u64, resp_len: u32) -> Req {
    Req { id, payload: req_payload(id, 16), delay_ms: 0, resp_len, omit: false }
}

/// rust-libp2p 0.57 reports nothing when `read_request` fails (the oversize request: cbor4ii cannot
/// decode the 1 MiB `take` kept): the handler logs it at debug level and drops the stream, and the
/// behaviour emits no InboundFailure for a request id it never handed out. This wrapper around
/// the stock codec counts those failures, so the listener can see the oversize request fail.
#[derive(Clone)]
struct Observed<C> {
    inner: C,
    read_failures: Arc<AtomicU32>,
}

impl<C> request_response::Codec for Observed<C>
where
    C: request_response::Codec + Send,
    C::Protocol: Sync,
{
    type Protocol = C::Protocol;
    type Request = C::Request;
    type Response = C::Response;

    fn read_request<T>(&mut self, p: &Self::Protocol, io: &mut T) -> impl Future<Output = io::Result<Self::Request>> + Send
    where
        T: AsyncRead + Unpin + Send,
    {
        let failures = self.read_failures.clone();
        let read = self.inner.read_request(p, io);
        async move {
            let r = read.await;
            if let Err(e) = &r {
                log!("read_request failed: {e} (the oversize request)");
                failures.fetch_add(1, Ordering::SeqCst);
            }
            r
        }
    }

    fn read_response<T>(&mut self, p: &Self::Protocol, io: &mut T) -> impl Future<Output = io::Result<Self::Response>> + Send
    where
        T: AsyncRead + Unpin + Send,
    {
        self.inner.read_response(p, io)
    }

    fn write_request<T>(&mut self, p: &Self::Protocol, io: &mut T, req: Self::Request) -> impl Future<Output = io::Result<()>> + Send
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.inner.write_request(p, io, req)
    }

    fn write_response<T>(&mut self, p: &Self::Protocol, io: &mut T, res: Self::Response) -> impl Future<Output = io::Result<()>> + Send
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.inner.write_response(p, io, res)
    }
}

type CborRr = request_response::Behaviour<Observed<cbor::codec::Codec<Req, Resp>>>;
type JsonRr = request_response::Behaviour<Observed<json::codec::Codec<Req, Resp>>>;

#[derive(NetworkBehaviour)]
struct RrBehaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    cbor: CborRr,
    json: JsonRr,
    /// Outbound only, request_timeout 2 s: sub-check (d).
    short: cbor::Behaviour<Req, Resp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Which {
    Cbor,
    Json,
    Short,
}

/// A failed outbound request: a kind the checks compare, and the detail for the log.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    detail: String,
}

fn outbound_kind(e: &OutboundFailure) -> &'static str {
    match e {
        OutboundFailure::DialFailure => "dial-failure",
        OutboundFailure::Timeout => "timeout",
        OutboundFailure::ConnectionClosed => "connection-closed",
        OutboundFailure::UnsupportedProtocols => "unsupported-protocols",
        OutboundFailure::Io(_) => "io",
    }
}

enum Cmd {
    Send(Which, PeerId, Req, oneshot::Sender<Result<Resp, Failure>>),
    Respond(Which, ResponseChannel<Resp>, Resp),
}

enum Ev {
    Ping(PeerId, Result<Duration, String>),
    DialFailed(String),
    /// Listener: the checks are done (Ok) or one failed (Err).
    Result(Result<(), String>),
}

/// What the listener has seen (it pushes ok once `complete`).
#[derive(Default)]
struct Served {
    sent: HashSet<u64>,
    omitted: HashSet<u64>,
    delayed: bool,
    /// read_request failures (Observed), shared with both codecs.
    oversize: Arc<AtomicU32>,
    /// Inbound request id -> the request's id, per behaviour.
    inbound: HashMap<(Which, InboundRequestId), u64>,
    done: bool,
}

impl Served {
    fn complete(&self) -> bool {
        let mut want: Vec<u64> = vec![ID_A_CBOR, ID_A_JSON, ID_AFTER];
        want.extend(ID_B0..ID_B0 + CONCURRENT);
        want.iter().all(|id| self.sent.contains(id))
            && self.omitted.contains(&ID_OMIT_CBOR)
            && self.omitted.contains(&ID_OMIT_JSON)
            && self.delayed
            && self.oversize.load(Ordering::SeqCst) >= 1
    }
    fn summary(&self) -> String {
        format!(
            "{} of {} responses sent, omissions {:?}, delayed request {}, oversize failures {}",
            self.sent.len(),
            CONCURRENT + 3,
            self.omitted,
            if self.delayed { "seen" } else { "not seen" },
            self.oversize.load(Ordering::SeqCst)
        )
    }
}

fn build(key: identity::Keypair, net: Net, read_failures: Arc<AtomicU32>) -> Swarm<RrBehaviour> {
    let both = |p: &'static str| [(StreamProtocol::new(p), ProtocolSupport::Full)];
    let cbor_codec = Observed { inner: cbor::codec::Codec::<Req, Resp>::default(), read_failures: read_failures.clone() };
    let json_codec = Observed { inner: json::codec::Codec::<Req, Resp>::default(), read_failures };
    scenario_transports!(SwarmBuilder::with_existing_identity(key).with_tokio(), net)
        .with_behaviour(|key| RrBehaviour {
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(1))),
            identify: identify::Behaviour::new(
                identify::Config::new(crate::PROTOCOL_VERSION.to_string(), key.public())
                    .with_agent_version(format!("rust-libp2p-interop/{}", crate::LIBP2P_VERSION)),
            ),
            cbor: request_response::Behaviour::with_codec(cbor_codec, both(CBOR), request_response::Config::default()),
            json: request_response::Behaviour::with_codec(json_codec, both(JSON), request_response::Config::default()),
            short: cbor::Behaviour::new(
                [(StreamProtocol::new(CBOR), ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(SHORT_TIMEOUT),
            ),
        })
        .unwrap_or_else(|e| die(format!("behaviour: {e}")))
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build()
}

/// Owns the swarm: runs commands, answers requests (listener), reports to the scenario logic.
fn spawn_driver(
    mut swarm: Swarm<RrBehaviour>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    ev_tx: mpsc::UnboundedSender<Ev>,
    closed: Arc<AtomicBool>,
    read_failures: Arc<AtomicU32>,
) {
    tokio::spawn(async move {
        let mut pending: HashMap<(Which, OutboundRequestId), oneshot::Sender<Result<Resp, Failure>>> = HashMap::new();
        let mut served = Served { oversize: read_failures, ..Default::default() };
        loop {
            tokio::select! {
                Some(cmd) = cmds.recv() => match cmd {
                    Cmd::Send(w, peer, req, tx) => {
                        let b = swarm.behaviour_mut();
                        let id = match w {
                            Which::Cbor => b.cbor.send_request(&peer, req),
                            Which::Json => b.json.send_request(&peer, req),
                            Which::Short => b.short.send_request(&peer, req),
                        };
                        pending.insert((w, id), tx);
                    }
                    Cmd::Respond(w, ch, resp) => {
                        let b = swarm.behaviour_mut();
                        let r = match w {
                            Which::Json => b.json.send_response(ch, resp),
                            _ => b.cbor.send_response(ch, resp),
                        };
                        if r.is_err() {
                            log!("send_response: the stream is gone (expected for the delayed request)");
                        }
                    }
                },
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                        log!("connected to {peer_id} via {}", endpoint.get_remote_address());
                    }
                    SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                        log!("connection to {peer_id} closed: {cause:?}");
                        closed.store(true, Ordering::SeqCst);
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        let _ = ev_tx.send(Ev::DialFailed(error.to_string()));
                    }
                    SwarmEvent::Behaviour(RrBehaviourEvent::Ping(ping::Event { peer, result, .. })) => {
                        let _ = ev_tx.send(Ev::Ping(peer, result.map_err(|e| e.to_string())));
                    }
                    SwarmEvent::Behaviour(RrBehaviourEvent::Cbor(e)) => {
                        on_rr(Which::Cbor, e, &mut pending, &mut served, &cmd_tx, &ev_tx)
                    }
                    SwarmEvent::Behaviour(RrBehaviourEvent::Json(e)) => {
                        on_rr(Which::Json, e, &mut pending, &mut served, &cmd_tx, &ev_tx)
                    }
                    SwarmEvent::Behaviour(RrBehaviourEvent::Short(e)) => {
                        on_rr(Which::Short, e, &mut pending, &mut served, &cmd_tx, &ev_tx)
                    }
                    _ => {}
                },
            }
        }
    });
}

fn on_rr(
    w: Which,
    e: request_response::Event<Req, Resp>,
    pending: &mut HashMap<(Which, OutboundRequestId), oneshot::Sender<Result<Resp, Failure>>>,
    served: &mut Served,
    cmd_tx: &mpsc::UnboundedSender<Cmd>,
    ev_tx: &mpsc::UnboundedSender<Ev>,
) {
    let fail = |served: &mut Served, msg: String| {
        if !served.done {
            served.done = true;
            let _ = ev_tx.send(Ev::Result(Err(msg)));
        }
    };
    match e {
        request_response::Event::Message { message: Message::Response { request_id, response }, .. } => {
            if let Some(tx) = pending.remove(&(w, request_id)) {
                let _ = tx.send(Ok(response));
            }
            return;
        }
        request_response::Event::OutboundFailure { request_id, error, .. } => {
            if let Some(tx) = pending.remove(&(w, request_id)) {
                let _ = tx.send(Err(Failure { kind: outbound_kind(&error), detail: format!("{error:?}") }));
            }
            return;
        }
        request_response::Event::Message { message: Message::Request { request_id, request, channel }, .. } => {
            let want = req_payload(request.id, 16);
            if request.payload != want {
                fail(served, format!("request {} ({w:?}): payload of {} bytes is not the pattern", request.id, request.payload.len()));
                return;
            }
            served.inbound.insert((w, request_id), request.id);
            if request.omit {
                log!("request {} ({w:?}): omit, dropping the response channel", request.id);
                served.omitted.insert(request.id);
                drop(channel);
            } else {
                let resp = Resp { id: request.id, payload: resp_payload(request.resp_len) };
                if request.delay_ms > 0 {
                    log!("request {} ({w:?}): answering after {} ms", request.id, request.delay_ms);
                    served.delayed = true;
                    let tx = cmd_tx.clone();
                    let d = Duration::from_millis(request.delay_ms as u64);
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        let _ = tx.send(Cmd::Respond(w, channel, resp));
                    });
                } else {
                    let _ = cmd_tx.send(Cmd::Respond(w, channel, resp));
                }
            }
        }
        request_response::Event::ResponseSent { request_id, .. } => {
            if let Some(id) = served.inbound.remove(&(w, request_id)) {
                if id != ID_DELAY {
                    served.sent.insert(id);
                }
            }
        }
        request_response::Event::InboundFailure { request_id, error, .. } => {
            // ResponseOmission follows a dropped channel; the delayed request's stream was reset by the dialer.
            let id = served.inbound.remove(&(w, request_id));
            log!("inbound failure on request {id:?} ({w:?}): {error:?}");
            if let InboundFailure::UnsupportedProtocols = error {
                fail(served, format!("inbound failure ({w:?}): {error:?}"));
            }
        }
    }
    if !served.done && served.complete() {
        served.done = true;
        let _ = ev_tx.send(Ev::Result(Ok(())));
    } else if !served.done {
        log!("listener: {}", served.summary());
    }
}

#[derive(Clone)]
struct Client {
    cmds: mpsc::UnboundedSender<Cmd>,
    peer: PeerId,
}

impl Client {
    async fn request(&self, w: Which, req: Req) -> Result<Resp, Failure> {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Send(w, self.peer, req, tx)).is_err() {
            die("swarm task ended");
        }
        rx.await.unwrap_or_else(|_| Err(Failure { kind: "dropped", detail: "the driver dropped the request".into() }))
    }

    /// A request that must succeed with the pattern response.
    async fn expect_ok(&self, w: Which, req: Req) -> Result<(), String> {
        let (id, len) = (req.id, req.resp_len);
        match self.request(w, req).await {
            Ok(r) if r.id != id => Err(format!("request {id} ({w:?}): response id {} ", r.id)),
            Ok(r) if r.payload != resp_payload(len) => {
                Err(format!("request {id} ({w:?}): response payload of {} bytes is not the {len}-byte pattern", r.payload.len()))
            }
            Ok(_) => Ok(()),
            Err(f) => Err(format!("request {id} ({w:?}) failed: {} {}", f.kind, f.detail)),
        }
    }

    /// A request that must fail with `kind`.
    async fn expect_fail(&self, w: Which, req: Req, kind: &str) -> Result<(), String> {
        let id = req.id;
        match self.request(w, req).await {
            Ok(r) => Err(format!("request {id} ({w:?}): got a response ({} payload bytes), want a {kind} failure", r.payload.len())),
            Err(f) if f.kind == kind => {
                log!("request {id} ({w:?}) failed as expected: {}", f.detail);
                Ok(())
            }
            Err(f) => Err(format!("request {id} ({w:?}): failed with {} {}, want {kind}", f.kind, f.detail)),
        }
    }
}

async fn sub_checks(c: &Client, closed: &AtomicBool) -> Result<(), String> {
    let alive = |step: &str| {
        if closed.load(Ordering::SeqCst) {
            Err(format!("{step}: the connection closed"))
        } else {
            Ok(())
        }
    };
    // (a)
    c.expect_ok(Which::Cbor, normal(ID_A_CBOR, 100_000)).await.map_err(|e| format!("(a) one request per codec: {e}"))?;
    c.expect_ok(Which::Json, normal(ID_A_JSON, 10_000)).await.map_err(|e| format!("(a) one request per codec: {e}"))?;
    log!("(a) one request per codec: ok");
    // (b)
    let t = Instant::now();
    let all = futures::future::join_all((0..CONCURRENT).map(|i| c.expect_ok(Which::Cbor, normal(ID_B0 + i, (i * 16) as u32)))).await;
    if let Some(e) = all.into_iter().find_map(|r| r.err()) {
        return Err(format!("(b) 64 concurrent: {e}"));
    }
    log!("(b) 64 concurrent: ok in {:.0} ms", ms(t.elapsed()));
    // (c)
    let big = Req { id: ID_OVERSIZE, payload: req_payload(ID_OVERSIZE, MIB + 1), delay_ms: 0, resp_len: 10, omit: false };
    c.expect_fail(Which::Cbor, big, "io").await.map_err(|e| format!("(c) oversize: {e}"))?;
    c.expect_ok(Which::Cbor, normal(ID_AFTER, 10)).await.map_err(|e| format!("(c) oversize, then a normal request: {e}"))?;
    alive("(c) oversize")?;
    log!("(c) oversize: ok");
    // (d)
    let slow = Req { delay_ms: DELAY_MS, ..normal(ID_DELAY, 10) };
    let t = Instant::now();
    c.expect_fail(Which::Short, slow, "timeout").await.map_err(|e| format!("(d) timeout: {e}"))?;
    log!("(d) timeout: ok after {:.0} ms", ms(t.elapsed()));
    // (e)
    let omit = |id| Req { omit: true, ..normal(id, 10) };
    c.expect_fail(Which::Cbor, omit(ID_OMIT_CBOR), "io").await.map_err(|e| format!("(e) omit: {e}"))?;
    c.expect_fail(Which::Json, omit(ID_OMIT_JSON), "io").await.map_err(|e| format!("(e) omit: {e}"))?;
    alive("(e) omit")?;
    log!("(e) omit: ok");
    Ok(())
}

pub async fn run(is_dialer: bool, ip: std::net::IpAddr, redis_addr: String, timeout: u64) {
    arm_test_timeout(timeout);
    let key = identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let read_failures = Arc::new(AtomicU32::new(0));
    let net = scenario_net::from_env();
    let mut swarm = build(key, net, read_failures.clone());
    let mut redis = Redis::connect(&redis_addr, Duration::from_secs(timeout)).await.unwrap_or_else(|e| die(e));
    log!("peer id {local}, scenario request-response, {}, dialer {is_dialer}", net.name());
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let closed = Arc::new(AtomicBool::new(false));

    if is_dialer {
        let (addr, remote) = take_listener_addr(&mut redis, timeout).await;
        let start = Instant::now();
        swarm.dial(addr.clone()).unwrap_or_else(|e| die(format!("dial: {e}")));
        spawn_driver(swarm, cmd_tx.clone(), cmd_rx, ev_tx, closed.clone(), read_failures);
        let (handshake, rtt) = loop {
            match ev_rx.recv().await.unwrap_or_else(|| die("swarm task ended")) {
                Ev::Ping(p, Ok(rtt)) if p == remote => break (start.elapsed(), rtt),
                Ev::Ping(p, Err(e)) if p == remote => die(format!("ping failed: {e}")),
                Ev::DialFailed(e) => die(format!("dial failed: {e}")),
                _ => {}
            }
        };
        log!("handshake+1RTT {:.3} ms, ping RTT {:.3} ms", ms(handshake), ms(rtt));
        let client = Client { cmds: cmd_tx, peer: remote };
        if let Err(e) = sub_checks(&client, &closed).await {
            die(format!("request-response: {e}"));
        }
        log!("request-response checks passed");
        wait_listener_result(&mut redis).await;
        println!("{{\"handshakePlusOneRTTMillis\": {}, \"pingRTTMilllis\": {}}}", ms(handshake), ms(rtt));
        std::process::exit(0);
    }

    let listen = net.listen_addr(ip);
    swarm.listen_on(listen.clone()).unwrap_or_else(|e| die(format!("listen on {listen}: {e}")));
    // The bound address, before the driver takes the swarm.
    let bound = loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => break address,
            _ => {}
        }
    };
    spawn_driver(swarm, cmd_tx, cmd_rx, ev_tx, closed, read_failures);
    if ip.is_unspecified() {
        log!("note: bound to {bound}; request-response publishes the bound address as it is");
    }
    let published = bound.with(Protocol::P2p(local));
    redis.rpush("listenerAddr", &published.to_string()).await.unwrap_or_else(|e| die(e));
    log!("listening; published {published}");
    // 60 s for the checks, from the start (the dialer connects at once).
    let result = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(Ev::Result(r)) = ev_rx.recv().await {
                return r;
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("not every expected exchange happened within 60 s (see the listener's last summary line)".into()));
    push_listener_result(&mut redis, &result).await;
    // Serve until killed.
    std::future::pending::<()>().await;
}

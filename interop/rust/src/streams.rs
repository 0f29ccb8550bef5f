//! A minimal "arbitrary protocol streams" behaviour.
//!
//! `libp2p-stream` (0.5.0-alpha) hands inbound streams over a channel of capacity 1 and silently
//! drops (resets) streams when the application has not picked up the previous one yet; with 64
//! streams negotiated at once that loses streams. It also negotiates only one outbound stream at a
//! time per connection. This module does the same job with an unbounded inbound queue and
//! concurrent outbound negotiation.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    future::{ready, Ready},
    task::{Context, Poll},
};

use libp2p::{
    core::{transport::PortUse, upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo}, Endpoint},
    swarm::{
        handler::{ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound},
        ConnectionClosed, ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId,
        FromSwarm, NetworkBehaviour, NotifyHandler, SubstreamProtocol, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId, Stream, StreamProtocol,
};
use tokio::sync::{mpsc, oneshot};

pub type Inbound = (PeerId, StreamProtocol, Stream);

#[derive(Debug)]
pub struct OpenReq {
    peer: PeerId,
    protocol: StreamProtocol,
    reply: oneshot::Sender<Result<Stream, String>>,
}

/// Cloneable handle to open outbound streams.
#[derive(Clone)]
pub struct Control {
    tx: mpsc::UnboundedSender<OpenReq>,
}

impl Control {
    pub async fn open(&self, peer: PeerId, protocol: &'static str) -> Result<Stream, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(OpenReq { peer, protocol: StreamProtocol::new(protocol), reply })
            .map_err(|_| "swarm gone".to_string())?;
        rx.await.map_err(|_| "stream request dropped".to_string())?
    }
}

pub struct Behaviour {
    protocols: Vec<StreamProtocol>,
    inbound_tx: mpsc::UnboundedSender<Inbound>,
    open_rx: mpsc::UnboundedReceiver<OpenReq>,
    connections: HashMap<PeerId, Vec<ConnectionId>>,
}

impl Behaviour {
    /// Serves `protocols` (inbound streams arrive on the returned receiver).
    pub fn new(protocols: &[&'static str]) -> (Self, Control, mpsc::UnboundedReceiver<Inbound>) {
        let (inbound_tx, inbound_rx) = mpsc::unbounded_channel();
        let (tx, open_rx) = mpsc::unbounded_channel();
        (
            Self {
                protocols: protocols.iter().map(|p| StreamProtocol::new(p)).collect(),
                inbound_tx,
                open_rx,
                connections: HashMap::new(),
            },
            Control { tx },
            inbound_rx,
        )
    }

    fn handler(&self, remote: PeerId) -> Handler {
        Handler {
            remote,
            protocols: self.protocols.clone(),
            inbound_tx: self.inbound_tx.clone(),
            queue: VecDeque::new(),
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.connections.entry(e.peer_id).or_default().push(e.connection_id)
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { peer_id, connection_id, .. }) => {
                if let Some(v) = self.connections.get_mut(&peer_id) {
                    v.retain(|c| *c != connection_id);
                    if v.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, ev: THandlerOutEvent<Self>) {
        match ev {}
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while let Poll::Ready(Some(req)) = self.open_rx.poll_recv(cx) {
            match self.connections.get(&req.peer).and_then(|v| v.first()) {
                Some(conn) => {
                    return Poll::Ready(ToSwarm::NotifyHandler {
                        peer_id: req.peer,
                        handler: NotifyHandler::One(*conn),
                        event: req,
                    })
                }
                None => {
                    let _ = req.reply.send(Err(format!("not connected to {}", req.peer)));
                }
            }
        }
        Poll::Pending
    }
}

pub struct Handler {
    remote: PeerId,
    protocols: Vec<StreamProtocol>,
    inbound_tx: mpsc::UnboundedSender<Inbound>,
    queue: VecDeque<OpenReq>,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = OpenReq;
    type ToBehaviour = Infallible;
    type InboundProtocol = Upgrade;
    type OutboundProtocol = Upgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = oneshot::Sender<Result<Stream, String>>;

    fn listen_protocol(&self) -> SubstreamProtocol<Upgrade, ()> {
        SubstreamProtocol::new(Upgrade(self.protocols.clone()), ())
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Upgrade, Self::OutboundOpenInfo, Infallible>> {
        if let Some(req) = self.queue.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(Upgrade(vec![req.protocol]), req.reply),
            });
        }
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, req: OpenReq) {
        self.queue.push_back(req);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<Upgrade, Upgrade, (), Self::OutboundOpenInfo>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: (stream, proto),
                ..
            }) => {
                let _ = self.inbound_tx.send((self.remote, proto, stream));
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: (stream, _),
                info,
            }) => {
                let _ = info.send(Ok(stream));
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info, error }) => {
                let _ = info.send(Err(format!("open stream failed: {error:?}")));
            }
            _ => {}
        }
    }
}

pub struct Upgrade(Vec<StreamProtocol>);

impl UpgradeInfo for Upgrade {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Infallible>>;
    fn upgrade_inbound(self, s: Stream, info: StreamProtocol) -> Self::Future {
        ready(Ok((s, info)))
    }
}

impl OutboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Infallible>>;
    fn upgrade_outbound(self, s: Stream, info: StreamProtocol) -> Self::Future {
        ready(Ok((s, info)))
    }
}

/** Every fuzz target, in the order the CLI and the short test run them. */
import type { Target } from './engine.js'
import { connectionTarget } from './target-connection.js'
import { gossipsubTarget, identifyTarget, kadTarget } from './targets-behaviour.js'
import { multistreamTarget, noiseTarget, yamuxTarget } from './targets-stream.js'
import { multiaddrTarget, peerIdTarget, protobufTarget, varintTarget } from './targets-codec.js'
import { relayTarget } from './target-relay.js'
import { relayServerTarget } from './target-relay-server.js'
import { dcutrTarget } from './target-dcutr.js'
import { autonatTarget } from './target-autonat.js'
import { mdnsTarget } from './target-mdns.js'
import { rendezvousTarget } from './target-rendezvous.js'
import { cborTarget } from './target-cbor.js'
import { reqrespTarget } from './target-reqresp.js'
import { rendezvousClientTarget } from './target-rendezvous-client.js'
import { rendezvousServerTarget } from './target-rendezvous-server.js'
import { websocketTarget } from './target-websocket.js'
import { traceTarget } from './target-trace.js'
import { quicFrameTarget, quicPacketTarget } from './target-quic.js'
import { quicRecoveryTarget } from './target-quic-recovery.js'
import { quicStreamsTarget } from './target-quic-streams.js'
import { quicConnectionTarget } from './target-quic-connection.js'
import { quicEndpointTarget } from './target-quic-endpoint.js'
import { tlsTarget } from './target-tls.js'
import { tlsCertTarget } from './target-tls-cert.js'

export const TARGETS: readonly Target[] = [
  varintTarget,
  protobufTarget,
  multiaddrTarget,
  peerIdTarget,
  multistreamTarget,
  noiseTarget,
  yamuxTarget,
  identifyTarget,
  kadTarget,
  gossipsubTarget,
  connectionTarget,
  relayTarget,
  relayServerTarget,
  dcutrTarget,
  autonatTarget,
  mdnsTarget,
  rendezvousTarget,
  cborTarget,
  reqrespTarget,
  rendezvousClientTarget,
  rendezvousServerTarget,
  websocketTarget,
  traceTarget,
  quicFrameTarget,
  quicPacketTarget,
  quicRecoveryTarget,
  quicStreamsTarget,
  quicConnectionTarget,
  quicEndpointTarget,
  tlsTarget,
  tlsCertTarget,
]

export function targetByName(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name)
}

/**
 * `weft chat`: the application of the seeds in one command (src/cli/chat-core.ts holds the wire
 * formats, limits and input parsing; this file the node, the discovery loops and the terminal).
 *
 *   weft chat [--topic NAME] [--nick NAME] [--bootstrap <ma>]... [--mdns] [--listen <ma>]...
 *             [--identity <file>] [--json]
 *
 * Joins the gossipsub topic `weft-chat/<NAME>` (default `lobby`), prints each message with its
 * sender, sends each line typed on stdin; `/msg <peer> <text>` is a direct message over
 * request-response `/weft/chat/dm/1.0.0` (json). Peers are found on the LAN by mDNS (`--mdns`),
 * through bootstrap peers (kept connected), and through the DHT: the room's CID (sha2-256 of the
 * topic name, chat-core roomKey) is provided and its providers looked up and dialled periodically.
 * `/quit`, end of input and SIGINT leave: unsubscribe, stop the node, exit 0.
 *
 * `--json` prints one JSON object per line and event: started, message, sent, dm, dm:delivered,
 * join, leave, connected, disconnected, peers, dropped, error, stopped. Nothing of the room is kept
 * beyond what is printed: the only memory is nick and rate-limit state per peer, bounded.
 */
import { createHash } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { createInterface, type Interface } from 'node:readline'
import { createNode, gossipsub, kadDht, loadOrCreateKey, nodeCrypto, type WeftNode } from '../node.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { json as jsonCodec, requestResponse, type RequestResponse } from '../request-response/index.js'
import { mdns } from '../mdns/index.js'
import { udpMdnsSocket } from '../io/mdns-socket.js'
import { bootstrapPeers, DhtUsage } from './dht.js'
import { UsageLine } from './args.js'
import { UsageError } from '../core/errors.js'
import {
  BoundedMap, CHAT_HELP, DEFAULT_CHAT_LIMITS, DM_PROTOCOL, RateLimiter, checkDm, checkNick, checkOutgoing, decodeMessage, dmOutcome,
  encodeMessage, parseLine, printable, resolvePeer, roomKey, shortId, topicOf, type ChatLimits, type KnownPeer,
} from './chat-core.js'

export interface ChatCmdOptions {
  room: string
  nick?: string
  bootstrap: string[]
  mdns: boolean
  listen: string[]
  /** A key file (created when missing); without it each run has a fresh identity. */
  identity?: string
  json: boolean
  limits?: Partial<ChatLimits>
  /** DHT rounds (provide the room, find its providers): first after this many ms, then doubling up to `dhtMaxInterval`. */
  dhtFirstDelay?: number
  dhtMaxInterval?: number
}

/** A line of output: JSON, or text that keeps the prompt and what is typed after it. */
type Emit = (event: string, fields: Record<string, unknown>, text: string | undefined) => void

/** DM request timeout (ms) and how long `/msg` may look a peer up in the DHT. */
const DM_TIMEOUT_MS = 10_000
/** Providers dialled per DHT round at most. Stops: a poisoned provider list turning into a dial storm. */
const MAX_PROVIDER_DIALS = 8
/** The first and the longest gap between bootstrap redials (ms). */
const BOOTSTRAP_BACKOFF = [1_000, 30_000] as const
/** Drops are reported once, then at most once per this many ms. Stops: a flood of over-long messages becoming a flood of lines. */
const DROP_REPORT_MS = 5_000

/** How often the room's mesh is looked at (ms). */
const MESH_POLL_MS = 250

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
}

/** Our addresses with 0.0.0.0 / :: replaced by each interface's address, so others can dial them. */
function dialableAddrs(node: WeftNode): string[] {
  const ifaces = Object.values(networkInterfaces()).flat().filter((i) => i !== undefined)
  const out = new Set<string>()
  for (const a of node.getMultiaddrs().map(String)) {
    const m = /^\/(ip4|ip6)\/(0\.0\.0\.0|::)(\/.*)$/.exec(a)
    if (m === null) { out.add(a); continue }
    for (const i of ifaces) if ((i.family === 'IPv4') === (m[1] === 'ip4') && !i.address.startsWith('fe80')) out.add(`/${m[1]}/${i.address}${m[3]}`)
  }
  return [...out]
}

function codeOf(e: unknown): string {
  return typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'error'
}

function messageOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  const c = codeOf(e)
  return m.startsWith(`${c}: `) ? m.slice(c.length + 2) : m
}

export async function runChat(o: ChatCmdOptions): Promise<number> {
  const limits: ChatLimits = { ...DEFAULT_CHAT_LIMITS, ...o.limits }
  const nick = o.nick === undefined ? undefined : checkNick(o.nick, limits)
  if (!/^[\x21-\x7e]{1,64}$/.test(o.room)) throw new UsageLine('--topic must be 1 to 64 printable ASCII characters without spaces')
  const topic = topicOf(o.room)
  let boot
  try {
    boot = bootstrapPeers(o.bootstrap)
  } catch (e) {
    if (e instanceof DhtUsage) throw new UsageLine(e.message)
    throw e
  }
  const key = o.identity === undefined ? undefined : (await loadOrCreateKey(o.identity, nodeCrypto)).key
  const rate = new RateLimiter(limits.dmBurst, limits.dmPerSecond, limits.maxKnownPeers)
  /** peer id -> nick (or '' for none), for /msg and for showing senders; bounded. */
  const known = new BoundedMap<string, string>(limits.maxKnownPeers)
  let emit: Emit = () => {}
  const who = (id: string): string => {
    const n = known.get(id)
    return n !== undefined && n !== '' ? `${n} ${shortId(id)}` : shortId(id)
  }
  const remember = (id: string, n: string | undefined): void => {
    if (n !== undefined || !known.has(id)) known.set(id, n ?? known.get(id) ?? '')
  }

  const dm = requestResponse<unknown, unknown>({
    protocol: DM_PROTOCOL,
    codec: jsonCodec(),
    maxRequestBytes: limits.maxDmRequestBytes,
    maxResponseBytes: 1024,
    timeout: DM_TIMEOUT_MS,
    maxConcurrentStreams: 16,
    handler: (req, { peer }) => {
      const from = peer.toString()
      if (!rate.take(from, Date.now())) return { ok: false, error: 'chat/rate-limited' }
      const m = checkDm(req, limits)
      if ('error' in m) {
        emit('dropped', { from, reason: m.error }, `dropped a direct message from ${who(from)} (${m.error})`)
        return { ok: false, error: m.error }
      }
      remember(from, m.nick)
      emit('dm', { from, nick: m.nick ?? null, text: m.text }, `[dm from ${who(from)}] ${printable(m.text)}`)
      return { ok: true }
    },
  })
  const node = await createNode({
    ...(key !== undefined ? { privateKey: key } : {}),
    listen: o.listen,
    services: {
      dht: kadDht({ mode: 'server', bootstrapPeers: boot }),
      pubsub: gossipsub(),
      dm,
      ...(o.mdns ? { mdns: mdns({ socket: udpMdnsSocket(), autoDial: true }) } : {}),
    },
  })
  const me = node.peerId.toString()
  const tty = !o.json && process.stdout.isTTY === true && process.stdin.isTTY === true
  let rl: Interface | undefined
  emit = (event, fields, text) => {
    if (o.json) {
      console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }))
      return
    }
    if (text === undefined) return
    const line = `${new Date().toISOString().slice(11, 19)} ${text}`
    if (tty && rl !== undefined) {
      // erase the prompt line, print, redraw the prompt with what was typed so far
      process.stdout.write(`\r\x1b[2K${line}\n`)
      rl.prompt(true)
    } else console.log(line)
  }
  const fail = (e: unknown): void => emit('error', { code: codeOf(e), message: messageOf(e) }, `error: ${codeOf(e)}: ${messageOf(e)}`)

  const room = roomKey(topic, sha256)
  const addrs = dialableAddrs(node)
  emit('started', { peer: me, nick: nick ?? null, topic, room: room.cid, addrs }, undefined)
  if (!o.json) {
    console.log(`weft chat: you are ${nick !== undefined ? `${nick} ` : ''}${me} in ${topic}`)
    for (const a of addrs) console.log(`  listening on ${a}`)
    if (addrs[0] !== undefined) console.log(`  others join with: weft chat${o.room !== 'lobby' ? ` --topic ${o.room}` : ''} --bootstrap ${addrs[0]}`)
    console.log('type a message and Enter; /help for commands')
  }

  // ---- the room
  const members = new Set<string>()
  let dropped = 0
  let reportedDrops = 0
  let dropTimer: ReturnType<typeof setTimeout> | undefined
  const reportDrops = (): void => {
    dropTimer = undefined
    if (dropped === reportedDrops) return
    emit('dropped', { reason: 'chat/message-too-long', total: dropped }, `dropped ${dropped - reportedDrops} over-long room message(s) (${dropped} in all)`)
    reportedDrops = dropped
    dropTimer = setTimeout(reportDrops, DROP_REPORT_MS)
    dropTimer.unref()
  }
  node.pubsub.addValidator(topic, (m) => {
    const d = decodeMessage(m.data, limits)
    if (d === 'too-long') {
      dropped++
      if (dropTimer === undefined) reportDrops()
      return 'reject'
    }
    return d === 'not-text' ? 'reject' : 'accept'
  })
  node.pubsub.on('message', (m) => {
    if (m.topic !== topic) return
    const d = decodeMessage(m.data, limits)
    if (typeof d === 'string') return
    const from = m.from?.toString() ?? m.propagationSource.toString()
    remember(from, d.nick)
    emit('message', { from, nick: d.nick ?? null, text: d.text }, `<${who(from)}> ${printable(d.text)}`)
  })
  node.pubsub.on('subscription-change', ({ peer, topic: t, subscribed }) => {
    if (t !== topic) return
    const id = peer.toString()
    if (subscribed && !members.has(id)) {
      members.add(id)
      remember(id, undefined)
      emit('join', { peer: id }, `${who(id)} joined`)
    } else if (!subscribed && members.delete(id)) emit('leave', { peer: id }, `${who(id)} left`)
  })
  node.on('peer:disconnect', (peer) => {
    const id = peer.toString()
    if (members.delete(id)) emit('leave', { peer: id }, `${who(id)} left`)
    emit('disconnected', { peer: id }, undefined)
  })
  node.on('peer:connect', (peer) => emit('connected', { peer: peer.toString() }, undefined))
  node.on('peer:discovery', (d) => emit('discovered', { peer: d.peer.toString(), source: d.source, addrs: d.addrs.map(String) }, undefined))
  node.pubsub.subscribe(topic)
  // the mesh of the room (the peers that forward it to us): a line when it changes, polled since
  // gossipsub grafts on its heartbeat; messages sent before it forms reach only direct neighbours
  let mesh: string[] = []
  const meshTimer = setInterval(() => {
    const now = node.pubsub.getMeshPeers(topic).map(String).sort()
    if (now.join() === mesh.join()) return
    const was = mesh.length
    mesh = now
    emit('mesh', { peers: now }, was === 0 && now.length > 0 ? `in the room (${now.length} peer${now.length === 1 ? '' : 's'} forwarding)` : now.length === 0 ? 'no peer forwards the room any more' : undefined)
  }, MESH_POLL_MS)

  // ---- finding peers: bootstrap peers kept connected, the DHT round
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopping = false
  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); if (!stopping) f() }, ms)
    timers.add(t)
  }
  const keepConnected = (addr: string, peer: PeerId, wait: number): void => {
    const next = (): void => {
      if (stopping) return
      if (node.getConnections(peer).length > 0) { later(BOOTSTRAP_BACKOFF[0], next); return }
      node.dial(addr, { signal: AbortSignal.timeout(10_000) }).then(
        () => later(BOOTSTRAP_BACKOFF[0], () => keepConnected(addr, peer, BOOTSTRAP_BACKOFF[0])),
        (e: unknown) => {
          if (stopping) return
          emit('error', { code: codeOf(e), message: messageOf(e), bootstrap: addr }, `cannot reach bootstrap peer ${addr}: ${messageOf(e)} (retrying in ${Math.round(wait / 1000)} s)`)
          later(wait, () => keepConnected(addr, peer, Math.min(wait * 2, BOOTSTRAP_BACKOFF[1])))
        },
      )
    }
    next()
  }
  for (const a of o.bootstrap) keepConnected(a, PeerId.parse(Multiaddr.fromString(a).getPeerId()!), BOOTSTRAP_BACKOFF[0])

  const dhtRound = async (): Promise<void> => {
    if (node.dht.routingTableSize === 0) return
    const signal = AbortSignal.timeout(30_000)
    await node.dht.provide(room.multihash, { signal }).catch(() => undefined)
    const providers = await node.dht.findProviders(room.multihash, { signal }).catch(() => [])
    let dials = 0
    for (const p of providers) {
      if (p.peer.equals(node.peerId) || node.getConnections(p.peer).length > 0 || p.addrs.length === 0) continue
      if (++dials > MAX_PROVIDER_DIALS) break
      node.peerStore.addAddrs(p.peer, p.addrs)
      node.dial(p.peer, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    }
  }
  const dhtLoop = (wait: number): void => later(wait, () => {
    dhtRound().finally(() => dhtLoop(Math.min(wait * 2, o.dhtMaxInterval ?? 120_000)))
  })
  dhtLoop(o.dhtFirstDelay ?? 1_000)

  // ---- commands
  const knownPeers = (): KnownPeer[] => {
    const ids = new Set<string>([...known.keys(), ...members, ...node.getConnections().map((c) => c.peer.toString())])
    return [...ids].map((id) => (known.get(id) ? { id, nick: known.get(id)! } : { id }))
  }
  const isPeerId = (s: string): boolean => {
    try {
      PeerId.parse(s)
      return true
    } catch {
      return false
    }
  }
  const sendDm = async (token: string, text: string): Promise<void> => {
    checkOutgoing(text, limits)
    const to = resolvePeer(token, knownPeers(), isPeerId)
    if (to === me) throw new UsageError('chat/self', 'that is you')
    const peer = PeerId.parse(to)
    const signal = AbortSignal.timeout(DM_TIMEOUT_MS)
    if (node.getConnections(peer).length === 0) {
      // not connected: ask the DHT where the peer is unless the peer store knows an address
      const found = await node.dht.findPeer(peer, { signal }).catch(() => undefined)
      if (found !== undefined && found.addrs.length > 0) node.peerStore.addAddrs(peer, found.addrs)
      await node.dial(peer, { signal })
    }
    const res = await node.service<RequestResponse<unknown, unknown>>('dm').request(peer, nick !== undefined ? { text, nick } : { text }, { signal })
    dmOutcome(res)
    emit('dm:delivered', { to, text }, `[dm to ${who(to)}] delivered`)
  }
  const say = async (text: string): Promise<void> => {
    checkOutgoing(text, limits)
    try {
      const r = await node.pubsub.publish(topic, encodeMessage(nick !== undefined ? { text, nick } : { text }))
      emit('sent', { text, recipients: r.recipients }, undefined)
    } catch (e) {
      if (codeOf(e) === 'gossipsub/no-peers') throw new UsageError('chat/no-peers', 'nobody is in the room yet: the message was not sent')
      throw e
    }
  }
  const peersCmd = (): void => {
    const connected = [...new Set(node.getConnections().map((c) => c.peer.toString()))]
    const inRoom = [...new Set([...members, ...node.pubsub.getSubscribers(topic).map(String)])]
    emit('peers', { connected, members: inRoom, dropped }, [
      `${connected.length} connected: ${connected.map(who).join(', ') || '-'}`,
      `${inRoom.length} in ${topic}: ${inRoom.map(who).join(', ') || '-'}${dropped > 0 ? `; ${dropped} over-long message(s) dropped` : ''}`,
    ].join('\n         '))
  }

  const pending = new Set<Promise<void>>()
  const track = (p: Promise<void>): void => {
    const q: Promise<void> = p.catch(fail).finally(() => pending.delete(q))
    pending.add(q)
  }
  let quit: () => void = () => {}
  const done = new Promise<void>((resolve) => { quit = resolve })
  const onLine = (line: string): void => {
    if (stopping) return
    let c
    try {
      c = parseLine(line)
    } catch (e) {
      fail(e)
      return
    }
    switch (c.kind) {
      case 'say': track(say(c.text)); break
      case 'msg': track(sendDm(c.peer, c.text)); break
      case 'peers': peersCmd(); break
      case 'help': emit('help', {}, `commands:\n${CHAT_HELP}`); break
      case 'quit': quit(); break
      case 'nothing': break
    }
    if (tty) rl?.prompt()
  }
  rl = createInterface({ input: process.stdin, ...(tty ? { output: process.stdout, prompt: '> ' } : {}), terminal: tty })
  rl.on('line', onLine)
  rl.on('close', () => quit())
  rl.on('SIGINT', () => quit())
  const onSignal = (): void => quit()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  if (tty) rl.prompt()

  await done
  stopping = true
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  rl.removeAllListeners('close')
  rl.close()
  process.stdin.pause()
  // what was typed before leaving still goes out (each has its own timeout)
  await Promise.allSettled([...pending])
  for (const t of timers) clearTimeout(t)
  clearInterval(meshTimer)
  if (dropTimer !== undefined) clearTimeout(dropTimer)
  try {
    node.pubsub.unsubscribe(topic)
  } catch {
    // the node may already be stopping
  }
  await node.stop()
  emit('stopped', {}, 'left the room')
  process.stdin.destroy()
  return 0
}

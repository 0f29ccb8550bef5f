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
 * presence, join, leave, mesh, connected, disconnected, discovered, room:found, rendezvous:registered,
 * peers, help, dropped, error, stopped. Nothing of the room is kept
 * beyond what is printed: the only memory is nick and rate-limit state per peer, bounded.
 */
import { createHash } from 'node:crypto'
import { createInterface, type Interface } from 'node:readline'
import { createNode } from '../create-node.js'
import { loadOrCreateKey } from '../io/key-file.js'
import { nodeCrypto } from '../io/crypto-node.js'
// the services from their modules, not through weft/node's re-exports: the bundle then keeps them out of other commands' chunks
import { gossipsub } from '../gossipsub/service.js'
import { kadDht } from '../kad/service.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { json as jsonCodec, requestResponse, type RequestResponse } from '../request-response/index.js'
import { rendezvousClient, type RendezvousClient } from '../rendezvous/index.js'
import { bootstrapPeers, DhtUsage } from './dht.js'
import { UsageLine } from './args.js'
import { UsageError } from '../core/errors.js'
import {
  BoundedMap, CHAT_HELP, DEFAULT_CHAT_LIMITS, DM_PROTOCOL, RateLimiter, checkDm, checkNick, checkOutgoing, decodeMessage, dmOutcome,
  LineSplitter, MAX_INPUT_LINE_BYTES, encodeMessage, parseLine, printable, resolvePeer, roomKey, shortId, topicOf, type ChatLimits, type KnownPeer,
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
  /** Rendezvous points (multiaddrs with /p2p): register in namespace `weft-chat/<room>` and discover the others there. */
  rendezvous?: string[]
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
/** Our provider record of the room is renewed this often (ms); lookups run more often (up to every 2 min). */
const REPROVIDE_MS = 10 * 60_000
/** With no bootstrap peer connected after this long (ms), say so (the node keeps redialling them). */
const BOOTSTRAP_REPORT_MS = 10_000
/** Presence announcements (our nick) at most once per this many ms. Stops: joins and leaves turning into a publish storm. */
const HELLO_MIN_GAP_MS = 5_000
/** Drops are reported once, then at most once per this many ms. Stops: a flood of over-long messages becoming a flood of lines. */
const DROP_REPORT_MS = 5_000

/** `/peers` counts a peer heard in the room within this many ms as a member (ms). */
const HEARD_WINDOW_MS = 10 * 60_000
/** Sends (room messages, DMs) in flight at once, and typed lines waiting before a pipe is paused. Stop: piped input becoming unbounded concurrent requests. */
const MAX_PENDING = 32
const MAX_QUEUED = 1024
/** How often the room's mesh is looked at (ms). */
const MESH_POLL_MS = 250

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
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
  const points = (o.rendezvous ?? []).map((a) => {
    const m = Multiaddr.fromString(a)
    if (m.getPeerId() === undefined) throw new UsageLine(`--rendezvous ${a}: the address needs a /p2p/<peer id>`)
    return m
  })
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
    // bootstrap peers: dialled at start, kept connected with backoff, protected (src/edge/discovery.ts)
    discovery: { bootstrap: o.bootstrap, ...(o.mdns ? { mdns: { autoDial: true } } : {}) },
    services: {
      dht: kadDht({ mode: 'server', bootstrapPeers: boot }),
      pubsub: gossipsub(),
      dm,
      ...(points.length > 0 ? { rendezvous: rendezvousClient() } : {}),
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
  const addrs = node.getMultiaddrs().map(String)
  emit('started', { peer: me, nick: nick ?? null, topic, room: room.cid, addrs }, undefined)
  if (!o.json) {
    console.log(`weft chat: you are ${nick !== undefined ? `${nick} ` : ''}${me} in ${topic}`)
    for (const a of addrs) console.log(`  listening on ${a}`)
    // a loopback address only helps others on this machine
    const share = addrs.find((a) => !/^\/(ip4\/127\.|ip6\/::1\/)/.test(a)) ?? addrs[0]
    if (share !== undefined) console.log(`  others join with: weft chat${o.room !== 'lobby' ? ` --topic ${o.room}` : ''} --bootstrap ${share}`)
    console.log('type a message and Enter; /help for commands')
  }

  // ---- the room
  const members = new Set<string>()
  /** peer id -> when it last spoke or announced itself in the room (bounded like `known`). */
  const heard = new BoundedMap<string, number>(limits.maxKnownPeers)
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
    heard.set(from, Date.now())
    if ('hello' in d) {
      if (d.nick === undefined || known.get(from) === d.nick) return
      remember(from, d.nick)
      emit('presence', { peer: from, nick: d.nick }, `${who(from)} is here`)
      return
    }
    remember(from, d.nick)
    emit('message', { from, nick: d.nick ?? null, text: d.text }, `<${who(from)}> ${printable(d.text)}`)
  })
  node.pubsub.on('subscription-change', ({ peer, topic: t, subscribed }) => {
    if (t !== topic) return
    const id = peer.toString()
    if (subscribed && !members.has(id)) {
      members.add(id)
      remember(id, undefined)
      emit('join', { peer: id, nick: known.get(id) || null }, `${who(id)} joined`)
      hello()
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
    if (was === 0) hello()
    emit('mesh', { peers: now }, was === 0 && now.length > 0 ? `in the room (${now.length} peer${now.length === 1 ? '' : 's'} forwarding)` : now.length === 0 ? 'no peer forwards the room any more' : undefined)
  }, MESH_POLL_MS)

  // ---- finding peers: bootstrap peers kept connected, the DHT round
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopping = false
  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); if (!stopping) f() }, ms)
    timers.add(t)
  }
  // presence: our nick, when we enter the room and when others join it (rate-bounded)
  let lastHello = -Infinity
  let helloPending = false
  function hello(): void {
    if (nick === undefined || helloPending || stopping) return
    const wait = lastHello + HELLO_MIN_GAP_MS - Date.now()
    helloPending = true
    later(Math.max(0, wait), () => {
      helloPending = false
      lastHello = Date.now()
      node.pubsub.publish(topic, encodeMessage({ hello: true, nick })).catch(() => undefined)
    })
  }

  if (boot.length > 0) {
    later(BOOTSTRAP_REPORT_MS, () => {
      if (boot.some((b) => node.getConnections(b.peer).length > 0)) return
      emit('error', { code: 'chat/bootstrap-unreachable', message: 'no bootstrap peer is connected yet; still trying' }, 'error: chat/bootstrap-unreachable: no bootstrap peer is connected yet; still trying')
    })
  }

  let providedAt = -Infinity
  const dhtRound = async (): Promise<void> => {
    if (node.dht.routingTableSize === 0) return
    const signal = AbortSignal.timeout(30_000)
    if (Date.now() - providedAt >= REPROVIDE_MS) {
      const r = await node.dht.provide(room.multihash, { signal }).catch(() => undefined)
      if (r !== undefined && r.stored.length > 0) providedAt = Date.now()
    }
    const providers = (await node.dht.findProviders(room.multihash, { signal }).catch(() => [])).filter((p) => !p.peer.equals(node.peerId))
    if (providers.length > 0) emit('room:found', { source: 'dht', peers: providers.map((p) => p.peer.toString()) }, undefined)
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

  // rendezvous: register in weft-chat/<room> at each point (the client refreshes it), discover there
  const cookies = new Map<string, Uint8Array>()
  const registered = new Set<string>()
  const rendezvousRound = async (point: Multiaddr): Promise<void> => {
    const rz = node.service<RendezvousClient>('rendezvous')
    const signal = AbortSignal.timeout(30_000)
    const at = point.toString()
    if (!registered.has(at)) {
      try {
        const { ttl } = await rz.register(point, topic, { signal })
        registered.add(at)
        emit('rendezvous:registered', { point: at, namespace: topic, ttl }, undefined)
      } catch (e) {
        emit('error', { code: codeOf(e), message: messageOf(e), point: at }, `error: rendezvous ${at}: ${codeOf(e)}: ${messageOf(e)}`)
        return
      }
    }
    const cookie = cookies.get(at)
    const r = await rz.discover(point, { namespace: topic, signal, ...(cookie !== undefined ? { cookie } : {}) }).catch(() => undefined)
    if (r === undefined) return
    if (r.cookie !== undefined) cookies.set(at, r.cookie)
    const others = r.registrations.filter((x) => !x.peer.equals(node.peerId))
    if (others.length > 0) emit('room:found', { source: 'rendezvous', point: at, peers: others.map((x) => x.peer.toString()) }, undefined)
    let dials = 0
    for (const reg of r.registrations) {
      if (reg.peer.equals(node.peerId) || node.getConnections(reg.peer).length > 0) continue
      if (++dials > MAX_PROVIDER_DIALS) break
      node.dial(reg.peer, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    }
  }
  const rendezvousLoop = (wait: number): void => later(wait, () => {
    Promise.allSettled(points.map(rendezvousRound)).finally(() => rendezvousLoop(Math.min(Math.max(wait * 2, o.dhtFirstDelay ?? 1_000), o.dhtMaxInterval ?? 120_000)))
  })
  if (points.length > 0) rendezvousLoop(0)

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
    // members: subscribed peers we are connected to, and those heard in the room lately (through others)
    const recent = Date.now() - HEARD_WINDOW_MS
    const inRoom = [...new Set([...members, ...node.pubsub.getSubscribers(topic).map(String), ...[...heard].filter(([, t]) => t >= recent).map(([id]) => id)])]
    emit('peers', { connected, members: inRoom, dropped }, [
      `${connected.length} connected: ${connected.map(who).join(', ') || '-'}`,
      `${inRoom.length} in ${topic}: ${inRoom.map(who).join(', ') || '-'}${dropped > 0 ? `; ${dropped} over-long message(s) dropped` : ''}`,
    ].join('\n         '))
  }

  // typed lines run in order; sends run concurrently, at most MAX_PENDING at once, and a pipe that
  // outruns them is paused while more than MAX_QUEUED lines wait
  const pending = new Set<Promise<void>>()
  const queue: Array<string | { tooLong: number }> = []
  let eof = false
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => { resolveDone = resolve })
  const quit = (): void => {
    if (stopping) return
    stopping = true
    resolveDone()
  }
  const track = (p: Promise<void>): void => {
    const q: Promise<void> = p.catch(fail).finally(() => { pending.delete(q); pump() })
    pending.add(q)
  }
  const onLine = (line: string): void => {
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
  }
  const pump = (): void => {
    while (!stopping && queue.length > 0 && pending.size < MAX_PENDING) {
      const l = queue.shift()!
      if (typeof l === 'string') onLine(l)
      else fail(new UsageError('chat/line-too-long', `an input line of ${l.tooLong} bytes was ignored (at most ${MAX_INPUT_LINE_BYTES})`))
    }
    if (stopping) return
    if (eof && queue.length === 0) quit()
    else if (!tty && queue.length > MAX_QUEUED) process.stdin.pause()
    else if (!tty && !eof) process.stdin.resume()
  }
  const input = (lines: Array<string | { tooLong: number }>): void => {
    queue.push(...lines)
    pump()
    if (tty) rl?.prompt()
  }
  // a terminal gets readline (line editing, the prompt); a pipe a bounded line splitter, since
  // readline keeps a line without a newline in one ever-growing string
  const splitter = new LineSplitter()
  const onData = (chunk: Buffer): void => input(splitter.push(chunk))
  const onEnd = (): void => {
    eof = true
    input(splitter.end())
  }
  if (tty) {
    rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: true })
    rl.on('line', (l) => input([l]))
    rl.on('close', onEnd)
    rl.on('SIGINT', () => quit())
  } else {
    process.stdin.on('data', onData)
    process.stdin.once('end', onEnd)
  }
  const onSignal = (): void => quit()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  rl?.prompt()

  await done
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  rl?.removeAllListeners('close')
  rl?.close()
  rl = undefined
  process.stdin.off('data', onData)
  process.stdin.off('end', onEnd)
  process.stdin.pause()
  // what was typed before leaving still goes out (each has its own timeout)
  await Promise.allSettled([...pending])
  for (const t of timers) clearTimeout(t)
  clearInterval(meshTimer)
  if (dropTimer !== undefined) clearTimeout(dropTimer)
  if (registered.size > 0) {
    const rz = node.service<RendezvousClient>('rendezvous')
    await Promise.allSettled(points.filter((p) => registered.has(p.toString())).map((p) => rz.unregister(p, topic, { signal: AbortSignal.timeout(2_000) })))
  }
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

/**
 * The weft command line (every command; `weft help` prints the details):
 *
 *   weft node [--listen <addr>]... [--identity <file>] [--bootstrap <addr>]... [--topic <name>]...
 *             [--dht-mode server|client|auto] [--external <addr>]... [--perf] [--json]
 *             [--limits <file.json>] [--print-resources <seconds>]
 *             [--deny <peer|ip|cidr|multiaddr>]... [--allow <peer|ip|cidr|multiaddr>]...
 *             [--metrics <ip:port>] [--conns-low L] [--conns-high H] [--conns-grace <duration>]
 *             [--relay [--relay-limit-data <bytes>] [--relay-limit-duration <duration>]
 *                      [--relay-max-reservations N] [--relay-max-circuits N]]
 *             [--relay-via <relay multiaddr>]... [--relay-discover] [--autonat-server] [--no-hole-punch] [--mdns] [--rendezvous-server]
 *   weft ping <multiaddr> [--count N] [--json]     (a /p2p-circuit address goes through its relay)
 *   weft id <multiaddr> [--json]
 *   weft dht get|put|provide|find-providers|find-peer|closest ...   (see `weft dht`)
 *   weft sub <topic> --peer <addr>... [--count N] [--json]
 *   weft pub <topic> <message> --peer <addr>... [--wait <ms>] [--json]
 *   weft request <multiaddr> <protocol> <json> [--codec json|cbor] [--timeout <duration>] [--json]
 *             (weft node --serve-request <protocol>=echo|never|<file.json> [--serve-codec json|cbor] [--serve-framing eof|length-prefixed] serves)
 *   weft rendezvous register|discover|unregister <point multiaddr> <namespace> [--addr <ma>]... [--ttl S] [--limit N] [--json]
 *             (weft node --rendezvous-server serves as a rendezvous point)
 *   weft chat [--topic NAME] [--nick NAME] [--bootstrap <addr>]... [--mdns] [--rendezvous <addr>]...
 *             [--listen <addr>]... [--identity <file>] [--json]
 *   weft trace <multiaddr> [--protocol P]... [--json] [--keylog F] [--duration ms]   (spec/trace.md)
 *   weft perf ...              (see `weft perf --help`)
 *   weft inspect <value> [--json]
 *   weft help | weft version
 *
 * Errors are one line on stderr and exit code 1; never a stack trace for an expected failure. A
 * flag a command does not know is such an error (src/cli/args.ts).
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
// Only what every command needs is imported here; each command's modules are imported when it runs,
// so `weft inspect` or `weft version` never loads the node, transports or crypto providers
// (start-up time: bench/README.md, "Start-up").
import { parseArgs, securityFlag, UsageLine } from './args.js'
import { errorLine } from './error-line.js'
import { VERSION } from '../edge/version.js'


function dhtMode(v: string | undefined): 'server' | 'client' | 'auto' {
  if (v === undefined) return 'server'
  if (v === 'server' || v === 'client' || v === 'auto') return v
  throw new UsageLine(`--dht-mode must be server, client or auto (not ${v})`)
}

function positiveSeconds(flag: string, v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageLine(`${flag} must be a positive number of seconds (not ${v})`)
  return n
}

function connCount(flag: string, v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageLine(`${flag} must be a non-negative integer (not ${v})`)
  return n
}

/** `--conns-grace`: 500ms, 30s, 1m, 1h, or plain seconds. */
function durationMs(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v)
  if (m === null) throw new UsageLine(`${flag} must be a duration such as 500ms, 30s, 1m (not ${v})`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(m[1]) * unit)
}

/** `--relay-limit-data`: bytes per direction per circuit (0: no limit). */
function byteCount(flag: string, v: string): number {
  const m = /^(\d+)(KiB|MiB)?$/.exec(v)
  if (m === null) throw new UsageLine(`${flag} must be a number of bytes such as 4096, 128KiB or 1MiB (not ${v})`)
  const n = Number(m[1]) * (m[2] === 'KiB' ? 1024 : m[2] === 'MiB' ? 1024 * 1024 : 1)
  if (!Number.isSafeInteger(n)) throw new UsageLine(`${flag} is too large (${v})`)
  return n
}

/** `--relay`, its limits and `--relay-via`; the limits only make sense with `--relay`. */
function relayFlags(get: (flag: string) => string[] | undefined, has: (flag: string) => boolean): { relay?: { limitData?: number; limitDuration?: number; maxReservations?: number; maxCircuits?: number }; relayVia?: string[] } {
  const data = get('relay-limit-data')?.[0]
  const duration = get('relay-limit-duration')?.[0]
  const maxRes = get('relay-max-reservations')?.[0]
  const maxCirc = get('relay-max-circuits')?.[0]
  if (!has('relay') && (data !== undefined || duration !== undefined || maxRes !== undefined || maxCirc !== undefined)) {
    throw new UsageLine('--relay-limit-data, --relay-limit-duration, --relay-max-reservations and --relay-max-circuits need --relay')
  }
  const positive = (flag: string, v: string): number => {
    const n = connCount(flag, v)
    if (n === 0) throw new UsageLine(`${flag} must be at least 1`)
    return n
  }
  const via = get('relay-via') ?? []
  return {
    ...(has('relay') ? {
      relay: {
        ...(data !== undefined ? { limitData: byteCount('--relay-limit-data', data) } : {}),
        ...(duration !== undefined ? { limitDuration: duration === '0' ? 0 : durationMs('--relay-limit-duration', duration) } : {}),
        ...(maxRes !== undefined ? { maxReservations: positive('--relay-max-reservations', maxRes) } : {}),
        ...(maxCirc !== undefined ? { maxCircuits: positive('--relay-max-circuits', maxCirc) } : {}),
      },
    } : {}),
    ...(via.length > 0 ? { relayVia: via } : {}),
  }
}

/** The connection manager flags; the watermarks must be ordered (defaults 160 / 192). */
function connManagerFlags(get: (flag: string) => string | undefined): { lowWater?: number; highWater?: number; gracePeriodMs?: number; silencePeriodMs?: number } | undefined {
  const [low, high, grace, silence] = [get('conns-low'), get('conns-high'), get('conns-grace'), get('conns-silence')]
  if (low === undefined && high === undefined && grace === undefined && silence === undefined) return undefined
  const o = {
    ...(low !== undefined ? { lowWater: connCount('--conns-low', low) } : {}),
    ...(high !== undefined ? { highWater: connCount('--conns-high', high) } : {}),
    ...(grace !== undefined ? { gracePeriodMs: durationMs('--conns-grace', grace) } : {}),
    ...(silence !== undefined ? { silencePeriodMs: durationMs('--conns-silence', silence) } : {}),
  }
  if ((o.lowWater ?? 160) > (o.highWater ?? 192)) throw new UsageLine(`--conns-low (${o.lowWater ?? 160}) must not exceed --conns-high (${o.highWater ?? 192})`)
  return o
}

const HELP = `weft ${VERSION} — a clean-room libp2p stack

usage:
  weft node [--listen <multiaddr>]... [--identity <file>] [--bootstrap <multiaddr>]... [--json]
            [--dht-mode server|client|auto] [--external <multiaddr>]... [--topic <name>]... [--perf]
                     run a node (default: /ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/udp/4001/quic-v1
                     and /ip4/0.0.0.0/tcp/4002/ws),
                     DHT server; --bootstrap joins a Kademlia network; --dht-mode auto serves
                     the DHT only while reachable: a public listen IP or an --external address;
                     --perf also serves /perf/1.0.0 (off by default; 64 MiB per request caps)
                     --limits <file.json>: resource limits (spec/resource-manager.md), e.g.
                     {"system":{"connsInbound":1024},"peer":{"streams":"unlimited"}};
                     --print-resources <seconds>: print resource usage periodically
                     --deny <peer|ip|cidr|multiaddr>: refuse it (sockets closed before Noise,
                     peers after Noise, dials); --allow <...>: exempt it from the per-IP
                     limits; both repeatable or comma-separated (spec/connection-manager.md)
                     --metrics <ip:port>: serve Prometheus metrics on /metrics and
                     /debug/metrics/prometheus (port 0 picks one; spec/metrics.md)
                     --conns-low L --conns-high H --conns-grace <duration>: the connection
                     manager trims to L connections when more than H are open, sparing those
                     younger than the grace period (default 160 / 192 / 1m; spec/connection-manager.md);
                     --conns-silence <duration>: at most one trim per period (default 10s)
                     --relay: serve as a Circuit Relay v2 relay (spec/relay.md); per circuit
                     --relay-limit-data <bytes> in each direction (default 128KiB, 0: none) and
                     --relay-limit-duration <duration> (default 2m, 0: none); at most
                     --relay-max-reservations N (default 128) and --relay-max-circuits N (128)
                     --relay-via <relay multiaddr>: reserve a slot on that relay (ending in
                     /p2p/<relay id>) and accept connections through it; the same as
                     --listen <relay multiaddr>/p2p-circuit. --relay-discover: while no external
                     address is confirmed, reserve on up to 2 connected peers serving the relay
                     protocol (found through identify). The node prints its direct and
                     relayed addresses and its reachability (AutoNAT client; --autonat-server
                     also answers AutoNAT v1/v2 requests)
                     --mdns: find peers on the LAN with mDNS (UDP 224.0.0.251 and ff02::fb
                     port 5353), print a line per discovery and per expiry, dial them
                     --rendezvous-server: serve as a rendezvous point (/rendezvous/1.0.0,
                     spec/rendezvous.md; weft rendezvous to use one)
                     Hole punching (DCUtR, spec/dcutr.md) is on: TCP dials leave from one punch
                     port and relayed connections are upgraded to direct ones when the NATs
                     allow; --no-hole-punch turns it off (--hole-punch is accepted, the default)
                     --trace: print every connection's events (weft trace; with --json as
                     JSON lines); --keylog <file>: append Noise session keys (secrets, mode 0600)
                     --security noise,tls: the secure channels offered and accepted, in order
                     (default noise; tls = libp2p TLS 1.3, /tls/1.0.0, spec/tls.md)
  weft ping <multiaddr> [--count N] [--json]   ping a peer (/ipfs/ping/1.0.0); through a relay
                     with <relay multiaddr>/p2p-circuit/p2p/<peer id>; --security as weft node's
  weft dht get|put|provide|find-providers|find-peer|closest ... --bootstrap <multiaddr>...
                     query a Kademlia network (weft dht for details)
  weft id <multiaddr> [--json]                 print a peer's identify record
  weft sub <topic> --peer <multiaddr>... [--count N] [--json]    print gossipsub messages
  weft pub <topic> <message> --peer <multiaddr>... [--wait <ms>] [--json]
                     publish one message
                     (weft node --topic <name> joins a topic and prints what arrives)
  weft request <multiaddr> <protocol> <json> [--codec json|cbor] [--framing eof|length-prefixed]
               [--timeout <duration>] [--json]
                     send one request-response request (the JSON value, as JSON or CBOR; framed
                     to EOF as rust-libp2p, or uvarint length-prefixed) and print the response
                     as JSON; failures name their code (reqresp/timeout,
                     reqresp/unsupported-protocol, reqresp/no-response...); timeout default 10s
                     weft node --serve-request <protocol>=echo|never|<file.json> serves it
                     (repeatable; --serve-codec json|cbor, default json; --serve-framing
                     eof|length-prefixed, default eof): echo answers each
                     request with itself; <file.json> holds a JSON object and answers
                     {"key": K} with its value (unknown key: no response); never never answers
  weft rendezvous register <point> <ns> --addr <multiaddr>... [--ttl <s>] [--identity <file>] [--legacy-record]
  weft rendezvous discover <point> [<ns>] [--limit N] [--cookie <hex>]
  weft rendezvous unregister <point> <ns> [--identity <file>]      (each with [--json])
                     rendezvous (/rendezvous/1.0.0) at a rendezvous point: register the --addr
                     addresses under the identity (default weft node's; --legacy-record for a
                     rust-libp2p point), list registrations (then a cookie for --cookie: only newer
                     ones), or remove ours. weft node --rendezvous-server serves as a point.
  weft chat [--topic NAME] [--nick NAME] [--bootstrap <multiaddr>]... [--mdns]
            [--rendezvous <multiaddr>]... [--listen <multiaddr>]... [--identity <file>] [--json]
                     chat in the gossipsub room weft-chat/NAME (default lobby): each line typed
                     is sent, each message printed with its sender; /msg <peer> <text> is a
                     direct message (request-response /weft/chat/dm/1.0.0); /peers, /help, /quit.
                     Peers are found by --mdns on the LAN, through --bootstrap peers (kept
                     connected), the DHT (the room's CID is provided and looked up) and
                     --rendezvous points (namespace weft-chat/NAME: registered, discovered); it
                     prints its addresses for others' --bootstrap. Default --listen
                     /ip4/0.0.0.0/tcp/0; a fresh identity unless --identity. --json: one JSON
                     object per event (message, dm, join, leave, error...)
  weft trace <multiaddr> [--protocol P]... [--json] [--keylog <file>] [--duration <ms>] [--security noise,tls]
                     dial a peer and print every layer of the connection as it happens
                     (spec/trace.md): transport bytes, multistream lines, Noise or TLS 1.3
                     handshake messages (keys, certificate peer id, ALPN, signature, muxers),
                     yamux frames, QUIC packets and frames (/udp/<p>/quic-v1 addresses),
                     decoded protocol messages, state changes. --protocol: ping (default), kad
                     (FIND_NODE of our id), gossipsub (subscribe to weft-trace), or any protocol
                     id (open, negotiate, close); repeatable. --json: one JSON object per event.
                     --keylog <file>: append the Noise session keys or the TLS/QUIC NSS key log
                     lines (SECRETS; mode 0600).
                     weft trace --pcap <capture> --keylog <file> decrypts a capture (TCP: Noise
                     or TLS; UDP: QUIC v1);
                     weft node --trace [--json] [--keylog <file>] traces every connection
  weft perf --help                             libp2p perf client and server
  weft inspect <value> [--json]                decode a multiaddr, peer id or key
`

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  try {
    switch (cmd) {
      case 'inspect': {
        const a = parseArgs(rest, { booleans: ['json'] })
        const value = a.positional[0]
        if (value === undefined) throw new UsageLine('usage: weft inspect <multiaddr | hex | peer id> [--json]')
        const { formatInspection, inspect } = await import('./inspect.js')
        const i = await inspect(value)
        console.log(a.flags.has('json') ? JSON.stringify(i) : formatInspection(i))
        return 0
      }
      case 'node': {
        const { runNode } = await import('./node-cmd.js')
        const a = parseArgs(rest, { booleans: ['json', 'perf', 'relay', 'autonat-server', 'hole-punch', 'no-hole-punch', 'relay-discover', 'mdns', 'rendezvous-server', 'trace'], values: ['keylog', 'security', 'listen', 'identity', 'bootstrap', 'topic', 'dht-mode', 'external', 'limits', 'print-resources', 'deny', 'allow', 'metrics', 'conns-low', 'conns-high', 'conns-grace', 'conns-silence', 'relay-via', 'relay-limit-data', 'relay-limit-duration', 'relay-max-reservations', 'relay-max-circuits', 'serve-request', 'serve-codec', 'serve-framing'] })
        const connectionManager = connManagerFlags((f) => a.flags.get(f)?.[0])
        const relay = relayFlags((f) => a.flags.get(f), (f) => a.flags.has(f))
        const serve = (await import('./request.js')).serveFlags(a.flags.get('serve-request'), a.flags.get('serve-codec')?.[0], a.flags.get('serve-framing')?.[0])
        return await runNode({
          listen: a.flags.get('listen') ?? ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/udp/4001/quic-v1', '/ip4/0.0.0.0/tcp/4002/ws'],
          identity: a.flags.get('identity')?.[0] ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'weft', 'identity.key'),
          json: a.flags.has('json'),
          bootstrap: a.flags.get('bootstrap') ?? [],
          topics: a.flags.get('topic') ?? [],
          dhtMode: dhtMode(a.flags.get('dht-mode')?.[0]),
          external: a.flags.get('external') ?? [],
          perf: a.flags.has('perf'),
          deny: (a.flags.get('deny') ?? []).flatMap((v) => v.split(',')),
          allow: (a.flags.get('allow') ?? []).flatMap((v) => v.split(',')),
          ...(a.flags.has('limits') ? { limits: a.flags.get('limits')![0]! } : {}),
          ...(a.flags.has('print-resources') ? { printResources: positiveSeconds('--print-resources', a.flags.get('print-resources')![0]!) } : {}),
          ...(a.flags.has('metrics') ? { metrics: a.flags.get('metrics')![0]! } : {}),
          ...(connectionManager !== undefined ? { connectionManager } : {}),
          ...relay,
          autonatServer: a.flags.has('autonat-server'),
          holePunch: !a.flags.has('no-hole-punch'),
          relayDiscover: a.flags.has('relay-discover'),
          mdns: a.flags.has('mdns'),
          rendezvousServer: a.flags.has('rendezvous-server'),
          trace: a.flags.has('trace'),
          keylog: a.flags.get('keylog')?.[0],
          ...serve,
          ...securityFlag(a.flags.get('security')),
        })
      }
      case 'sub': {
        const { runSub } = await import('./pubsub.js')
        const a = parseArgs(rest, { booleans: ['json'], values: ['peer', 'count'] })
        const topic = a.positional[0]
        if (topic === undefined) throw new UsageLine('usage: weft sub <topic> --peer <multiaddr>... [--count N] [--json]')
        const count = a.flags.has('count') ? Number(a.flags.get('count')![0]) : undefined
        if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageLine('--count must be a positive integer')
        return await runSub(topic, a.flags.get('peer') ?? [], a.flags.has('json'), count)
      }
      case 'pub': {
        const { runPub } = await import('./pubsub.js')
        const a = parseArgs(rest, { booleans: ['json'], values: ['peer', 'wait'] })
        const [topic, message] = a.positional
        if (topic === undefined || message === undefined) throw new UsageLine('usage: weft pub <topic> <message> --peer <multiaddr>... [--wait <ms>] [--json]')
        const wait = Number(a.flags.get('wait')?.[0] ?? '5000')
        if (!Number.isFinite(wait) || wait < 0) throw new UsageLine('--wait must be a non-negative number of ms')
        return await runPub(topic, message, a.flags.get('peer') ?? [], a.flags.has('json'), wait)
      }
      case 'dht': {
        const { runDht, DhtUsage } = await import('./dht.js')
        const a = parseArgs(rest.slice(1), { booleans: ['json', 'progress', 'value-hex'], values: ['bootstrap', 'hold'] })
        try {
          return await runDht(rest[0], a.positional, a.flags)
        } catch (e) {
          if (e instanceof DhtUsage) throw new UsageLine(e.message)
          throw e
        }
      }
      case 'ping': {
        const { runPing } = await import('./ping-cmd.js')
        const a = parseArgs(rest, { booleans: ['json'], values: ['count', 'security'] })
        const target = a.positional[0]
        if (target === undefined) throw new UsageLine('usage: weft ping <multiaddr> [--count N] [--security noise,tls] [--json]')
        const count = Number(a.flags.get('count')?.[0] ?? '4')
        if (!Number.isInteger(count) || count < 1) throw new UsageLine('--count must be a positive integer')
        return await runPing(target, count, a.flags.has('json'), securityFlag(a.flags.get('security')).security)
      }
      case 'id': {
        const { runId } = await import('./ping-cmd.js')
        const a = parseArgs(rest, { booleans: ['json'] })
        const target = a.positional[0]
        if (target === undefined) throw new UsageLine('usage: weft id <multiaddr> [--json]')
        return await runId(target, a.flags.has('json'))
      }
      case 'request': {
        const { runRequest, codecName, framingName } = await import('./request.js')
        const a = parseArgs(rest, { booleans: ['json'], values: ['codec', 'framing', 'timeout'] })
        const [target, protocol, body] = a.positional
        if (target === undefined || protocol === undefined || body === undefined || a.positional.length > 3) throw new UsageLine('usage: weft request <multiaddr> <protocol> <json> [--codec json|cbor] [--framing eof|length-prefixed] [--timeout <duration>] [--json]')
        const timeout = a.flags.has('timeout') ? durationMs('--timeout', a.flags.get('timeout')![0]!) : 10_000
        if (timeout <= 0) throw new UsageLine('--timeout must be more than 0')
        return await runRequest(target, protocol, body, { codec: codecName('--codec', a.flags.get('codec')?.[0]), framing: framingName('--framing', a.flags.get('framing')?.[0]), timeoutMs: timeout, json: a.flags.has('json') })
      }
      case 'rendezvous': {
        const { runRendezvous, rendezvousFlags, RENDEZVOUS_USAGE } = await import('./rendezvous.js')
        const a = parseArgs(rest, { booleans: ['json', 'legacy-record'], values: ['addr', 'ttl', 'limit', 'cookie', 'identity'] })
        const [sub, point, namespace, ...extra] = a.positional
        const f = (k: string): string | undefined => a.flags.get(k)?.[0]
        const checked = rendezvousFlags(sub, { ttl: f('ttl'), limit: f('limit'), cookie: f('cookie'), addrs: a.flags.get('addr') ?? [] })
        if (point === undefined || extra.length > 0) throw new UsageLine(RENDEZVOUS_USAGE)
        return await runRendezvous(sub as 'register', point, namespace, {
          identity: f('identity') ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'weft', 'identity.key'),
          addrs: a.flags.get('addr') ?? [], legacyRecord: a.flags.has('legacy-record'), json: a.flags.has('json'),
          ...checked, ...(f('cookie') === undefined ? {} : { cookie: f('cookie')! }),
        })
      }
      case 'chat': {
        const { runChat } = await import('./chat.js')
        const a = parseArgs(rest, { booleans: ['json', 'mdns'], values: ['topic', 'nick', 'bootstrap', 'listen', 'identity', 'rendezvous'] })
        if (a.positional.length > 0) throw new UsageLine('usage: weft chat [--topic NAME] [--nick NAME] [--bootstrap <multiaddr>]... [--mdns] [--rendezvous <multiaddr>]... [--listen <multiaddr>]... [--identity <file>] [--json]')
        const one = (f: string): string | undefined => a.flags.get(f)?.at(-1)
        return await runChat({
          room: one('topic') ?? 'lobby',
          ...(one('nick') !== undefined ? { nick: one('nick')! } : {}),
          bootstrap: a.flags.get('bootstrap') ?? [],
          rendezvous: a.flags.get('rendezvous') ?? [],
          mdns: a.flags.has('mdns'),
          listen: a.flags.get('listen') ?? ['/ip4/0.0.0.0/tcp/0'],
          ...(one('identity') !== undefined ? { identity: one('identity')! } : {}),
          json: a.flags.has('json'),
        })
      }
      case 'perf':
        return await (await import('./perf.js')).runPerf(rest)
      case 'trace':
        return await (await import('./trace.js')).runTrace(rest)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP)
        return 0
      case '--version':
      case 'version':
        console.log(VERSION)
        return 0
      default:
        throw new UsageLine(`unknown command '${cmd}'\n${HELP}`)
    }
  } catch (e) {
    console.error(e instanceof UsageLine ? e.message : errorLine(e))
    return 1
  }
}

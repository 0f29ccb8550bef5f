/**
 * `weft chat` (src/cli/chat.ts): three real chat processes on loopback (B and C bootstrap to A),
 * driven through stdin, read through --json: room messages with the right sender, a direct message
 * that reaches only its peer, typed errors for bad input with the process staying up, the message
 * cap at the limit and past it (sending and receiving), the DM rate limit, and leaving by /quit,
 * end of input and SIGINT (exit 0) while the others go on. The CLI is bundled from the sources.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { Chat, buildChatCli, msgFrom, removeChatCli, type Ev } from './helpers/chat-procs.js'
import { createNode } from '../src/node.js'
import { rendezvousServer, type RendezvousServer } from '../src/rendezvous/index.js'

let script = ''
const procs: Chat[] = []

beforeAll(async () => { script = await buildChatCli() }, 60_000)

afterAll(() => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL')
  removeChatCli(script)
})

function start(args: string[]): Chat {
  const c = new Chat(script, ['--listen', '/ip4/127.0.0.1/tcp/0', ...args])
  procs.push(c)
  return c
}

describe('weft chat: three processes on loopback', () => {
  test('room messages with their sender, a DM to one peer, typed errors, caps, leaving', async () => {
    const a = start(['--nick', 'alice'])
    const started = await a.wait((e) => e.event === 'started')
    expect(started).toMatchObject({ topic: 'weft-chat/lobby', nick: 'alice' })
    expect(String(started.room)).toMatch(/^b[a-z2-7]+$/)
    const addr = (started.addrs as string[])[0]!
    expect(addr).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peer}$`))
    const b = start(['--nick', 'bob', '--bootstrap', addr])
    const c = start(['--nick', 'carol', '--bootstrap', addr])
    await Promise.all([b.wait((e) => e.event === 'started'), c.wait((e) => e.event === 'started')])
    // A sees both join the room (their subscriptions), and they see A
    await Promise.all([a.wait((e) => e.event === 'join' && e.peer === b.peer), a.wait((e) => e.event === 'join' && e.peer === c.peer), b.wait((e) => e.event === 'join' && e.peer === a.peer), c.wait((e) => e.event === 'join' && e.peer === a.peer)])

    // B and C find each other as providers of the room's CID in the DHT (A stores the records)
    await Promise.all([c.wait((e) => e.event === 'room:found' && e.source === 'dht' && (e.peers as string[]).includes(b.peer)), b.wait((e) => e.event === 'room:found' && e.source === 'dht' && (e.peers as string[]).includes(c.peer))])
    // nicks are announced on entering the room (presence), before anyone speaks
    expect(await a.wait((e) => e.event === 'presence' && e.peer === b.peer)).toMatchObject({ nick: 'bob' })
    // the mesh has formed: A forwards to B and C, they to A (positive signal before sending)
    await Promise.all([a.meshHas(b, c), b.meshHas(a), c.meshHas(a)])
    // each sees the room messages of the two others, with the right sender and nick
    const all = [a, b, c]
    for (const s of all) s.send(`hello from ${s.peer.slice(-6)}`)
    for (const s of all) {
      for (const r of all.filter((x) => x !== s)) {
        const m = await r.wait(msgFrom(s, `hello from ${s.peer.slice(-6)}`))
        expect(m.nick).toBe(s === a ? 'alice' : s === b ? 'bob' : 'carol')
      }
    }
    // nobody got their own message back
    for (const s of all) expect(s.events.filter((e) => e.event === 'message' && e.from === s.peer)).toEqual([])

    // C -> B by nick: delivered at C, printed at B with C as the sender
    c.send('/msg bob psst, bob')
    await c.wait((e) => e.event === 'dm:delivered' && e.to === b.peer && e.text === 'psst, bob')
    expect(await b.wait((e) => e.event === 'dm')).toMatchObject({ from: c.peer, nick: 'carol', text: 'psst, bob' })
    // by a unique end of the peer id too
    c.send(`/msg ${a.peer.slice(-8)} hi alice`)
    expect(await a.wait((e) => e.event === 'dm')).toMatchObject({ from: c.peer, text: 'hi alice' })
    expect(b.events.filter((e) => e.event === 'dm')).toHaveLength(1)

    // bad input: a typed error each, and C stays up
    const mark = c.events.length
    const errorFor = async (line: string): Promise<Ev> => {
      const from = c.events.length
      c.send(line)
      return c.wait((e) => e.event === 'error', 20_000, from)
    }
    expect(await errorFor('/msg nobody hi')).toMatchObject({ code: 'chat/unknown-peer', message: expect.stringContaining('nobody') })
    expect(await errorFor('x'.repeat(1025))).toMatchObject({ code: 'chat/message-too-long', message: expect.stringContaining('1025 bytes; at most 1024') })
    expect(await errorFor('/frobnicate')).toMatchObject({ code: 'chat/unknown-command' })
    expect(await errorFor(`/msg bob ${'y'.repeat(1025)}`)).toMatchObject({ code: 'chat/message-too-long' })
    expect(await errorFor('/msg')).toMatchObject({ code: 'chat/usage' })
    // input lines are bounded too: one past 64 KiB is skipped whole, one at 64 KiB is read (and is over the message cap)
    expect(await errorFor('q'.repeat(64 * 1024 + 1))).toMatchObject({ code: 'chat/line-too-long' })
    expect(await errorFor('q'.repeat(64 * 1024))).toMatchObject({ code: 'chat/message-too-long' })
    // at the limit: sent and received
    const full = 'é'.repeat(512)
    c.send(full)
    await a.wait(msgFrom(c, full))
    await b.wait(msgFrom(c, full))

    // an over-long message from another publisher is dropped and counted, not printed
    const r = await cli('pub', 'weft-chat/lobby', 'z'.repeat(1025), '--peer', addr, '--json')
    expect(r.code).toBe(0)
    expect(await a.wait((e) => e.event === 'dropped')).toMatchObject({ reason: 'chat/message-too-long', total: 1 })
    // a plain UTF-8 publisher at the limit is shown as text
    const r2 = await cli('pub', 'weft-chat/lobby', 'p'.repeat(1024), '--peer', addr, '--json')
    expect(r2.code).toBe(0)
    await a.wait((e) => e.event === 'message' && e.text === 'p'.repeat(1024) && e.nick === null)

    // a DM from another requester: at the cap printed, past it refused with a typed answer and counted, not JSON objects refused
    const bAddr = (b.events.find((e) => e.event === 'started')!.addrs as string[])[0]!
    const dmAt = await cli('request', bAddr, '/weft/chat/dm/1.0.0', JSON.stringify({ text: 'd'.repeat(1024) }))
    expect(dmAt).toMatchObject({ code: 0, out: '{"ok":true}' })
    await b.wait((e) => e.event === 'dm' && e.text === 'd'.repeat(1024) && e.nick === null)
    expect((await cli('request', bAddr, '/weft/chat/dm/1.0.0', JSON.stringify({ text: 'd'.repeat(1025) }))).out).toBe('{"ok":false,"error":"chat/message-too-long"}')
    await b.wait((e) => e.event === 'dropped' && e.reason === 'chat/message-too-long')
    expect((await cli('request', bAddr, '/weft/chat/dm/1.0.0', '"hi"')).out).toBe('{"ok":false,"error":"chat/bad-request"}')
    expect(b.events.filter((e) => e.event === 'dm' && String(e.text).startsWith('d'.repeat(1025)))).toEqual([])

    // the DM handler's rate limit: a burst of 5 per peer, then 1 per second
    const before = b.events.length
    for (let i = 0; i < 10; i++) c.send(`/msg bob burst ${i}`)
    await c.wait((e) => e.event === 'error' && e.code === 'chat/rate-limited', 20_000, mark)
    // every one was answered: delivered or refused
    const burstDelivered = (): number => c.events.filter((e) => e.event === 'dm:delivered' && String(e.text).startsWith('burst')).length
    const refused = (): number => c.events.filter((e) => e.event === 'error' && e.code === 'chat/rate-limited').length
    await c.wait(() => burstDelivered() + refused() >= 10)
    const delivered = burstDelivered()
    // the burst, less the one DM bob got from carol a moment ago (plus what refilled since)
    expect(delivered).toBeGreaterThanOrEqual(4)
    expect(delivered).toBeLessThan(10)
    expect(b.events.slice(before).filter((e) => e.event === 'dm')).toHaveLength(delivered)

    // /peers
    c.send('/peers')
    const peers = await c.wait((e) => e.event === 'peers')
    expect(peers.connected).toContain(a.peer)
    expect(peers.members).toEqual(expect.arrayContaining([a.peer, b.peer]))

    // C leaves with /quit: exit 0; A sees it leave; A and B go on
    c.send('/quit')
    expect(await c.exit).toBe(0)
    expect(c.events.at(-1)!.event).toBe('stopped')
    await a.wait((e) => e.event === 'leave' && e.peer === c.peer)
    b.send('still here')
    await a.wait(msgFrom(b, 'still here'))
    a.send('me too')
    await b.wait(msgFrom(a, 'me too'))

    // B leaves at the end of its input, A on SIGINT: both exit 0
    b.child.stdin!.end()
    expect(await b.exit).toBe(0)
    await a.wait((e) => e.event === 'leave' && e.peer === b.peer)
    a.child.kill('SIGINT')
    expect(await a.exit).toBe(0)
    expect(a.events.at(-1)!.event).toBe('stopped')
    // the DM for bob never reached alice; no process printed a stack trace
    expect(a.events.filter((e) => e.event === 'dm').map((e) => e.text)).toEqual(['hi alice'])
    for (const p of [a, b, c]) expect(p.err).toBe('')
  }, 120_000)
})

describe('weft chat: discovery through a rendezvous point', () => {
  test('two chats that know only the point find each other in weft-chat/<topic> and talk', async () => {
    const point = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { rendezvous: rendezvousServer() } })
    try {
      const pointAddr = point.getMultiaddrs()[0]!.toString()
      const registered: string[] = []
      const rz = point.service<RendezvousServer>('rendezvous')
      rz.on('registered', (r) => registered.push(r.namespace))
      const unregistered = new Promise<void>((resolve) => {
        let n = 0
        rz.on('unregistered', () => { if (++n === 2) resolve() })
      })
      const d = start(['--topic', 'rz-room', '--rendezvous', pointAddr])
      const e = start(['--topic', 'rz-room', '--rendezvous', pointAddr])
      await Promise.all([d.wait((x) => x.event === 'rendezvous:registered'), e.wait((x) => x.event === 'rendezvous:registered')])
      await d.wait((x) => x.event === 'room:found' && x.source === 'rendezvous' && (x.peers as string[]).includes(e.peer))
      expect(registered).toEqual(['weft-chat/rz-room', 'weft-chat/rz-room'])
      await Promise.all([d.wait((x) => x.event === 'mesh' && (x.peers as string[]).includes(e.peer)), e.wait((x) => x.event === 'mesh' && (x.peers as string[]).includes(d.peer))])
      d.send('found you')
      await e.wait(msgFrom(d, 'found you'))
      d.send('/quit')
      e.send('/quit')
      expect(await d.exit).toBe(0)
      expect(await e.exit).toBe(0)
      // both unregistered on leaving
      await unregistered
      expect(rz.size).toBe(0)
    } finally {
      await point.stop()
    }
  }, 60_000)
})

describe('weft chat for humans (text, not a terminal)', () => {
  test('its addresses and the join hint, messages as <nick …id> text with escapes neutralised, errors as one line', async () => {
    const a = start([])
    const addr = ((await a.wait((e) => e.event === 'started')).addrs as string[])[0]!
    const t = spawn(process.execPath, [script, 'chat', '--nick', 'tee', '--bootstrap', addr, '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const seen = (re: RegExp): Promise<void> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} in: ${out} ${err}`)), 20_000)
      const check = (): void => { if (re.test(out)) { clearTimeout(timer); t.stdout!.off('data', check); resolve() } }
      t.stdout!.on('data', check)
      check()
    })
    t.stdout!.on('data', (d) => { out += String(d) })
    t.stderr!.on('data', (d) => { err += String(d) })
    const exit = new Promise<number | null>((resolve) => t.once('exit', resolve))
    await seen(/in the room \(1 peer forwarding\)/)
    const id = /weft chat: you are tee (\S+) in weft-chat\/lobby\n/.exec(out)![1]!
    expect(out).toContain(`  listening on /ip4/127.0.0.1/`)
    expect(out).toMatch(new RegExp(`others join with: weft chat --bootstrap /ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${id}\\n`))
    await a.meshHas({ peer: id } as Chat)
    a.send('hi \u001b[31mred\u001b[0m \u202eevil')
    await seen(new RegExp(`\\d\\d:\\d\\d:\\d\\d <…${a.peer.slice(-6)}> hi \uFFFD\\[31mred\uFFFD\\[0m \uFFFDevil\\n`))
    expect(out).not.toContain('\u001b')
    t.stdin!.write('hello from a pipe\n/msg zzzzzz hi\n')
    await a.wait((e) => e.event === 'message' && e.from === id && e.text === 'hello from a pipe' && e.nick === 'tee')
    await seen(/error: chat\/unknown-peer: no known peer or nick matches zzzzzz/)
    t.stdin!.end()
    expect(await exit).toBe(0)
    expect(out).toMatch(/left the room\n$/)
    expect(err).toBe('')
  }, 60_000)
})

describe('weft chat --identity', () => {
  test('the key file is created on the first run and gives the same peer id on the next; end of input leaves at once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'weft-chat-id-')), 'id.key')
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const p = start(['--identity', file])
      p.child.stdin!.end()
      expect(await p.exit).toBe(0)
      expect(p.events.map((e) => e.event)).toContain('stopped')
      ids.push(p.peer)
    }
    expect(ids[0]).toBe(ids[1])
  }, 30_000)
})

describe('weft chat reading a pipe', () => {
  test('every line of a long input is handled, in order, before end of input leaves', async () => {
    const p = start([])
    await p.wait((e) => e.event === 'started')
    const n = 3000
    p.child.stdin!.end(Array.from({ length: n }, (_, i) => (i === n - 1 ? '/peers' : `line ${i}`)).join('\n'))
    expect(await p.exit).toBe(0)
    const errors = p.events.filter((e) => e.event === 'error')
    // alone in the room: each line is a typed error, none is lost, /peers (the last line) ran, then it left
    expect(errors).toHaveLength(n - 1)
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['chat/no-peers']))
    expect(p.events.filter((e) => e.event === 'peers')).toHaveLength(1)
    expect(p.events.at(-1)!.event).toBe('stopped')
  }, 60_000)
})

describe('weft chat usage errors', () => {
  test('a bad nick, topic or bootstrap address: one line, exit 1', async () => {
    for (const [args, text] of [
      [['--nick', 'a b'], 'chat/bad-nick'],
      [['--nick', 'n'.repeat(33)], 'chat/bad-nick'],
      [['--topic', 'has space'], '--topic must be'],
      [['--bootstrap', '/ip4/127.0.0.1/tcp/1'], 'needs a /p2p/'],
      [['extra'], 'usage: weft chat'],
      [['--room', 'x'], 'unknown flag --room'],
      [['--rendezvous', '/ip4/127.0.0.1/tcp/1'], 'needs a /p2p/'],
    ] as const) {
      const r = await cli('chat', ...args)
      expect(r.code).toBe(1)
      expect(r.err.split('\n')).toHaveLength(1)
      expect(r.err).toContain(text)
    }
  })
})

/**
 * The runtime's work per input must not grow with the number of idle connections: with 10,000 held
 * connections, a flush that looked at every connection (pause/resume) made each inbound handshake
 * cost ~30 ms of CPU and upgrades timed out (bench/README.md "Scale"). Backpressure must still work:
 * a connection whose core stops wanting data is paused, and resumed once it wants data again.
 */
import { describe, expect, it } from 'vitest'
import { DATAGRAM_BURST_FLUSH, Runtime, WRITE_QUANTUM, type SwarmPort } from '../src/io/runtime.js'
import type { RawConnection, RawHandlers, Transport } from '../src/io/transport.js'
import { Multiaddr } from '../src/multiaddr/index.js'

class FakeRaw implements RawConnection {
  readonly remoteAddr = Multiaddr.fromString('/ip4/127.0.0.1/tcp/1')
  readonly localAddr = undefined
  h: RawHandlers | undefined
  paused = false
  pauses = 0
  start(h: RawHandlers): void { this.h = h }
  written = 0
  accepts = true
  write(b: Uint8Array): boolean { this.written += b.length; return this.accepts }
  pause(): void { this.paused = true; this.pauses++ }
  resume(): void { this.paused = false }
  close(): void { this.h?.onClose() }
  destroy(): void { this.h?.onClose() }
}

class FakeSwarm implements SwarmPort<never> {
  nextId = 1
  readonly wants = new Map<number, boolean>()
  readonly dirty: number[] = []
  wantsCalls = 0
  handleInbound(): number { return this.nextId++ }
  handleConnected(): void {}
  handleConnectFailed(): void {}
  handleData(): void {}
  handleEof(): void {}
  handleTransportClosed(): void {}
  handleTimeout(): void {}
  wantsData(id: number): boolean { this.wantsCalls++; return this.wants.get(id) ?? true }
  pollIo(): undefined { return undefined }
  pollDirty(): number | undefined { return this.dirty.shift() }
  pollTransmit(_id: number, _max: number): Uint8Array | undefined { return undefined }
  pollEvent(): undefined { return undefined }
  pollTimeout(): undefined { return undefined }
}

async function setup(n: number): Promise<{ swarm: FakeSwarm; raws: FakeRaw[]; runtime: Runtime<never> }> {
  const swarm = new FakeSwarm()
  let accept: ((c: RawConnection) => void) | undefined
  const transport: Transport = {
    name: 'fake',
    canDial: () => false,
    canListen: () => true,
    dial: () => Promise.reject(new Error('no')),
    listen: async (_addr, onConnection) => { accept = onConnection; return { addrs: [], close: async () => {} } },
  }
  const runtime = new Runtime<never>(swarm, { transports: [transport], onEvent: () => {} })
  await runtime.listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'))
  const raws: FakeRaw[] = []
  for (let i = 0; i < n; i++) {
    const r = new FakeRaw()
    raws.push(r)
    accept!(r)
  }
  return { swarm, raws, runtime }
}

describe('runtime: work per input with many idle connections', () => {
  it('a read on one connection looks at that connection only, not at every idle one', async () => {
    const { swarm, raws } = await setup(2_000)
    swarm.wantsCalls = 0
    raws[7]!.h!.onData(new Uint8Array([1]))
    // before: 2,000 (one per live connection on every flush)
    expect(swarm.wantsCalls).toBeLessThanOrEqual(2)
    expect(swarm.wantsCalls).toBeGreaterThanOrEqual(1)
  })

  it('a connection named by pollDirty is looked at too (a command changed it)', async () => {
    const { swarm, raws, runtime } = await setup(100)
    swarm.wants.set(5, false)
    swarm.dirty.push(5)
    runtime.run(() => undefined)
    expect(raws[4]!.paused).toBe(true)
    expect(raws.filter((r) => r.paused)).toHaveLength(1)
  })

  it('pauses a connection whose core stops wanting data and resumes it on any later flush', async () => {
    const { swarm, raws } = await setup(100)
    swarm.wants.set(3, false)
    raws[2]!.h!.onData(new Uint8Array([1]))
    expect(raws[2]!.paused).toBe(true)
    // the core wants data again (its application read): an unrelated input's flush resumes it
    swarm.wants.set(3, true)
    raws[50]!.h!.onData(new Uint8Array([1]))
    expect(raws[2]!.paused).toBe(false)
    expect(raws[2]!.pauses).toBe(1)
  })

  it('a paused connection that closes is forgotten (no pause/resume on it afterwards)', async () => {
    const { swarm, raws } = await setup(10)
    swarm.wants.set(2, false)
    raws[1]!.h!.onData(new Uint8Array([1]))
    expect(raws[1]!.paused).toBe(true)
    raws[1]!.h!.onClose()
    swarm.wantsCalls = 0
    raws[5]!.h!.onData(new Uint8Array([1]))
    expect(swarm.wantsCalls).toBe(1)
  })
})

describe('runtime: datagram connections are driven once per burst', () => {
  it('datagrams delivered in one socket wake-up are handled one by one, with a flush every DATAGRAM_BURST_FLUSH of them and one after the burst', async () => {
    const { swarm, raws } = await setup(1)
    const raw = raws[0]!
    ;(raw as { datagrams?: boolean }).datagrams = true
    let handled = 0
    let polls = 0
    swarm.handleData = () => { handled++ }
    swarm.pollTimeout = () => { polls++; return undefined }
    const n = 2 * DATAGRAM_BURST_FLUSH + 3
    for (let i = 0; i < n; i++) raw.h!.onData(new Uint8Array([i]))
    expect(handled).toBe(n)
    expect(polls).toBe(2) // a flush re-arms the timer (pollTimeout): not after each datagram
    await new Promise((r) => setImmediate(r))
    expect(polls).toBe(3)
  })

  it('a stream connection is still flushed after every read', async () => {
    const { swarm, raws } = await setup(1)
    let polls = 0
    swarm.pollTimeout = () => { polls++; return undefined }
    for (let i = 0; i < 3; i++) raws[0]!.h!.onData(new Uint8Array([i]))
    expect(polls).toBe(3)
  })
})

describe('runtime: one connection does not hold the event loop for as long as its windows last', () => {
  it('a socket that always accepts gets WRITE_QUANTUM bytes per turn of the event loop; the rest follows, all of it, in order', async () => {
    const { swarm, raws } = await setup(2)
    const [bulk, other] = [raws[0]!, raws[1]!]
    const chunk = new Uint8Array(256 * 1024)
    const total = 2 * WRITE_QUANTUM + 3 * chunk.length
    let left = total
    swarm.pollTransmit = (id: number) => {
      if (id !== 1 || left === 0) return undefined
      left -= chunk.length
      return chunk
    }
    swarm.dirty.push(1)
    other.h!.onData(new Uint8Array([0])) // input on another connection flushes: connection 1 is dirty
    expect(bulk.written).toBe(WRITE_QUANTUM) // not everything in this turn
    await new Promise((r) => setImmediate(r)) // queued after the runtime's resume
    expect(bulk.written).toBe(2 * WRITE_QUANTUM) // one more quantum, then it yields again
    await new Promise((r) => setTimeout(r, 20))
    expect(bulk.written).toBe(total)
    expect(left).toBe(0)
  })

  it('a datagram connection (QUIC: bounded by its congestion window and pacer) is not yielded', async () => {
    const { swarm, raws } = await setup(1)
    const raw = raws[0]!
    ;(raw as { datagrams?: boolean }).datagrams = true
    const chunk = new Uint8Array(64 * 1024)
    const total = 2 * WRITE_QUANTUM
    let left = total
    swarm.pollTransmit = () => {
      if (left === 0) return undefined
      left -= chunk.length
      return chunk
    }
    swarm.dirty.push(1)
    raw.h!.onData(new Uint8Array([0]))
    await new Promise((r) => setImmediate(r)) // the burst's flush
    expect(raw.written).toBe(total)
  })

  it('where there is no setImmediate (browsers), a yielding connection goes on after a timer instead of failing', async () => {
    const g = globalThis as { setImmediate?: unknown }
    const saved = g.setImmediate
    const { swarm, raws } = await setup(1)
    const raw = raws[0]!
    const chunk = new Uint8Array(256 * 1024)
    let left = 2 * WRITE_QUANTUM
    swarm.pollTransmit = () => {
      if (left === 0) return undefined
      left -= chunk.length
      return chunk
    }
    let closed = false
    raw.close = raw.destroy = () => { closed = true }
    g.setImmediate = undefined
    try {
      swarm.dirty.push(1)
      raw.h!.onData(new Uint8Array([0]))
      expect(raw.written).toBe(WRITE_QUANTUM)
    } finally {
      g.setImmediate = saved
    }
    await new Promise((r) => setTimeout(r, 20))
    expect(raw.written).toBe(2 * WRITE_QUANTUM)
    expect(closed).toBe(false)
  })

  it('a connection closed while it yields is not written to again', async () => {
    const { swarm, raws } = await setup(1)
    const raw = raws[0]!
    const chunk = new Uint8Array(256 * 1024)
    swarm.pollTransmit = () => chunk // endless output
    swarm.dirty.push(1)
    raw.h!.onData(new Uint8Array([0]))
    expect(raw.written).toBe(WRITE_QUANTUM)
    raw.h!.onClose()
    await new Promise((r) => setTimeout(r, 20))
    expect(raw.written).toBe(WRITE_QUANTUM)
  })

  it('a socket that pushes back ends the turn as before (drain resumes it) and starts a new quantum', async () => {
    const { swarm, raws } = await setup(1)
    const raw = raws[0]!
    const chunk = new Uint8Array(256 * 1024)
    let left = 8
    swarm.pollTransmit = () => (left-- > 0 ? chunk : undefined)
    raw.accepts = false
    swarm.dirty.push(1)
    raw.h!.onData(new Uint8Array([0]))
    expect(raw.written).toBe(chunk.length) // one write, then the socket is full
    raw.accepts = true
    raw.h!.onDrain()
    expect(raw.written).toBe(8 * chunk.length)
  })
})

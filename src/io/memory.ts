/**
 * In-memory transport for tests and simulations: `/memory/<n>` addresses in one process. Bytes
 * are delivered asynchronously (a microtask later), in order, with the same pause/drain contract
 * as real sockets, so the full stack runs without the network.
 */
import { Multiaddr } from '../multiaddr/index.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

const listeners = new Map<string, (c: RawConnection) => void>()
let nextPort = 1

class MemoryEnd implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  peer: MemoryEnd | undefined
  #h: RawHandlers | undefined
  #inbox: Array<Uint8Array | 'end'> = []
  #paused = false
  #closed = false
  #scheduled = false

  constructor(local: Multiaddr, remote: Multiaddr) {
    this.localAddr = local
    this.remoteAddr = remote
  }

  start(h: RawHandlers): void {
    this.#h = h
    this.#schedule()
  }

  deliver(item: Uint8Array | 'end'): void {
    this.#inbox.push(item)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled || this.#h === undefined) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      while (!this.#paused && this.#inbox.length > 0 && !this.#closed) {
        const item = this.#inbox.shift()!
        if (item === 'end') {
          this.#h!.onEnd()
          this.#finish()
        } else this.#h!.onData(item)
      }
    })
  }

  write(data: Uint8Array): boolean {
    if (this.#closed) return true
    this.peer?.deliver(data.slice())
    return true
  }

  pause(): void { this.#paused = true }
  resume(): void {
    this.#paused = false
    this.#schedule()
  }

  close(): void {
    if (this.#closed) return
    this.peer?.deliver('end')
    this.#finish()
  }

  destroy(): void {
    this.close()
  }

  #finish(): void {
    if (this.#closed) return
    this.#closed = true
    const h = this.#h
    queueMicrotask(() => h?.onClose())
  }
}

/**
 * An in-process transport for tests and examples: listen on `/memory/<name>` and dial it from another node in the same process. No socket, no network.
 */
export function memory(): Transport {
  const isMemory = (a: Multiaddr): boolean => a.components()[0]?.name === 'memory'
  return {
    name: 'memory',
    canDial: isMemory,
    canListen: isMemory,
    async dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      if (options.signal?.aborted === true) throw new TransportError('transport/aborted', addr.toString())
      const target = addr.withoutPeerId().toString()
      const accept = listeners.get(target)
      if (accept === undefined) throw new TransportError('transport/refused', `${target}: nobody listening`)
      const local = Multiaddr.fromString(`/memory/${nextPort++}`)
      const a = new MemoryEnd(local, addr.withoutPeerId())
      const b = new MemoryEnd(addr.withoutPeerId(), local)
      a.peer = b
      b.peer = a
      accept(b)
      return a
    },
    async listen(addr: Multiaddr, onConnection: (c: RawConnection) => void): Promise<TransportListener> {
      let bound = addr.withoutPeerId()
      if (bound.toString() === '/memory/0') bound = Multiaddr.fromString(`/memory/${nextPort++}`)
      const key = bound.toString()
      if (listeners.has(key)) throw new TransportError('transport/address-in-use', key)
      listeners.set(key, onConnection)
      return { addrs: [bound], close: async () => { listeners.delete(key) } }
    },
  }
}

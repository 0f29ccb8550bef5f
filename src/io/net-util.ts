/** Node networking helpers shared by the TCP and WebSocket transports. */
import { networkInterfaces } from 'node:os'
import { Multiaddr } from '../multiaddr/index.js'
import { TransportError } from './transport.js'

/** Node Buffer -> a Uint8Array view of the same memory (weft never hands Buffers to cores). */
export function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function ipMultiaddr(ip: string, port: number, family: number | string | undefined, suffix = ''): Multiaddr {
  const v6 = family === 6 || family === 'IPv6' || ip.includes(':')
  let host = ip
  if (v6 && host.startsWith('::ffff:') && host.includes('.')) return Multiaddr.fromString(`/ip4/${host.slice(7)}/tcp/${port}${suffix}`)
  if (v6) host = host.split('%')[0]!
  return Multiaddr.fromString(`/${v6 ? 'ip6' : 'ip4'}/${host}/tcp/${port}${suffix}`)
}

/** `0.0.0.0` / `::` listen addresses become one address per interface of that family. */
export function expandUnspecified(host: string, port: number, suffix: string): Multiaddr[] {
  if (host !== '0.0.0.0' && host !== '::') return [ipMultiaddr(host, port, host.includes(':') ? 6 : 4, suffix)]
  const want = host === '0.0.0.0' ? 'IPv4' : 'IPv6'
  const out: Multiaddr[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family !== want) continue
      if (want === 'IPv6' && i.address.startsWith('fe80')) continue // link-local needs a zone
      out.push(ipMultiaddr(i.address, port, want, suffix))
    }
  }
  return out
}

export function mapSocketError(e: unknown, what: string): TransportError {
  const code = (e as { code?: string })?.code
  if (code === 'ECONNREFUSED') return new TransportError('transport/refused', `${what}: connection refused`, { cause: e })
  if (code === 'EADDRINUSE') return new TransportError('transport/address-in-use', `${what}: address in use`, { cause: e })
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportError('transport/unreachable', `${what}: ${code}`, { cause: e })
  }
  if (code === 'ETIMEDOUT') return new TransportError('transport/timeout', `${what}: timed out`, { cause: e })
  return new TransportError('transport/failed', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

/** Run `start` with a timeout and an AbortSignal; `cancel` undoes a half-made connection. */
export function withDeadline<T>(what: string, timeout: number, signal: AbortSignal | undefined, start: (done: (err: Error | undefined, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let cancel: () => void = () => {}
    const finish = (err: Error | undefined, value?: T): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err !== undefined) {
        cancel()
        reject(err)
      } else resolve(value as T)
    }
    const onAbort = (): void => finish(new TransportError('transport/aborted', `${what}: aborted`))
    const timer = setTimeout(() => finish(new TransportError('transport/timeout', `${what}: no connection after ${timeout} ms`)), timeout)
    if (signal?.aborted === true) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    cancel = start(finish)
  })
}

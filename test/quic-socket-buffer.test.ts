// quic()'s UDP sockets ask the kernel for DEFAULT_QUIC_SOCKET_BUFFER_SIZE (4 MiB; the OS caps it at
// net.core.rmem_max) unless `socketBufferSize` says otherwise; 0 keeps the OS default. The buffer
// is read back from the socket itself (getRecvBufferSize), compared with a socket made with no options.
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { Socket } from 'node:dgram'
import { multiaddr } from '../src/multiaddr/index.js'
import { DEFAULT_QUIC_SOCKET_BUFFER_SIZE, quic } from '../src/edge/quic-transport.js'

const created = vi.hoisted(() => [] as Socket[])
vi.mock('node:dgram', async (orig) => {
  const m = await orig<typeof import('node:dgram')>()
  const createSocket = ((...a: Parameters<typeof m.createSocket>) => {
    const s = m.createSocket(...a)
    created.push(s)
    return s
  }) as typeof m.createSocket
  return { ...m, default: { ...m, createSocket }, createSocket }
})

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

/** The receive buffer the kernel gave a quic() listener built with `options`. */
async function listenerBuffer(options?: Parameters<typeof quic>[0]): Promise<number> {
  const t = quic(options)
  const before = created.length
  const l = await t.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), () => {})
  // quic()'s object also closes its dial sockets (not part of the Transport interface)
  cleanups.push(() => l.close(), () => (t as typeof t & { close?: () => Promise<void> }).close?.() ?? Promise.resolve())
  const s = created[created.length - 1]!
  expect(created.length).toBe(before + 1)
  return s.getRecvBufferSize()
}

/** The receive buffer of a socket made with no options (the OS default). */
async function osDefault(): Promise<number> {
  const { createSocket } = await vi.importActual<typeof import('node:dgram')>('node:dgram')
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
  const n = s.getRecvBufferSize()
  s.close()
  return n
}

describe('quic() socket buffers', () => {
  test.skipIf(process.platform !== 'linux')('by default the receive buffer is larger than the OS default (4 MiB asked, capped by rmem_max)', async () => {
    expect(DEFAULT_QUIC_SOCKET_BUFFER_SIZE).toBe(4 << 20)
    const os = await osDefault()
    const got = await listenerBuffer()
    expect(got).toBeGreaterThan(os)
  })

  test.skipIf(process.platform !== 'linux')('socketBufferSize 0 keeps the OS default', async () => {
    const os = await osDefault()
    expect(await listenerBuffer({ socketBufferSize: 0 })).toBe(os)
  })
})

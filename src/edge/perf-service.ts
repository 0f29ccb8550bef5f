/**
 * Perf (`/perf/1.0.0`, spec/perf.md) as an opt-in node service, in `weft/node` and `weft/browser`
 * alike: perf lets any peer make the server send and receive bytes, so the spec says it SHOULD NOT
 * be on by default, and a bundle that never benchmarks does not carry it.
 *
 *   import { createNode, perf } from 'weft/node'
 *   const node = await createNode({ services: { perf: perf() } })            // serves with default caps
 *   const result = await node.perf(addr, { uploadBytes: 1e6, downloadBytes: 1e6 })
 *   createNode({ services: { perf: perf({ maxUploadBytes: 2 ** 30, maxDownloadBytes: 2 ** 30, maxStreamsPerPeer: 16 }) } })
 *
 * The service both runs `node.perf()` and serves `/perf/1.0.0`, within the caps of `PerfOptions`
 * (per request: maxUploadBytes, maxDownloadBytes, 64 MiB each; per peer: maxStreamsPerPeer, 2;
 * in all: maxInboundStreams, 16). Its API (`PerfService`) runs the client side for `node.perf()`,
 * and it turns the server side's events into the node's `perf:served` and `perf:server-error`
 * events; all of that lives here, so a node built without perf carries none of it (issue 15).
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { PerfBehaviour, type PerfEvent, type PerfOptions } from '../perf/index.js'

export type PerfResult = Extract<PerfEvent, { type: 'perf-result' }>

/** Options of one perf run (`node.perf(peer, sizes, options)`, `PerfService.run`). */
export interface PerfRunOptions {
  /** Aborts the run: its stream is reset and the promise rejects with the signal's reason. */
  signal?: AbortSignal
  /** Called with each `perf-progress` event: at most once per `progressInterval` (perf options) per run. */
  onProgress?: (ev: PerfEvent) => void
}

/** The perf service's API (`node.service<PerfService>('perf')`); `node.perf()` calls `run` once the peer is dialed. */
export interface PerfService {
  readonly behaviour: PerfBehaviour
  /** One perf run with a connected peer: upload, then download, the given byte counts (libp2p perf/perf.md). */
  run(peer: PeerId, sizes: { uploadBytes: number; downloadBytes: number }, options?: PerfRunOptions): Promise<PerfResult>
}

interface Run { resolve: (r: PerfResult) => void; reject: (e: Error) => void; onProgress: ((ev: PerfEvent) => void) | undefined }

/**
 * The perf service (libp2p specs perf/perf.md, `/perf/1.0.0`), for `createNode({ services: { perf: perf() } })`:
 * `node.perf(peer, { uploadBytes, downloadBytes })` measures throughput, and we serve peers' runs.
 * Off by default: the spec says perf SHOULD NOT be enabled by default, as it lets any peer make us
 * send and receive bytes (bounded by `PerfOptions`).
 * @param options - limits and progress interval (`PerfOptions`; the download cap defaults to 64 MiB).
 * @example
 * ```ts
 * const node = await createNode({ services: { perf: perf() } })
 * const r = await node.perf('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...', { uploadBytes: 1 << 20, downloadBytes: 1 << 20 })
 * ```
 */
export function perf(options: PerfOptions = {}): ServiceFactory<PerfService> {
  return (ctx): NodeService<PerfService> => {
    const behaviour = new PerfBehaviour(options)
    const runs = new Map<number, Run>()
    let node: EventTarget | undefined
    let stopped: Error | undefined
    const emit = (type: string, detail: unknown): void => { node?.dispatchEvent(new CustomEvent(type, { detail })) }
    const api: PerfService = {
      behaviour,
      run(peer, sizes, o = {}) {
        if (stopped !== undefined) return Promise.reject(stopped)
        const signal = o.signal
        return new Promise<PerfResult>((resolve, reject) => {
          if (signal?.aborted === true) return reject(abortError(signal))
          let rid = -1
          const onAbort = (): void => {
            runs.delete(rid)
            reject(abortError(signal!))
          }
          signal?.addEventListener('abort', onAbort, { once: true })
          const done = (): void => signal?.removeEventListener('abort', onAbort)
          ctx.run((now: Millis) => {
            rid = behaviour.perf(now, peer, sizes)
            runs.set(rid, { resolve: (r) => { done(); resolve(r) }, reject: (e) => { done(); reject(e) }, onProgress: o.onProgress })
          })
        })
      },
    }
    return {
      name: 'perf',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      attach: (n) => { node = n as EventTarget },
      onEvent: (ev: PerfEvent) => {
        switch (ev.type) {
          case 'perf-served':
            emit('perf:served', { peer: ev.peer, uploadBytes: ev.uploadBytes, downloadBytes: ev.downloadBytes })
            break
          case 'perf-server-error':
            emit('perf:server-error', { peer: ev.peer, error: ev.error })
            break
          case 'perf-progress':
            runs.get(ev.requestId)?.onProgress?.(ev)
            break
          default: {
            const r = runs.get(ev.requestId)
            if (r === undefined) break
            runs.delete(ev.requestId)
            if (ev.type === 'perf-result') r.resolve(ev)
            else r.reject(ev.error)
          }
        }
      },
      stop: (error) => {
        stopped = error
        for (const r of runs.values()) r.reject(error)
        runs.clear()
      },
    }
  }
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason
  return r instanceof Error ? r : new UsageError('node/aborted', 'the operation was aborted')
}

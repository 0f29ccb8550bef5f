/**
 * A tiny Redis client: RESP2 commands over one TCP connection (node:net), enough for the interop
 * coordination (RPUSH, BLPOP, LLEN, DEL, PING). No dependency on an npm redis package.
 *
 * Requests are arrays of bulk strings; replies are parsed as simple string (+), error (-),
 * integer (:), bulk string ($, -1 = null) and array (*, -1 = null). Commands are pipelined in order
 * on the connection; each call resolves with its own reply.
 */
import net from 'node:net'

export class RedisError extends Error {
  name = 'RedisError'
}

export class Resp {
  /** @type {net.Socket} */ #sock
  /** @type {Buffer} */ #buf = Buffer.alloc(0)
  /** @type {Array<{resolve: (v: unknown) => void, reject: (e: Error) => void}>} */ #waiting = []
  /** @type {Error | undefined} */ #dead

  /** @param {net.Socket} sock */
  constructor(sock) {
    this.#sock = sock
    sock.on('data', (d) => { this.#buf = Buffer.concat([this.#buf, d]); this.#drain() })
    const die = (/** @type {Error} */ e) => {
      this.#dead ??= e
      for (const w of this.#waiting.splice(0)) w.reject(this.#dead)
    }
    sock.on('error', die)
    sock.on('close', () => die(new RedisError('redis connection closed')))
  }

  /**
   * Connect to "host:port", or to a Unix socket given as "unix:/path" (the NAT suite's redis, reachable
   * from every network namespace without an interface that could bypass the NATs).
   * @param {string} addr
   * @param {number} [timeoutMs]
   * @returns {Promise<Resp>}
   */
  static connect(addr, timeoutMs = 10_000) {
    const i = addr.lastIndexOf(':')
    const host = i < 0 ? addr : addr.slice(0, i)
    const port = i < 0 ? 6379 : Number(addr.slice(i + 1))
    return new Promise((resolve, reject) => {
      const sock = addr.startsWith('unix:') ? net.connect({ path: addr.slice(5) }) : net.connect({ host, port })
      const t = setTimeout(() => { sock.destroy(); reject(new RedisError(`redis ${addr}: connect timeout`)) }, timeoutMs)
      sock.once('connect', () => { clearTimeout(t); sock.setNoDelay(true); resolve(new Resp(sock)) })
      sock.once('error', (e) => { clearTimeout(t); reject(new RedisError(`redis ${addr}: ${e.message}`)) })
    })
  }

  /**
   * Send one command; resolves with the reply (string | number | null | array), rejects on a -ERR reply.
   * @param {...(string|number)} args
   * @returns {Promise<any>}
   */
  command(...args) {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const parts = [`*${args.length}\r\n`]
    for (const a of args) {
      const s = String(a)
      parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`)
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#sock.write(parts.join(''))
    })
  }

  close() {
    this.#sock.destroy()
  }

  #drain() {
    for (;;) {
      const r = parse(this.#buf, 0)
      if (r === undefined) return
      this.#buf = this.#buf.subarray(r.end)
      const w = this.#waiting.shift()
      if (w === undefined) continue
      if (r.value instanceof RedisError) w.reject(r.value)
      else w.resolve(r.value)
    }
  }
}

/**
 * Parse one RESP value at `off`; undefined when the buffer does not hold all of it yet.
 * @param {Buffer} buf
 * @param {number} off
 * @returns {{ value: any, end: number } | undefined}
 */
function parse(buf, off) {
  const nl = buf.indexOf('\r\n', off)
  if (nl < 0) return undefined
  const type = String.fromCharCode(buf[off])
  const line = buf.toString('utf8', off + 1, nl)
  const next = nl + 2
  switch (type) {
    case '+': return { value: line, end: next }
    case '-': return { value: new RedisError(line), end: next }
    case ':': return { value: Number(line), end: next }
    case '$': {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      if (buf.length < next + n + 2) return undefined
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 }
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      const out = []
      let p = next
      for (let k = 0; k < n; k++) {
        const r = parse(buf, p)
        if (r === undefined) return undefined
        out.push(r.value)
        p = r.end
      }
      return { value: out, end: p }
    }
    default:
      throw new RedisError(`bad RESP type byte 0x${buf[off].toString(16)}`)
  }
}

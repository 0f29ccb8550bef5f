/**
 * `weft inspect <value>`: decode what an auditor pastes in.
 * - a multiaddr in text (`/ip4/...`) or hex: each component with its bytes;
 * - a peer id in any text form: key type, multihash, CID and base58 forms, the embedded public key;
 * - a key protobuf in hex (public or private): type, data, and the peer id it gives.
 */
import { fromHex, toHex } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId, privateKeyFromProtobuf, publicKeyFromProtobuf, type PublicKey } from '../peer-id/index.js'

export type Inspection =
  | { kind: 'multiaddr'; text: string; hex: string; components: Array<{ code: number; name: string; value?: string; hex: string }> }
  | { kind: 'peer-id'; base58: string; cid: string; multihash: { code: number; name: string; hex: string }; keyType?: string; publicKey?: string }
  | { kind: 'public-key' | 'private-key'; keyType: string; data: string; peerId: string }

/**
 * Async only for the private-key form: its crypto provider (@noble/curves, whose import costs more
 * than the rest of `weft inspect`) is imported when a hex value is neither a multiaddr nor a public key.
 */
export async function inspect(value: string): Promise<Inspection> {
  const v = value.trim()
  if (v.startsWith('/')) return describeMultiaddr(Multiaddr.fromString(v))
  const hex = v.startsWith('0x') ? v.slice(2) : v
  if (hex.length > 0 && hex.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(hex)) {
    const bytes = fromHex(hex)
    const errors: unknown[] = []
    for (const attempt of [
      () => describeMultiaddr(Multiaddr.fromBytes(bytes)),
      () => describePublicKey(publicKeyFromProtobuf(bytes)),
      async () => {
        const { nobleCrypto } = await import('../core/crypto/noble.js')
        const k = privateKeyFromProtobuf(bytes, nobleCrypto)
        return { kind: 'private-key' as const, keyType: k.type, data: toHex(k.seed), peerId: k.publicKey.toPeerId().toString() }
      },
    ]) {
      try {
        return await attempt()
      } catch (e) {
        errors.push(e)
      }
    }
    // Hex that is none of these may still be a base58 peer id made of hex-looking characters; fall through.
    if (!/^(1|Qm|z|b|k|f)/.test(v)) throw errors[0]
  }
  const id = PeerId.parse(v)
  const mh = id.multihash
  const out: Inspection = {
    kind: 'peer-id',
    base58: id.toString(),
    cid: id.toCID(),
    multihash: { code: mh[0]!, name: mh[0] === 0 ? 'identity' : 'sha2-256', hex: toHex(mh) },
  }
  if (id.publicKey !== undefined) {
    out.keyType = id.publicKey.type
    out.publicKey = toHex(id.publicKey.bytes)
  }
  return out
}

function describeMultiaddr(m: Multiaddr): Inspection {
  return {
    kind: 'multiaddr',
    text: m.toString(),
    hex: toHex(m.bytes),
    components: m.components().map((c) => {
      const base = { code: c.code, name: c.name, hex: toHex(c.bytes) }
      return c.value === undefined ? base : { ...base, value: c.value }
    }),
  }
}

function describePublicKey(k: PublicKey): Inspection {
  return { kind: 'public-key', keyType: k.type, data: toHex(k.data), peerId: k.toPeerId().toString() }
}

export function formatInspection(i: Inspection): string {
  switch (i.kind) {
    case 'multiaddr': {
      const lines = [`multiaddr ${i.text}`, `bytes     ${i.hex}`]
      for (const c of i.components) lines.push(`  ${c.name.padEnd(14)} code ${String(c.code).padEnd(6)} ${c.value ?? ''}${c.hex.length > 0 ? `  (${c.hex})` : ''}`)
      return lines.join('\n')
    }
    case 'peer-id': {
      const lines = [`peer id   ${i.base58}`, `cid       ${i.cid}`, `multihash ${i.multihash.name} (0x${i.multihash.code.toString(16).padStart(2, '0')}) ${i.multihash.hex}`]
      if (i.keyType !== undefined) lines.push(`key type  ${i.keyType}`, `public key protobuf ${i.publicKey}`)
      else lines.push('key       not embedded (sha2-256 peer id)')
      return lines.join('\n')
    }
    default:
      return [`${i.kind} ${i.keyType}`, `data      ${i.data}`, `peer id   ${i.peerId}`].join('\n')
  }
}

/** Kept here for importers of inspect.js; the CLI's error line lives in error-line.ts. */
export { errorLine } from './error-line.js'

// libp2p TLS certificates (src/tls/certificate.ts over x509.ts and der.ts): the spec's vectors, our
// generator's round trip, and every refusal with its code and alert.
import { describe, expect, test } from 'vitest'
import { fromHex } from '../src/core/bytes.js'
import { ProtocolError } from '../src/core/errors.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { verifyCertificateChain } from '../src/tls/certificate.js'
import { LIBP2P_EXTENSION_OID } from '../src/tls/certificate.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('tls')
const NOW_2026 = 1_767_225_600_000

describe('vectors', () => {
  for (const v of vectors.where((x) => x.kind === 'chain')) {
    test(v.id, () => {
      const chain = [fromHex(v.hex!)]
      const now = typeof v.nowMs === 'number' ? v.nowMs : NOW_2026
      if (v.error !== undefined) {
        let err: unknown
        try { verifyCertificateChain(chain, { crypto: nodeTlsCrypto, now }) } catch (e) { err = e }
        expect(err).toBeInstanceOf(ProtocolError)
        expect((err as ProtocolError).code).toBe(v.error)
        return
      }
      const r = verifyCertificateChain(chain, { crypto: nodeTlsCrypto, now })
      expect(r.peerId.toString()).toBe(v.decoded.peerId)
      expect(r.publicKey.type).toBe(v.decoded.hostKeyType)
      expect(r.certificate.extensions.find((e) => e.oid === LIBP2P_EXTENSION_OID)!.critical).toBe(v.decoded.critical)
    })
  }
})

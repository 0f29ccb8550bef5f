/**
 * `weft dht` keys: CID text -> multihash without a CID library (src/cli/cid.ts). The table was
 * produced by the multiformats JS library 14.0.5 (CID.createV0 / createV1 over sha2-256 of
 * 'weft 0'..'weft 5'; raw and dag-cbor codecs; base58btc, base32, base36 text), the library weft
 * depended on before.
 */
import { describe, expect, test } from 'vitest'
import { cidMultihash } from '../src/cli/cid.js'
import { parseKey } from '../src/cli/dht.js'
import { toHex } from '../src/core/index.js'

const FROM_MULTIFORMATS: Array<[string, string]> = [
  ['QmRSpWUSeef91gmwhPyVwEjBbUb8xXwF5cZqHC7HB2UXkd', '12202e27a03a70406fb324c28f7bf871015fb2bae51fc8c49b9202d25551516d99a2'],
  ['bafkreiboe6qdu4can6zsjquppp4hcak7wk5okh6iysnzeawskvivc3mzui', '12202e27a03a70406fb324c28f7bf871015fb2bae51fc8c49b9202d25551516d99a2'],
  ['k2jvsl6jh4ak2shn2ax8qnvufl1x16vbsvfeafgfzr9bmm430gkw0xia', '12202e27a03a70406fb324c28f7bf871015fb2bae51fc8c49b9202d25551516d99a2'],
  ['zdpuAoXcHHoNrHoHrzQKAK253DEMyqmJbYKW4b3bHxoaxKkfT', '12202e27a03a70406fb324c28f7bf871015fb2bae51fc8c49b9202d25551516d99a2'],
  ['QmdGP2jX5wTQQHAxing6W8KsGc7VTYW8cUxi8XJnJXaBsD', '1220ddc740a64e7a9354c8343dc3a31e7de1e3282f3806ca147e1a7721a4d1959130'],
  ['bafkreig5y5akmtt2snkmqnb5yorr47pb4muc6oagzikh4gtxegsndfmrga', '1220ddc740a64e7a9354c8343dc3a31e7de1e3282f3806ca147e1a7721a4d1959130'],
  ['k2jvslax207vs1rcfoiuz1a0ynbie12m7uzqiu46tubf4do7ek1tb5f4', '1220ddc740a64e7a9354c8343dc3a31e7de1e3282f3806ca147e1a7721a4d1959130'],
  ['zdpuB1MAoYsp964gTPRLZ1cdvov37N7oc7D2vyvSdAJiTRQn3', '1220ddc740a64e7a9354c8343dc3a31e7de1e3282f3806ca147e1a7721a4d1959130'],
  ['QmfQ8baUKXGAdpX8ZR7D8xWw9gLVzkURNcrfpgSXYoBaTB', '1220fd7af3dd897119ea72de8330d0d02367977770ca71a251a074f811622cb0f362'],
  ['bafkreih5plz53clrdhvhfxudgdinai3hs53xbstruji2a5hycfrczmhtmi', '1220fd7af3dd897119ea72de8330d0d02367977770ca71a251a074f811622cb0f362'],
  ['k2jvslbpi0unv4vvh38i9j9wtiwdv7fno8e53mr135x0pv28y6kv3vxe', '1220fd7af3dd897119ea72de8330d0d02367977770ca71a251a074f811622cb0f362'],
  ['zdpuB3UvNPq3itpuzjbBBSjGkzyvBb8Lp5Vo4st8nJ3xj2oN1', '1220fd7af3dd897119ea72de8330d0d02367977770ca71a251a074f811622cb0f362'],
  ['QmXmTEqr63vk7t2aiJs3stDHirPyGNkUzKF7ZvBy41MxqD', '12208c13bbbb0818e5850f147942d65c3c6432ec1306bdb3b7beaac8eca54e0eada8'],
  ['bafkreiemco53wcay4wcq6fdzillfypdeglwbgbv5wo335kwi5ssu4dvnva', '12208c13bbbb0818e5850f147942d65c3c6432ec1306bdb3b7beaac8eca54e0eada8'],
  ['k2jvsl8vqxvqzdtvft4hhqtw3tfpvj0wfmbuqfj9lmu6ekhq7g7knovc', '12208c13bbbb0818e5850f147942d65c3c6432ec1306bdb3b7beaac8eca54e0eada8'],
  ['zdpuAurF1fCpFZQQ4F3L5Ca1ghLVMebcSMZQmGKt23VTwDBk3', '12208c13bbbb0818e5850f147942d65c3c6432ec1306bdb3b7beaac8eca54e0eada8'],
  ['QmfU9faBz4vSepNjk2uN9mNf7qPN8zNvXVYuYj92W75GQP', '1220fe827c0334f22c764af7371b714e88b29ed45eeecd4c45def84087172076e6c8'],
  ['bafkreih6qj6agnhsfr3ev5zxdnyu5cfst3kf53wnjrc556caq4lsa5xgza', '1220fe827c0334f22c764af7371b714e88b29ed45eeecd4c45def84087172076e6c8'],
  ['k2jvslbqf9wxgnh406vox7g1aerhfzh7s0ckrvlsq1i61ielyvfup9l4', '1220fe827c0334f22c764af7371b714e88b29ed45eeecd4c45def84087172076e6c8'],
  ['zdpuB3YwSPYiGZ6vzbCMoEtHZrhtLdzV3yzwwa7rpzYv2vVKD', '1220fe827c0334f22c764af7371b714e88b29ed45eeecd4c45def84087172076e6c8'],
  ['QmW9SwUFa2EuXDw84Sb6MNhtS7xGec737UkKeH8yJFqacR', '122073fecc70e9bee167b4f5c22ba4c2601feff10f0bf4f6d5d4b09b91a44157912a'],
  ['bafkreidt73ghb2n64ft3j5ocfosmeya757yq6c7u63k5jme3sgsecv4rfi', '122073fecc70e9bee167b4f5c22ba4c2601feff10f0bf4f6d5d4b09b91a44157912a'],
  ['k2jvsl8a52djaz4rb37sgplc9t03xgirmiq920ivs64wa78ndc83n962', '122073fecc70e9bee167b4f5c22ba4c2601feff10f0bf4f6d5d4b09b91a44157912a'],
  ['zdpuAtEEiHcJDsZoQ9agCvcVBBwCdCtzfi7XvmXxNzViBgoXF', '122073fecc70e9bee167b4f5c22ba4c2601feff10f0bf4f6d5d4b09b91a44157912a'],
]

describe('CID text -> multihash', () => {
  test.each(FROM_MULTIFORMATS)('%s', (cid, mh) => {
    expect(toHex(cidMultihash(cid)!)).toBe(mh)
    expect(toHex(parseKey(cid, true))).toBe(mh)
  })

  test('not CIDs: wrong version, trailing bytes, short digest, bad base, too short', () => {
    const [v1] = FROM_MULTIFORMATS[1]!
    for (const bad of ['', 'b', v1.slice(0, -2), v1 + 'a', 'x' + v1.slice(1), 'Qm' + 'x'.repeat(44), 'bafy']) {
      expect(cidMultihash(bad), bad).toBeUndefined()
    }
  })

  test('keys that are not CIDs: 0x hex, base58 multihash, text', () => {
    expect(toHex(parseKey('0x0102', true))).toBe('0102')
    expect(new TextDecoder().decode(parseKey('/pk/abc', false))).toBe('/pk/abc')
    expect(parseKey('3yZe7d', true).length).toBeGreaterThan(0) // valid base58, not a CID
  })
})

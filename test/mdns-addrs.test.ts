// Address hygiene of mDNS (src/mdns/addrs.ts, spec/mdns.md "Addresses"): what we announce and
// what we accept.
import { describe, expect, test } from 'vitest'
import { mdnsOurAddrs, mdnsUsableAddr } from '../src/mdns/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const ID = '12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7'

describe('mdns addresses', () => {
  test('usable: unspecified never; loopback and link-local only from loopback; public, private and names always', () => {
    const cases: Array<[string, boolean, boolean]> = [
      ['/ip4/192.0.2.1/tcp/1', true, true],
      ['/ip4/10.0.0.1/tcp/1', true, true],
      ['/ip4/0.0.0.0/tcp/1', false, false],
      ['/ip4/127.0.0.1/tcp/1', false, true],
      ['/ip4/169.254.1.1/tcp/1', false, true],
      ['/ip6/::/tcp/1', false, false],
      ['/ip6/::1/tcp/1', false, true],
      ['/ip6/fe80::1/tcp/1', false, true],
      ['/ip6zone/eth0/ip6/fe80::1/tcp/1', false, true],
      ['/ip6/fd00::1/tcp/1', true, true],
      ['/ip6/::ffff:127.0.0.1/tcp/1', false, true],
      ['/dns4/host.local/tcp/1', true, true],
    ]
    for (const [a, remote, local] of cases) {
      expect([a, mdnsUsableAddr(ma(a))]).toEqual([a, remote])
      expect([a, mdnsUsableAddr(ma(a), true)]).toEqual([a, local])
    }
  })

  test('ourAddrs: /p2p removed, unspecified expanded per family, loopback and circuits left out, unique', () => {
    const node = [
      `/ip4/0.0.0.0/tcp/4001/p2p/${ID}`, '/ip6/::/tcp/4001', '/ip4/127.0.0.1/tcp/4001', '/ip4/192.0.2.7/tcp/4001',
      `/ip4/198.51.100.1/tcp/4001/p2p/${ID}/p2p-circuit`, '/ip4/192.0.2.7/tcp/4002/ws',
    ].map(ma)
    expect(mdnsOurAddrs(node, ['192.0.2.7', '192.0.2.8', 'fd00::7']).map(String)).toEqual([
      '/ip4/192.0.2.7/tcp/4001', '/ip4/192.0.2.8/tcp/4001', '/ip6/fd00::7/tcp/4001', '/ip4/192.0.2.7/tcp/4002/ws',
    ])
    expect(mdnsOurAddrs(node, [], true).map(String)).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/192.0.2.7/tcp/4001', '/ip4/192.0.2.7/tcp/4002/ws'])
  })
})

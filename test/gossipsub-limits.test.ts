// Gossipsub's byte and CPU bounds (issue 11 item 4, audit §3): each limit at its value and one past it,
// through the behaviour against one scripted peer (test/helpers/gossipsub-scripted.ts).
import { describe, expect, test } from 'vitest'
import { utf8 } from '../src/core/bytes.js'
import { encodePubsubMessage } from '../src/gossipsub/index.js'
import { IN, PEER, peerMsg, scripted } from './helpers/gossipsub-scripted.js'

describe('graylist', () => {
  test('a graylisted peer\'s frames are not decoded: a malformed one neither resets its stream nor raises an error', () => {
    const { b, h, send } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const { m } = peerMsg('hi')
    const forged = encodePubsubMessage({ ...m, data: utf8('forged') })
    for (let i = 0; i < 3; i++) send({ messages: [forged] })
    expect(b.getScore(PEER.peer, h.now)).toBeLessThan(b.inspect().cfg.scoreThresholds.graylistThreshold)
    // a frame that does not decode (field 1 as a varint): decoding it would reset the stream
    const acts = h.input({ type: 'stream-data', stream: IN, data: Uint8Array.of(5, 0x08, 0x01, 0xff, 0xff, 0xff) })
    expect(acts.filter((a) => a.type === 'reset')).toEqual([])
    expect(h.events().filter((e) => e.type === 'peer-protocol-error')).toEqual([])
    // once the score recovers above the graylist threshold its frames are decoded again
  })
})

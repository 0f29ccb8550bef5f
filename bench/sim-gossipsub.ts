// Gossipsub network simulation (deterministic for a seed; virtual time; behaviour-level network).
//
// Run: npm run sim:gossipsub -- --nodes 100 --seed 1 [--spammers 0.1] [--loss 0.05] [--size 100]
//        [--messages 200] [--duration 20000] [--degree 8] [--validation-delay 0] [--compare-idontwant]
//        [--sign] [--json]
// --compare-idontwant runs the same seed twice with 64 KiB messages, IDONTWANT on and off, and prints
// the duplicates by cause (DuplicateCause in bench/gossipsub-sim-net.ts). --duration is the publishing
// window in virtual ms: 50 messages over 1 500 ms keep several 64 KiB messages in flight at once.
// See bench/README.md "Gossipsub simulation".
import { nodeCrypto } from '../src/io/crypto-node.js'
import { simulate, type SimOptions } from './gossipsub-sim-net.js'

const argv = process.argv.slice(2)
const arg = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : def
}
const flag = (name: string): boolean => argv.includes(`--${name}`)

const base: SimOptions = {
  nodes: arg('nodes', 100),
  seed: arg('seed', 1),
  spammers: arg('spammers', 0),
  loss: arg('loss', 0),
  messages: arg('messages', 200),
  duration: arg('duration', 20_000),
  messageSize: arg('size', 100),
  degree: arg('degree', 8),
  validationDelay: arg('validation-delay', 0),
  bandwidth: arg('bandwidth', 1250),
  sign: flag('sign'),
  crypto: nodeCrypto,
}

const t0 = performance.now()
if (flag('compare-idontwant')) {
  const size = arg('size', 64 * 1024)
  const on = simulate({ ...base, messageSize: size, idontwant: true }).result
  const off = simulate({ ...base, messageSize: size, idontwant: false }).result
  const cut = off.duplicatesPerMessage === 0 ? 0 : 1 - on.duplicatesPerMessage / off.duplicatesPerMessage
  const out = { messageSize: size, with: on, without: off, duplicateReduction: cut }
  if (flag('json')) console.log(JSON.stringify(out))
  else {
    console.log(`IDONTWANT, ${size}-byte messages, ${base.nodes} nodes, seed ${base.seed}`)
    console.log(`  duplicates per message: with ${on.duplicatesPerMessage.toFixed(3)}, without ${off.duplicatesPerMessage.toFixed(3)} (-${(cut * 100).toFixed(1)}%)`)
    console.log(`  delivery ratio: with ${on.deliveryRatio}, without ${off.deliveryRatio}`)
    console.log(`  latency median / p99: with ${on.latencyMedianMs.toFixed(0)} / ${on.latencyP99Ms.toFixed(0)} ms, without ${off.latencyMedianMs.toFixed(0)} / ${off.latencyP99Ms.toFixed(0)} ms`)
    console.log('  duplicates by cause (total copies; see DuplicateCause in bench/gossipsub-sim-net.ts):')
    for (const c of Object.keys(on.duplicatesByCause) as Array<keyof typeof on.duplicatesByCause>) {
      console.log(`    ${c.padEnd(22)} with ${String(on.duplicatesByCause[c]).padStart(6)}   without ${String(off.duplicatesByCause[c]).padStart(6)}`)
    }
  }
} else {
  const r = simulate(base).result
  if (flag('json')) {
    console.log(JSON.stringify({
      nodes: r.nodes, messages: r.messages, deliveryRatio: r.deliveryRatio, latencyMedianMs: r.latencyMedianMs,
      latencyP99Ms: r.latencyP99Ms, duplicatesPerMessage: r.duplicatesPerMessage, spammersGraylisted: r.spammersGraylisted,
      spammers: r.spammers,
    }))
  } else {
    console.log(`gossipsub simulation: ${r.nodes} nodes, seed ${base.seed}, spammers ${r.spammers}, loss ${base.loss}`)
    console.log(`  messages               ${r.messages}`)
    console.log(`  delivery ratio         ${r.deliveryRatio}`)
    console.log(`  latency median / p99   ${r.latencyMedianMs.toFixed(0)} ms / ${r.latencyP99Ms.toFixed(0)} ms`)
    console.log(`  duplicates per message ${r.duplicatesPerMessage.toFixed(3)}`)
    console.log(`  spammers graylisted    ${r.spammersGraylisted} / ${r.spammers}`)
    console.log(`  (wall ${((performance.now() - t0) / 1000).toFixed(1)} s for ${(r.virtualMs / 1000).toFixed(0)} s virtual)`)
  }
}

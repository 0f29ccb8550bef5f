// Entry for bench/sim-kad-run.mjs: the simulation with node:crypto (the launcher runs in Node).
import { nodeCrypto } from '../src/io/crypto-node.js'
import { main } from './sim-kad.js'

export function run(argv: readonly string[]): void {
  main(argv, nodeCrypto)
}

// size: esbuild browser bundles (bench/bundles.ts) raw and gzip -9, the single-module bundles'
// no-noise/no-yamux check, and the production install footprint of a packed tarball.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, existsSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { REPO, row, missing } from './lib.mjs'

export const title = 'size: browser bundles (esbuild, ESM, minified, tree-shaken) and production install'

export async function run({ loadTs, log }) {
  const { buildAll } = await loadTs('bundles.ts')
  const rows = []
  const details = {}
  for (const r of await buildAll()) {
    if (!r.built) {
      rows.push(missing('size', 'weft', 'browser', `${r.name} gzip`, 'bytes', `not yet built: ${r.missing.join(', ')} missing`))
      continue
    }
    rows.push(row('size', 'weft', 'browser', `${r.name} raw`, 'bytes', [r.raw]))
    rows.push({ ...row('size', 'weft', 'browser', `${r.name} gzip`, 'bytes', [r.gzip]), ...(r.forbiddenInputs.length + r.forbiddenText.length ? { note: `FORBIDDEN inputs: ${r.forbiddenInputs.join(', ')}; text: ${r.forbiddenText.join(', ')}` } : {}) })
    details[r.name] = Object.fromEntries(Object.entries(r.bytesByGroup).sort((a, b) => b[1] - a[1]))
  }
  log(`bundle composition (minified bytes before gzip): ${JSON.stringify(details['browser-minimal'])}`)
  // `npm run bench -- size --why`: per package and per file, minified and marginal gzip bytes
  if (process.argv.includes('--why')) await (await import('./size-why.mjs')).why(['browser-minimal', 'browser-gossipsub', 'browser-kad'], { log })
  try {
    const f = installFootprint()
    rows.push(row('size', 'weft', 'npm', 'install packages (incl. weft)', 'count', [f.packages]))
    rows.push(row('size', 'weft', 'npm', 'install node_modules bytes', 'bytes', [f.bytes]))
    rows.push(row('size', 'weft', 'npm', 'packed tarball', 'bytes', [f.tarball]))
    log(`installed packages: ${f.names.join(', ')}`)
  } catch (e) {
    rows.push(missing('size', 'weft', 'npm', 'install packages (incl. weft)', 'count', `install failed: ${String(e.message).slice(0, 120)}`))
  }
  return rows
}

/** `npm pack` (existing dist/, no scripts) then `npm install --omit=dev <tarball>` in an empty folder. */
function installFootprint() {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-install-'))
  try {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const tgz = path.join(dir, JSON.parse(out)[0].filename)
    const app = path.join(dir, 'app')
    execFileSync('mkdir', ['-p', app])
    writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n')
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', tgz], { cwd: app, stdio: 'ignore', timeout: 300_000 })
    const nm = path.join(app, 'node_modules')
    const names = []
    const walk = (d) => {
      if (!existsSync(d)) return
      for (const e of readdirSync(d)) {
        if (e.startsWith('.')) continue
        const p = path.join(d, e)
        if (e.startsWith('@')) { walk(p); continue }
        if (existsSync(path.join(p, 'package.json'))) { names.push(path.relative(nm, p)); walk(path.join(p, 'node_modules')) }
      }
    }
    walk(nm)
    const bytes = Number(execFileSync('du', ['-sb', nm], { encoding: 'utf8' }).split('\t')[0])
    return { packages: names.length, bytes, names, tarball: statSync(tgz).size }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

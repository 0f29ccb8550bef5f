/**
 * Builds a small Go program that a test runs as a black-box peer (quic-go in the QUIC tests).
 * Modules come from the Go module cache, else from the module proxy (the only network this
 * machine has). Without Go or the modules the test skips and says why, except under CI=true,
 * where a peer that cannot be built fails the suite: a CI run must not pass by skipping.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const CI = process.env.CI === 'true' || process.env.CI === '1'

/**
 * Builds `main` + `mod` (+ `sum`, a go.sum) under tmpdir()/`name`-<hash of all three> once; `skip` says why when it could not be
 * built. The hash keys the cache: a binary built from an earlier version of the program is never
 * reused (one was, and hid a Go compile error from every run on a machine that had built it before).
 */
export async function buildGoProgram(name: string, main: string, mod: string, sum?: string): Promise<{ bin: string, skip?: string }> {
  const hash = createHash('sha256').update(main).update('\0').update(mod).update('\0').update(sum ?? '').digest('hex').slice(0, 12)
  const dir = join(tmpdir(), `${name}-${hash}`)
  const bin = join(dir, 'peer')
  if (existsSync(bin)) return { bin }
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'main.go'), main)
  writeFileSync(join(dir, 'go.mod'), mod)
  if (sum !== undefined) writeFileSync(join(dir, 'go.sum'), sum)
  const skip = await new Promise<string | undefined>((resolve) => {
    execFile('go', ['build', '-o', bin, '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GOSUMDB: 'off' }, timeout: 240_000 },
      (e, _out, err) => resolve(e === null ? undefined : `Go peer ${name} not built (Go or its modules missing): ${String(err || e).split('\n')[0]}`))
  })
  if (skip !== undefined) {
    if (CI) throw new Error(skip)
    console.warn(skip)
  }
  return skip === undefined ? { bin } : { bin, skip }
}

/** The go.mod of a quic-go test peer: the pinned quic-go (go-libp2p v0.48.0's) and its x/ modules, in one place. */
export function quicGoMod(module: string): string {
  return `module ${module}

go 1.24

require (
	github.com/quic-go/quic-go v0.59.0
	golang.org/x/crypto v0.48.0
	golang.org/x/net v0.50.0
	golang.org/x/sys v0.48.0
	golang.org/x/text v0.34.0
)
`
}

#!/usr/bin/env node
// Code-only error messages for browser builds (issue 15; spec/browser.md, "Error messages").
//
// `stripMessages(source)` drops the human-readable message of every typed error built with a literal
// text: in `new UsageError('node/stopped', 'the node was stopped')`, `fail('multiaddr/invalid-port',
// `port ${p}`)` and the like, the text after the code becomes `void 0`, so the error's `message` is its
// code (`'node/stopped'`), as when no message is passed. Only calls of ERROR_BUILDERS whose argument
// before the text is an error code literal ('area/what') are touched; every other string stays
// (protocol ids, RangeError / TypeError texts, which carry no code), and so does every code, protocol
// name, cause, attempt list and field. The texts are ~5 KB gzip of browser-minimal (size-why --text).
//
// `node scripts/strip-messages.mjs [from] [to]` (run by `npm run build`): writes dist/web/, a copy of
// dist/'s modules with code-only messages, which package.json's `browser` export condition selects
// (bundlers targeting browsers: esbuild, webpack, Vite, Rollup's node-resolve with `browser: true`).
// bench/bundles.ts builds the browser bundles through the same function.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/**
 * The error constructors and helpers whose message may go: each passes an undefined message on to a
 * typed error (src/core/errors.ts, TransportError), whose `message` is then its code.
 */
export const ERROR_BUILDERS = new Set([
  'UsageError', 'OutcomeError', 'DialError', 'ProtocolError', 'TransportError',
  // helpers of the form (code, message?, cause?) => a ProtocolError / OutcomeError / DialError
  'fail', 'failed', 'noiseError', 'protocolError', 'wsError', 'ipnsError', 'kadError', 'kadOutcome', 'outcome',
])

/** An error code: 'area/what' (lower case, digits, dashes). */
const CODE = /^[a-z0-9-]+\/[a-z0-9-]+$/

function isText(n) {
  return ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n)
}

function calleeName(e) {
  if (ts.isIdentifier(e)) return e.text
  if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.name)) return e.name.text
  return undefined
}

/** `source` (TypeScript or JavaScript) with typed errors' literal messages replaced by `void 0`; `count` = how many. */
export function stripMessages(source, fileName = 'module.ts') {
  const kind = fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, kind)
  const edits = []
  const visit = (n) => {
    if ((ts.isCallExpression(n) || ts.isNewExpression(n)) && n.arguments !== undefined && ERROR_BUILDERS.has(calleeName(n.expression))) {
      const a = n.arguments
      // the code is the first argument, or the second after a protocol name (ProtocolError)
      for (let i = 0; i < Math.min(2, a.length - 1); i++) {
        if (ts.isStringLiteral(a[i]) && CODE.test(a[i].text) && isText(a[i + 1])) {
          edits.push([a[i + 1].getStart(sf), a[i + 1].end])
          break
        }
      }
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  let code = source
  for (const [s, e] of edits.sort((x, y) => y[0] - x[0])) code = code.slice(0, s) + 'void 0' + code.slice(e)
  return { code, count: edits.length }
}

/** Copy every .js module under `from` into `to` with code-only messages (source maps and types stay in `from`). */
export function writeWebTree(from, to, skip = ['cli', 'web']) {
  let files = 0
  let stripped = 0
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const rel = path.relative(from, path.join(dir, d.name))
      if (d.isDirectory()) {
        if (!skip.includes(rel)) walk(path.join(dir, d.name))
        continue
      }
      if (!d.name.endsWith('.js')) continue
      const r = stripMessages(readFileSync(path.join(dir, d.name), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'), d.name)
      mkdirSync(path.dirname(path.join(to, rel)), { recursive: true })
      writeFileSync(path.join(to, rel), r.code)
      files++
      stripped += r.count
    }
  }
  walk(from)
  return { files, stripped }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
  const from = path.resolve(root, process.argv[2] ?? 'dist')
  const to = path.resolve(root, process.argv[3] ?? 'dist/web')
  const r = writeWebTree(from, to)
  console.log(`strip-messages: ${r.files} modules, ${r.stripped} messages -> ${path.relative(root, to)}`)
}

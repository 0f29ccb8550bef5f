/**
 * The API reference (issue 16): every public export of every entry point in package.json "exports" has a
 * doc comment, and TypeDoc (typedoc.json, `npm run docs`) converts the whole surface without a warning:
 * no undocumented export (validation.notDocumented), no broken {@link} (invalidLink), no public signature
 * naming a type that is neither exported nor listed in typedoc.json "intentionallyNotExported" (notExported).
 *
 * The run converts and validates only (nothing is written), about 10-25 s on a loaded 2-core machine.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Application, Logger, LogLevel, TSConfigReader, TypeDocReader } from 'typedoc'

const root = new URL('../', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, unknown> }
const config = JSON.parse(readFileSync(new URL('typedoc.json', root), 'utf8')) as { entryPoints: string[] }

/** The src/ file behind each code entry of the exports map ("./dist/noise/index.d.ts" -> "./src/noise/index.ts"). */
function sourceEntryPoints(): string[] {
  const out: string[] = []
  for (const target of Object.values(pkg.exports)) {
    if (typeof target !== 'object' || target === null) continue // "./package.json"
    const types = (target as { types?: string }).types
    if (types === undefined) throw new Error('an export without "types"')
    out.push(types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.ts'))
  }
  return out.sort()
}

class Collect extends Logger {
  readonly messages: Array<{ level: LogLevel; message: string }> = []
  override log(message: string, level: LogLevel): void {
    super.log(message, level) // counts errors and warnings
    if (level >= LogLevel.Warn) this.messages.push({ level, message })
  }
}

describe('API reference (TypeDoc)', () => {
  it('typedoc.json documents exactly the entry points of package.json "exports"', () => {
    expect([...config.entryPoints].sort()).toEqual(sourceEntryPoints())
  })

  it('every public export has a doc comment and TypeDoc reports no warning', async () => {
    const app = await Application.bootstrapWithPlugins(
      { options: new URL('typedoc.json', root).pathname, logLevel: 'Warn' },
      [new TypeDocReader(), new TSConfigReader()],
    )
    const logger = new Collect()
    app.logger = logger
    const project = await app.convert()
    expect(project, 'TypeDoc could not convert the project').toBeDefined()
    app.validate(project!)
    const report = logger.messages.map((m) => `${LogLevel[m.level]}: ${m.message}`).join('\n')
    expect(report, `${logger.warningCount} warnings, ${logger.errorCount} errors`).toBe('')
    expect(logger.warningCount + logger.errorCount).toBe(0)
  }, 120_000)
})

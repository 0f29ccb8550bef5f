/**
 * One line naming an error, for the CLI: `error: <code>: <message>`. In its own module so that
 * main.ts can print an error without loading a command's modules (start-up: bench/README.md).
 */
import { ProtocolError } from '../core/errors.js'

export function errorLine(e: unknown): string {
  if (e instanceof ProtocolError) return `error: ${e.message}`
  if (e instanceof Error) return `error: ${(e as { code?: string }).code !== undefined && !e.message.startsWith(String((e as { code?: string }).code)) ? `${(e as { code?: string }).code}: ` : ''}${e.message}`
  return `error: ${String(e)}`
}

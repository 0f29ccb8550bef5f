/** Types of scripts/strip-messages.mjs (code-only error messages for browser builds). */
export declare const ERROR_BUILDERS: ReadonlySet<string>
export declare function stripMessages(source: string, fileName?: string): { code: string; count: number }
export declare function writeWebTree(from: string, to: string, skip?: string[]): { files: number; stripped: number }

/**
 * A fuzz input read as a script of operations: each read takes the next byte(s); past the end
 * every read is 0 and `done` is true, so any input, however short or mutated, is a whole script.
 */
export class Script {
  #i = 0
  constructor(readonly b: Uint8Array) {}
  get done(): boolean {
    return this.#i >= this.b.length
  }
  u8(): number {
    return this.b[this.#i++] ?? 0
  }
  u16(): number {
    return (this.u8() << 8) | this.u8()
  }
  u32(): number {
    return ((this.u16() << 16) >>> 0) + this.u16()
  }
}

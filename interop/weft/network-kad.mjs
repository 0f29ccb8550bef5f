/** Kademlia network scenario for the weft network peer (filled in below). */
export async function runKad(/** @type {any} */ ctx) {
  await ctx.pushResult({ ok: false, error: 'kad scenario not implemented yet' })
}

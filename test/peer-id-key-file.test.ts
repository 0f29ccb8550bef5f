import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { UsageError } from '../src/core/errors.js'
import { toHex } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { loadKey, loadOrCreateKey, saveKey } from '../src/io/key-file.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-key-file-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('key files', () => {
  test('save then load: same key, protobuf bytes on disk, mode 0600, no temp files left', async () => {
    const path = join(dir, 'a', 'identity.key')
    const key = privateKeyFromSeed(new Uint8Array(32).fill(3), nodeCrypto)
    await saveKey(path, key)
    expect(toHex(new Uint8Array(await readFile(path)))).toBe(toHex(key.bytes))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const loaded = await loadKey(path, nobleCrypto)
    expect(loaded.publicKey.equals(key.publicKey)).toBe(true)
    expect(toHex(loaded.seed)).toBe(toHex(key.seed))
    expect(await readdir(join(dir, 'a'))).toEqual(['identity.key'])
  })

  test('saveKey replaces an existing key', async () => {
    const path = join(dir, 'replace.key')
    await saveKey(path, privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto))
    const second = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
    await saveKey(path, second)
    expect((await loadKey(path, nodeCrypto)).publicKey.equals(second.publicKey)).toBe(true)
  })

  test('loadOrCreateKey creates once, then loads the same key', async () => {
    const path = join(dir, 'b', 'node.key')
    const first = await loadOrCreateKey(path, nodeCrypto)
    expect(first.created).toBe(true)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const second = await loadOrCreateKey(path, nodeCrypto)
    expect(second.created).toBe(false)
    expect(second.key.publicKey.equals(first.key.publicKey)).toBe(true)
    expect(await readdir(join(dir, 'b'))).toEqual(['node.key'])
  })

  test('concurrent loadOrCreateKey calls agree on one key', async () => {
    const path = join(dir, 'race.key')
    const results = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateKey(path, nodeCrypto)))
    const onDisk = await loadKey(path, nodeCrypto)
    for (const r of results) expect(r.key.publicKey.equals(onDisk.publicKey)).toBe(true)
    expect(results.filter((r) => r.created).length).toBe(1)
  })

  test('a corrupt file is UsageError key-file/invalid (and loadOrCreateKey does not overwrite it)', async () => {
    const path = join(dir, 'corrupt.key')
    await writeFile(path, Uint8Array.of(1, 2, 3))
    await expect(loadKey(path, nodeCrypto)).rejects.toSatisfy((e) => e instanceof UsageError && e.code === 'key-file/invalid')
    await expect(loadOrCreateKey(path, nodeCrypto)).rejects.toBeInstanceOf(UsageError)
    expect([...new Uint8Array(await readFile(path))]).toEqual([1, 2, 3])
    // a valid protobuf holding a key type weft cannot load
    await writeFile(path, Uint8Array.of(0x08, 0x02, 0x12, 0x01, 0x00))
    await expect(loadKey(path, nodeCrypto)).rejects.toSatisfy((e) => e instanceof UsageError && e.code === 'key-file/invalid')
  })

  test('a missing file rejects with ENOENT', async () => {
    await expect(loadKey(join(dir, 'missing.key'), nodeCrypto)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

/**
 * Key files: a node's identity on disk.
 *
 * The file holds the libp2p `PrivateKey` protobuf (peer-ids spec: "Current libp2p implementations store
 * private keys on disk as a serialized PrivateKey protobuf message"), so a key file written by weft
 * loads in other implementations and vice versa (Ed25519 only). Writes are atomic (a temporary file in
 * the same directory, fsync, then rename or link) and the file mode is 0600.
 */
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError, UsageError } from '../core/errors.js'
import { generatePrivateKey, privateKeyFromProtobuf } from '../peer-id/index.js'
import type { PrivateKey } from '../peer-id/index.js'

/** A key file is a few dozen bytes; anything much larger is not a key file (and is not read whole). */
const MAX_KEY_FILE_BYTES = 64 * 1024

function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === code
}

/** Write `bytes` to a fresh temporary file next to `path` (mode 0600, fsynced); returns its name. */
async function writeTemp(path: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`
  const fh = await open(temp, 'wx', 0o600)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } catch (e) {
    await fh.close()
    await unlink(temp).catch(() => {})
    throw e
  }
  await fh.close()
  return temp
}

/** Save `key` to `path`, replacing any existing file atomically. */
export async function saveKey(path: string, key: PrivateKey): Promise<void> {
  const temp = await writeTemp(path, key.bytes)
  try {
    await rename(temp, path)
  } catch (e) {
    await unlink(temp).catch(() => {})
    throw e
  }
}

/**
 * Load the key at `path`. A missing file rejects with the file system error (ENOENT); a file that is not
 * an Ed25519 PrivateKey protobuf rejects with UsageError 'key-file/invalid'.
 */
export async function loadKey(path: string, crypto: CryptoProvider): Promise<PrivateKey> {
  const fh = await open(path, 'r')
  let bytes: Uint8Array
  try {
    const { size } = await fh.stat()
    if (size > MAX_KEY_FILE_BYTES) throw new UsageError('key-file/invalid', `${path}: ${size} bytes is too large for a key file`)
    bytes = new Uint8Array(await readFile(fh))
  } finally {
    await fh.close()
  }
  try {
    return privateKeyFromProtobuf(bytes, crypto)
  } catch (e) {
    if (e instanceof ProtocolError) throw new UsageError('key-file/invalid', `${path}: ${e.message}`, { cause: e })
    throw e
  }
}

/**
 * Load the key at `path`, or create, save and return a new Ed25519 key when there is no file. Creation
 * never overwrites: when two processes race, both end up with the key that reached the disk first.
 */
export async function loadOrCreateKey(path: string, crypto: CryptoProvider): Promise<{ key: PrivateKey; created: boolean }> {
  try {
    return { key: await loadKey(path, crypto), created: false }
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e
  }
  const key = generatePrivateKey(crypto)
  const temp = await writeTemp(path, key.bytes)
  try {
    await link(temp, path) // fails with EEXIST instead of replacing a key another process just wrote
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return { key: await loadKey(path, crypto), created: false }
    if (!isErrno(e, 'EPERM') && !isErrno(e, 'ENOTSUP') && !isErrno(e, 'EXDEV')) throw e
    await rename(temp, path) // a file system without hard links
    return { key, created: true }
  } finally {
    await unlink(temp).catch(() => {})
  }
  return { key, created: true }
}

/**
 * Where the file store may live. Processes share it through an exclusive create (the write lock),
 * appends and renames on one machine's file system; a network file system gives none of these the
 * same guarantees between machines (NFS caches attributes, SMB locks differently), so a store there
 * is refused with a message that says what to do instead. Detected on Linux, from statfs.
 */
import { statfsSync } from 'node:fs'

/** statfs magic numbers of network and cluster file systems (from linux/magic.h and their sources) */
const NETWORK: Record<number, string> = {
  0x6969: 'NFS',
  0x517b: 'SMB',
  0xff534d42: 'CIFS',
  0xfe534d42: 'SMB2',
  0x73757245: 'Coda',
  0x5346414f: 'AFS',
  0x6b414653: 'AFS',
  0x00c36400: 'CephFS',
  0x564c: 'NCP',
  0x01021997: '9P',
  0x0bd00bd0: 'Lustre',
  0x47504653: 'GPFS',
  0x01161970: 'GFS2',
  0x7461636f: 'OCFS2',
}

/** The name of the network file system with this statfs type, or null for a local one. */
export function networkFileSystem(type: number): string | null {
  // statfs reports the type as a signed number on some platforms
  return NETWORK[type >>> 0] ?? null
}

/** Throws when `dir` is on a network file system; says nothing where that cannot be told. */
export function refuseNetworkFileSystem(dir: string, storePath: string): void {
  if (process.platform !== 'linux') return
  let type: number
  try {
    type = statfsSync(dir).type
  } catch {
    return
  }
  const name = networkFileSystem(type)
  if (name === null) return
  throw new Error(`faultline: the file store ${storePath} is on a network file system (${name}). Several processes share a file store ` +
    "only on one machine's own disk: put it on a local path (e.g. createTracker({ store: '/var/lib/myapp/errors.json' })), " +
    "or, for several machines, use the postgres store (postgresStore({ connectionString }) from 'faultline/adapters/postgres').")
}

import fs from 'node:fs'
import path from 'node:path'

/** A regular file found inside one of the allowed folders. */
export interface FoundFile {
  /** its real path: symlinks resolved */
  real: string
  /** the real path of the allowed folder it lies in */
  folder: string
  size: number
  mtimeMs: number
}

const realFolderCache = new Map<string, string>()

/**
 * The real paths of the folders that exist. Cached once found: an app's folders do not move while
 * it runs, and frames are mapped by the thousand. A folder not there yet (a build still to run) is
 * looked for again next time.
 */
export function realFolders(folders: string[]): string[] {
  const out: string[] = []
  for (const folder of folders) {
    let real = realFolderCache.get(folder)
    if (real === undefined) {
      try {
        real = fs.realpathSync(folder)
      } catch {
        continue
      }
      if (realFolderCache.size > 50) realFolderCache.clear()
      realFolderCache.set(folder, real)
    }
    out.push(real)
  }
  return out
}

/** The folder of `folders` (real paths) that holds the real path `real`, or null. */
export function folderHolding(real: string, folders: string[]): string | null {
  for (const folder of folders) {
    const rel = path.relative(folder, real)
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return folder
  }
  return null
}

/**
 * `file` when it is a regular file whose real path lies inside one of `folders` (real paths), else
 * null. The real path decides: a symlink inside a folder that points out of it is refused.
 */
export function findWithin(file: string, folders: string[]): FoundFile | null {
  let real: string
  let stat: fs.Stats
  try {
    real = fs.realpathSync(file)
    stat = fs.statSync(real)
  } catch {
    return null
  }
  const folder = folderHolding(real, folders)
  if (folder === null || !stat.isFile()) return null
  return { real, folder, size: stat.size, mtimeMs: stat.mtimeMs }
}

/** Reads at most `length` bytes of `file` from `position`. */
export function readBytes(file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(length)
    let read = 0
    while (read < length) {
      const n = fs.readSync(fd, buffer, read, length - read, position + read)
      if (n === 0) break
      read += n
    }
    return buffer.subarray(0, read)
  } finally {
    fs.closeSync(fd)
  }
}

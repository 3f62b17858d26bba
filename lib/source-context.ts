import fs from 'node:fs'
import path from 'node:path'
import type { StackFrame } from './types.js'

/** Lines shown before and after the frame's line. */
export const CONTEXT_LINES = 5
/** Longer lines are cut: minified or generated code would otherwise fill the event. */
export const MAX_LINE = 300
const MAX_FILE_BYTES = 1024 * 1024
const MAX_CACHED_FILES = 50
const MAX_CACHED_BYTES = 8 * 1024 * 1024

interface Cached {
  /** null when the file is refused or unreadable: remember that too, so it is not retried per event */
  lines: string[] | null
  bytes: number
}

/**
 * Source files by root and path, least recently used first. Source does not change under a running
 * process in a way that matters here (a changed file means new code only after a restart).
 */
const cache = new Map<string, Cached>()
let cachedBytes = 0
const realRoots = new Map<string, string | null>()

/**
 * Adds `pre_context`, `context_line` and `post_context` to in-app frames, reading only regular files
 * of at most 1 MB whose real path lies under the app root and outside node_modules. A frame that
 * has its lines already (from a source map's sourcesContent) keeps them.
 * Synchronous, cached, and never throws: a frame whose file cannot be read is left as it was.
 */
export function addSourceContext(frames: StackFrame[], root: string): StackFrame[] {
  try {
    const realRoot = resolveRoot(root)
    if (realRoot === null) return frames
    for (const frame of frames) {
      if (!frame.in_app || !frame.abs_path || !frame.lineno || frame.context_line !== undefined) continue
      const lines = readLines(frame.abs_path, realRoot)
      if (lines === null) continue
      applyContext(frame, lines)
    }
  } catch {
    // Source context is a nicety: the event is worth more without it than not at all.
  }
  return frames
}

/** Empties the file cache (tests, and apps that rewrite their sources in place). */
export function clearSourceCache(): void {
  cache.clear()
  realRoots.clear()
  cachedBytes = 0
}

function resolveRoot(root: string): string | null {
  let real = realRoots.get(root)
  if (real === undefined) {
    try {
      real = fs.realpathSync(root)
    } catch {
      real = null
    }
    if (realRoots.size > 20) realRoots.clear()
    realRoots.set(root, real)
  }
  return real
}

function readLines(file: string, realRoot: string): string[] | null {
  const key = realRoot + '\0' + file
  const hit = cache.get(key)
  if (hit) {
    // Re-insert to mark it most recently used.
    cache.delete(key)
    cache.set(key, hit)
    return hit.lines
  }
  const lines = load(file, realRoot)
  remember(key, { lines, bytes: lines === null ? 64 : lines.reduce((n, l) => n + l.length + 1, 64) })
  return lines
}

function load(file: string, realRoot: string): string[] | null {
  let real: string
  try {
    real = fs.realpathSync(file)
  } catch {
    return null
  }
  const rel = path.relative(realRoot, real)
  // The real path decides: a symlink under the root that points outside it is refused.
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null
  if (rel.split(path.sep).includes('node_modules')) return null
  let fd: number | undefined
  try {
    fd = fs.openSync(real, 'r')
    const stat = fs.fstatSync(fd)
    if (!stat.isFile() || stat.size > MAX_FILE_BYTES) return null
    const buffer = Buffer.alloc(stat.size)
    let read = 0
    while (read < stat.size) {
      const n = fs.readSync(fd, buffer, read, stat.size - read, read)
      if (n === 0) break
      read += n
    }
    // A NUL byte means a binary file: nothing a person would read as source.
    if (buffer.subarray(0, read).includes(0)) return null
    return buffer.toString('utf8', 0, read).split(/\r?\n/)
  } catch {
    return null
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd)
      } catch {
        // nothing more to do with a descriptor that will not close
      }
    }
  }
}

function remember(key: string, entry: Cached): void {
  cache.set(key, entry)
  cachedBytes += entry.bytes
  while (cache.size > MAX_CACHED_FILES || (cachedBytes > MAX_CACHED_BYTES && cache.size > 1)) {
    const [oldest, value] = cache.entries().next().value as [string, Cached]
    cache.delete(oldest)
    cachedBytes -= value.bytes
  }
}

/** Sets the frame's line and those around it from `lines`, the whole file (nothing when its line is not there). */
export function applyContext(frame: StackFrame, lines: string[]): void {
  const index = frame.lineno! - 1
  if (index < 0 || index >= lines.length) return
  frame.context_line = snip(lines[index], frame.colno)
  frame.pre_context = lines.slice(Math.max(0, index - CONTEXT_LINES), index).map((l) => snip(l))
  frame.post_context = lines.slice(index + 1, index + 1 + CONTEXT_LINES).map((l) => snip(l))
}

/** Cuts a long line, keeping the part around `colno` visible (the throw is there in minified code). */
export function snip(line: string, colno?: number): string {
  if (line.length <= MAX_LINE) return line
  const col = colno && colno > 0 ? Math.min(colno - 1, line.length) : 0
  let start = Math.max(0, col - MAX_LINE / 2)
  const end = Math.min(line.length, start + MAX_LINE)
  start = Math.max(0, end - MAX_LINE)
  return (start > 0 ? '...' : '') + line.slice(start, end) + (end < line.length ? '...' : '')
}

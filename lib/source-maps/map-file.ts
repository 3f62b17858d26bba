/**
 * Where a generated file's source map is and its text: the file's trailing `//# sourceMappingURL=`
 * (a path, or a base64 `data:` URI), else `<file>.map` beside it. A map is read from the allowed
 * folders only, and only up to MAX_MAP_BYTES: the path is checked as written (no `..`, no URL
 * scheme but file:) and then by its real path (an absolute path or a symlink that leads out of
 * the folders is refused).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { findWithin, readBytes, type FoundFile } from './within.js'

/** A map file (or an inline map, decoded) larger than this is not read. */
export const MAX_MAP_BYTES = 20 * 1024 * 1024
/** The end of a generated file read for its sourceMappingURL: enough for the comment and a few after it. */
const TAIL_BYTES = 64 * 1024
/** the longest last line read for an inline map: its base64 text at most MAX_MAP_BYTES decoded, and its prefix */
const MAX_INLINE_LINE = Math.ceil((MAX_MAP_BYTES * 4) / 3) + 1024
/** comment lines looked through from the end (a debugId comment may follow the sourceMappingURL) */
const TRAILING_COMMENTS = 5
const COMMENT = /^\/\/[#@][ \t]*sourceMappingURL=([^\s'"]+)$/
const BASE64_TEXT = /^[A-Za-z0-9+/]+=*$/

/** Why a map was not read: said once per generated file (see map-cache.ts). */
export class MapRefused extends Error {}

export interface MapText {
  text: string
  /** the real folder the map's relative sources are resolved from: the map file's own */
  dir: string
}

/** The map of `file` (a file found within `folders`, real paths), null when it has none; throws MapRefused. */
export function readMapOf(file: FoundFile, folders: string[]): MapText | null {
  const url = sourceMappingUrl(file)
  if (url === null) {
    const beside = findWithin(file.real + '.map', folders)
    return beside === null ? null : readMapFile(beside)
  }
  if (url.startsWith('data:')) return { text: inlineMap(url), dir: path.dirname(file.real) }
  return readMapFile(mapFileAt(url, file, folders))
}

function readMapFile(found: FoundFile): MapText {
  if (found.size > MAX_MAP_BYTES) throw new MapRefused(`its map is over ${MAX_MAP_BYTES / 1024 / 1024} MB`)
  return { text: readBytes(found.real, 0, found.size).toString('utf8'), dir: path.dirname(found.real) }
}

/** The URL written in the file's trailing sourceMappingURL comment, or null. */
function sourceMappingUrl(file: FoundFile): string | null {
  let length = Math.min(file.size, TAIL_BYTES)
  // latin1: one character a byte, so a chunk cut inside a UTF-8 sequence reads without error
  let found = trailingComment(readBytes(file.real, file.size - length, length).toString('latin1'), length === file.size)
  if (found === LONGER && length < file.size) {
    // the last line is base64 text longer than the chunk: an inline map, read whole once
    length = Math.min(file.size, MAX_INLINE_LINE)
    found = trailingComment(readBytes(file.real, file.size - length, length).toString('latin1'), length === file.size)
  }
  if (found === LONGER) throw new MapRefused(`its inline map is over ${MAX_MAP_BYTES / 1024 / 1024} MB`)
  return found
}

const LONGER = Symbol('the last line starts before the text read')

/**
 * The sourceMappingURL among the last comment lines of `text` (the end of a file; `whole` when it
 * is the whole file), null when the file ends in code instead, LONGER when the last line starts
 * before `text` and looks like the end of an inline map.
 */
function trailingComment(text: string, whole: boolean): string | null | typeof LONGER {
  let end = text.length
  for (let comments = 0; comments < TRAILING_COMMENTS; ) {
    const newline = text.lastIndexOf('\n', end - 1)
    const line = text.slice(newline + 1, end).trim()
    if (newline === -1 && !whole) return BASE64_TEXT.test(line) ? LONGER : null
    if (line !== '') {
      if (!line.startsWith('//')) return null
      const match = COMMENT.exec(line)
      if (match) return match[1]
      comments++
    }
    if (newline === -1) return null
    end = newline
  }
  return null
}

/** The JSON text of a `data:application/json;base64,...` URI. */
function inlineMap(url: string): string {
  const comma = url.indexOf(',')
  const meta = comma === -1 ? '' : url.slice(5, comma).toLowerCase()
  if (!meta.endsWith(';base64') || !meta.includes('json')) throw new MapRefused('its inline map is not base64 JSON')
  const data = url.slice(comma + 1)
  if ((data.length * 3) / 4 > MAX_MAP_BYTES) throw new MapRefused(`its inline map is over ${MAX_MAP_BYTES / 1024 / 1024} MB`)
  return Buffer.from(data, 'base64').toString('utf8')
}

/** The map file a sourceMappingURL names, when it lies within the folders. */
function mapFileAt(url: string, file: FoundFile, folders: string[]): FoundFile {
  let ref = url.replace(/[?#].*$/, '')
  try {
    ref = decodeURIComponent(ref)
  } catch {
    throw new MapRefused('its sourceMappingURL is not a valid URL')
  }
  if (/^file:/i.test(ref)) {
    try {
      ref = fileURLToPath(ref)
    } catch {
      throw new MapRefused('its sourceMappingURL is not a valid file URL')
    }
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(ref) && !/^[a-z]:[\\/]/i.test(ref)) {
    throw new MapRefused('its sourceMappingURL is a URL: maps are read from disk only')
  }
  if (ref.includes('\0') || ref.split(/[\\/]/).includes('..')) throw new MapRefused('its sourceMappingURL climbs up with "..": not followed')
  const target = path.resolve(path.dirname(file.real), ref)
  const found = findWithin(target, folders)
  if (found !== null) return found
  if (!exists(target)) throw new MapRefused('its map is missing')
  throw new MapRefused('its sourceMappingURL leads out of the allowed folders: not followed')
}

function exists(file: string): boolean {
  try {
    fs.realpathSync(file)
    return true
  } catch {
    return false
  }
}

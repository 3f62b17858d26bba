/**
 * Parsed source maps by generated file, least recently used first, bounded in count and in the
 * memory they take. A file without a map, or whose map was refused, is remembered too, so it is
 * neither read nor reported again while it stays the same.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnyMap, decodedMappings, traceSegment, type TraceMap } from '@jridgewell/trace-mapping'
import { MESSAGE_PREFIX } from '../reported-error.js'
import { MapRefused, readMapOf } from './map-file.js'
import { findWithin, readBytes, type FoundFile } from './within.js'

/**
 * What the parsed maps may take in all, estimated: twice the map's text (its sources are held as
 * read, and split into lines when shown) and 80 bytes per decoded segment. A parsed map took 94
 * and 118 bytes per segment in all here, its sources included (maps of 1.6 and 0.6 MB).
 */
export const MAX_CACHED_BYTES = 128 * 1024 * 1024
const BYTES_PER_SEGMENT = 80
const MAX_ENTRIES = 500
/** locations whose mapping is kept per map */
const MAX_POSITIONS = 2000
/** a file is checked for a change (a rebuild) at most this often */
const RECHECK_MS = 2000
/** a generated file larger than this is not read to name functions */
const MAX_GENERATED_BYTES = 20 * 1024 * 1024
/** sourcesContent longer than this is not split into lines for source context */
const MAX_SOURCE_CHARS = 1024 * 1024

/** A frame's place in the original source. */
export interface Position {
  /** index in the map's sources */
  source: number
  /** 1-based, as frames count */
  line: number
  column: number
  /** the original name at this place, when the map has one (renamed by a minifier) */
  name?: string
}

/** One of a map's sources. */
export interface Source {
  /** as the map writes it, with its sourceRoot */
  written: string
  /** where it is on disk, when it is a path (not a `webpack://` name) */
  disk: string | null
  /** its lines from the map's sourcesContent, when there */
  lines: string[] | null
}

export interface LoadedMap {
  map: TraceMap
  /** the real folder the map's relative sources are resolved from */
  dir: string
  positions: Map<string, Position | null>
  sources: Array<Source | undefined>
  /** the generated file (its real path), and its lines once read (null when it could not be) */
  file: FoundFile
  generated?: string[] | null
}

interface Entry {
  file: FoundFile
  map: LoadedMap | null
  bytes: number
  checkedAt: number
}

const cache = new Map<string, Entry>()
let cachedBytes = 0

/** Where maps may be read from, and whom to tell when one cannot be. */
export interface MapLookup {
  /** the allowed folders, real paths: generated files and their maps are read within them only */
  folders: string[]
  /** the app root (a real path): files are named relative to it in what is said */
  root: string
  /** told why a map was not used, once per generated file */
  report: (err: Error) => void
}

/**
 * The map of the generated file `file`: undefined when there is no such file within the allowed
 * folders, null when it has no map that can be read.
 */
export function mapOfFile(file: string, lookup: MapLookup): LoadedMap | null | undefined {
  const { folders } = lookup
  const key = `${folders.join('\0')}\0${file}`
  const now = Date.now()
  const entry = cache.get(key)
  if (entry !== undefined) {
    if (now - entry.checkedAt < RECHECK_MS) return touch(key, entry).map
    const found = findWithin(file, folders)
    if (found !== null && sameFile(found, entry.file)) {
      entry.checkedAt = now
      return touch(key, entry).map
    }
    forget(key, entry)
  }
  const found = findWithin(file, folders)
  // a file that is not there is not remembered: made-up names must not push real maps out
  if (found === null) return undefined
  const loaded = load(found, lookup)
  remember(key, { file: found, map: loaded.map, bytes: loaded.bytes, checkedAt: now })
  return loaded.map
}

/** Forgets every map (tests, and apps that rebuild their files in place). */
export function clearSourceMaps(): void {
  cache.clear()
  cachedBytes = 0
}

/** Where the 1-based `line` and `column` of the generated file came from, or null. Cached per map. */
export function positionIn(loaded: LoadedMap, line: number, column: number): Position | null {
  const key = `${line}:${column}`
  const known = loaded.positions.get(key)
  if (known !== undefined) return known
  const segment = traceSegment(loaded.map, line - 1, column - 1)
  let position: Position | null = null
  if (segment !== null && segment.length !== 1) {
    position = { source: segment[1], line: segment[2] + 1, column: segment[3] + 1 }
    if (segment.length === 5) position = { ...position, name: loaded.map.names[segment[4]] }
  }
  if (loaded.positions.size >= MAX_POSITIONS) loaded.positions.clear()
  loaded.positions.set(key, position)
  return position
}

/** The map's source at `index`: its name, where it is on disk, and its lines from sourcesContent. */
export function sourceOf(loaded: LoadedMap, index: number): Source {
  let source = loaded.sources[index]
  if (source === undefined) {
    const written = loaded.map.resolvedSources[index] ?? ''
    const content = loaded.map.sourcesContent?.[index]
    const lines = typeof content === 'string' && content.length <= MAX_SOURCE_CHARS ? content.split(/\r?\n/) : null
    source = { written, disk: diskPath(written, loaded.dir), lines }
    loaded.sources[index] = source
  }
  return source
}

/** The generated file's lines (read once), or null when it is too large or cannot be read. */
export function generatedLines(loaded: LoadedMap): string[] | null {
  if (loaded.generated === undefined) {
    try {
      loaded.generated = loaded.file.size > MAX_GENERATED_BYTES ? null : readBytes(loaded.file.real, 0, loaded.file.size).toString('utf8').split('\n')
    } catch {
      loaded.generated = null
    }
  }
  return loaded.generated
}

function diskPath(written: string, dir: string): string | null {
  if (/^file:/i.test(written)) {
    try {
      return fileURLToPath(written)
    } catch {
      return null
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(written) && !/^[a-z]:[\\/]/i.test(written)) return null
  return path.resolve(dir, written)
}

function load(file: FoundFile, lookup: MapLookup): { map: LoadedMap | null; bytes: number } {
  try {
    const text = readMapOf(file, lookup.folders)
    if (text === null) return { map: null, bytes: 100 }
    const parsed = parseMap(text.text)
    // the generated file is read too when a frame's function is named (see function-name.ts)
    const bytes = text.text.length * 2 + parsed.segments * BYTES_PER_SEGMENT + Math.min(file.size, MAX_GENERATED_BYTES)
    if (bytes > MAX_CACHED_BYTES) throw new MapRefused(`its map would take about ${Math.round(bytes / 1024 / 1024)} MB parsed, over the ${MAX_CACHED_BYTES / 1024 / 1024} MB kept for maps`)
    return { map: { map: parsed.map, dir: text.dir, positions: new Map(), sources: [], file }, bytes }
  } catch (err) {
    const why = err instanceof MapRefused ? err.message : `its map could not be read (${err instanceof Error ? err.message : String(err)})`
    const rel = path.relative(lookup.root, file.real)
    const shown = JSON.stringify((rel.startsWith('..') || path.isAbsolute(rel) ? file.real : rel.split(path.sep).join('/')).slice(0, 300))
    try {
      lookup.report(new Error(`${MESSAGE_PREFIX}the frames of ${shown} are shown as compiled: ${why.slice(0, 300)}`))
    } catch {
      // the app's onInternalError threw: nothing more to do
    }
    return { map: null, bytes: 100 }
  }
}

/** The map in `text`, its mappings decoded and checked; throws MapRefused when it is not a usable map. */
function parseMap(text: string): { map: TraceMap; segments: number } {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new MapRefused('its map is not valid JSON')
  }
  if (typeof json !== 'object' || json === null) throw new MapRefused('its map is not a source map')
  const raw = json as { version?: unknown; mappings?: unknown; sources?: unknown; sections?: unknown }
  const sectioned = Array.isArray(raw.sections)
  if (raw.version !== 3 || (!sectioned && (typeof raw.mappings !== 'string' || !Array.isArray(raw.sources)))) {
    throw new MapRefused('its map is not a version 3 source map')
  }
  let map: TraceMap
  try {
    map = new AnyMap(json as ConstructorParameters<typeof AnyMap>[0])
  } catch (err) {
    throw new MapRefused(`its map is not a source map (${err instanceof Error ? err.message : String(err)})`)
  }
  // the decoder does not fail on garbage: it yields segments that point nowhere
  const lines = decodedMappings(map)
  let segments = 0
  for (const line of lines) {
    for (const segment of line) {
      if (!validSegment(segment, map)) throw new MapRefused('its map has corrupt mappings')
    }
    segments += line.length
  }
  return { map, segments }
}

function validSegment(segment: readonly number[], map: TraceMap): boolean {
  if (segment[0] < 0 || (segment.length !== 1 && segment.length !== 4 && segment.length !== 5)) return false
  if (segment.length === 1) return true
  if (segment[1] < 0 || segment[1] >= map.sources.length || segment[2] < 0 || segment[3] < 0) return false
  return segment.length === 4 || (segment[4] >= 0 && segment[4] < map.names.length)
}

function sameFile(a: FoundFile, b: FoundFile): boolean {
  return a.real === b.real && a.size === b.size && a.mtimeMs === b.mtimeMs
}

function touch(key: string, entry: Entry): Entry {
  cache.delete(key)
  cache.set(key, entry)
  return entry
}

function forget(key: string, entry: Entry): void {
  cache.delete(key)
  cachedBytes -= entry.bytes
}

function remember(key: string, entry: Entry): void {
  cache.set(key, entry)
  cachedBytes += entry.bytes
  while (cache.size > MAX_ENTRIES || (cachedBytes > MAX_CACHED_BYTES && cache.size > 1)) {
    const [oldest, value] = cache.entries().next().value as [string, Entry]
    forget(oldest, value)
  }
}

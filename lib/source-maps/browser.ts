/**
 * Browser frames mapped through the source maps the app keeps on disk, in its `sourceMaps`
 * folders: never uploaded, never served. A frame is looked up by its script's URL path, on the
 * app's own origins only.
 */
import path from 'node:path'
import { addSourceContext } from '../source-context.js'
import type { StackFrame } from '../types.js'
import { mapOfFile, type LoadedMap, type MapLookup } from './map-cache.js'
import { mapFrames } from './map-frames.js'
import { realFolders } from './within.js'

export interface BrowserMapOptions {
  /** absolute folders holding the app's built browser files and their .map files */
  sourceMaps: string[]
  /** the origins whose scripts are the app's own (`https://shop.example`): the page's and the allowed ones */
  origins: string[]
  /** the app root: original sources under it are named relative to it */
  root: string
  /** adds the original source lines (from the map's sourcesContent, else the file within a folder); default true */
  sourceContext?: boolean
  /** told once per script whose map cannot be read */
  report?: (err: Error) => void
  /** the index of the first frame after a dropped middle (Stacktrace.frames_omitted[0]): its caller is not the frame before it */
  gapAt?: number
}

/** URL paths with more segments than this are not looked up */
const MAX_SEGMENTS = 16
const MAX_URL = 2048
/** distinct scripts looked up per call: each may cost a few file lookups, and the frames come from anyone */
const MAX_SCRIPTS = 50

/**
 * `frames` (oldest call first, as Sentry sends them) with each frame of the app's own scripts
 * mapped to its original file, line, column and function, the frame as sent kept in `raw`.
 * Frames that cannot be mapped stay as they are; the same array comes back when none can.
 * Synchronous and never throws: a map is read and parsed once, then cached.
 *
 * A script's URL path is looked up under each folder, then without its first segment, and so on:
 * `/assets/js/app.min.js` is `<folder>/assets/js/app.min.js`, else `<folder>/js/app.min.js`, else
 * `<folder>/app.min.js` (a folder served under a prefix), the first folder first.
 */
export function mapBrowserFrames(frames: StackFrame[], options: BrowserMapOptions): StackFrame[] {
  if (!Array.isArray(frames) || frames.length === 0) return frames
  try {
    return mapScriptFrames(frames, options)
  } catch {
    // mapping is a nicety: the frames as sent are worth more than no event
    return frames
  }
}

function mapScriptFrames(frames: StackFrame[], options: BrowserMapOptions): StackFrame[] {
  const folders = realFolders(options.sourceMaps)
  if (folders.length === 0) return frames
  const origins = new Set(options.origins.map(originOf).filter((o) => o !== null))
  const root = realFolders([options.root])[0] ?? path.resolve(options.root)
  const lookup = { folders, root, report: options.report ?? (() => {}) }
  const sourceContext = options.sourceContext ?? true
  // frames of one script share its lookup
  const scripts = new Map<string, LoadedMap | null>()
  const mapOf = (frame: StackFrame): LoadedMap | null => {
    const segments = scriptPath(frame, origins)
    if (segments === null) return null
    const key = segments.join('/')
    let map = scripts.get(key)
    if (map === undefined && scripts.size < MAX_SCRIPTS) scripts.set(key, (map = findScriptMap(segments, folders, lookup)))
    return map ?? null
  }
  const mapped = mapFrames(frames, { mapOf, root, sourceContext, gapAt: options.gapAt })
  if (sourceContext && mapped !== frames) {
    // the original files within the folders, for frames whose map has no sourcesContent
    const wanting = mapped.filter((frame, i) => frame !== frames[i] && frame.context_line === undefined)
    for (const folder of folders) if (wanting.length > 0) addSourceContext(wanting, folder)
  }
  return mapped
}

/** The map of the script at a URL path: the first file found (see mapBrowserFrames) is the script, whether it has a map or not. */
function findScriptMap(segments: string[], folders: string[], lookup: MapLookup): LoadedMap | null {
  for (let skip = 0; skip < segments.length; skip++) {
    for (const folder of folders) {
      const map = mapOfFile(path.join(folder, ...segments.slice(skip)), lookup)
      if (map !== undefined) return map
    }
  }
  return null
}

function originOf(url: string): string | null {
  try {
    const origin = new URL(url).origin
    return origin === 'null' ? null : origin
  } catch {
    return null
  }
}

/** The segments of the frame's script URL path, when it is on one of the origins; null otherwise. */
function scriptPath(frame: StackFrame, origins: Set<string>): string[] | null {
  const url = typeof frame.abs_path === 'string' && /^https?:/i.test(frame.abs_path) ? frame.abs_path : frame.filename
  if (typeof url !== 'string' || url.length > MAX_URL) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (!origins.has(parsed.origin)) return null
  const segments: string[] = []
  for (const raw of parsed.pathname.split('/')) {
    if (raw === '') continue
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return null
    }
    // a name that is not one plain segment could climb out of the folder
    if (segment === '.' || segment === '..' || /[\\/\0]/.test(segment)) return null
    segments.push(segment)
  }
  return segments.length > 0 && segments.length <= MAX_SEGMENTS ? segments : null
}

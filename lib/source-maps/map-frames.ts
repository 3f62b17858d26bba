/**
 * Frames mapped through source maps: each to the original file, line, column and function, with
 * the frame as it was kept in `raw`. Shared by server frames (server.ts) and browser frames
 * (browser.ts), which differ only in how a frame's generated file is found.
 */
import path from 'node:path'
import { applyContext } from '../source-context.js'
import type { StackFrame } from '../types.js'
import { originalFunction } from './function-name.js'
import { positionIn, sourceOf, type LoadedMap, type Position, type Source } from './map-cache.js'

export interface MapFramesOptions {
  /** the map of a frame's generated file, or null: frames it returns null for stay as they are */
  mapOf(frame: StackFrame): LoadedMap | null
  /** the app root (a real path): original sources under it are named relative to it */
  root: string
  /** adds the original lines from the map's sourcesContent to in-app frames */
  sourceContext: boolean
  /** the index of the first frame after a dropped middle (see Stacktrace.frames_omitted): the frame before it is not its caller */
  gapAt?: number
}

/** a source's name is cut to this, as a file name is when a stack is parsed */
const MAX_FILENAME = 1024
/** The largest line or column a frame may claim: beyond it nothing is looked up. */
const MAX_POSITION = 10_000_000

/**
 * `frames` (oldest call first) with each frame that a map covers replaced by its original; the
 * same array when none is. The frames given are never changed.
 */
export function mapFrames(frames: StackFrame[], options: MapFramesOptions): StackFrame[] {
  const positions: Array<{ loaded: LoadedMap; position: Position } | null> = frames.map((frame) => {
    if (typeof frame !== 'object' || frame === null || !validPosition(frame.lineno) || !validPosition(frame.colno)) return null
    const loaded = options.mapOf(frame)
    const position = loaded === null ? null : positionIn(loaded, frame.lineno, frame.colno)
    return position === null ? null : { loaded: loaded!, position }
  })
  if (positions.every((p) => p === null)) return frames
  return frames.map((frame, i) => {
    const at = positions[i]
    if (at === null) return frame
    // the calling frame (the one before), unless frames were dropped between them
    const caller = i > 0 && i !== options.gapAt ? positions[i - 1] : null
    return mappedFrame(frame, at.loaded, at.position, caller?.position.name, options)
  })
}

function mappedFrame(frame: StackFrame, loaded: LoadedMap, position: Position, callerName: string | undefined, options: MapFramesOptions): StackFrame {
  const source = sourceOf(loaded, position.source)
  const filename = originalName(source, options.root)
  const mapped: StackFrame = { filename, lineno: position.line, colno: position.column, in_app: !filename.split('/').includes('node_modules') }
  // a browser's frames are anyone's input: only strings are read
  const raw = typeof frame.function === 'string' ? frame.function : undefined
  const fn = originalFunction(raw, loaded, frame.lineno!, frame.colno!, callerName)
  if (fn !== undefined) mapped.function = fn
  if (source.disk !== null) mapped.abs_path = source.disk
  const file = typeof frame.filename === 'string' ? frame.filename : typeof frame.abs_path === 'string' ? frame.abs_path : ''
  mapped.raw = { filename: file, lineno: frame.lineno!, colno: frame.colno! }
  if (raw !== undefined) mapped.raw.function = raw
  if (options.sourceContext && mapped.in_app && source.lines !== null) applyContext(mapped, source.lines)
  return mapped
}

/**
 * A source under the app root is named relative to it; another absolute path as it is; anything
 * else (`webpack://app/./src/x.ts`, `../src/x.ts`) as written without its scheme and the leading
 * `./` and `../`.
 */
export function originalName(source: Source, root: string): string {
  if (source.disk !== null) {
    const rel = path.relative(root, source.disk)
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/')
    if (path.isAbsolute(source.written) || /^file:/i.test(source.written)) return source.disk
  }
  return cleanSourcePath(source.written)
}

/** `webpack://app/./src/x.ts` and `../../src/x.ts` as `src/x.ts`. */
export function cleanSourcePath(written: string): string {
  let text = written.replace(/\\/g, '/')
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*\//i.exec(text)
  if (scheme !== null) text = text.slice(scheme[0].length)
  const parts: string[] = []
  for (const part of text.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') parts.pop()
    else parts.push(part)
  }
  const name = parts.length > 0 ? parts.join('/') : written
  return name.length > MAX_FILENAME ? name.slice(0, MAX_FILENAME) : name
}

function validPosition(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_POSITION
}

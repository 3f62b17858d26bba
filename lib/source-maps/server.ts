/**
 * Server frames of compiled or bundled files under the app root, mapped through the source map
 * beside each file on disk, so that a TypeScript app's stack shows its `.ts` files. Node maps its
 * own stacks when its source maps are on (`--enable-source-maps`, `process.setSourceMapsEnabled`):
 * such stacks are left alone.
 */
import type { StackFrame } from '../types.js'
import { mapOfFile } from './map-cache.js'
import { mapFrames } from './map-frames.js'
import { realFolders } from './within.js'

export interface ServerMapOptions {
  /** the app root: only files under it (outside node_modules) are mapped, and only maps under it read */
  root: string
  /** adds the original lines from a map's sourcesContent */
  sourceContext: boolean
  /** told once per file whose map cannot be read */
  report?: (err: Error) => void
  /** the index of the first frame after a dropped middle (Stacktrace.frames_omitted[0]) */
  gapAt?: number
}

/**
 * `frames` (as parsed from a stack, oldest call first) with the app's compiled frames mapped to
 * their sources; the same array when none is. Synchronous and never throws: maps are read once and cached.
 */
export function mapServerFrames(frames: StackFrame[], options: ServerMapOptions): StackFrame[] {
  if (process.sourceMapsEnabled || !frames.some(isCompiledAppFrame)) return frames
  const folders = realFolders([options.root])
  if (folders.length === 0) return frames
  const lookup = { folders, root: folders[0], report: options.report ?? (() => {}) }
  try {
    return mapFrames(frames, {
      mapOf: (frame) => (isCompiledAppFrame(frame) ? (mapOfFile(frame.abs_path!, lookup) ?? null) : null),
      root: folders[0],
      sourceContext: options.sourceContext,
      gapAt: options.gapAt,
    })
  } catch {
    // mapping is a nicety: the event must not lose its frames to it
    return frames
  }
}

/** In-app frames (under the root, outside node_modules, not faultline's) of JavaScript files, with a line and column. */
function isCompiledAppFrame(frame: StackFrame): boolean {
  return frame.in_app && frame.abs_path !== undefined && /\.[cm]?js$/.test(frame.abs_path) && frame.colno !== undefined
}

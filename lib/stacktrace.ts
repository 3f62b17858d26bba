import path from 'node:path'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ownCopy } from './own-copy.js'
import { isOwnCode } from './package-root.js'
import type { StackFrame } from './types.js'

/** More frames than this are cut from the middle: the throw site and the entry point matter most. */
export const MAX_FRAMES = 100
const KEEP_EACH_END = MAX_FRAMES / 2
// A frame line longer than this is not a real frame worth reading in full (names of generated code).
const MAX_FIELD = 1024
/** A line longer than this (after its indentation) is never read as a frame. */
const MAX_FRAME_LINE = 4 * MAX_FIELD

/**
 * Lines of a long stack that are parsed: the first ones (V8 prints the innermost call first, and a
 * few may be the message's) and the last ones (the outermost calls). The lines between are
 * counted, never parsed: parsing all 100,000 lines of a hand-made stack took about 200 ms, for the
 * 100 frames kept.
 */
const HEAD_LINES = 200
const TAIL_LINES = KEEP_EACH_END
/**
 * Lines of a dropped middle counted one by one (about 1 to 3 ms per 100,000 here); the rest of a
 * middle longer than that is estimated from the average length of the lines counted.
 */
const COUNTED_LINES_AT_MOST = 100_000

/** What V8 stack text a capture reads: its first and last lines, and how many lines were between. */
export interface CutStack {
  /** the first HEAD_LINES lines, or the whole stack when it is short enough to parse whole */
  head: string
  /** the last TAIL_LINES lines; '' when nothing was cut */
  tail: string
  /** lines dropped between head and tail; 0 when nothing was cut */
  droppedLines: number
}

/** Frames oldest call first, and the `[start, end)` range of frames dropped from the middle, if any. */
export interface ParsedStack {
  frames: StackFrame[]
  frames_omitted?: [number, number]
}

/**
 * Parses V8 stack text (`err.stack`) into frames, oldest call first, as Sentry orders them.
 * Lines that are not frames (the message, `----` separators) are skipped. When the stack is deeper
 * than MAX_FRAMES, the outermost and innermost 50 are kept and `omitted` says which were dropped.
 */
export function parseStack(stack: string, root: string): StackFrame[] {
  return parseStacktrace(stack, root).frames
}

/** parseStack plus the `[start, end)` range of frames dropped from the middle, if any. */
export function parseStacktrace(stack: string, root: string): ParsedStack {
  if (typeof stack !== 'string' || stack === '') return { frames: [] }
  return parseCutStack(cutStack(stack), root)
}

/**
 * Cuts a stack longer than HEAD_LINES + TAIL_LINES lines to its first and last lines, finding
 * them from each end without splitting or copying the text: the work of a capture stays the same
 * however deep the stack.
 */
export function cutStack(stack: string): CutStack {
  const headEnd = afterLines(stack, HEAD_LINES)
  const tailStart = startOfLastLines(stack, TAIL_LINES)
  if (tailStart <= headEnd) return { head: stack, tail: '', droppedLines: 0 }
  return { head: stack.slice(0, headEnd), tail: stack.slice(tailStart), droppedLines: countLines(stack, headEnd, tailStart) }
}

/**
 * The frames of a cut stack: every frame of its tail (the outermost), the innermost 50 of its
 * head, and the rest counted as dropped. Every line of the dropped middle counts as a frame: below
 * the message, each line V8 writes is one, and telling frame lines from others there took two to
 * four times as long as counting lines.
 */
export function parseCutStack(cut: CutStack, root: string): ParsedStack {
  const roots = rootsOf(root)
  if (cut.droppedLines === 0) return keepEnds(readFrames(cut.head, roots, Infinity).frames)
  const inner = readFrames(cut.head, roots, KEEP_EACH_END)
  const outer = readFrames(cut.tail, roots, Infinity).frames
  const omittedEnd = outer.length + cut.droppedLines + inner.more
  return { frames: [...outer, ...inner.frames], frames_omitted: [outer.length, omittedEnd] }
}

/**
 * The first `max` frames written in some stack lines (the innermost), oldest call first, and how
 * many frame lines follow them: those are only recognised, not read, as reading a frame (its
 * paths) is most of what parsing costs.
 */
function readFrames(text: string, roots: string[], max: number): { frames: StackFrame[]; more: number } {
  const frames: StackFrame[] = []
  let more = 0
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    const at = frameStart(text, start, end)
    if (at !== -1) {
      if (frames.length < max) {
        const frame = parseFrame(text, at, end, roots)
        if (frame !== null) frames.push(frame)
      } else more++
    }
    start = end + 1
  }
  // V8 prints the innermost call first.
  return { frames: frames.reverse(), more }
}

/** All the frames, or the outermost and innermost 50 of more than MAX_FRAMES. */
function keepEnds(frames: StackFrame[]): ParsedStack {
  if (frames.length <= MAX_FRAMES) return { frames }
  const omitted: [number, number] = [KEEP_EACH_END, frames.length - KEEP_EACH_END]
  return { frames: [...frames.slice(0, KEEP_EACH_END), ...frames.slice(-KEEP_EACH_END)], frames_omitted: omitted }
}

/** Where the line after the first `n` starts; the text's length when it has no more lines. */
function afterLines(text: string, n: number): number {
  let at = 0
  for (let i = 0; i < n; i++) {
    const nl = text.indexOf('\n', at)
    if (nl === -1) return text.length
    at = nl + 1
  }
  return at
}

/**
 * Where the last `n` lines start. indexOf finds a newline at memory speed (20 MB in about 1 ms
 * here), but lastIndexOf reads back one character at a time (13 ms for 20 MB), so the search
 * back is held to the stretch `n` lines of a frame's length fill. When longer lines use it up,
 * fewer lines are kept and the ones before go with the middle.
 */
function startOfLastLines(text: string, n: number): number {
  const from = Math.max(0, text.length - n * (MAX_FRAME_LINE + 1))
  // a view of the text, not a copy
  const window = from === 0 ? text : text.slice(from)
  // the newline ending the line before the ones found so far (one past the end, to start)
  let nl = window.length
  for (let i = 0; i < n; i++) {
    const before = nl > 0 ? window.lastIndexOf('\n', nl - 1) : -1
    if (before === -1) return from === 0 ? 0 : Math.min(from + nl + 1, text.length)
    nl = before
  }
  return from + nl + 1
}

/** The lines that start in `text[from, to)`, counted with indexOf, which neither splits nor copies. */
function countLines(text: string, from: number, to: number): number {
  let lines = 0
  for (let at = from; at < to; lines++) {
    // an absurd hand-made stack (millions of empty lines) would take long to count: estimate the rest
    if (lines === COUNTED_LINES_AT_MOST) return Math.round((lines * (to - from)) / (at - from))
    const nl = text.indexOf('\n', at)
    at = nl === -1 ? to : nl + 1
  }
  return lines
}

/** Where the frame in `text[from, to)` starts, after its `at `, or -1 when the line is no frame. */
function frameStart(text: string, from: number, to: number): number {
  // Skip leading blanks without copying the (possibly huge) line first.
  let i = from
  while (i < to && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++
  if (!text.startsWith('at ', i) || to - i > MAX_FRAME_LINE) return -1
  return i + 3
}

/** The frame written in `text[from, to)`, from just after its `at `; null for a frame of faultline's own code. */
function parseFrame(text: string, from: number, to: number, roots: string[]): StackFrame | null {
  let body = ownCopy(text.slice(from, to)).trimEnd()
  if (body.startsWith('async ')) body = body.slice(6)

  let fn: string | undefined
  let location = body
  if (body.endsWith(')')) {
    const open = matchingOpen(body)
    if (open > 0) {
      fn = body.slice(0, open).trim() || undefined
      location = body.slice(open + 1, -1)
    } else if (open === 0) {
      location = body.slice(1, -1)
    }
  }
  if (location.startsWith('eval at ')) location = evalOrigin(location)
  return makeFrame(cleanFunction(fn), location, roots)
}

/** Index of the '(' that opens the final parenthesised group, or -1. Names may hold parens of their own. */
function matchingOpen(body: string): number {
  let depth = 0
  for (let i = body.length - 1; i >= 0; i--) {
    const c = body.charCodeAt(i)
    if (c === 41) depth++
    else if (c === 40 && --depth === 0) return i
  }
  return -1
}

/**
 * `eval at fn (file:1:2), <anonymous>:3:4` (possibly nested): the code ran from a string, so the
 * useful place is the innermost real file that called eval.
 */
function evalOrigin(location: string): string {
  let current = location
  for (let n = 0; n < 10 && current.startsWith('eval at '); n++) {
    const comma = current.lastIndexOf('), ')
    const inner = comma === -1 ? current : current.slice(0, comma + 1)
    const open = matchingOpen(inner)
    if (open === -1) return current
    current = inner.slice(open + 1, -1)
  }
  return current
}

function cleanFunction(fn: string | undefined): string | undefined {
  if (fn === undefined) return undefined
  // 'Foo.bar [as baz]' names the method as defined; the alias is noise for grouping.
  const alias = fn.lastIndexOf(' [as ')
  if (alias > 0 && fn.endsWith(']')) fn = fn.slice(0, alias)
  return fn.length > MAX_FIELD ? fn.slice(0, MAX_FIELD) : fn
}

/**
 * The frame at `location`, or null when it is faultline's own code: its wrappers (the Express
 * layer's, the Koa middleware's scope) sit in the stack of every error of a route, and are no part
 * of the app's story. Dropped here, where the stack is parsed, so that the frames stored, cached,
 * counted as omitted and grouped on are one and the same list.
 */
function makeFrame(fn: string | undefined, location: string, roots: string[]): StackFrame | null {
  let file = location
  let lineno: number | undefined
  let colno: number | undefined
  const last = trailingNumber(file)
  if (last) {
    file = file.slice(0, last.at)
    const prev = trailingNumber(file)
    if (prev) {
      file = file.slice(0, prev.at)
      lineno = prev.value
      colno = last.value
    } else {
      lineno = last.value
    }
  }
  if (file.length > MAX_FIELD) file = file.slice(0, MAX_FIELD)

  const frame: StackFrame = { function: fn, filename: file, in_app: false }
  if (lineno !== undefined) frame.lineno = lineno
  if (colno !== undefined) frame.colno = colno
  if (fn === undefined) delete frame.function

  let abs: string | undefined
  if (file.startsWith('file://')) {
    try {
      abs = fileURLToPath(file)
    } catch {
      abs = undefined
    }
  } else if (path.isAbsolute(file) || /^[A-Za-z]:[\\/]/.test(file) || file.startsWith('\\\\')) {
    abs = file
  }
  if (abs === undefined) return frame
  if (isOwnCode(abs)) return null
  frame.abs_path = abs
  frame.filename = abs
  if (!path.isAbsolute(abs)) return frame // a Windows path seen on a POSIX host: keep it as printed
  const rel = relativeToRoot(abs, roots)
  if (rel === null) return frame
  const relPosix = rel.split(path.sep).join('/')
  frame.filename = relPosix
  frame.in_app = !relPosix.split('/').includes('node_modules')
  return frame
}

const rootCache = new Map<string, string[]>()

/**
 * The root as given and its real path: Node prints the real paths of CommonJS modules, so an app
 * deployed behind a symlink (`/srv/app/current`) still has in-app frames.
 */
function rootsOf(root: string): string[] {
  let roots = rootCache.get(root)
  if (!roots) {
    const resolved = path.resolve(root)
    roots = [resolved]
    try {
      const real = realpathSync(resolved)
      if (real !== resolved) roots.push(real)
    } catch {
      // A root that does not exist (yet) is compared as written.
    }
    if (rootCache.size > 20) rootCache.clear()
    rootCache.set(root, roots)
  }
  return roots
}

function relativeToRoot(abs: string, roots: string[]): string | null {
  for (const root of roots) {
    const rel = path.relative(root, abs)
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel
  }
  return null
}

/** The `:123` at the end of `text`, if there is one. */
function trailingNumber(text: string): { value: number; at: number } | null {
  let i = text.length
  while (i > 0 && text.charCodeAt(i - 1) >= 48 && text.charCodeAt(i - 1) <= 57) i--
  if (i === text.length || i === 0 || text.charCodeAt(i - 1) !== 58 || text.length - i > 9) return null
  return { value: Number(text.slice(i)), at: i - 1 }
}

import path from 'node:path'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { packageRoot } from './package-root.js'
import type { StackFrame } from './types.js'

/** More frames than this are cut from the middle: the throw site and the entry point matter most. */
export const MAX_FRAMES = 100
const KEEP_EACH_END = MAX_FRAMES / 2
// A frame line longer than this is not a real frame worth reading in full (names of generated code).
const MAX_FIELD = 1024

/**
 * Parses V8 stack text (`err.stack`) into frames, oldest call first, as Sentry orders them.
 * Lines that are not frames (the message, `----` separators) are skipped. When the stack is deeper
 * than MAX_FRAMES, the outermost and innermost 50 are kept and `omitted` says which were dropped.
 */
export function parseStack(stack: string, root: string): StackFrame[] {
  return parseStacktrace(stack, root).frames
}

/** parseStack plus the `[start, end)` range of frames dropped from the middle, if any. */
export function parseStacktrace(stack: string, root: string): { frames: StackFrame[]; frames_omitted?: [number, number] } {
  const frames: StackFrame[] = []
  if (typeof stack !== 'string' || stack === '') return { frames }
  const roots = rootsOf(root)
  let start = 0
  while (start < stack.length) {
    let end = stack.indexOf('\n', start)
    if (end === -1) end = stack.length
    const frame = parseLine(stack, start, end, roots)
    if (frame) frames.push(frame)
    start = end + 1
  }
  // V8 prints the innermost call first.
  frames.reverse()
  if (frames.length <= MAX_FRAMES) return { frames }
  const omitted: [number, number] = [KEEP_EACH_END, frames.length - KEEP_EACH_END]
  return { frames: [...frames.slice(0, KEEP_EACH_END), ...frames.slice(-KEEP_EACH_END)], frames_omitted: omitted }
}

function parseLine(stack: string, from: number, to: number, roots: string[]): StackFrame | null {
  // Skip leading blanks without copying the (possibly huge) line first.
  let i = from
  while (i < to && (stack.charCodeAt(i) === 32 || stack.charCodeAt(i) === 9)) i++
  if (!stack.startsWith('at ', i)) return null
  if (to - i > 4 * MAX_FIELD) return null
  let body = stack.slice(i + 3, to).trimEnd()
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

function makeFrame(fn: string | undefined, location: string, roots: string[]): StackFrame {
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
  frame.abs_path = abs
  frame.filename = abs
  if (!path.isAbsolute(abs)) return frame // a Windows path seen on a POSIX host: keep it as printed
  const rel = relativeToRoot(abs, roots)
  if (rel === null) return frame
  const relPosix = rel.split(path.sep).join('/')
  frame.filename = relPosix
  frame.in_app = !relPosix.split('/').includes('node_modules') && !isOwnCode(abs)
  return frame
}

/**
 * faultline's own code (its Express layer wrapper shows up in every route's stack) is never the
 * app's. In an app it sits under node_modules anyway; this matters where faultline's own folder is
 * the app root, as in its examples.
 */
const ownDirs = ['dist', 'lib', 'adapters'].map((dir) => path.join(packageRoot, dir) + path.sep)
function isOwnCode(abs: string): boolean {
  return ownDirs.some((dir) => abs.startsWith(dir))
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

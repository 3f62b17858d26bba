import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync, realpathSync } from 'node:fs'
import os from 'node:os'
import { createRequire } from 'node:module'
import path from 'node:path'
import { addSourceContext, clearSourceCache, snip, MAX_LINE } from '../lib/source-context.js'
import { parseStack } from '../lib/stacktrace.js'
import type { StackFrame } from '../lib/types.js'

let base: string
let root: string
let outside: string

const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n')

function frame(file: string, lineno: number, extra: Partial<StackFrame> = {}): StackFrame {
  return { filename: path.relative(root, file), abs_path: file, lineno, colno: 1, in_app: true, ...extra }
}

beforeEach(() => {
  clearSourceCache()
  base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'faultline-src-')))
  root = path.join(base, 'app')
  outside = path.join(base, 'outside')
  mkdirSync(path.join(root, 'lib'), { recursive: true })
  mkdirSync(path.join(root, 'node_modules', 'dep'), { recursive: true })
  mkdirSync(outside)
})
afterEach(() => rmSync(base, { recursive: true, force: true }))

describe('addSourceContext', () => {
  it('adds 5 lines before and after the line of an in-app frame', () => {
    const file = path.join(root, 'lib', 'a.js')
    writeFileSync(file, numbered(20))
    const [f] = addSourceContext([frame(file, 10)], root)
    expect(f.pre_context).toEqual(['line 5', 'line 6', 'line 7', 'line 8', 'line 9'])
    expect(f.context_line).toBe('line 10')
    expect(f.post_context).toEqual(['line 11', 'line 12', 'line 13', 'line 14', 'line 15'])
  })

  it('clips the context at the start and end of the file', () => {
    const file = path.join(root, 'lib', 'short.js')
    writeFileSync(file, 'first\r\nsecond\r\nthird')
    const [top, bottom] = addSourceContext([frame(file, 1), frame(file, 3)], root)
    expect(top).toMatchObject({ pre_context: [], context_line: 'first', post_context: ['second', 'third'] })
    expect(bottom).toMatchObject({ pre_context: ['first', 'second'], context_line: 'third', post_context: [] })
  })

  it('reads the lines of a real thrown error', () => {
    const file = path.join(root, 'lib', 'thrower.cjs')
    writeFileSync(file, '// header\n\nmodule.exports = function boom() {\n  throw new Error("boom")\n}\n')
    let stack = ''
    try {
      createRequire(file)(file)()
    } catch (err) {
      stack = (err as Error).stack!
    }
    const frames = addSourceContext(parseStack(stack, root), root)
    const inner = frames[frames.length - 1]
    expect(inner.context_line).toBe('  throw new Error("boom")')
    expect(inner.pre_context).toEqual(['// header', '', 'module.exports = function boom() {'])
  })

  it('refuses files outside the root, under node_modules, and not in-app', () => {
    const out = path.join(outside, 'secret.js')
    writeFileSync(out, 'const password = "hunter2"\n')
    const dep = path.join(root, 'node_modules', 'dep', 'index.js')
    writeFileSync(dep, 'module.exports = 1\n')
    const mine = path.join(root, 'lib', 'mine.js')
    writeFileSync(mine, 'x\n')
    const frames = addSourceContext([
      { abs_path: out, filename: out, lineno: 1, in_app: true },
      { abs_path: dep, filename: 'node_modules/dep/index.js', lineno: 1, in_app: true },
      { abs_path: mine, filename: 'lib/mine.js', lineno: 1, in_app: false },
      { abs_path: path.join(root, 'lib', '..', '..', 'outside', 'secret.js'), lineno: 1, in_app: true },
    ], root)
    for (const f of frames) expect(f.context_line).toBeUndefined()
  })

  it('refuses a symlink under the root that points outside it', () => {
    const secret = path.join(outside, 'keys.js')
    writeFileSync(secret, 'const key = "sk_live_123"\n')
    const link = path.join(root, 'lib', 'link.js')
    symlinkSync(secret, link)
    const [f] = addSourceContext([frame(link, 1)], root)
    expect(f.context_line).toBeUndefined()
  })

  it('follows a symlink that stays inside the root', () => {
    const real = path.join(root, 'lib', 'real.js')
    writeFileSync(real, 'inside\n')
    const link = path.join(root, 'lib', 'alias.js')
    symlinkSync(real, link)
    expect(addSourceContext([frame(link, 1)], root)[0].context_line).toBe('inside')
  })

  it('skips files over 1 MB, binary files, directories and missing files', () => {
    const big = path.join(root, 'lib', 'big.js')
    writeFileSync(big, 'a\n'.repeat(600_000))
    const bin = path.join(root, 'lib', 'bin.js')
    writeFileSync(bin, Buffer.from([0x61, 0x00, 0x62, 0x0a]))
    const frames = addSourceContext([
      frame(big, 1), frame(bin, 1), frame(path.join(root, 'lib'), 1), frame(path.join(root, 'nope.js'), 1),
    ], root)
    for (const f of frames) expect(f.context_line).toBeUndefined()
  })

  it('leaves frames alone when the line is beyond the file or the root does not exist', () => {
    const file = path.join(root, 'lib', 'a.js')
    writeFileSync(file, 'one\ntwo\n')
    expect(addSourceContext([frame(file, 50)], root)[0].context_line).toBeUndefined()
    expect(addSourceContext([frame(file, 1)], path.join(base, 'missing-root'))[0].context_line).toBeUndefined()
  })

  it('cuts long lines, keeping the part around the column of the throw', () => {
    const file = path.join(root, 'lib', 'min.js')
    const long = 'a'.repeat(5000) + 'THROW_HERE' + 'b'.repeat(5000)
    writeFileSync(file, `${'c'.repeat(1000)}\n${long}\n`)
    const [f] = addSourceContext([frame(file, 2, { colno: 5001 })], root)
    expect(f.context_line).toContain('THROW_HERE')
    expect(f.context_line!.length).toBeLessThanOrEqual(MAX_LINE + 6)
    expect(f.pre_context![0]).toBe('c'.repeat(MAX_LINE) + '...')
    expect(snip('short')).toBe('short')
  })

  it('serves a file from the cache after the first read', () => {
    const file = path.join(root, 'lib', 'cached.js')
    writeFileSync(file, 'v1\n')
    expect(addSourceContext([frame(file, 1)], root)[0].context_line).toBe('v1')
    writeFileSync(file, 'v2\n')
    expect(addSourceContext([frame(file, 1)], root)[0].context_line).toBe('v1')
    clearSourceCache()
    expect(addSourceContext([frame(file, 1)], root)[0].context_line).toBe('v2')
  })

  it('keeps at most 50 files cached, evicting the least recently used', () => {
    const files = Array.from({ length: 52 }, (_, i) => path.join(root, 'lib', `f${i}.js`))
    files.forEach((f, i) => writeFileSync(f, `first ${i}\n`))
    for (const f of files.slice(0, 51)) addSourceContext([frame(f, 1)], root)
    // f0 was evicted by the 51st file: a rewrite of it shows up; f50 is still cached.
    writeFileSync(files[0], 'second 0\n')
    writeFileSync(files[50], 'second 50\n')
    expect(addSourceContext([frame(files[0], 1)], root)[0].context_line).toBe('second 0')
    expect(addSourceContext([frame(files[50], 1)], root)[0].context_line).toBe('first 50')
  })

  it('never throws, even for frames with odd values', () => {
    const odd = [{ in_app: true, abs_path: '\0bad', lineno: 1 }, { in_app: true, abs_path: root, lineno: -3 }, null] as unknown as StackFrame[]
    expect(() => addSourceContext(odd, root)).not.toThrow()
  })
})

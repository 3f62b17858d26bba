import { describe, it, expect } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, realpathSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { cutStack, parseStack, parseStacktrace, MAX_FRAMES } from '../lib/stacktrace.js'

const root = '/srv/app'
const here = fileURLToPath(import.meta.url)
const repoRoot = path.resolve(path.dirname(here), '..')

function one(line: string, at = root) {
  const frames = parseStack(`Error: boom\n    ${line}`, at)
  expect(frames).toHaveLength(1)
  return frames[0]
}

describe('parseStack', () => {
  it('reads a named frame with file, line and column', () => {
    expect(one('at getUser (/srv/app/routes/users.js:12:7)')).toEqual({
      function: 'getUser', filename: 'routes/users.js', abs_path: '/srv/app/routes/users.js', lineno: 12, colno: 7, in_app: true,
    })
  })

  it('reads an anonymous frame printed without parentheses', () => {
    expect(one('at /srv/app/server.js:3:9')).toEqual({ filename: 'server.js', abs_path: '/srv/app/server.js', lineno: 3, colno: 9, in_app: true })
  })

  it('drops the async marker and keeps constructors and method receivers', () => {
    expect(one('at async loadAll (/srv/app/lib/load.js:40:3)').function).toBe('loadAll')
    expect(one('at new Repository (/srv/app/lib/repo.js:5:11)').function).toBe('new Repository')
    expect(one('at Object.<anonymous> (/srv/app/index.js:1:1)').function).toBe('Object.<anonymous>')
  })

  it('names a method by its definition, not its alias', () => {
    expect(one('at Router.handle [as handle_request] (/srv/app/node_modules/express/lib/router/layer.js:95:5)').function).toBe('Router.handle')
  })

  it('converts file:// URLs of ES modules to paths', () => {
    const frame = one('at start (file:///srv/app/src/main%20file.mjs:8:2)')
    expect(frame.abs_path).toBe('/srv/app/src/main file.mjs')
    expect(frame.filename).toBe('src/main file.mjs')
    expect(frame.in_app).toBe(true)
  })

  it('keeps node: internals as printed and never in-app', () => {
    expect(one('at process.processTicksAndRejections (node:internal/process/task_queues:95:5)')).toEqual({
      function: 'process.processTicksAndRejections', filename: 'node:internal/process/task_queues', lineno: 95, colno: 5, in_app: false,
    })
  })

  it('marks dependencies under node_modules as not in-app, with a path relative to the root', () => {
    const frame = one('at Layer.handle (/srv/app/node_modules/express/lib/router/layer.js:95:5)')
    expect(frame.in_app).toBe(false)
    expect(frame.filename).toBe('node_modules/express/lib/router/layer.js')
  })

  it('marks files outside the root as not in-app and keeps their absolute path', () => {
    const frame = one('at helper (/usr/lib/node/tool.js:1:2)')
    expect(frame).toMatchObject({ filename: '/usr/lib/node/tool.js', abs_path: '/usr/lib/node/tool.js', in_app: false })
    // A sibling directory whose name starts like the root is still outside it.
    expect(one('at x (/srv/app-other/a.js:1:1)').in_app).toBe(false)
  })

  it('reads native frames without a location', () => {
    expect(one('at Array.map (<anonymous>)')).toEqual({ function: 'Array.map', filename: '<anonymous>', in_app: false })
    expect(one('at async Promise.all (index 0)')).toEqual({ function: 'Promise.all', filename: 'index 0', in_app: false })
  })

  it('points eval frames at the file that called eval', () => {
    const frame = one('at eval (eval at compile (/srv/app/lib/tpl.js:10:5), <anonymous>:1:1)')
    expect(frame).toMatchObject({ function: 'eval', filename: 'lib/tpl.js', lineno: 10, colno: 5, in_app: true })
    const nested = one('at eval (eval at outer (eval at run (/srv/app/a.js:2:3), <anonymous>:1:1), <anonymous>:1:1)')
    expect(nested).toMatchObject({ filename: 'a.js', lineno: 2, colno: 3 })
  })

  it('keeps Windows paths as printed without failing', () => {
    const frame = one('at handler (C:\\app\\routes\\index.js:7:13)', 'C:\\app')
    expect(frame.lineno).toBe(7)
    expect(frame.colno).toBe(13)
    expect(frame.function).toBe('handler')
    expect(frame.abs_path).toBe('C:\\app\\routes\\index.js')
  })

  it('lists frames oldest call first and ignores the message lines', () => {
    const stack = [
      'Error: line one',
      'line two of the message',
      '    at inner (/srv/app/a.js:1:1)',
      '    at middle (/srv/app/b.js:2:2)',
      '    at outer (/srv/app/c.js:3:3)',
    ].join('\n')
    expect(parseStack(stack, root).map((f) => f.function)).toEqual(['outer', 'middle', 'inner'])
  })

  it('parses a real stack thrown in this file as in-app at the right line', () => {
    const line = Number(new Error().stack!.split('\n')[1].match(/:(\d+):\d+\)?$/)![1]) + 1
    const err = new Error('here')
    const frames = parseStack(err.stack!, repoRoot)
    const last = frames[frames.length - 1]
    expect(last).toMatchObject({ filename: 'test/stacktrace.test.ts', lineno: line, in_app: true })
    expect(frames.some((f) => f.filename?.startsWith('node_modules/') && !f.in_app)).toBe(true)
  })

  it('treats files under the real path of a symlinked root as in-app', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'faultline-link-'))
    try {
      const real = path.join(realpathSync(base), 'releases', 'v2')
      mkdirSync(real, { recursive: true })
      const current = path.join(base, 'current')
      symlinkSync(real, current)
      const frame = one(`at handler (${path.join(real, 'routes', 'a.js')}:4:2)`, current)
      expect(frame).toMatchObject({ filename: 'routes/a.js', in_app: true })
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it('returns no frames for empty or non-frame text', () => {
    expect(parseStack('', root)).toEqual([])
    expect(parseStack('just a message', root)).toEqual([])
    expect(parseStack(undefined as unknown as string, root)).toEqual([])
  })

  it('keeps the innermost and outermost 50 frames of a very deep stack', () => {
    const lines = ['RangeError: Maximum call stack size exceeded']
    for (let i = 0; i < 1000; i++) lines.push(`    at f${i} (/srv/app/deep.js:${i + 1}:1)`)
    const { frames, frames_omitted } = parseStacktrace(lines.join('\n'), root)
    expect(frames).toHaveLength(MAX_FRAMES)
    // V8 printed f0 innermost; oldest first, f999 comes first.
    expect(frames[0].function).toBe('f999')
    expect(frames[49].function).toBe('f950')
    expect(frames[50].function).toBe('f49')
    expect(frames[99].function).toBe('f0')
    expect(frames_omitted).toEqual([50, 950])
  })

  it('reads a 20 MB line without a frame quickly', () => {
    // Built flat before the clock starts: only the parsing is timed.
    const stack = Buffer.from(`Error: ${'x'.repeat(20_000_000)}\n    at a (/srv/app/a.js:1:1)`).toString()
    const started = performance.now()
    expect(parseStack(stack, root)).toHaveLength(1)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('cutStack', () => {
  const frameLines = (n: number) => Array.from({ length: n }, (_, i) => `    at f${i} (/srv/app/a.js:${i + 1}:1)`)

  it('keeps a stack of up to 250 lines whole', () => {
    const stack = frameLines(250).join('\n')
    expect(cutStack(stack)).toEqual({ head: stack, tail: '', droppedLines: 0 })
  })

  it('keeps the first 200 and the last 50 lines of a longer stack, and counts the lines between', () => {
    const lines = frameLines(1000)
    expect(cutStack(lines.join('\n'))).toEqual({
      head: lines.slice(0, 200).join('\n') + '\n',
      tail: lines.slice(-50).join('\n'),
      droppedLines: 750,
    })
  })

  it('looks back from the end no further than 50 frame lines reach', () => {
    const lines = [...frameLines(300), 'x'.repeat(1_000_000), ...frameLines(10)]
    const cut = cutStack(lines.join('\n'))
    expect(cut.tail).toBe(frameLines(10).join('\n'))
    // the lines between are counted, not read: the long line counts with the 100 frames
    expect(cut.droppedLines).toBe(101)
  })
})

describe('parseStack with --enable-source-maps', () => {
  // The original TypeScript: the type-only lines vanish when compiled, so its lines differ from the JS.
  const source = [
    'interface User {', //            1
    '  id: number', //                 2
    '  name: string', //               3
    '}', //                            4
    'type Id = number', //             5
    '', //                             6
    'function loadUser(id: Id): User {', // 7
    "  throw new Error('no user ' + id)", // 8
    '}', //                            9
    '', //                             10
    'try {', //                        11
    '  loadUser(7)', //                12
    '} catch (err) {', //              13
    '  process.stdout.write((err as Error).stack!)', // 14
    '}', //                            15
  ].join('\n')

  function compile(dir: string, inline: boolean): string {
    const out = ts.transpileModule(source, {
      fileName: 'user.ts',
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, sourceMap: !inline, inlineSourceMap: inline, inlineSources: false },
    })
    const js = path.join(dir, 'user.js')
    writeFileSync(path.join(dir, 'user.ts'), source)
    writeFileSync(js, out.outputText)
    if (!inline) writeFileSync(path.join(dir, 'user.js.map'), out.sourceMapText!)
    return js
  }

  for (const inline of [false, true]) {
    it(`points frames at the original .ts file and line (${inline ? 'inline' : 'adjacent'} map)`, () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-sm-'))
      try {
        const js = compile(dir, inline)
        const mapped = execFileSync(process.execPath, ['--enable-source-maps', js], { encoding: 'utf8' })
        const frames = parseStack(mapped, dir)
        const inner = frames[frames.length - 1]
        expect(inner).toMatchObject({ function: 'loadUser', filename: 'user.ts', abs_path: path.join(dir, 'user.ts'), lineno: 8, in_app: true })
        expect(frames[frames.length - 2]).toMatchObject({ filename: 'user.ts', lineno: 12 })

        // Without the flag the same program reports the compiled file, at another line.
        const plain = parseStack(execFileSync(process.execPath, [js], { encoding: 'utf8' }), dir)
        expect(plain[plain.length - 1].filename).toBe('user.js')
        expect(plain[plain.length - 1].lineno).not.toBe(8)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  it('parses an ES module stack (file:// URLs) from a real child process', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-esm-'))
    try {
      const file = path.join(dir, 'mod.mjs')
      writeFileSync(file, 'async function run() {\n  await null\n  throw new TypeError("bad")\n}\nrun().catch((e) => process.stdout.write(e.stack))\n')
      const out = execFileSync(process.execPath, [file], { encoding: 'utf8' })
      expect(out).toContain(pathToFileURL(file).href)
      const frames = parseStack(out, dir)
      expect(frames[frames.length - 1]).toMatchObject({ function: 'run', filename: 'mod.mjs', abs_path: file, lineno: 3, in_app: true })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

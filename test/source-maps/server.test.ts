import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fileStore } from '../../adapters/file.js'
import type { FaultlineEvent, Issue } from '../../lib/types.js'

// A TypeScript app compiled with tsc (sourceMap: true), run with node in a child process, throwing
// through faultline (the built package, imported by its name). The .ts lines differ from the .js
// ones: interfaces, types and comments vanish when compiled.
const repo = fileURLToPath(new URL('../..', import.meta.url))
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc')

const ORDERS = [
  'export interface Order {', //                                 1
  '  id: number', //                                              2
  '  total: number', //                                           3
  '}', //                                                         4
  'type OrderId = number', //                                     5
  '', //                                                          6
  '// the orders, none of them here', //                         7
  'const orders = new Map<OrderId, Order>()', //                  8
  '', //                                                          9
  'export function loadOrder(id: OrderId): Order {', //          10
  '  const order = orders.get(id)', //                            11
  '  if (!order) {', //                                           12
  '    throw new Error(`order ${id} is missing`)', //             13
  '  }', //                                                       14
  '  return order', //                                            15
  '}', //                                                         16
].join('\n')
const MAIN = [
  "import { createTracker } from 'faultline'", //                                             1
  "import { loadOrder } from './orders.js'", //                                               2
  '', //                                                                                        3
  'const tracker = createTracker({ store: process.argv[2], root: process.cwd(), panel: false })', // 4
  '', //                                                                                        5
  'function handle(id: number): void {', //                                                    6
  '  loadOrder(id)', //                                                                         7
  '}', //                                                                                       8
  '', //                                                                                        9
  'try {', //                                                                                   10
  '  handle(7)', //                                                                             11
  '} catch (err) {', //                                                                         12
  '  tracker.captureException(err)', //                                                         13
  '}', //                                                                                       14
  'await tracker.close()', //                                                                   15
].join('\n')
const THROW_LINE = ORDERS.split('\n')[12]

let app: string
let outside: string

function compile(outDir: string, flags: string[]): void {
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', outDir, ...flags], { cwd: app, encoding: 'utf8' })
  } catch (err) {
    throw new Error(`tsc failed: ${(err as { stdout?: string }).stdout}`)
  }
}

/** Runs `<dir>/main.js` in node, recording into `store`: what it wrote on stderr. */
function run(dir: string, store: string, nodeFlags: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeFlags, path.join(dir, 'main.js'), store], { cwd: app, timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`))
      else resolve(stderr)
    })
  })
}

async function stored(store: string): Promise<Array<{ issue: Issue; events: FaultlineEvent[] }>> {
  const s = fileStore({ path: store })
  try {
    const { issues } = await s.listIssues({ status: 'all' })
    return await Promise.all(issues.map(async (issue) => ({ issue, events: (await s.listEvents(issue.id)).events })))
  } finally {
    await s.close()
  }
}

function storeFile(name: string): string {
  return path.join(app, '.faultline', name, 'errors.json')
}

/** The line of the compiled file that holds `text`, 1-based. */
function lineOf(file: string, text: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((line) => line.includes(text)) + 1
}

beforeAll(() => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'faultline-server-maps-')))
  app = path.join(base, 'ts-shop')
  outside = path.join(base, 'outside')
  mkdirSync(path.join(app, 'src'), { recursive: true })
  mkdirSync(path.join(app, 'node_modules'), { recursive: true })
  mkdirSync(outside)
  symlinkSync(repo, path.join(app, 'node_modules/faultline'))
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'ts-shop', type: 'module', private: true }))
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: 'src', strict: true, sourceMap: true, skipLibCheck: true, typeRoots: [path.join(repo, 'node_modules/@types')], types: ['node'] }, include: ['src'] }),
  )
  writeFileSync(path.join(app, 'src/orders.ts'), ORDERS)
  writeFileSync(path.join(app, 'src/main.ts'), MAIN)
  compile('dist', [])
  // the same app built again, its maps inline and its code for an older target (other lines)
  compile('build', ['--sourceMap', 'false', '--inlineSourceMap', 'true', '--target', 'ES2017', '--removeComments', 'true'])
}, 60_000)

afterAll(() => {
  rmSync(path.dirname(app), { recursive: true, force: true })
})

describe('server frames of compiled TypeScript, Node source maps off', () => {
  it('shows the .ts files, lines and source, and keeps the compiled frame beside', async () => {
    const store = storeFile('plain')
    const stderr = await run('dist', store)
    const [{ issue, events }] = await stored(store)
    const frames = events[0].exception!.stacktrace!.frames
    const inner = frames[frames.length - 1]
    expect(inner).toMatchObject({
      filename: 'src/orders.ts',
      abs_path: path.join(app, 'src/orders.ts'),
      function: 'loadOrder',
      lineno: 13,
      colno: THROW_LINE.indexOf('new Error') + 1,
      in_app: true,
      context_line: THROW_LINE,
      pre_context: ORDERS.split('\n').slice(7, 12),
      post_context: ORDERS.split('\n').slice(13, 16),
      raw: { filename: 'dist/orders.js', lineno: lineOf(path.join(app, 'dist/orders.js'), 'throw new Error'), function: 'loadOrder' },
    })
    expect(inner.raw!.lineno).not.toBe(13)
    expect(frames[frames.length - 2]).toMatchObject({ filename: 'src/main.ts', function: 'handle', lineno: 7, context_line: '  loadOrder(id)', raw: { filename: 'dist/main.js' } })
    expect(frames[frames.length - 3]).toMatchObject({ filename: 'src/main.ts', lineno: 11, context_line: '  handle(7)' })
    // faultline's own frames and Node's are not the app's: left as they are
    expect(frames.filter((f) => !f.in_app).every((f) => f.raw === undefined)).toBe(true)
    expect(issue.culprit).toBe('loadOrder (src/orders.ts)')
    expect(stderr).toBe('')
  })

  it('groups by the .ts files: two builds of the same code, with their maps beside or inline, are one issue', async () => {
    const store = storeFile('two-builds')
    await run('dist', store)
    await run('build', store)
    expect(readFileSync(path.join(app, 'build/orders.js'), 'utf8')).toContain('sourceMappingURL=data:application/json;base64,')
    expect(lineOf(path.join(app, 'build/orders.js'), 'throw new Error')).not.toBe(lineOf(path.join(app, 'dist/orders.js'), 'throw new Error'))
    const issues = await stored(store)
    expect(issues).toHaveLength(1)
    expect(issues[0].issue.count).toBe(2)
    const raws = issues[0].events.map((e) => e.exception!.stacktrace!.frames.at(-1)!.raw!.filename).sort()
    expect(raws).toEqual(['build/orders.js', 'dist/orders.js'])
    for (const event of issues[0].events) expect(event.exception!.stacktrace!.frames.at(-1)).toMatchObject({ filename: 'src/orders.ts', lineno: 13, context_line: THROW_LINE })
  })

  it("leaves the stack to Node when its source maps are on (--enable-source-maps)", async () => {
    const store = storeFile('node-maps')
    await run('dist', store, ['--enable-source-maps'])
    const [{ issue, events }] = await stored(store)
    const inner = events[0].exception!.stacktrace!.frames.at(-1)!
    expect(inner).toMatchObject({ filename: 'src/orders.ts', function: 'loadOrder', lineno: 13, in_app: true, context_line: THROW_LINE })
    // Node mapped it: faultline did not, so there is no compiled frame to keep
    expect(inner.raw).toBeUndefined()
    expect(issue.culprit).toBe('loadOrder (src/orders.ts)')
  })

  it('shows the compiled frames, and says once why, when a map is corrupt', async () => {
    cpSync(path.join(app, 'dist'), path.join(app, 'corrupt'), { recursive: true })
    writeFileSync(path.join(app, 'corrupt/orders.js.map'), '{"version":3,"sources":["../src/orders.ts"],"mappings":"AAAA;;')
    const store = storeFile('corrupt')
    const stderr = await run('corrupt', store)
    const [{ events }] = await stored(store)
    const frames = events[0].exception!.stacktrace!.frames
    expect(frames.at(-1)).toMatchObject({ filename: 'corrupt/orders.js', lineno: lineOf(path.join(app, 'corrupt/orders.js'), 'throw new Error'), in_app: true })
    expect(frames.at(-1)!.raw).toBeUndefined()
    // main.js's map is fine: its frames are mapped
    expect(frames.at(-2)).toMatchObject({ filename: 'src/main.ts', lineno: 7 })
    expect(stderr).toBe('faultline: the frames of "corrupt/orders.js" are shown as compiled: its map is not valid JSON\n')
  })

  it('does not follow a sourceMappingURL out of the app root', async () => {
    cpSync(path.join(app, 'dist'), path.join(app, 'escaping'), { recursive: true })
    // a good map outside the root: followed, it would map the frames
    cpSync(path.join(app, 'dist/orders.js.map'), path.join(outside, 'orders.js.map'))
    const compiled = path.join(app, 'escaping/orders.js')
    writeFileSync(compiled, readFileSync(compiled, 'utf8').replace(/sourceMappingURL=.*/, `sourceMappingURL=${path.join(outside, 'orders.js.map')}`))
    const store = storeFile('escaping')
    const stderr = await run('escaping', store)
    const [{ events }] = await stored(store)
    expect(events[0].exception!.stacktrace!.frames.at(-1)).toMatchObject({ filename: 'escaping/orders.js', in_app: true })
    expect(stderr).toBe('faultline: the frames of "escaping/orders.js" are shown as compiled: its sourceMappingURL leads out of the allowed folders: not followed\n')
  })
})

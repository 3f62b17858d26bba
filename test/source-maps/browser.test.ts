import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSync } from 'esbuild'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import vm from 'node:vm'
import { mapBrowserFrames } from '../../lib/source-maps/browser.js'
import { clearSourceMaps } from '../../lib/source-maps/map-cache.js'
import { parseStack } from '../../lib/stacktrace.js'
import type { StackFrame } from '../../lib/types.js'

const ORIGIN = 'https://shop.example'

// The app's front-end: its own files, and a dependency from node_modules. Line numbers are counted
// in the assertions below.
const CART = [
  "import { parsePrice } from 'price-lib'", //                                     1
  'export interface Line { sku: string; qty: number; price: string }', //          2
  '', //                                                                             3
  'export function computeTotal(lines: Line[]): number {', //                       4
  '  let total = 0', //                                                              5
  '  for (const line of lines) {', //                                                6
  '    // a line with no quantity is a bug upstream', //                             7
  '    if (line.qty <= 0) {', //                                                     8
  '      throw new Error(`bad quantity for ${line.sku}`)', //                        9
  '    }', //                                                                        10
  '    total += line.qty * parsePrice(line.price)', //                               11
  '  }', //                                                                          12
  '  return total', //                                                               13
  '}', //                                                                            14
].join('\n')
const MAIN = [
  "import { computeTotal } from './cart'", //                                        1
  '', //                                                                             2
  'export function checkout(): number {', //                                         3
  "  const lines = [{ sku: 'A1', qty: 0, price: '3.50' }]", //                        4
  '  return computeTotal(lines)', //                                                 5
  '}', //                                                                            6
  '', //                                                                             7
  'export function priceOf(text: string): number {', //                              8
  "  return computeTotal([{ sku: 'B2', qty: 1, price: text }])", //                   9
  '}', //                                                                            10
  '', //                                                                             11
  ';(globalThis as any).shop = { checkout, priceOf }', //                            12
].join('\n')
const PRICE_LIB = [
  'export function parsePrice(text) {', //                                           1
  "  if (!/^\\d+\\.\\d\\d$/.test(text)) throw new TypeError('not a price: ' + text)", // 2
  '  return Number(text)', //                                                        3
  '}', //                                                                            4
].join('\n')

let root: string
let folder: string
let outside: string

/** Builds the front-end with esbuild (minified, with a source map) to `public/<out>`. */
function bundle(out: string, options: { sourcemap?: boolean | 'inline'; sourcesContent?: boolean } = {}): string {
  const outfile = path.join(folder, out)
  buildSync({
    entryPoints: [path.join(root, 'src/main.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    sourcemap: options.sourcemap ?? true,
    sourcesContent: options.sourcesContent ?? true,
    outfile,
    absWorkingDir: root,
    logLevel: 'silent',
  })
  return outfile
}

/**
 * The frames a browser would send for `call` on a bundle served at `url`: the bundle runs in V8
 * under that URL (as Chromium runs it), and its stack is parsed as faultline parses any; the
 * frames of the bundle only, as a Sentry SDK sends them.
 */
function framesFrom(file: string, url: string, call: 'checkout' | 'priceOf'): StackFrame[] {
  const sandbox: { shop?: Record<string, (arg?: string) => number> } = {}
  vm.runInNewContext(readFileSync(file, 'utf8'), sandbox, { filename: url })
  try {
    sandbox.shop![call]('12')
  } catch (err) {
    return parseStack((err as Error).stack!, root)
      .filter((frame) => frame.filename?.startsWith('https://'))
      .map((frame) => ({ ...frame, in_app: true }))
  }
  throw new Error('the bundle did not throw')
}

function reports(): { errors: Error[]; report: (err: Error) => void } {
  const errors: Error[] = []
  return { errors, report: (err) => errors.push(err) }
}

beforeAll(() => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'faultline-browser-maps-')))
  root = path.join(base, 'app')
  folder = path.join(root, 'public')
  outside = path.join(base, 'outside')
  mkdirSync(path.join(root, 'src'), { recursive: true })
  mkdirSync(path.join(root, 'node_modules/price-lib'), { recursive: true })
  mkdirSync(path.join(folder, 'assets'), { recursive: true })
  mkdirSync(outside, { recursive: true })
  writeFileSync(path.join(root, 'src/cart.ts'), CART)
  writeFileSync(path.join(root, 'src/main.ts'), MAIN)
  writeFileSync(path.join(root, 'node_modules/price-lib/package.json'), JSON.stringify({ name: 'price-lib', type: 'module', main: 'index.js' }))
  writeFileSync(path.join(root, 'node_modules/price-lib/index.js'), PRICE_LIB)
  bundle('assets/app.min.js')
})

afterAll(() => {
  rmSync(path.dirname(root), { recursive: true, force: true })
})

beforeEach(() => clearSourceMaps())

describe('mapBrowserFrames', () => {
  it('maps a minified bundle to the original file, line, column and function, with its source lines', () => {
    const raw = framesFrom(path.join(folder, 'assets/app.min.js'), `${ORIGIN}/assets/app.min.js`, 'checkout')
    // minified: one line, renamed functions
    expect(raw.every((f) => f.lineno === 1)).toBe(true)
    expect(raw.map((f) => f.function)).not.toContain('computeTotal')

    const { errors, report } = reports()
    const mapped = mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })
    const inner = mapped[mapped.length - 1]
    expect(inner).toMatchObject({
      filename: 'src/cart.ts',
      function: 'computeTotal',
      lineno: 9,
      colno: CART.split('\n')[8].indexOf('new Error') + 1,
      in_app: true,
      context_line: '      throw new Error(`bad quantity for ${line.sku}`)',
      pre_context: CART.split('\n').slice(3, 8),
      post_context: ['    }', '    total += line.qty * parsePrice(line.price)', '  }', '  return total', '}'],
    })
    expect(inner.raw).toEqual({ filename: `${ORIGIN}/assets/app.min.js`, lineno: 1, colno: raw[raw.length - 1].colno, function: raw[raw.length - 1].function })
    expect(mapped[mapped.length - 2]).toMatchObject({ filename: 'src/main.ts', function: 'checkout', lineno: 5, context_line: '  return computeTotal(lines)' })
    expect(errors).toEqual([])
    // the frames given are left as they were
    expect(raw[raw.length - 1].filename).toBe(`${ORIGIN}/assets/app.min.js`)
  })

  it('names a dependency by its path under node_modules, not in the app', () => {
    const raw = framesFrom(path.join(folder, 'assets/app.min.js'), `${ORIGIN}/assets/app.min.js`, 'priceOf')
    const mapped = mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root })
    expect(mapped[mapped.length - 1]).toMatchObject({ filename: 'node_modules/price-lib/index.js', function: 'parsePrice', lineno: 2, in_app: false })
    expect(mapped[mapped.length - 1].context_line).toBeUndefined()
    expect(mapped[mapped.length - 2]).toMatchObject({ filename: 'src/cart.ts', function: 'computeTotal', lineno: 11, in_app: true })
  })

  it('finds a script served under a prefix by the end of its URL path', () => {
    const raw = framesFrom(path.join(folder, 'assets/app.min.js'), `${ORIGIN}/static/v2/assets/app.min.js?build=7#x`, 'checkout')
    const mapped = mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root })
    expect(mapped[mapped.length - 1]).toMatchObject({ filename: 'src/cart.ts', lineno: 9 })
  })

  it('leaves frames of other origins, and frames it cannot map, as they were', () => {
    const url = 'https://cdn.other.example/assets/app.min.js'
    const raw = framesFrom(path.join(folder, 'assets/app.min.js'), url, 'checkout')
    expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root })).toBe(raw)
    const missing = framesFrom(path.join(folder, 'assets/app.min.js'), `${ORIGIN}/assets/gone.js`, 'checkout')
    expect(mapBrowserFrames(missing, { sourceMaps: [folder], origins: [ORIGIN], root })).toBe(missing)
    const climbing = missing.map((f) => ({ ...f, filename: `${ORIGIN}/assets/..%2f..%2fsrc/main.ts` }))
    expect(mapBrowserFrames(climbing, { sourceMaps: [folder], origins: [ORIGIN], root })).toBe(climbing)
    const nonsense = [{ filename: `${ORIGIN}/assets/app.min.js`, lineno: -1, colno: 1e12, in_app: true }, { filename: 'not a url', lineno: 1, colno: 1, in_app: true }] as StackFrame[]
    expect(mapBrowserFrames(nonsense, { sourceMaps: [folder], origins: [ORIGIN], root })).toBe(nonsense)
  })

  it('maps the frames it can among values that are not frames at all', () => {
    const [real] = framesFrom(path.join(folder, 'assets/app.min.js'), `${ORIGIN}/assets/app.min.js`, 'checkout').slice(-1)
    const hostile = [null, 7, 'at x', { filename: { toString: () => 'x' }, lineno: '1', colno: [41] }, real] as unknown as StackFrame[]
    const mapped = mapBrowserFrames(hostile, { sourceMaps: [folder], origins: [ORIGIN], root })
    expect(mapped.slice(0, 4)).toEqual(hostile.slice(0, 4))
    expect(mapped[4]).toMatchObject({ filename: 'src/cart.ts', lineno: 9, function: 'computeTotal' })
  })

  it('reads an inline map (a base64 data: URI)', () => {
    const file = bundle('inline/app.js', { sourcemap: 'inline' })
    expect(readFileSync(file, 'utf8')).toContain('sourceMappingURL=data:application/json;base64,')
    const raw = framesFrom(file, `${ORIGIN}/inline/app.js`, 'checkout')
    const mapped = mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root })
    expect(mapped[mapped.length - 1]).toMatchObject({ filename: 'src/cart.ts', function: 'computeTotal', lineno: 9 })
  })

  it('reads <file>.map when the script names no map, and the original file when the map has no sources', () => {
    const file = bundle('bare/app.js', { sourcesContent: false })
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\/\/# sourceMappingURL=.*\n?$/, ''))
    // the original files lie within the folder here
    const inFolder = path.join(folder, 'src')
    mkdirSync(inFolder, { recursive: true })
    copyFileSync(path.join(root, 'src/cart.ts'), path.join(inFolder, 'cart.ts'))
    copyFileSync(path.join(root, 'src/main.ts'), path.join(inFolder, 'main.ts'))
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'))
    map.sources = map.sources.map((s: string) => s.replace('../../src/', '../src/'))
    writeFileSync(`${file}.map`, JSON.stringify(map))
    try {
      const raw = framesFrom(file, `${ORIGIN}/bare/app.js`, 'checkout')
      const mapped = mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root })
      expect(mapped[mapped.length - 1]).toMatchObject({ filename: 'public/src/cart.ts', lineno: 9, context_line: '      throw new Error(`bad quantity for ${line.sku}`)' })
    } finally {
      rmSync(inFolder, { recursive: true, force: true })
    }
  })

  it('reads the map again once the script is rebuilt', async () => {
    const file = bundle('rebuilt/app.js')
    const url = `${ORIGIN}/rebuilt/app.js`
    expect(mapBrowserFrames(framesFrom(file, url, 'checkout'), { sourceMaps: [folder], origins: [ORIGIN], root }).at(-1)).toMatchObject({ lineno: 9 })
    // two lines more above the throw, and a new build
    writeFileSync(path.join(root, 'src/cart.ts'), `// v2\n// of the cart\n${CART}`)
    try {
      bundle('rebuilt/app.js')
      utimesSync(file, new Date(), new Date(Date.now() + 5000))
      await new Promise((resolve) => setTimeout(resolve, 2100))
      expect(mapBrowserFrames(framesFrom(file, url, 'checkout'), { sourceMaps: [folder], origins: [ORIGIN], root }).at(-1)).toMatchObject({ lineno: 11 })
    } finally {
      writeFileSync(path.join(root, 'src/cart.ts'), CART)
    }
  })
})

describe('mapBrowserFrames refuses maps outside its folders', () => {
  /** a copy of the good bundle under `name` whose sourceMappingURL is `url`, and a good map at `outside/app.js.map` */
  function withMapUrl(name: string, url: string): StackFrame[] {
    const good = path.join(folder, 'assets/app.min.js')
    const file = path.join(folder, name)
    mkdirSync(path.dirname(file), { recursive: true })
    // a valid map outside the folders: followed, it would map the frames
    copyFileSync(`${good}.map`, path.join(outside, 'app.js.map'))
    writeFileSync(file, readFileSync(good, 'utf8').replace(/sourceMappingURL=.*/, `sourceMappingURL=${url}`))
    return framesFrom(file, `${ORIGIN}/${name}`, 'checkout')
  }

  it('does not follow "..", however deep', () => {
    for (const [name, url] of [['hostile/up.js', '../../outside/app.js.map'], ['hostile/passwd.js', '../../../../../../../../etc/passwd'], ['hostile/encoded.js', '..%2F..%2Foutside%2Fapp.js.map']]) {
      const raw = withMapUrl(name, url)
      const { errors, report } = reports()
      expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })).toBe(raw)
      expect(errors.map((e) => e.message)).toEqual([`faultline: the frames of "public/${name}" are shown as compiled: its sourceMappingURL climbs up with "..": not followed`])
    }
  })

  it('does not follow an absolute path or a file: URL outside the folders, nor a URL', () => {
    for (const [name, url, why] of [
      ['hostile/absolute.js', path.join(outside, 'app.js.map'), 'its sourceMappingURL leads out of the allowed folders: not followed'],
      ['hostile/file-url.js', `file://${path.join(outside, 'app.js.map')}`, 'its sourceMappingURL leads out of the allowed folders: not followed'],
      ['hostile/etc.js', '/etc/passwd', 'its sourceMappingURL leads out of the allowed folders: not followed'],
      ['hostile/http.js', 'http://169.254.169.254/latest/meta-data', 'its sourceMappingURL is a URL: maps are read from disk only'],
    ]) {
      const raw = withMapUrl(name, url)
      const { errors, report } = reports()
      expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })).toBe(raw)
      expect(errors.map((e) => e.message)).toEqual([`faultline: the frames of "public/${name}" are shown as compiled: ${why}`])
    }
  })

  it('does not follow a symlink that points out, as the map or as the script', () => {
    const raw = withMapUrl('hostile/linked.js', 'linked.js.map')
    symlinkSync(path.join(outside, 'app.js.map'), path.join(folder, 'hostile/linked.js.map'))
    const { errors, report } = reports()
    expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })).toBe(raw)
    expect(errors.map((e) => e.message)).toEqual(['faultline: the frames of "public/hostile/linked.js" are shown as compiled: its sourceMappingURL leads out of the allowed folders: not followed'])

    // a script in the folder that is a link to one outside it, with its map beside it there
    copyFileSync(path.join(folder, 'assets/app.min.js'), path.join(outside, 'app.js'))
    symlinkSync(path.join(outside, 'app.js'), path.join(folder, 'hostile/outside.js'))
    const linked = framesFrom(path.join(outside, 'app.js'), `${ORIGIN}/hostile/outside.js`, 'checkout')
    expect(mapBrowserFrames(linked, { sourceMaps: [folder], origins: [ORIGIN], root })).toBe(linked)
  })
})

describe('mapBrowserFrames skips maps it cannot use, and says so once', () => {
  function withMap(name: string, write: (mapFile: string) => void): StackFrame[] {
    const good = path.join(folder, 'assets/app.min.js')
    const file = path.join(folder, 'broken', name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, readFileSync(good, 'utf8').replace(/sourceMappingURL=.*/, `sourceMappingURL=${name}.map`))
    write(`${file}.map`)
    return framesFrom(file, `${ORIGIN}/broken/${name}`, 'checkout')
  }

  for (const [name, write, why] of [
    ['huge.js', (file: string) => (writeFileSync(file, ''), truncateSync(file, 21 * 1024 * 1024)), 'its map is over 20 MB'],
    ['not-json.js', (file: string) => writeFileSync(file, '{"version":3,"sources":["a.ts"],"mappings":"AAAA"'), 'its map is not valid JSON'],
    ['not-a-map.js', (file: string) => writeFileSync(file, JSON.stringify({ hello: 'world' })), 'its map is not a version 3 source map'],
    ['corrupt.js', (file: string) => writeFileSync(file, JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'AAAA,zzzzzzz;!!!!' })), 'its map has corrupt mappings'],
    ['missing.js', () => {}, 'its map is missing'],
  ] as Array<[string, (file: string) => void, string]>) {
    it(`leaves the frames raw when ${why.replace('its map ', 'the map ')}`, () => {
      const raw = withMap(name, write)
      const { errors, report } = reports()
      expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })).toBe(raw)
      expect(mapBrowserFrames(raw, { sourceMaps: [folder], origins: [ORIGIN], root, report })).toBe(raw)
      expect(errors.map((e) => e.message)).toEqual([`faultline: the frames of "public/broken/${name}" are shown as compiled: ${why}`])
    })
  }
})

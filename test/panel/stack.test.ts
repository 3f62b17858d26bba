import { beforeAll, describe, expect, it } from 'vitest'
import request from 'supertest'
import type http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import { framesInCommon, groupFrames, rawStack, stackView } from '../../lib/panel/stack.js'
import type { Store, StackFrame } from '../../lib/types.js'
import { capture, panelServer } from './helpers.js'
import { checkoutError } from './stacks.js'

/** The text of some HTML, tags removed and entities decoded. */
function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim()
}

function decode(html: string): string {
  return html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
}

/** The exceptions of the page, each its list of frames as HTML. */
function exceptions(html: string): string[] {
  return [...html.matchAll(/<div class="exception">([\s\S]*?)\n<\/div>/g)].map((m) => m[1])
}

/** The frames directly in a list (not inside a folded group), by function name, and the folded groups' summaries. */
function topLevel(exceptionHtml: string): string[] {
  const list = /<ol class="frames">([\s\S]*)<\/ol>/.exec(exceptionHtml)![1]
  const withoutFolded = list.replace(/<li class="frame library">[\s\S]*?<\/details>\s*<\/li>/g, (group) => `[${text(/<summary>([\s\S]*?)<\/summary>/.exec(group)![1])}]`)
  return [...withoutFolded.matchAll(/\[([^\]]+)\]|<span class="fn">([^<]*)<\/span>|<li class="frame common muted">([^<]*)<\/li>/g)].map((m) => m[1] ? `[${m[1]}]` : m[2] ?? m[3].trim())
}

describe('the stack trace views', () => {
  let store: Store
  let app: http.Server
  let issuePath: string
  let eventPath: string
  let stacks: ReturnType<typeof checkoutError>

  beforeAll(async () => {
    store = memoryStore()
    stacks = checkoutError()
    const first = await capture(store, { error: stacks.error })
    await capture(store, { error: checkoutError().error })
    issuePath = `/errors/issues/${first.issue.id}`
    eventPath = `${issuePath}/events/${(await store.listEvents(first.issue.id, { limit: 2 })).events[1].event_id}`
    app = panelServer(store)
  })

  it('shows the app frames, with the library frames between them folded into one closed line each', async () => {
    const res = await request(app).get(issuePath).expect(200)
    const [outer] = exceptions(res.text)
    expect(topLevel(outer)).toEqual(['chargeCard', '[2 library frames]', 'checkout', '[2 library frames]'])
    // the folded frames are on the page, closed until clicked
    const folded = [...outer.matchAll(/<li class="frame library">\s*<details>([\s\S]*?)<\/details>/g)].map((m) => text(m[1]))
    expect(folded).toEqual([
      '2 library frames Layer.handle at node_modules/router/lib/layer.js :152:17 next at node_modules/router/lib/route.js :157:13',
      '2 library frames Layer.handle at node_modules/router/lib/layer.js :152:17 process.processTicksAndRejections at node:internal/process/task_queues :95:5',
    ])
    expect(outer).not.toMatch(/<li class="frame library">\s*<details open/)
  })

  it('shows a cause without the frames the error above showed, and says how many', async () => {
    const res = await request(app).get(issuePath).expect(200)
    const [, cause] = exceptions(res.text)
    expect(text(cause)).toContain('Caused by Error connect ECONNREFUSED 127.0.0.1:5432')
    expect(topLevel(cause)).toEqual(['[1 library frame]', 'chargeCard', '5 frames in common with the error above'])
    expect(cause).not.toContain('checkout')
  })

  it('shows every frame unfolded in the full view, the cause still without the frames in common', async () => {
    const res = await request(app).get(`${issuePath}?view=full`).expect(200)
    const [outer, cause] = exceptions(res.text)
    expect(topLevel(outer)).toEqual(['chargeCard', 'Layer.handle', 'next', 'checkout', 'Layer.handle', 'process.processTicksAndRejections'])
    expect(topLevel(cause)).toEqual(['Client.connect', 'chargeCard', '5 frames in common with the error above'])
    expect(res.text).not.toContain('library frame')
  })

  it('shows the whole stack as V8 prints it, causes and all, in a block to copy in the raw view', async () => {
    const res = await request(app).get(`${issuePath}?view=raw`).expect(200)
    const raw = /<pre class="block raw-stack" tabindex="0"[^>]*>([\s\S]*?)<\/pre>/.exec(res.text)
    expect(raw).not.toBeNull()
    expect(decode(raw![1])).toBe(`${stacks.outerStack}\nCaused by: ${stacks.causeStack}`)
    expect(exceptions(res.text)).toEqual([])
  })

  it('offers the three views as links, without script, on the issue and on an event page, which keep the view while paging', async () => {
    const res = await request(app).get(eventPath).expect(200)
    const nav = /<nav class="stack-views"[\s\S]*?<\/nav>/.exec(res.text)![0]
    const links = [...nav.matchAll(/<a href="([^"]+)"( aria-current="page")?>([^<]+)<\/a>/g)].map((m) => [m[3], decode(m[1]), Boolean(m[2])])
    expect(links).toEqual([
      ['App frames', `${eventPath}#stack`, true],
      ['Full', `${eventPath}?view=full#stack`, false],
      ['Raw', `${eventPath}?view=raw#stack`, false],
    ])
    const raw = await request(app).get(`${eventPath}?view=raw`).expect(200)
    expect(raw.text).toContain('class="block raw-stack"')
    expect(raw.text).toMatch(/<a href="[^"]+\?view=raw#stack" aria-current="page">Raw<\/a>/)
    // the newer event (the issue's latest) is linked in the same view
    expect(decode(raw.text)).toMatch(/<a href="\/errors\/issues\/[^"/]+\/events\/[0-9a-f]{32}\?view=raw" rel="prev">/)
    expect(decode(raw.text)).toContain(`<a href="${issuePath}?view=raw">Latest</a>`)
  })

  it('answers 400 to a view it does not know', async () => {
    const res = await request(app).get(`${issuePath}?view=<script>`).expect(400)
    expect(text(res.text)).toContain('view must be one of app, full, raw.')
    expect(res.text).not.toContain('<script>')
  })
})

describe('stack view helpers', () => {
  it('prints a frame mapped through a source map where the compiled code ran, in the raw view', () => {
    const mapped: StackFrame = { function: 'couponDiscount', filename: 'browser/cart.js', abs_path: '/srv/shop/browser/cart.js', lineno: 7, colno: 35, in_app: true, raw: { filename: '/static/cart.js', lineno: 1, colno: 58, function: 'a' } }
    const plain: StackFrame = { function: 'handle', filename: 'routes/cart.js', abs_path: '/srv/shop/routes/cart.js', lineno: 3, colno: 9, in_app: true }
    expect(rawStack([{ type: 'TypeError', value: 'x is undefined', stacktrace: { frames: [plain, mapped] } }])).toBe(
      'TypeError: x is undefined\n    at a (/static/cart.js:1:58)\n    at handle (/srv/shop/routes/cart.js:3:9)',
    )
  })

  const frame = (fn: string, inApp: boolean, lineno = 1): StackFrame => ({ function: fn, filename: `${fn}.js`, lineno, in_app: inApp })

  it('reads the view from its parameter', () => {
    expect(stackView(null)).toBe('app')
    expect(stackView('')).toBe('app')
    expect(stackView('full')).toBe('full')
    expect(stackView('raw')).toBe('raw')
    expect(stackView('FULL')).toBeNull()
  })

  it('folds runs of library frames around the app frames; shows a stack without app frames whole', () => {
    const frames = [frame('a', true), frame('l1', false), frame('l2', false), frame('b', true), frame('l3', false)]
    expect(groupFrames(frames, 'app').map((g) => [g.folded, g.frames.map((f) => f.function)])).toEqual([
      [false, ['a']], [true, ['l1', 'l2']], [false, ['b']], [true, ['l3']],
    ])
    expect(groupFrames(frames, 'full')).toEqual([{ folded: false, frames }])
    const libraryOnly = [frame('l1', false), frame('l2', false)]
    expect(groupFrames(libraryOnly, 'app')).toEqual([{ folded: false, frames: libraryOnly }])
    expect(groupFrames([], 'app')).toEqual([])
  })

  it('counts the outer calls a cause shares with the error above, keeping the cause its own throw site', () => {
    const outer = [frame('main', true), frame('route', true, 5), frame('handler', true, 9)]
    expect(framesInCommon(outer, [frame('main', true), frame('route', true, 5), frame('handler', true, 7), frame('db', false)])).toBe(2)
    expect(framesInCommon(outer, [frame('other', true)])).toBe(0)
    // the same frames: the cause's newest stays
    expect(framesInCommon(outer, outer)).toBe(2)
    expect(framesInCommon([], outer)).toBe(0)
  })

  it('prints frames without a function or a column as V8 does, and says where frames were dropped', () => {
    const stack = rawStack([{
      type: 'RangeError',
      value: '',
      stacktrace: {
        frames: [{ filename: 'node:internal/main', lineno: 3, in_app: false }, { function: 'deep', filename: 'app.js', abs_path: '/srv/app.js', lineno: 7, colno: 2, in_app: true }],
        frames_omitted: [1, 31],
      },
    }])
    expect(stack).toBe('RangeError\n    at deep (/srv/app.js:7:2)\n    ... 30 frames omitted\n    at node:internal/main:3')
  })
})

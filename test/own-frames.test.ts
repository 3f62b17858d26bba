import { afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import path from 'node:path'
import express from 'express'
import Koa from 'koa'
import { createTracker, type Tracker } from '../lib/index.js'
import { memoryStore } from '../adapters/memory.js'
import { packageRoot } from '../lib/package-root.js'
import { parseStacktrace } from '../lib/stacktrace.js'
import type { FaultlineEvent, StackFrame } from '../lib/types.js'

const ROOT = process.cwd()
const OWN = ['dist', 'lib', 'common', 'adapters', 'testing'].map((dir) => path.join(packageRoot, dir) + path.sep)

function isOwn(frame: StackFrame): boolean {
  const file = frame.abs_path ?? frame.filename ?? ''
  return OWN.some((dir) => file.startsWith(dir)) || /^(lib|common|adapters|dist|testing)\//.test(frame.filename ?? '')
}

describe('faultline frames in a parsed stack', () => {
  it('are left out, whether run from dist/ or from the TypeScript sources', () => {
    const stack = [
      'Error: boom',
      `    at orderTotal (${path.join(ROOT, 'src/orders.js')}:10:5)`,
      `    at faultlineHandleRequest (${path.join(packageRoot, 'dist/lib/integrations/express.js')}:120:20)`,
      `    at Layer.handle (${path.join(ROOT, 'node_modules/router/lib/layer.js')}:152:17)`,
      `    at Tracker.runInScope (file://${path.join(packageRoot, 'lib/tracker.ts')}:400:12)`,
      `    at groupEvent (${path.join(packageRoot, 'common/fingerprint.ts')}:3:3)`,
      `    at main (${path.join(ROOT, 'src/server.js')}:3:1)`,
      '    at node:internal/main/run_main_module:28:49',
    ].join('\n')
    const { frames } = parseStacktrace(stack, ROOT)
    expect(frames.map((f) => f.function ?? f.filename)).toEqual(['node:internal/main/run_main_module', 'main', 'Layer.handle', 'orderTotal'])
  })

  it('are left out before deep stacks are cut, so the omitted range counts the frames kept', () => {
    const lines = ['Error: deep']
    for (let i = 0; i < 120; i++) {
      lines.push(`    at app${i} (${path.join(ROOT, 'src/app.js')}:${i + 1}:1)`)
      lines.push(`    at faultlineHandleRequest (${path.join(packageRoot, 'lib/integrations/express.ts')}:1:1)`)
    }
    const { frames, frames_omitted } = parseStacktrace(lines.join('\n'), ROOT)
    expect(frames.some(isOwn)).toBe(false)
    expect(frames).toHaveLength(100)
    // 120 app frames: the outermost and innermost 50 kept, the 20 between omitted; faultline's 120 are not counted
    expect(frames_omitted).toEqual([50, 70])
    expect(frames[49].function).toBe('app70')
    expect(frames[50].function).toBe('app49')
  })
})

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(): Tracker {
  const tracker = createTracker({ store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false })
  trackers.push(tracker)
  return tracker
}

async function storedEvents(tracker: Tracker): Promise<FaultlineEvent[]> {
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all' })
  const pages = await Promise.all(issues.map((issue) => tracker.store.listEvents(issue.id, { limit: 10 })))
  return pages.flatMap((page) => page.events)
}

function allFrames(event: FaultlineEvent): StackFrame[] {
  const chain = [event.exception!, ...(event.exception!.causes ?? [])]
  return chain.flatMap((ex) => ex.stacktrace?.frames ?? [])
}

function placeOrder(): never {
  throw new Error('sync order failure', { cause: new TypeError('price missing') })
}
async function placeOrderLater(): Promise<never> {
  await new Promise((resolve) => setTimeout(resolve, 1))
  throw new Error('async order failure')
}

describe('stored stacks of errors in a request', () => {
  it('hold no faultline frame under Express, sync and async, and keep the app frames', async () => {
    const tracker = newTracker()
    const app = express()
    app.use(tracker.express())
    app.get('/sync', () => placeOrder())
    app.get('/async', async () => placeOrderLater())
    app.get('/next', (_req, _res, next) => next(new Error('passed on')))
    await request(app).get('/sync').expect(500)
    await request(app).get('/async').expect(500)
    await request(app).get('/next').expect(500)
    const events = await storedEvents(tracker)
    expect(events).toHaveLength(3)
    for (const event of events) {
      const frames = allFrames(event)
      expect(frames.length).toBeGreaterThan(0)
      expect(frames.filter(isOwn)).toEqual([])
      expect(frames.some((f) => f.filename === 'test/own-frames.test.ts' && f.in_app)).toBe(true)
    }
    const sync = events.find((e) => e.exception?.value === 'sync order failure')!
    // faultline's layer wrapper ran between Express's frames: without it, the stack goes straight on
    expect(sync.exception!.stacktrace!.frames.map((f) => f.function)).toContain('placeOrder')
  })

  it('hold no faultline frame under Koa, sync and async', async () => {
    const tracker = newTracker()
    const app = new Koa()
    app.silent = true
    app.use(tracker.koa())
    app.use(async (ctx, next) => {
      if (ctx.path === '/sync') placeOrder()
      if (ctx.path === '/async') await placeOrderLater()
      await next()
    })
    await request(app.callback()).get('/sync').expect(500)
    await request(app.callback()).get('/async').expect(500)
    const events = await storedEvents(tracker)
    expect(events).toHaveLength(2)
    for (const event of events) {
      const frames = allFrames(event)
      expect(frames.filter(isOwn)).toEqual([])
      expect(frames.some((f) => f.filename === 'test/own-frames.test.ts' && f.in_app)).toBe(true)
    }
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import express from 'express'
import Koa from 'koa'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import { queryRows, prettyBody } from '../../lib/panel/format.js'
import { visibleText } from './helpers.js'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(): Tracker {
  const tracker = createTracker({ store: memoryStore(), environment: 'development', captureUncaught: false, captureUnhandledRejections: false })
  trackers.push(tracker)
  return tracker
}


function requestSection(html: string): string {
  const match = /<section class="request"[\s\S]*?<\/section>/.exec(html)
  expect(match, 'the event shows its request').not.toBeNull()
  return match![0]
}

// up here, well away from the lines the page shows as source context around the throws below
const ORDER = { item: 'The <b>Book</b>', quantity: 2, password: 'hunter2', card: { number: '4111', cvc: '123', apiToken: 'tok_live_1' } }
const ORDERS_URL = '/orders?page=2&sort=newest&token=s3cret'
const AUTHORIZATION = 'Bearer abc'
const SECRETS = ['hunter2', 'tok_live_1', 's3cret', 'Bearer abc']

/** The issue page of the only issue, as the panel serves it through the app. */
async function issuePage(tracker: Tracker, server: http.Server): Promise<string> {
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all' })
  expect(issues).toHaveLength(1)
  return (await request(server).get(`/errors/issues/${issues[0].id}`).expect(200)).text
}

function expectScrubbedRequest(html: string): void {
  const part = requestSection(html)
  const text = visibleText(part)
  expect(text).toContain('POST http://127.0.0.1')
  expect(text).toMatch(/Query page 2 sort newest token \[Filtered\]/)
  expect(text).toContain('Body')
  expect(text).toContain('"item": "The <b>Book</b>"')
  expect(text).toContain('"quantity": 2')
  expect(text).toContain('"password": "[Filtered]"')
  expect(text).toContain('"apiToken": "[Filtered]"')
  expect(text).toContain('Headers')
  expect(text).toMatch(/content-type application\/json/)
  expect(text).toMatch(/authorization \[Filtered\]/)
  // escaped, never markup of the page
  expect(part).toContain('The &lt;b&gt;Book&lt;/b&gt;')
  for (const secret of SECRETS) expect(html).not.toContain(secret)
}

describe('the request on an event', () => {
  it('shows the body an Express body parser read, the query and the headers, scrubbed', async () => {
    const tracker = newTracker()
    const app = express()
    app.use(tracker.express())
    app.use(express.json())
    app.post('/orders', () => {
      throw new Error('order failed')
    })
    const server = http.createServer(app)
    await request(server).post(ORDERS_URL).set('Authorization', AUTHORIZATION).send(ORDER).expect(500)
    expectScrubbedRequest(await issuePage(tracker, server))
  })

  it('shows the body a Koa body parser set on ctx.request.body, the query and the headers, scrubbed', async () => {
    const tracker = newTracker()
    const app = new Koa()
    app.silent = true
    app.use(tracker.koa())
    // what koa-bodyparser and @koa/bodyparser do
    app.use(async (ctx, next) => {
      const chunks: Buffer[] = []
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
      ;(ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      await next()
    })
    app.use(async () => {
      throw new Error('order failed')
    })
    const server = http.createServer(app.callback())
    await request(server).post(ORDERS_URL).set('Authorization', AUTHORIZATION).send(ORDER).expect(500)
    expectScrubbedRequest(await issuePage(tracker, server))
  })

  it('shows no body when no body parser ran, and a GET without a query has no query part', async () => {
    const tracker = newTracker()
    const app = express()
    app.use(tracker.express())
    app.post('/raw', () => {
      throw new Error('raw failed')
    })
    const server = http.createServer(app)
    await request(server).post('/raw').send({ never: 'read' }).expect(500)
    const part = requestSection(await issuePage(tracker, server))
    expect(visibleText(part)).not.toContain('Body')
    expect(visibleText(part)).not.toContain('Query')
    expect(part).not.toContain('never')
  })
})

describe('queryRows and prettyBody', () => {
  it('reads a raw query string as decoded rows, and a parsed one in order', () => {
    expect(queryRows('?q=a%20b&tag=1&tag=2&flag')).toEqual([['q', 'a b'], ['tag', '1'], ['tag', '2'], ['flag', '']])
    expect(queryRows({ page: '2', tag: ['a', 'b'], filter: { from: '1' } })).toEqual([['page', '2'], ['tag', 'a'], ['tag', 'b'], ['filter', '{ "from": "1" }']])
    expect(queryRows('')).toEqual([])
    expect(queryRows(null)).toEqual([])
  })

  it('indents a body kept as JSON text, and leaves other text alone', () => {
    expect(prettyBody('{"a":1}')).toBe('{\n  "a": 1\n}')
    expect(prettyBody('{"cut short')).toBe('{"cut short')
    expect(prettyBody('a=1&b=2')).toBe('a=1&b=2')
  })
})

import { describe, it, expect, beforeAll } from 'vitest'
import request from 'supertest'
import type http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import { groupEvent } from '../../common/fingerprint.js'
import type { FaultlineEvent, Store } from '../../lib/types.js'
import { capture, panelServer, repeat } from './helpers.js'

const SCRIPT = '<script>alert(1)</script>'
const IMG = '"><img src=x onerror=alert(2)>'
const SVG = "'><svg onload=alert(3)>"
const JS_URL = 'javascript:alert(4)'
const EJS = '<%= process.exit(1) %>'
const ALL = `${SCRIPT} ${IMG} ${SVG} ${JS_URL} ${EJS}`

const ALLOWED_TAGS = new Set([
  'html', 'head', 'meta', 'title', 'link', 'script', 'body', 'header', 'main', 'a', 'span', 'p', 'div', 'h1', 'h2', 'h3', 'h4',
  'form', 'input', 'button', 'label', 'nav', 'ul', 'ol', 'li', 'svg', 'rect', 'b', 'time', 'details', 'summary', 'select',
  'option', 'section', 'kbd', 'figure', 'figcaption', 'dl', 'dt', 'dd', 'pre', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'code',
  'textarea',
])

/** Fails when attacker text became markup: unknown tags, event handlers, foreign URLs, extra scripts. */
function expectInert(html: string, where: string): void {
  const tags = [...html.matchAll(/<([a-zA-Z][\w-]*)([^>]*)>/g)]
  for (const [whole, name, attrs] of tags) {
    expect(ALLOWED_TAGS.has(name.toLowerCase()), `${where}: unexpected <${name}> in ${whole}`).toBe(true)
    // attribute values are escaped, so they hold no quote: drop them and look at the names only
    expect(attrs.replace(/="[^"]*"/g, ''), `${where}: event handler in ${whole}`).not.toMatch(/\son[a-z]+/i)
    for (const [, url] of attrs.matchAll(/\s(?:href|src|action)="([^"]*)"/g)) {
      expect(url === 'data:,' || url.startsWith('/errors'), `${where}: foreign URL ${url}`).toBe(true)
    }
  }
  expect(html.match(/<script/g), `${where}: scripts`).toHaveLength(1)
  expect(html).toMatch(/<script src="\/errors\/panel\.js\?v=[0-9a-f]+" nonce="[^"]+" defer><\/script>/)
  expect(html).not.toContain('<%')
}

function hostileEvent(): FaultlineEvent {
  const now = new Date().toISOString()
  return {
    event_id: 'ab'.repeat(16),
    timestamp: now,
    level: 'error',
    exception: {
      type: `Evil${SCRIPT}Error`,
      value: ALL,
      stacktrace: {
        frames: [
          { function: `fn${IMG}`, filename: `src/${SVG}.js`, lineno: 3, colno: 1, in_app: true, pre_context: [SCRIPT], context_line: `throw new Error('${IMG}')`, post_context: [EJS] },
          { function: SCRIPT, filename: `node_modules/${SCRIPT}/x.js`, lineno: 1, in_app: false },
        ],
      },
      mechanism: { type: SCRIPT, handled: false },
      causes: [{ type: SVG, value: IMG }],
    },
    message: `msg ${SCRIPT}`,
    tags: { browser: SCRIPT, [`k${IMG}`]: SVG, url: JS_URL },
    extra: { [SCRIPT]: IMG, nested: { deep: SVG } },
    user: { id: SCRIPT, email: IMG, username: SVG, ip_address: JS_URL },
    request: {
      method: `GET${SCRIPT}`,
      url: `https://shop.example.com/search?q=${IMG}`,
      headers: { 'user-agent': `Mozilla/5.0 ${SCRIPT}`, [`x-${SVG}`]: IMG, referer: JS_URL },
      query_string: `q=${IMG}`,
      data: { comment: SCRIPT },
      cookies: { theme: SVG },
      env: { REMOTE_ADDR: IMG },
    },
    contexts: { [SCRIPT]: { [IMG]: SVG }, app: { name: SCRIPT } },
    breadcrumbs: [{ timestamp: now, category: SCRIPT, message: IMG, level: 'error', data: { url: JS_URL, html: SVG } }],
    environment: `prod${SCRIPT}`,
    release: `1.0${IMG}`,
    server_name: SVG,
    fingerprint: [`custom${SCRIPT}`],
    transaction: `GET /x${IMG}`,
    truncated: [SCRIPT],
  }
}

describe('attacker-controlled text stays inert', () => {
  let store: Store
  let app: http.Server
  let ids: string[]

  beforeAll(async () => {
    store = memoryStore()
    const event = hostileEvent()
    const handBuilt = await store.record({ event, grouping: groupEvent(event), userKey: SCRIPT })
    // the same payloads through the real event builder, as a request would bring them
    const built = await capture(store, {
      error: Object.assign(new Error(ALL), { name: `Type${IMG}` }),
      tags: { browser: IMG, [SCRIPT]: 'x' },
      user: { id: IMG, username: SCRIPT },
      request: { method: 'POST', url: `https://shop.example.com/${SCRIPT}`, headers: { 'user-agent': SCRIPT } },
      breadcrumbs: [{ timestamp: new Date().toISOString(), message: SCRIPT, category: IMG }],
      extra: { html: SCRIPT },
    })
    const message = await capture(store, { message: `${SCRIPT}\n${IMG}`, tags: { note: SVG } })
    ids = [handBuilt.issue.id, built.issue.id, message.issue.id]
    // a note, a regression from a hostile release, and an ignore: the activity log shows each
    await store.addNote(handBuilt.issue.id, { text: ALL, actor: 'panel' })
    await store.updateIssue(built.issue.id, { status: 'resolved', actor: 'panel' })
    await repeat(store, built.issue.id, { release: `2.0${SCRIPT}`, user: { id: SVG, [`x${SCRIPT}`]: IMG } })
    app = panelServer(store, {
      appName: 'shop<script>alert(9)</script>',
      release: `3.0${IMG}`,
      mail: { transport: { jsonTransport: true }, to: 'ann@example.com' },
      rules: [{ when: { events: 10 }, filter: { environment: SCRIPT, tags: { [IMG]: SVG } }, webhook: `https://hooks.example.com/${SCRIPT}` }],
    })
  })

  it('on the list, including search results for a hostile query', async () => {
    for (const q of ['', SCRIPT, `browser:"${SCRIPT}"`, IMG, EJS]) {
      const res = await request(app).get(`/errors?status=all&q=${encodeURIComponent(q)}`).expect(200)
      expectInert(res.text, `list q=${q}`)
    }
    const all = await request(app).get('/errors?status=all').expect(200)
    expect(all.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(all.text).toContain('&#34;&gt;&lt;img src=x onerror=alert(2)&gt;')
    expect(all.text).toContain('shop&lt;script&gt;alert(9)')
  })

  it('on every issue page, event page and events list', async () => {
    for (const id of ids) {
      const page = await request(app).get(`/errors/issues/${id}`).expect(200)
      expectInert(page.text, `issue ${id}`)
      expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
      const events = await request(app).get(`/errors/issues/${id}/events`).expect(200)
      expectInert(events.text, `events ${id}`)
      const { events: stored } = await store.listEvents(id)
      const eventPage = await request(app).get(`/errors/issues/${id}/events/${stored[0].event_id}`).expect(200)
      expectInert(eventPage.text, `event ${id}`)
    }
  })

  it('in notes, the activity log, the affected users and the rules page', async () => {
    const page = await request(app).get(`/errors/issues/${ids[0]}`).expect(200)
    expectInert(page.text, 'issue with a note')
    expect(page.text).toContain('<p class="note-text">&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(2)&gt;')
    const regressed = await request(app).get(`/errors/issues/${ids[1]}`).expect(200)
    expectInert(regressed.text, 'regressed issue')
    expect(regressed.text).toContain('came back in release <span class="mono">2.0&lt;script&gt;alert(1)&lt;/script&gt;</span>')
    expect(regressed.text).toContain('<dt>x&lt;script&gt;alert(1)&lt;/script&gt;</dt>')
    expect(regressed.text).toContain('title="Stays resolved for events of 3.0&#34;&gt;&lt;img src=x onerror=alert(2)&gt;;')
    const rules = await request(app).get('/errors/rules').expect(200)
    expectInert(rules.text, 'rules')
    expect(rules.text).toContain('environment &lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('shows the hostile values as text where a user would look for them', async () => {
    const { text } = await request(app).get(`/errors/issues/${ids[0]}`).expect(200)
    // request URL and user agent, a tag, a breadcrumb, a source line
    expect(text).toContain('https://shop.example.com/search?q=&#34;&gt;&lt;img src=x onerror=alert(2)&gt;')
    expect(text).toContain('Mozilla/5.0 &lt;script&gt;alert(1)&lt;/script&gt;')
    expect(text).toContain('<span class="v">javascript:alert(4)</span>')
    expect(text).toContain('throw new Error(&#39;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;)')
    expect(text).toContain('&lt;%= process.exit(1) %&gt;')
  })

  it('writes out characters that would reorder or hide text around them', async () => {
    const spoof = await capture(store, { message: 'invoice \u202Efdp.exe\u202C paid\u0000 twice' })
    const { text } = await request(app).get(`/errors/issues/${spoof.issue.id}`).expect(200)
    expect(text).toContain('invoice [U+202E]fdp.exe[U+202C] paid[U+0000] twice')
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u0000]/)
    const list = await request(app).get('/errors?status=all').expect(200)
    expect(list.text).not.toMatch(/[\u202a-\u202e\u0000]/)
  })

  it('on error pages that echo nothing of the request', async () => {
    const res = await request(app).get(`/errors/issues/${encodeURIComponent(SCRIPT)}`).expect(404)
    expectInert(res.text, '404')
    expect(res.text).not.toContain('alert(1)')
    const cursor = await request(app).get(`/errors?cursor=${encodeURIComponent(IMG)}`).expect(400)
    expectInert(cursor.text, '400')
    expect(cursor.text).not.toContain('alert(2)')
  })

  it('in the JSON API, served as JSON only', async () => {
    const res = await request(app).get(`/errors/api/issues/${ids[0]}`).expect(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.body.issue.title).toContain(SCRIPT)
  })
})

import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import request from 'supertest'
import net from 'node:net'
import os from 'node:os'
import type http from 'node:http'
import type { IncomingMessage } from 'node:http'
import { credentialsMatch, isLoopback, isSameOrigin, parseBasic } from '../../lib/panel/access.js'
import type { Store } from '../../lib/types.js'
import { panelServer, seededStore } from './helpers.js'

let store: Store
let lookup: string
beforeAll(async () => {
  const seeded = await seededStore()
  store = seeded.store
  lookup = seeded.ids.lookup
})

const savedNodeEnv = process.env.NODE_ENV
afterEach(() => {
  process.env.NODE_ENV = savedNodeEnv
})

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

describe('with Basic credentials', () => {
  const auth = { username: 'admin', password: 's3cret-pass' }

  it('asks for credentials with 401 and WWW-Authenticate, on pages and the API', async () => {
    const app = panelServer(store, { panel: { auth } })
    const page = await request(app).get('/errors').expect(401)
    expect(page.headers['www-authenticate']).toBe('Basic realm="faultline", charset="UTF-8"')
    expect(page.text).toContain('Sign in to see the errors')
    expect(page.text).not.toContain(lookup)
    // nothing about the app before signing in
    expect(page.text).not.toContain('shop')
    expect(page.text).not.toContain('development')
    const api = await request(app).get('/errors/api/issues').expect(401)
    expect(api.headers['www-authenticate']).toContain('Basic')
    expect(api.body.error.status).toBe(401)
  })

  it('refuses a wrong password, a wrong user, and malformed headers', async () => {
    const app = panelServer(store, { panel: { auth } })
    await request(app).get('/errors').set('Authorization', basic('admin', 's3cret-pas')).expect(401)
    await request(app).get('/errors').set('Authorization', basic('Admin', 's3cret-pass')).expect(401)
    await request(app).get('/errors').set('Authorization', basic('admin', 's3cret-pass!')).expect(401)
    await request(app).get('/errors').set('Authorization', 'Bearer s3cret-pass').expect(401)
    await request(app).get('/errors').set('Authorization', 'Basic !!!').expect(401)
  })

  it('serves everything with the right credentials, even from behind a proxy and in production', async () => {
    process.env.NODE_ENV = 'production'
    const app = panelServer(store, { panel: { auth }, environment: 'production' })
    const res = await request(app).get('/errors').set('Authorization', basic('admin', 's3cret-pass')).set('X-Forwarded-For', '203.0.113.9').expect(200)
    expect(res.text).toContain(lookup)
    await request(app).get(`/errors/api/issues/${lookup}`).set('Authorization', basic('admin', 's3cret-pass')).expect(200)
  })

  it('keeps the stylesheet public so the sign-in page is styled', async () => {
    const app = panelServer(store, { panel: { auth } })
    await request(app).get('/errors/panel.css').expect(200)
  })
})

describe('with an auth function', () => {
  it('serves when it returns true, sync or async, and gets the request', async () => {
    const seen: string[] = []
    const app = panelServer(store, { panel: { auth: async (req: IncomingMessage) => { seen.push(req.headers['x-user'] as string); return req.headers['x-user'] === 'root' } } })
    await request(app).get('/errors').set('X-User', 'root').expect(200)
    expect(seen).toEqual(['root'])
    const sync = panelServer(store, { panel: { auth: () => true } })
    await request(sync).get('/errors/api/issues').expect(200)
  })

  it('denies with 403 when it returns false or anything that is not true', async () => {
    const app = panelServer(store, { panel: { auth: () => false } })
    const res = await request(app).get('/errors').expect(403)
    expect(res.text).toContain('check did not allow this request')
    expect(res.headers['www-authenticate']).toBeUndefined()
    const truthy = panelServer(store, { panel: { auth: (() => 'yes') as unknown as () => boolean } })
    await request(truthy).get('/errors').expect(403)
  })

  it('denies and reports when it throws or rejects', async () => {
    const errors: Error[] = []
    const app = panelServer(store, { panel: { auth: () => { throw new Error('session store down') } }, onInternalError: (e) => errors.push(e) })
    await request(app).get('/errors').expect(403)
    const rejecting = panelServer(store, { panel: { auth: async () => { throw new Error('nope') } }, onInternalError: (e) => errors.push(e) })
    await request(rejecting).get('/errors/api/issues').expect(403)
    expect(errors.map((e) => e.message)).toEqual([
      'faultline: panel.auth threw, so the request was denied: session store down',
      'faultline: panel.auth threw, so the request was denied: nope',
    ])
  })
})

describe('without auth', () => {
  it('serves loopback requests in development', async () => {
    await request(panelServer(store)).get('/errors').expect(200)
  })

  it('answers 403 with a page that shows how to set auth when the environment is production', async () => {
    const res = await request(panelServer(store, { environment: 'production' })).get('/errors').expect(403)
    expect(res.text).toContain('This app runs in production and the panel has no <code>auth</code> configured')
    expect(res.text).toContain("auth: { username: 'admin', password: process.env.FAULTLINE_PASSWORD }")
    expect(res.text).toContain('req.session?.user?.isAdmin === true')
    expect(res.text).not.toContain(lookup)
    await request(panelServer(store, { environment: 'production' })).get('/errors/api/issues').expect(403)
  })

  it('answers 403 when NODE_ENV is production even if the environment option says otherwise', async () => {
    process.env.NODE_ENV = 'production'
    await request(panelServer(store, { environment: 'staging' })).get('/errors').expect(403)
  })

  it.each(['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'cf-connecting-ip', 'via'])('answers 403 to a loopback request carrying %s', async (header) => {
    const res = await request(panelServer(store)).get('/errors').set(header, '203.0.113.7').expect(403)
    expect(res.text).toContain('passed through a proxy')
  })

  it("answers 403 to an HTTP/1.0 request, as nginx's bare proxy_pass sends with no forwarding header and Host set to the app's address", async () => {
    const app = panelServer(store)
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = app.address() as { port: number }
      const ask = (version: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.end(`GET /errors HTTP/${version}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`))
          let reply = ''
          socket.on('data', (chunk) => (reply += chunk))
          socket.on('end', () => resolve(reply.split('\r\n')[0]))
          socket.on('error', reject)
        })
      expect(await ask('1.0')).toMatch(/^HTTP\/1\.1 403/)
      expect(await ask('1.1')).toMatch(/^HTTP\/1\.1 200/)
    } finally {
      await new Promise((resolve) => app.close(resolve))
    }
  })

  it('answers 403 to a loopback request for another host name: a web page rebinding its own domain to 127.0.0.1', async () => {
    const app = panelServer(store)
    const res = await request(app).get('/errors').set('host', 'rebind.attacker.test:3000').expect(403)
    expect(res.text).toContain('addressed to this machine by name')
    await request(app).get('/errors/api/issues').set('host', 'rebind.attacker.test').expect(403)
    await request(app).get('/errors').set('host', '').expect(403)
  })

  it.each(['localhost:3000', 'LOCALHOST', 'shop.localhost:3000', '127.0.0.1', '127.1.2.3:80', '[::1]:3000', 'localhost.'])('serves a loopback request for the host %s', async (host) => {
    await request(panelServer(store)).get('/errors').set('host', host).expect(200)
  })

  it.each(['x-forwarded-server', 'x_forwarded_for', 'x-forwarded'])('answers 403 to a loopback request carrying the proxy header %s', async (header) => {
    await request(panelServer(store)).get('/errors').set(header, '203.0.113.7').expect(403)
  })

  it('answers 403 when NODE_ENV says production in another letter case', async () => {
    process.env.NODE_ENV = 'Production'
    await request(panelServer(store)).get('/errors').expect(403)
  })

  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)
  it.skipIf(!external)('answers 403 to a request from another address', async () => {
    const app = panelServer(store)
    await new Promise<void>((resolve) => app.listen(0, '0.0.0.0', resolve))
    try {
      const { port } = app.address() as { port: number }
      const res = await request(`http://${external!.address}:${port}`).get('/errors').expect(403)
      expect(res.text).toContain('only answers requests from this machine')
      const api = await request(`http://${external!.address}:${port}`).get('/errors/api/issues').expect(403)
      expect(api.body.error.message).toContain('configure panel.auth')
    } finally {
      app.close()
    }
  })
})

describe('headers on every response', () => {
  let app: http.Server
  beforeAll(() => {
    app = panelServer(store)
  })
  const paths = () => [
    ['GET', '/errors', 200],
    ['GET', `/errors/issues/${lookup}`, 200],
    ['GET', `/errors/issues/${lookup}/events`, 200],
    ['GET', '/errors/api/issues', 200],
    ['GET', `/errors/api/issues/${lookup}`, 200],
    ['GET', '/errors/issues/__proto__', 404],
    ['POST', `/errors/issues/${lookup}`, 415],
    ['PUT', '/errors', 405],
  ] as const

  it('sends a nonce CSP, frame-ancestors none, nosniff, no-store and no-referrer', async () => {
    const nonces = new Set<string>()
    for (const [method, path, status] of paths()) {
      const res = await request(app)[method === 'GET' ? 'get' : method === 'POST' ? 'post' : 'put'](path).expect(status)
      const csp = res.headers['content-security-policy']
      expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]{24}'; script-src 'nonce-[A-Za-z0-9+/=]{24}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/)
      nonces.add(/'nonce-([^']+)'/.exec(csp)![1])
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.headers['x-frame-options']).toBe('DENY')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.headers['referrer-policy']).toBe('no-referrer')
    }
    // a fresh nonce each time
    expect(nonces.size).toBe(paths().length)
  })

  it('sends the same headers on refusals', async () => {
    const res = await request(panelServer(store, { environment: 'production' })).get('/errors').expect(403)
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('uses no inline styles or scripts that the CSP would block', async () => {
    for (const path of ['/errors', `/errors/issues/${lookup}`, `/errors/issues/${lookup}/events`]) {
      const { text } = await request(app).get(path).expect(200)
      expect(text).not.toMatch(/\sstyle="/)
      expect(text).not.toMatch(/<style/)
      expect(text).not.toMatch(/<script(?![^>]*\ssrc=)/)
      expect(text).not.toMatch(/\son[a-z]+=/)
    }
  })
})

describe('access helpers', () => {
  it('knows loopback addresses in IPv4, IPv6 and mapped form', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true)
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '1127.0.0.1', '::2', '', undefined, '127.0.0.1.evil']) expect(isLoopback(a)).toBe(false)
  })

  it('parses Basic credentials, passwords with colons included', () => {
    expect(parseBasic(basic('a', 'b:c'))).toEqual({ username: 'a', password: 'b:c' })
    expect(parseBasic('Basic ' + Buffer.from('nocolon').toString('base64'))).toBeNull()
    expect(parseBasic(undefined)).toBeNull()
  })

  it('compares credentials of any length without throwing', () => {
    const expected = { username: 'admin', password: 'pw' }
    expect(credentialsMatch({ username: 'admin', password: 'pw' }, expected)).toBe(true)
    expect(credentialsMatch({ username: 'admin', password: 'pw'.repeat(1000) }, expected)).toBe(false)
    expect(credentialsMatch({ username: '', password: '' }, expected)).toBe(false)
  })

  it('tells same-origin from cross-site requests', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage
    expect(isSameOrigin(req({}))).toBe(true)
    expect(isSameOrigin(req({ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }))).toBe(true)
    expect(isSameOrigin(req({ 'sec-fetch-site': 'cross-site' }))).toBe(false)
    expect(isSameOrigin(req({ host: 'app.example.com', origin: 'https://app.example.com' }))).toBe(true)
    expect(isSameOrigin(req({ host: 'localhost:3000', 'x-forwarded-host': 'app.example.com', origin: 'https://app.example.com' }))).toBe(true)
    expect(isSameOrigin(req({ host: 'app.example.com', origin: 'https://app.example.com.evil.example' }))).toBe(false)
    expect(isSameOrigin(req({ host: 'app.example.com', origin: 'null' }))).toBe(false)
  })
})

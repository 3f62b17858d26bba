import { describe, expect, it, vi } from 'vitest'
import { readFileSync } from 'node:fs'
import { BROWSER_DEFAULTS, DEFAULTS, logInternalError, resolveOptions, OptionError } from '../lib/options.js'
import { createTracker } from '../lib/index.js'
import { formatDuration } from '../common/duration.js'
import { memoryStore } from '../adapters/memory.js'

describe('options', () => {
  it('fills in the defaults from the contract', () => {
    const o = resolveOptions({ store: '/tmp/x.json' })
    expect(o.panel).toEqual({ path: '/errors', auth: null })
    expect(o.maxBreadcrumbs).toBe(100)
    expect(o.sampleRate).toBe(1)
    expect(o.retention).toEqual({ maxEventsPerIssue: 100, maxAgeMs: 90 * 86_400_000 })
    expect(o.rules).toEqual([])
    expect(o.scrubFields).toContain('password')
    expect(o.captureUncaught).toBe(true)
    expect(o.appName).toBe('faultline')
  })

  it('adds the default rules when mail is set', () => {
    const o = resolveOptions({ mail: { transport: 'smtp://127.0.0.1:2525', to: 'team@example.com' } })
    expect(o.rules.map((r) => r.when)).toEqual(['new', 'regression'])
  })

  it.each([
    [{ sampelRate: 1 }, /`sampelRate` is not an option\. Did you mean `sampleRate`\?/],
    [{ sampleRate: 2 }, /`sampleRate` must be a number from 0 to 1/],
    [{ autoResolve: 'soon' }, /`autoResolve` must be a duration.*'14d'/],
    [{ panel: { path: 'errors' } }, /`panel.path` must be a URL path/],
    [{ panel: { auth: { username: 'admin' } } }, /`panel.auth` must be \{ username, password \}/],
    [{ mail: { transport: 'smtp://x', to: 'not-an-address' } }, /`mail.to` must be an email address/],
    [{ mail: { to: 'a@b.c' } }, /`mail.transport` is missing/],
    [{ rules: [{ when: 'sometimes' }] }, /`rules\[0\].when` must be 'new', 'regression' or an object/],
    [{ rules: [{ when: { evnts: 5 }, webhook: 'http://x' }] }, /`rules\[0\].when.evnts` is not an option\. Did you mean `events`\?/],
    [{ rules: [{ when: 'new' }] }, /`rules\[0\]` has nowhere to send alerts/],
    [{ retention: { maxEventsPerIssue: 0 } }, /`retention.maxEventsPerIssue` must be a positive integer/],
    [{ beforeSend: 'yes' }, /`beforeSend` must be a function/],
    [{ ignoreErrors: 'ECONNRESET' }, /`ignoreErrors` must be a list/],
    [{ store: { get: () => 1 } }, /`store` must be a file path or a store/],
    [{ store: { record: async () => ({}), listIssues: async () => ({}) } }, /`store` must be a file path or a store; this one lacks getIssue, .*close/],
    [{ store: '   ' }, /`store` is an empty path/],
    // 14 days or 14 ms? Refused rather than guessed
    [{ autoResolve: 14 }, /`autoResolve` must be a duration with a unit, got the bare number 14\. Write '14d'/],
    [{ retention: { maxAge: 90 } }, /`retention.maxAge` must be a duration with a unit/],
    [{ mail: { transport: 'smtp://x', to: 'x@' } }, /`mail.to` must be an email address/],
    [{ mail: { transport: 'smtp://x', to: 'a@b.c', from: 'alerts' } }, /`mail.from` must be an email address/],
    [{ mail: { transport: 'smtp://x', to: 'a@b.c', baseUrl: 'javascript:alert(1)' } }, /`mail.baseUrl` must be an http:\/\/ or https:\/\/ URL/],
  ])('rejects %j with an error that names the option and the fix', (input, message) => {
    expect(() => resolveOptions(input)).toThrow(OptionError)
    expect(() => resolveOptions(input)).toThrow(message)
  })

  it("takes mail.from as an address, with a display name, or in nodemailer's { name, address } form", () => {
    const from = (value: unknown) => resolveOptions({ mail: { transport: 'smtp://x', to: 'a@b.c', from: value } }).mail!.from
    expect(from('alerts@example.com')).toBe('alerts@example.com')
    expect(from('Shop alerts <alerts@example.com>')).toBe('Shop alerts <alerts@example.com>')
    expect(from({ name: 'Shop "alerts"', address: 'alerts@example.com' })).toBe('"Shop \\"alerts\\"" <alerts@example.com>')
    expect(resolveOptions({ mail: { transport: 'smtp://x', to: 'Ann <ann@example.com>, ops@localhost' } }).mail!.to).toEqual(['Ann <ann@example.com>', 'ops@localhost'])
  })

  it('needs mail.to only for rules that do not name their own recipients', () => {
    const transport = 'smtp://127.0.0.1:2525'
    const o = resolveOptions({ mail: { transport }, rules: [{ when: 'new', to: 'dev@example.com' }, { when: 'regression', to: ['ops@example.com'] }] })
    expect(o.rules.map((r) => r.to)).toEqual([['dev@example.com'], ['ops@example.com']])
    expect(() => resolveOptions({ mail: { transport }, rules: [{ when: 'new', to: 'dev@example.com' }, { when: 'regression' }] })).toThrow(/`rules\[1\].to` is missing, and so is `mail.to`/)
    expect(() => resolveOptions({ mail: { transport } })).toThrow(/`mail.to` is missing/)
  })

  describe('a store given as a string', () => {
    it.each([':memory:', 'memory', ' :MEMORY: '])('opens the memory store for %j, as SQLite and knex read it', async (name) => {
      const tracker = createTracker({ store: name, panel: false, captureUncaught: false, captureUnhandledRejections: false })
      try {
        expect(tracker.store).not.toHaveProperty('path')
        tracker.captureException(new Error('kept in memory'))
        expect(await tracker.flush()).toBe(true)
        expect((await tracker.store.listIssues({ status: 'all' })).issues.map((i) => i.title)).toEqual(['Error: kept in memory'])
      } finally {
        await tracker.close()
      }
    })

    it.each([
      ['postgres://app:s3cret@db.example.com:5432/app', /`store` is a PostgreSQL connection string, and faultline takes a string only as a file path\. Open the PostgreSQL store instead: store: postgresStore\(\{ connectionString \}\), with postgresStore imported from 'faultline\/adapters\/postgres'\./],
      ['postgresql://localhost/app', /`store` is a PostgreSQL connection string/],
      ['mysql://root@localhost/app', /`store` is a mysql:\/\/ URL, and faultline takes a string only as a file path\. .*postgresStore\(\{ connectionString \}\) from 'faultline\/adapters\/postgres', or memoryStore\(\) from 'faultline\/adapters\/memory'/],
      ['redis://cache:6379', /`store` is a redis:\/\/ URL/],
    ])('refuses %j with the store to use instead, never taking a URL as a path', (url, message) => {
      expect(() => resolveOptions({ store: url })).toThrow(OptionError)
      expect(() => resolveOptions({ store: url })).toThrow(message)
    })

    it('does not repeat a connection string, which may hold a password', () => {
      expect(() => resolveOptions({ store: 'postgres://app:s3cret@db.example.com/app' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cret') }))
    })

    it('takes a file: URL as the file it names, and a relative path from the app root', () => {
      expect(resolveOptions({ store: 'file:///var/lib/shop/errors.json' }).store).toBe('/var/lib/shop/errors.json')
      expect(resolveOptions({ store: 'data/errors.json', root: '/srv/shop' }).store).toBe('/srv/shop/data/errors.json')
    })
  })

  it('validates at createTracker, before anything starts', () => {
    expect(() => createTracker({ maxBreadcrumb: 5 } as never)).toThrow(/Did you mean `maxBreadcrumbs`\?/)
  })
})

describe('the browser option', () => {
  it('is off by default; true takes the defaults', () => {
    expect(resolveOptions({ store: '/tmp/x.json' }).browser).toBeNull()
    expect(resolveOptions({ store: '/tmp/x.json', browser: true }).browser).toEqual({ ...BROWSER_DEFAULTS, key: null, origins: [], sourceMaps: [] })
  })

  it('takes a path, a key, origins, limits and source map folders', () => {
    const o = resolveOptions({ store: '/tmp/x.json', root: '/srv/app', browser: { path: '/telemetry/', key: 'abc123def456', origins: ['https://www.example.com/'], eventsPerMinute: 10, newIssuesPerMinute: 3, sourceMaps: 'public' } })
    expect(o.browser).toEqual({ path: '/telemetry', key: 'abc123def456', origins: ['https://www.example.com'], eventsPerMinute: 10, newIssuesPerMinute: 3, sourceMaps: ['/srv/app/public'] })
  })

  it.each([
    ['yes', /`browser` must be true, false or an object/],
    [{ pth: '/x' }, /`browser.pth` is not an option\. Did you mean `path`\?/],
    [{ path: 'faultline' }, /`browser.path` must be a URL path/],
    [{ path: '/errors/browser' }, /`browser.path` \(\/errors\/browser\) overlaps the panel's path \(\/errors\)/],
    [{ path: '/errors' }, /overlaps the panel's path/],
    [{ path: '/' }, /`browser.path` must be a URL path/],
    [{ key: 'has spaces in it' }, /`browser.key` must be 8 to 64 letters, digits or underscores/],
    [{ key: 'short' }, /`browser.key` must be 8 to 64/],
    [{ origins: 'https://x.example' }, /`browser.origins` must be a list of origins/],
    [{ origins: ['https://x.example/path'] }, /`browser.origins\[0\]` must be an origin like/],
    [{ origins: ['ftp://x.example'] }, /`browser.origins\[0\]` must be an origin/],
    [{ eventsPerMinute: 0 }, /`browser.eventsPerMinute` must be a positive integer/],
    [{ newIssuesPerMinute: 1.5 }, /`browser.newIssuesPerMinute` must be a positive integer/],
    [{ sourceMaps: [''] }, /`browser.sourceMaps` must be a folder or a list of folders/],
  ])('refuses browser: %j', (browser, message) => {
    expect(() => createTracker({ store: memoryStore(), browser } as never)).toThrow(message)
  })

  it('may sit beside a panel at another path, or anywhere when the panel is off', () => {
    expect(resolveOptions({ store: '/tmp/x.json', panel: { path: '/admin/errors' }, browser: { path: '/admin/errors-browser' } }).browser?.path).toBe('/admin/errors-browser')
    expect(resolveOptions({ store: '/tmp/x.json', panel: false, browser: { path: '/errors' } }).browser?.path).toBe('/errors')
    expect(() => resolveOptions({ store: '/tmp/x.json', panel: { path: '/a/b' }, browser: { path: '/a' } })).toThrow(/overlaps/)
  })
})

describe('the default onInternalError', () => {
  it('writes one line a second to stderr and then says how many it left out', () => {
    const lines: string[] = []
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      for (let i = 0; i < 5; i++) logInternalError(new Error(`store down ${i}`))
      vi.setSystemTime(Date.now() + 1500)
      logInternalError(new Error('store still down'))
    } finally {
      vi.useRealTimers()
      write.mockRestore()
    }
    expect(lines).toEqual(['faultline: store down 0\n', 'faultline: store still down (4 more like this left out)\n'])
  })
})

describe('the options table in docs/options.md', () => {
  /** A default as the table writes it: `1`, `true`, `[]`, `{ path: '/errors' }`. */
  function asWritten(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(asWritten).join(', ')}]`
    if (typeof value === 'string') return `'${value}'`
    if (typeof value === 'object' && value !== null) return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${asWritten(v)}`).join(', ')} }`
    return String(value)
  }

  it('shows the defaults resolveOptions fills in', () => {
    const table = readFileSync(new URL('../docs/options.md', import.meta.url), 'utf8')
    const written = new Map([...table.matchAll(/^\| `(\w+)[^`|]*` \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2]]))
    for (const [option, value] of Object.entries(DEFAULTS)) expect(`${option}: ${written.get(option)}`).toBe(`${option}: ${asWritten(value)}`)
    // and they are what a tracker without options gets
    const resolved = resolveOptions({ store: memoryStore() })
    expect(resolved).toMatchObject({ sampleRate: DEFAULTS.sampleRate, maxBreadcrumbs: DEFAULTS.maxBreadcrumbs, maxQueueSize: DEFAULTS.maxQueueSize, panel: { path: DEFAULTS.panel.path } })
    expect(formatDuration(resolved.retention.maxAgeMs)).toBe(DEFAULTS.retention.maxAge)
  })

  it("says what browser: true stands for", () => {
    const table = readFileSync(new URL('../docs/options.md', import.meta.url), 'utf8')
    const row = table.split('\n').find((line) => line.startsWith('| `browser` |'))
    expect(row).toContain(`\`true\` for \`${asWritten(BROWSER_DEFAULTS)}\``)
  })
})

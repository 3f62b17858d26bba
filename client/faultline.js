// faultline's browser client: sends the page's uncaught errors, unhandled rejections and manual
// captures to the app's faultline as Sentry envelopes, with the breadcrumbs that led to them.
// No dependencies, nothing inline, no eval: it loads under a strict Content-Security-Policy.
//   <script src="/faultline/client.js" defer data-dsn="..." data-release="..." data-environment="..."></script>
// It never throws into the page: each entry point is wrapped, and its own failures are dropped.
;(() => {
  'use strict'
  const w = /** @type {any} */ (window)
  // loaded twice: the first copy keeps the page
  if (w.faultline && w.faultline.captureException) return

  const SDK = { name: 'faultline.js', version: '0.1.0' }
  const BATCH_DELAY = 500
  const MAX_BREADCRUMBS = 30
  const MAX_FRAMES = 50
  const MAX_TAGS = 50
  const LEVELS = ['fatal', 'error', 'warning', 'log', 'info', 'debug']

  const fetch0 = w.fetch
  const warn0 = console.warn
  const swallow = () => {}

  /** @type {string | null} where envelopes go, null when the client has no valid DSN */
  let endpoint = null
  /** @type {Record<string, unknown> | null} */
  let user = null
  /** @type {Record<string, string>} */
  const tags = {}
  /** @type {object[]} */
  const crumbs = []
  /** @type {WeakSet<Error>} */
  const sentErrors = new WeakSet()
  /** @type {string[]} envelopes waiting for the batch timer */
  const queue = []
  /** @type {any} */
  let timer = 0
  let hidden = false
  // true while the client runs its own code, so that nothing it does records itself
  let busy = false
  // limits: at most maxEvents per page load and perMinute in any minute; a 429 or 403 pauses sending
  let maxEvents = 50
  let perMinute = 10
  let sent = 0
  let minuteStart = 0
  let inMinute = 0
  let pausedUntil = 0

  const script = /** @type {HTMLScriptElement | null} */ (document.currentScript)
  const data = (script && script.dataset) || {}
  const pageConfig = w.faultlineConfig || {}
  /** window.faultlineConfig (set before this script) wins over the script tag's data attributes. */
  const option = (/** @type {string} */ name) => (pageConfig[name] != null ? pageConfig[name] : data[name])

  /** @param {string} s @param {number} [max] */
  const cut = (s, max = 1000) => (s.length > max ? s.slice(0, max) + '…' : s)

  /** @param {unknown} v */
  const isError = (v) => v instanceof Error || Object.prototype.toString.call(v) === '[object Error]'

  /** A thrown or logged value in a few words, without walking into it (a huge object costs nothing). */
  function describe(/** @type {any} */ v) {
    if (typeof v === 'string') return v
    if (isError(v)) return `${v.name}: ${v.message}`
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return String(v)
    if (Array.isArray(v)) return `Array(${v.length})`
    const keys = Object.keys(v)
    return keys.length ? `Object with keys: ${cut(keys.slice(0, 10).join(', '), 200)}` : Object.prototype.toString.call(v)
  }

  /** A URL without its query values (their keys stay) or fragment: tokens live there. */
  function cleanUrl(/** @type {unknown} */ raw) {
    try {
      const u = new URL(String(raw), location.href)
      if (!/^https?:$/.test(u.protocol)) return u.protocol
      /** @type {string[]} */
      const keys = []
      u.searchParams.forEach((_, key) => keys.push(encodeURIComponent(key)))
      return u.origin + u.pathname + (keys.length ? '?' + keys.join('&') : '')
    } catch (e) {
      return ''
    }
  }

  function eventId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join('')
  }

  // "    at fn (https://host/app.js:10:5)" and "    at https://host/app.js:10:5" (Chrome, Edge)
  const CHROME = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?\s*$/
  // "fn@https://host/app.js:10:5", "@https://…" (Firefox, Safari)
  const GECKO = /^\s*(.*?)@(.+?):(\d+):(\d+)\s*$/

  /** Sentry frames from a stack string, oldest first as Sentry orders them; the newest MAX_FRAMES. */
  function parseStack(/** @type {unknown} */ stack) {
    const frames = []
    for (const line of String(stack || '').split('\n', 300)) {
      const m = CHROME.exec(line) || GECKO.exec(line)
      if (!m) continue
      let [, fn, filename, lineno, colno] = m
      // code run by eval: Chrome names where eval was called, Firefox the line that called it
      const chromeEval = /^eval at .*?\((\S+):(\d+):(\d+)\)/.exec(filename)
      if (chromeEval) [, filename, lineno, colno] = chromeEval
      const geckoEval = /^(.+?) line (\d+) > eval/.exec(filename)
      if (geckoEval) [, filename, lineno, colno] = [...geckoEval, '']
      frames.push({ filename, function: (fn || '?').replace(/^async /, ''), lineno: +lineno, colno: +colno || undefined })
      if (frames.length === MAX_FRAMES) break
    }
    return frames.reverse()
  }

  /**
   * The exception values of a thrown value: its `cause` chain first, the error itself last, as
   * Sentry orders them. A value that is not an Error is described under `nonErrorType`.
   */
  function exceptionOf(/** @type {any} */ thrown, /** @type {object} */ mechanism, nonErrorType = 'Error', prefix = '') {
    /** @type {any[]} */
    const values = []
    let e = thrown
    if (!isError(e)) values.push({ type: nonErrorType, value: cut(prefix + describe(e)) })
    // the error and up to 5 causes; a cause that is not an Error ends the chain
    for (let depth = 0; isError(e) && depth < 6; depth++, e = e.cause) {
      const frames = parseStack(e.stack)
      values.unshift({ type: cut(String(e.name || 'Error'), 100), value: cut(String(e.message)), stacktrace: frames.length ? { frames } : undefined })
    }
    values[values.length - 1].mechanism = mechanism
    return { values }
  }

  /** Tags, extra and a level from the second argument of captureException/captureMessage. */
  function withContext(/** @type {any} */ event, /** @type {any} */ context) {
    if (typeof context === 'string') context = { level: context }
    if (!context || typeof context !== 'object') return event
    if (LEVELS.includes(context.level)) event.level = context.level
    for (const key of Object.keys(context.tags || {}).slice(0, MAX_TAGS)) event.tags[cut(key, 32)] = cut(String(context.tags[key]), 200)
    /** @type {Record<string, string>} */
    const extra = {}
    for (const key of Object.keys(context.extra || {}).slice(0, 50)) extra[cut(key, 100)] = cut(describe(context.extra[key]))
    event.extra = extra
    return event
  }

  /** Within the page load's caps and this minute's rate? Counts the event if so. */
  function allowed() {
    const now = Date.now()
    if (!endpoint || now < pausedUntil || sent >= maxEvents) return false
    if (now - minuteStart >= 60000) (minuteStart = now), (inMinute = 0)
    if (inMinute >= perMinute) return false
    inMinute++
    sent++
    return true
  }

  /**
   * Builds an event (level, and what `build` adds) with the page's scope, and queues its envelope.
   * Returns the event id, or undefined when the event was dropped. An Error object is sent once,
   * however many ways it comes (caught and sent, then rethrown and uncaught).
   * @param {string} level @param {unknown} thrown the error, if any @param {() => object} build @param {unknown} [context]
   */
  function capture(level, thrown, build, context) {
    if (busy) return
    busy = true
    try {
      const error = isError(thrown) ? /** @type {Error} */ (thrown) : null
      if ((error && sentErrors.has(error)) || !allowed()) return
      if (error) sentErrors.add(error)
      const event = withContext(
        {
          event_id: eventId(),
          timestamp: Date.now() / 1000,
          platform: 'javascript',
          level,
          release: option('release'),
          environment: option('environment'),
          sdk: SDK,
          user: user || undefined,
          tags: { ...tags },
          breadcrumbs: crumbs.slice(),
          request: { url: cleanUrl(location.href), headers: { 'User-Agent': navigator.userAgent } },
          ...build(),
        },
        context,
      )
      const header = JSON.stringify({ event_id: event.event_id, sent_at: new Date().toISOString(), sdk: SDK })
      queue.push(`${header}\n{"type":"event"}\n${JSON.stringify(event)}\n`)
      if (!timer) timer = setTimeout(flush, hidden ? 0 : BATCH_DELAY)
      return event.event_id
    } catch (e) {
      // an event that cannot be built is dropped, never thrown at the page
    } finally {
      busy = false
    }
  }

  /** Sends every queued envelope, one request each. */
  function flush() {
    clearTimeout(timer)
    timer = 0
    for (const body of queue.splice(0)) {
      try {
        // the page is going away: a beacon outlives it
        if (!(hidden && navigator.sendBeacon && navigator.sendBeacon(/** @type {string} */ (endpoint), body))) post(body, true)
      } catch (e) {}
    }
  }

  /**
   * A text/plain POST with the key in the URL: a simple request, so no CORS preflight. keepalive lets
   * it finish while the page unloads; the browser refuses it above 64 KB in flight, so then it goes
   * again without.
   */
  function post(/** @type {string} */ body, /** @type {boolean} */ keepalive) {
    fetch0(/** @type {string} */ (endpoint), { method: 'POST', body, keepalive, credentials: 'omit' })
      .then(answered, () => keepalive && post(body, false))
      .catch(swallow)
  }

  /** The server's answer: 429 pauses for its Retry-After; a refused key stops for this page. */
  function answered(/** @type {Response} */ res) {
    if (res.status === 429) pausedUntil = Date.now() + (parseInt(res.headers.get('Retry-After') || '', 10) || 60) * 1000
    if (res.status === 401 || res.status === 403) pausedUntil = Infinity
  }

  function breadcrumb(/** @type {Record<string, unknown>} */ crumb) {
    if (busy) return
    crumb.timestamp = Date.now() / 1000
    if (crumbs.push(crumb) > MAX_BREADCRUMBS) crumbs.shift()
  }

  function failedRequest(/** @type {string} */ category, /** @type {string} */ method, /** @type {string} */ url, /** @type {number} */ status) {
    // status 0: no answer came (network error, blocked, timed out)
    breadcrumb({ category, type: 'http', level: status >= 500 || !status ? 'error' : 'warning', data: { method, url, status_code: status } })
  }

  /** Calls fn, dropping whatever it throws: for the client's own work inside the page's calls. */
  function quietly(/** @type {() => void} */ fn) {
    try {
      fn()
    } catch (e) {}
  }

  function listen(/** @type {EventTarget} */ target, /** @type {string} */ type, /** @type {(e: any) => void} */ fn) {
    target.addEventListener(type, (e) => quietly(() => fn(e)))
  }

  function watchConsole() {
    const con = /** @type {any} */ (console)
    const levels = { debug: 'debug', log: 'log', info: 'info', warn: 'warning', error: 'error' }
    for (const [name, level] of Object.entries(levels)) {
      const original = con[name]
      if (typeof original !== 'function') continue
      con[name] = function (/** @type {unknown[]} */ ...args) {
        quietly(() => breadcrumb({ category: 'console', level, message: cut(args.map(describe).join(' ')) }))
        return original.apply(this, args)
      }
    }
  }

  function watchNavigation() {
    const hist = /** @type {any} */ (history)
    let last = cleanUrl(location.href)
    const moved = () => {
      const to = cleanUrl(location.href)
      if (to !== last) breadcrumb({ category: 'navigation', data: { from: last, to } })
      last = to
    }
    for (const name of ['pushState', 'replaceState']) {
      const original = hist[name]
      hist[name] = function (/** @type {unknown[]} */ ...args) {
        const result = original.apply(this, args)
        quietly(moved)
        return result
      }
    }
    listen(w, 'popstate', moved)
  }

  function watchRequests() {
    if (fetch0) {
      w.fetch = function (/** @type {any} */ input, /** @type {any} */ init) {
        let method = 'GET'
        let url = ''
        quietly(() => {
          method = String((init && init.method) || (input && input.method) || 'GET').toUpperCase()
          url = cleanUrl((input && input.url) || input)
        })
        return fetch0.apply(this, arguments).then(
          (/** @type {Response} */ res) => (quietly(() => res.status >= 400 && failedRequest('fetch', method, url, res.status)), res),
          (/** @type {unknown} */ err) => {
            quietly(() => failedRequest('fetch', method, url, 0))
            throw err
          },
        )
      }
    }
    const proto = w.XMLHttpRequest && XMLHttpRequest.prototype
    if (!proto) return
    const requests = new WeakMap()
    /** @this {XMLHttpRequest} @param {Event} e */
    function done(e) {
      quietly(() => {
        const req = requests.get(this)
        const status = e.type === 'load' ? this.status : 0
        if (req && (status >= 400 || !status)) failedRequest('xhr', req.method, req.url, status)
      })
    }
    const open = proto.open
    proto.open = function (/** @type {string} */ method, /** @type {string | URL} */ url) {
      quietly(() => {
        if (!requests.has(this)) for (const type of ['load', 'error', 'timeout']) this.addEventListener(type, done)
        requests.set(this, { method: String(method).toUpperCase(), url: cleanUrl(url) })
      })
      return open.apply(this, arguments)
    }
  }

  function watchErrors() {
    listen(w, 'error', (/** @type {ErrorEvent} */ e) => {
      const error = e.error
      // "Script error." from a cross-origin script without CORS tells nothing; resource errors carry no message
      if (error == null && (!e.filename || !e.message)) return
      capture('error', error, () => {
        const exception = exceptionOf(isError(error) ? error : e.message, { type: 'onerror', handled: false })
        const last = exception.values[exception.values.length - 1]
        if (!last.stacktrace && e.filename) last.stacktrace = { frames: [{ filename: e.filename, function: '?', lineno: e.lineno, colno: e.colno }] }
        return { exception }
      })
    })
    listen(w, 'unhandledrejection', (/** @type {PromiseRejectionEvent} */ e) => {
      capture('error', e.reason, () => ({
        exception: exceptionOf(e.reason, { type: 'onunhandledrejection', handled: false }, 'UnhandledRejection', 'Non-Error promise rejection captured with value: '),
      }))
    })
    // hidden or leaving: send what is queued now, by beacon
    const leaving = () => {
      hidden = document.visibilityState === 'hidden'
      if (hidden) flush()
    }
    listen(document, 'visibilitychange', leaving)
    listen(w, 'pagehide', () => {
      hidden = true
      flush()
    })
    listen(w, 'pageshow', leaving)
  }

  w.faultline = {
    /** @param {Record<string, unknown> | null} value the user the next events are about; null forgets */
    setUser(value) {
      quietly(() => {
        user = null
        if (!value || typeof value !== 'object') return
        user = {}
        for (const key of Object.keys(value).slice(0, 20)) {
          const v = value[key]
          if (typeof v === 'string') user[cut(key, 100)] = cut(v, 200)
          else if (typeof v === 'number' || typeof v === 'boolean') user[cut(key, 100)] = v
        }
      })
    },
    /** @param {string} key @param {unknown} value */
    setTag(key, value) {
      quietly(() => {
        key = cut(String(key), 32)
        if (key in tags || Object.keys(tags).length < MAX_TAGS) tags[key] = cut(String(value), 200)
      })
    },
    /** @param {unknown} error @param {{ tags?: Record<string, unknown>, extra?: Record<string, unknown>, level?: string }} [context] @returns {string | undefined} the event id */
    captureException(error, context) {
      return capture('error', error, () => ({ exception: exceptionOf(error, { type: 'generic', handled: true }) }), context)
    },
    /** @param {unknown} message @param {string | { tags?: Record<string, unknown>, extra?: Record<string, unknown>, level?: string }} [context] a level, or tags/extra/level */
    captureMessage(message, context) {
      return capture('info', undefined, () => ({ message: cut(describe(message)) }), context)
    },
  }

  quietly(() => {
    if (pageConfig.user) w.faultline.setUser(pageConfig.user)
    for (const key of Object.keys(pageConfig.tags || {})) w.faultline.setTag(key, pageConfig.tags[key])
    maxEvents = Number(option('maxEvents')) || maxEvents
    perMinute = Number(option('eventsPerMinute')) || perMinute
    const dsn = new URL(String(option('dsn')))
    const project = /^(.*)\/(\d+)\/?$/.exec(dsn.pathname)
    if (!dsn.username || !project) throw 0
    endpoint = `${dsn.protocol}//${dsn.host}${project[1]}/api/${project[2]}/envelope/?sentry_version=7&sentry_key=${dsn.username}&sentry_client=${SDK.name}/${SDK.version}`
  })
  if (!endpoint) {
    warn0.call(console, 'faultline: no valid DSN (data-dsn on the script tag, or window.faultlineConfig.dsn); errors are not sent')
    return
  }
  quietly(watchErrors)
  quietly(watchConsole)
  quietly(watchNavigation)
  quietly(watchRequests)
})()

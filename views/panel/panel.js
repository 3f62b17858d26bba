// faultline panel comfort: select-all, bulk buttons that wait for a tick, delete confirmation,
// '/' to search, j/k to move through issues, times in the viewer's time zone, and the live update
// of the list and issue pages. Every page works without this file.
(function () {
  'use strict'
  document.documentElement.classList.add('js')

  var selectAll = document.querySelector('[data-select-all]')
  if (selectAll) {
    selectAll.addEventListener('change', function () {
      document.querySelectorAll('.issues input[name="id"]').forEach(function (box) { box.checked = selectAll.checked })
    })
  }

  // Bulk actions wait for a ticked issue. Without this the server sends the list back with a notice.
  var bulk = document.querySelector('form.bulk')
  function updateBulk () {
    if (!bulk) return
    var none = !bulk.querySelector('.issues input[name="id"]:checked')
    bulk.querySelectorAll('.toolbar button[name="action"]').forEach(function (button) { button.disabled = none })
  }
  if (bulk) bulk.addEventListener('change', updateBulk)
  // a reload or the back button may bring ticks back
  window.addEventListener('pageshow', updateBulk)
  updateBulk()

  document.querySelectorAll('[data-confirm]').forEach(function (button) {
    button.addEventListener('click', function (event) {
      if (!window.confirm(button.getAttribute('data-confirm'))) event.preventDefault()
    })
  })

  var rows = Array.prototype.slice.call(document.querySelectorAll('.issues .issue'))
  var current = -1
  function focusRow (i) {
    if (!rows.length) return
    current = Math.max(0, Math.min(rows.length - 1, i))
    var link = rows[current].querySelector('a.title')
    if (link) link.focus()
  }
  document.addEventListener('keydown', function (event) {
    var target = event.target
    if (event.metaKey || event.ctrlKey || event.altKey) return
    if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return
    if (event.key === '/') {
      var search = document.getElementById('q')
      if (search) { event.preventDefault(); search.focus(); search.select() }
    } else if (event.key === 'j') {
      focusRow(current + 1)
    } else if (event.key === 'k') {
      focusRow(current - 1)
    } else if (event.key === 'x' && current >= 0) {
      var box = rows[current].querySelector('input[name="id"]')
      if (box) { box.checked = !box.checked; updateBulk() }
    }
  })
  // ---- Text, as the server writes it (lib/panel/format.ts: shortCount, plural, noun, timeAgo) ----

  function shortCount (n) {
    if (!isFinite(n)) return '0'
    if (n < 1000) return String(n)
    if (n < 10000) return (n / 1000).toFixed(1).replace(/\.0$/, '') + 'k'
    if (n < 1000000) return Math.round(n / 1000) + 'k'
    return (n / 1000000).toFixed(1).replace(/\.0$/, '') + 'M'
  }
  function noun (n, word) { return n === 1 ? word : word + 's' }
  function plural (n, word) { return n.toLocaleString('en-US') + ' ' + noun(n, word) }

  // the server's clock minus this browser's, from the Date header of each answer, so that "just now"
  // is said of an event that just happened even when the two clocks disagree
  var skew = 0
  function timeAgo (iso) {
    var then = Date.parse(iso)
    if (!isFinite(then)) return ''
    var s = Math.round((Date.now() + skew - then) / 1000)
    if (s < 0) return 'in the future'
    if (s < 10) return 'just now'
    if (s < 60) return s + 's ago'
    var m = Math.floor(s / 60)
    if (m < 60) return m + ' min ago'
    var h = Math.floor(m / 60)
    if (h < 24) return h + ' h ago'
    var d = Math.floor(h / 24)
    if (d < 45) return d + ' ' + (d === 1 ? 'day' : 'days') + ' ago'
    var mo = Math.floor(d / 30.4)
    if (mo < 12) return mo + ' mo ago'
    return Math.floor(d / 365) + ' y ago'
  }

  // ---- Times in the viewer's time zone. The server writes UTC (and says so); here each <time> shows
  // local time and keeps the UTC one on hover. ----

  function pad (n, width) { return String(n).padStart(width || 2, '0') }
  function zoneName (date) {
    try {
      var part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(date).filter(function (p) { return p.type === 'timeZoneName' })[0]
      return part ? part.value : ''
    } catch (e) {
      return ''
    }
  }
  function localDay (d) { return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) }
  function localClock (d) { return pad(d.getHours()) + ':' + pad(d.getMinutes()) }
  function localTime (d) { return (localDay(d) + ' ' + localClock(d) + ':' + pad(d.getSeconds()) + ' ' + zoneName(d)).trim() }
  function utcTime (d) { var iso = d.toISOString(); return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + ' UTC' }

  function localizeTime (el) {
    var d = new Date(el.getAttribute('datetime'))
    if (isNaN(d.getTime())) return
    var format = el.getAttribute('data-format')
    if (format === 'datetime') {
      el.textContent = localTime(d)
      el.title = utcTime(d)
    } else if (format === 'clock') {
      el.textContent = localClock(d) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3)
      el.title = localTime(d) + ' (' + utcTime(d) + ')'
    } else if (format === 'hour') {
      el.textContent = localClock(d)
      el.title = utcTime(d)
    } else {
      // a relative time ('5 min ago'): the exact one on hover, local then UTC
      el.title = localTime(d) + ' (' + utcTime(d) + ')'
    }
  }
  document.querySelectorAll('time[datetime]').forEach(localizeTime)
  document.querySelectorAll('[data-tz]').forEach(function (el) { el.textContent = zoneName(new Date()) || 'local time' })
  // hourly chart bars: their tooltip in local time too (daily bars are UTC days and stay so)
  document.querySelectorAll('.chart[data-interval="hour"] rect[data-start]').forEach(function (bar) {
    var d = new Date(bar.getAttribute('data-start'))
    var title = bar.querySelector('title')
    if (!title || isNaN(d.getTime())) return
    var n = Number(bar.getAttribute('data-count'))
    title.textContent = localDay(d) + ' ' + localClock(d) + ' ' + zoneName(d) + ': ' + plural(n, 'event')
  })

  // ---- Live update: the list and issue pages ask the panel's JSON API for what changed, one request
  // every few seconds at most, none while the tab is hidden. New issues are announced in a bar with a
  // link that loads the page again rather than drawn here: the rows (charts, badges, escaping) have one
  // home, the server's template, and a row never moves under the pointer or the keyboard. ----

  var POLL_MS = 5000
  var MAX_BACKOFF_MS = 60000

  function poller (url, apply) {
    var timer = null
    var busy = false
    var stopped = false
    var last = 0
    var delay = POLL_MS
    function schedule (ms) {
      clearTimeout(timer)
      timer = setTimeout(poll, ms)
    }
    function poll () {
      timer = null
      if (busy || stopped || document.hidden) return
      busy = true
      last = Date.now()
      // same origin: the browser sends the session cookie or Basic credentials it already holds
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (res) {
          var date = Date.parse(res.headers.get('Date') || '')
          if (isFinite(date)) skew = date - Date.now()
          if (res.status === 401 || res.status === 403 || res.status === 404) {
            // signed out, access withdrawn, or the issue deleted: nothing more to ask until a reload
            stopped = true
            apply(null, res.status)
            return
          }
          if (!res.ok) throw new Error('status ' + res.status)
          return res.json().then(function (body) {
            delay = POLL_MS
            apply(body, res.status)
          })
        })
        .catch(function () {
          // the app or the store is down: ask less often until it answers again
          delay = Math.min(delay * 2, MAX_BACKOFF_MS)
        })
        .then(function () {
          busy = false
          if (!stopped && !document.hidden) schedule(delay)
        })
    }
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) {
        clearTimeout(timer)
        timer = null
      } else if (!stopped && !busy && timer === null) {
        // back in view: ask now if the last answer is old, never sooner than the interval allows
        schedule(Math.max(0, last + delay - Date.now()))
      }
    })
    schedule(POLL_MS)
  }

  /** Shows (or, with no text, clears) the bar in a live region; unchanged text is left alone so focus and announcements stay put. */
  function showBar (region, text, linkText, href) {
    if (region.getAttribute('data-shown') === text) return
    region.setAttribute('data-shown', text)
    region.textContent = ''
    if (!text) return
    var bar = document.createElement('p')
    bar.className = 'live-bar'
    bar.appendChild(document.createTextNode(href ? text + ' ' : text))
    if (href) {
      var link = document.createElement('a')
      link.href = href
      link.textContent = linkText
      bar.appendChild(link)
    }
    region.appendChild(bar)
  }

  function setCount (el, n, word) {
    if (!el) return
    var b = el.querySelector('b')
    if (b) {
      b.textContent = shortCount(n)
      el.title = plural(n, word)
      if (b.nextSibling) b.nextSibling.textContent = ' ' + noun(n, word)
    } else {
      el.textContent = n.toLocaleString('en-US')
    }
  }

  function setTime (el, iso) {
    if (!el || !iso) return
    el.setAttribute('datetime', iso)
    el.textContent = timeAgo(iso)
    localizeTime(el)
  }

  /** Relative times age while the page is open: rewritten at each answer. */
  function refreshRelativeTimes () {
    document.querySelectorAll('time[datetime]:not([data-format])').forEach(function (el) {
      var text = timeAgo(el.getAttribute('datetime'))
      if (text) el.textContent = text
    })
  }

  /** This page again, without the one-off notice of a past action. */
  function reloadHref () {
    var url = new URL(window.location.href)
    url.searchParams.delete('done')
    url.searchParams.delete('n')
    return url.pathname + url.search
  }

  var listRegion = document.querySelector('[data-live-list]')
  if (listRegion && window.fetch) {
    var since = Date.parse(listRegion.getAttribute('data-since'))
    var firstPage = listRegion.getAttribute('data-first-page') === 'true'
    poller(listRegion.getAttribute('data-live-list'), function (body) {
      if (!body) return showBar(listRegion, '')
      var counts = body.counts || {}
      document.querySelectorAll('.tabs a').forEach(function (tab) {
        var n = counts[new URL(tab.href).searchParams.get('status')]
        var count = tab.querySelector('.count')
        if (count && typeof n === 'number') count.textContent = shortCount(n)
      })
      var rows = {}
      document.querySelectorAll('.issues .issue[data-id]').forEach(function (row) { rows[row.getAttribute('data-id')] = row })
      var added = 0
      var moved = 0
      body.issues.forEach(function (issue) {
        var row = rows[issue.id]
        if (!row) {
          if (Date.parse(issue.firstSeen) >= since) added++
          else moved++
          return
        }
        setCount(row.querySelector('[data-live="count"]'), issue.count, 'event')
        setCount(row.querySelector('[data-live="userCount"]'), issue.userCount, 'user')
        setTime(row.querySelector('[data-live="lastSeen"]'), issue.lastSeen)
      })
      refreshRelativeTimes()
      // on a later page the first issues of the list are elsewhere: only counts are kept fresh there
      if (!firstPage) return
      var parts = []
      if (added) parts.push(plural(added, 'new issue'))
      if (moved) parts.push(plural(moved, 'other issue') + ' with new events')
      showBar(listRegion, parts.length ? parts.join(' and ') + ' in this list.' : '', 'Show them', reloadHref())
    })
  }

  var issueRegion = document.querySelector('[data-live-issue]')
  if (issueRegion && window.fetch) {
    var seenCount = Number(issueRegion.getAttribute('data-count'))
    var seenStatus = issueRegion.getAttribute('data-status')
    poller(issueRegion.getAttribute('data-live-issue'), function (body, status) {
      if (!body) return showBar(issueRegion, status === 404 ? 'This issue has been deleted.' : '')
      var issue = body.issue
      setCount(document.querySelector('[data-live="count"]'), issue.count, 'event')
      setCount(document.querySelector('[data-live="userCount"]'), issue.userCount, 'user')
      setTime(document.querySelector('[data-live="lastSeen"]'), issue.lastSeen)
      var release = document.querySelector('[data-live="lastRelease"]')
      if (release && issue.lastRelease) release.textContent = 'in ' + issue.lastRelease
      refreshRelativeTimes()
      var parts = []
      if (issue.count > seenCount) parts.push(plural(issue.count - seenCount, 'new event') + ' since this page was loaded.')
      if (issue.status !== seenStatus) parts.push('The issue is now ' + issue.status + '.')
      showBar(issueRegion, parts.join(' '), 'Show', issueRegion.getAttribute('data-show'))
    })
  }
})()

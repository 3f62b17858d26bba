// A stand-in for sentry.io on loopback: answers 200 to every envelope and counts, per project id
// (each bench server gets its own), the envelopes and the error events inside them.
import http from 'node:http'
import { gunzipSync } from 'node:zlib'

/** Counts the items of type "event" in a Sentry envelope (header line, then item header + payload pairs). */
export function countEvents(body) {
  let events = 0
  let at = body.indexOf(10) // skip the envelope header
  if (at < 0) return 0
  at += 1
  while (at < body.length) {
    let end = body.indexOf(10, at)
    if (end < 0) end = body.length
    const line = body.subarray(at, end).toString()
    at = end + 1
    if (!line.trim()) continue
    let header
    try {
      header = JSON.parse(line)
    } catch {
      break
    }
    if (header.type === 'event') events++
    if (typeof header.length === 'number') {
      at += header.length
      if (body[at] === 10) at++
    } else {
      const next = body.indexOf(10, at)
      at = next < 0 ? body.length : next + 1
    }
  }
  return events
}

/** Starts the sink on a free loopback port: `{ port, events(projectId), envelopes(projectId), close() }`. */
export function startSink() {
  const envelopes = new Map()
  const events = new Map()
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const project = (req.url.match(/^\/api\/([^/]+)\//) ?? [])[1] ?? '?'
      let body = Buffer.concat(chunks)
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
        envelopes.set(project, (envelopes.get(project) ?? 0) + 1)
        events.set(project, (events.get(project) ?? 0) + countEvents(body))
      } catch {
        // a body we cannot read still gets its 200: the sink only counts
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        events: (project) => events.get(String(project)) ?? 0,
        envelopes: (project) => envelopes.get(String(project)) ?? 0,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(() => done()) }),
      }),
    )
  })
}

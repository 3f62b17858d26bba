// The example app for `npm start`: an Express app with faultline on the embedded file store.
// Run it with `npm start` (builds faultline, then runs this file), or with
// `node examples/express-app/server.js` after `npm run build`. Another port: `PORT=3005 npm start`
// (default 3000; the Koa example takes 3001). Several processes may share the store: run
// `node examples/cron-job/job.js` beside it and its issues show in this app's panel, or run this app
// in 4 workers with `node examples/express-app/cluster.js`.
// Open http://localhost:3000 for the failing routes and http://localhost:3000/errors for the panel.
import cluster from 'node:cluster'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import express from 'express'
import { createTracker } from 'faultline'
import { exampleMail } from '../mail.js'

// The shop page's script (browser/cart.js), built as an app ships it: minified, with a source map
// beside it, in public/. Only the maps under `browser.sourceMaps` are read, never served by faultline.
const here = path.dirname(fileURLToPath(import.meta.url))
const publicDir = path.join(here, 'public')
const built = buildSync({ entryPoints: [path.join(here, 'browser/cart.js')], bundle: true, minify: true, sourcemap: true, outdir: publicDir, write: false, logLevel: 'warning' })
// each file written whole, then renamed: cluster workers build at once, and serve it meanwhile
mkdirSync(publicDir, { recursive: true })
for (const file of built.outputFiles) {
  writeFileSync(`${file.path}.${process.pid}.tmp`, file.contents)
  renameSync(`${file.path}.${process.pid}.tmp`, file.path)
}

const tracker = createTracker({
  store: path.resolve('.faultline/errors.json'),
  appName: 'example-shop',
  // keys to redact beside the defaults (token, password, cookie, ...): the /checkout link's
  // card number is stored as [Filtered]
  scrubFields: ['card'],
  // the pages' errors too: the client at /faultline/client.js, the Sentry protocol at /faultline/api/1/
  browser: { sourceMaps: publicDir },
  ...exampleMail(),
})

const app = express()
// in a cluster (cluster.js), which worker answered: they share one store and show the same panel
if (cluster.isWorker) {
  app.use((req, res, next) => {
    res.setHeader('x-worker', String(process.pid))
    next()
  })
}
app.use(tracker.express())
app.use(express.json())
app.use('/static', express.static(publicDir))

const users = new Map([[1, { id: 1, name: 'Ada' }]])

function loadUser(id) {
  const user = users.get(id)
  if (!user) throw new Error(`User ${id} not found`)
  return user
}

app.get('/', (req, res) => {
  res.type('html').send(`<!doctype html><title>example-shop</title>
<h1>example-shop</h1>
<p>Each link fails in its own way; faultline records it. Then open <a href="/errors">the panel</a>.</p>
<ul>
  <li><a href="/users/42">/users/42</a>: throws synchronously (try other ids: same issue)</li>
  <li><a href="/orders/7">/orders/7</a>: rejects asynchronously</li>
  <li><a href="/checkout?card=4111111111111111&token=secret">/checkout</a>: passes an error to next() (query secrets are scrubbed)</li>
  <li><a href="/timer">/timer</a>: an error inside a timer, captured without crashing; <a href="/timer?crash=1">/timer?crash=1</a> really crashes the process (recorded first, its own issue)</li>
  <li><a href="/handled">/handled</a>: the app's own error handler answers; faultline still records</li>
  <li><a href="/missing">/missing</a>: a 404, not recorded</li>
  <li><a href="/shop">/shop</a>: a page whose button throws in the browser; the issue's stack shows browser/cart.js, mapped from the minified script</li>
</ul>`)
})

// A page with faultline's browser client: its errors land in the same panel, platform javascript.
app.get('/shop', async (req, res) => {
  const dsn = await tracker.browserDsn(`${req.protocol}://${req.get('host')}`)
  res.type('html').send(`<!doctype html><title>example-shop: cart</title>
<script src="/faultline/client.js" defer data-dsn="${dsn}" data-release="example-shop@1.0.0"></script>
<script src="/static/cart.js" defer></script>
<h1>Your cart</h1>
<p>Total: <span id="total">42</span></p>
<p><button id="apply">Apply coupon</button> throws in the browser (the cart has no coupon); then open <a href="/errors">the panel</a>.</p>`)
})

// A synchronous throw: /users/42 and /users/99 are one issue.
app.get('/users/:id', (req, res) => {
  tracker.setUser({ id: req.query.as ?? 'visitor-' + (req.ip ?? 'unknown') })
  tracker.setTag('route', 'users')
  res.json(loadUser(Number(req.params.id)))
})

// An async rejection, Express 5 passes it to the error handlers.
app.get('/orders/:id', async (req, res) => {
  tracker.addBreadcrumb({ category: 'db', message: `select order ${req.params.id}` })
  await new Promise((resolve) => setTimeout(resolve, 5))
  const order = undefined
  res.json({ total: order.total })
})

// An error passed to next().
app.get('/checkout', (req, res, next) => {
  next(new Error('Payment provider declined the request', { cause: new Error('card_declined') }))
})

// The crash demo: thrown from a timer, nothing catches it. Being its own function, it groups as an
// issue of its own (grouping uses the error type and the functions it was thrown from).
function crashDemo() {
  throw new Error('Crash demo: /timer?crash=1 threw this from a timer on purpose; nothing caught it, so the process exits')
}

// A throw inside a timer is an uncaught exception: it would kill the process. Opt in with ?crash=1.
app.get('/timer', (req, res) => {
  if (req.query.crash === '1') {
    setTimeout(crashDemo, 10)
    res.send('The process will crash in 10 ms; the crash is recorded first, and its alert is sent on the next start. Restart with npm start.')
  } else {
    setTimeout(() => tracker.captureException(new RangeError('Inventory sync overflowed (caught)')), 10)
    res.send('A timer error was captured without crashing. Add ?crash=1 to crash for real.')
  }
})

// The app's own error handler answers with a friendly page; faultline records anyway.
app.get('/handled', () => {
  throw new TypeError("Cannot read properties of undefined (reading 'price')")
})

app.use((err, req, res, next) => {
  res.status(500).send(`Something broke. (${err.message})`)
})

// "Capture and move on": a background job that reports its failures with tags and keeps running.
async function syncInvoices() {
  try {
    throw new Error('Invoice provider timed out after 3000 ms')
  } catch (err) {
    tracker.captureException(err, { tags: { job: 'sync-invoices', schedule: 'every-minute' }, extra: { batch: 17 } })
  }
}
setInterval(syncInvoices, 60_000).unref()
setTimeout(syncInvoices, 2_000).unref()

const port = Number(process.env.PORT ?? 3000)
// Express 5 hands a listen error (a port already taken, say) to this callback instead of throwing it.
const server = app.listen(port, (err) => {
  if (err) {
    console.error(err.code === 'EADDRINUSE'
      ? `example-shop: port ${port} is in use; set another port, e.g. PORT=${port + 1} npm start`
      : `example-shop: cannot listen on port ${port}: ${err.message}`)
    tracker.close().finally(() => process.exit(1))
    return
  }
  const { port: actual } = server.address()
  process.send?.({ listening: actual })
  if (cluster.isWorker) return console.log(`worker ${process.pid} listening`)
  console.log(`example-shop listening on http://localhost:${actual}`)
  console.log(`  the panel:  http://localhost:${actual}/errors`)
  console.log(`  the store:  ${tracker.store.path ?? 'in memory only (see the line on stderr)'}`)
})

// A graceful stop (Ctrl-C, a deploy, a rolling restart): finish the requests under way, then store
// what they captured before exiting.
async function shutdown() {
  server.close()
  await tracker.close()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)

// A Koa app with faultline: `node examples/koa-app/server.js` (after `npm run build`), then open
// http://localhost:3001 and http://localhost:3001/errors for the panel. Another port:
// `PORT=3002 node examples/koa-app/server.js` (default 3001, so it can run beside the Express example).
import path from 'node:path'
import Koa from 'koa'
import { createTracker } from 'faultline'

const tracker = createTracker({ store: path.resolve('.faultline/koa-errors.json'), appName: 'example-koa' })

const app = new Koa()
app.use(tracker.koa())

app.use(async (ctx) => {
  if (ctx.path === '/') {
    ctx.type = 'html'
    ctx.body = '<h1>example-koa</h1><ul><li><a href="/boom">/boom</a> throws</li><li><a href="/later">/later</a> rejects</li><li><a href="/forbidden">/forbidden</a> a 403, not recorded</li><li><a href="/errors">the panel</a></li></ul>'
  } else if (ctx.path === '/boom') {
    tracker.setTag('area', 'catalog')
    throw new Error('Catalog index is corrupt')
  } else if (ctx.path === '/later') {
    await new Promise((resolve) => setTimeout(resolve, 5))
    throw new TypeError('Cannot read properties of null (reading "sku")')
  } else if (ctx.path === '/forbidden') {
    ctx.throw(403, 'Not yours')
  } else {
    ctx.status = 404
  }
})

// Koa's own error event still fires: faultline rethrows the original error unchanged.
app.on('error', (err, ctx) => {
  if (!err.expose) console.error(`koa error on ${ctx?.path}: ${err.message}`)
})

const port = Number(process.env.PORT ?? 3001)
const server = app.listen(port, () => {
  console.log(`example-koa listening on http://localhost:${port} (panel: http://localhost:${port}/errors)`)
})
// A listen error (a port already taken, say) is an 'error' event on the server, not a callback argument.
server.on('error', (err) => {
  console.error(err.code === 'EADDRINUSE'
    ? `example-koa: port ${port} is in use; set another port, e.g. PORT=${port + 1} node examples/koa-app/server.js`
    : `example-koa: cannot listen on port ${port}: ${err.message}`)
  tracker.close().finally(() => process.exit(1))
})

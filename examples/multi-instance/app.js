// One instance of an app that runs on several machines: every instance records into the same
// PostgreSQL, so the panel on any of them shows every error with exact counts, and each alert is
// sent once. (Several processes on one machine can share the default file store instead: see
// examples/express-app/cluster.js.) Run one with `node examples/multi-instance/app.js` (after `npm run build`;
// several on different ports: `PORT=3001 node examples/multi-instance/app.js`), or several on one
// port with `node examples/multi-instance/cluster.js`.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), PORT (default 3000),
// FAULTLINE_SCHEMA (default public), FAULTLINE_SMTP_URL (alerts; printed to the console without it).
import express from 'express'
import { createTracker } from 'faultline'
import { postgresStore } from 'faultline/adapters/postgres'
import { exampleMail } from '../mail.js'

const tracker = createTracker({
  store: postgresStore({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    schema: process.env.FAULTLINE_SCHEMA ?? 'public',
  }),
  appName: 'example-cluster',
  serverName: `instance-${process.pid}`,
  ...exampleMail(),
})

const app = express()
app.use(tracker.express())

app.get('/', (req, res) => {
  res.type('html').send(`<p>instance ${process.pid}: <a href="/checkout">/checkout</a> fails, <a href="/errors">the panel</a> shows every instance's errors</p>`)
})

app.get('/checkout', (req, res) => {
  tracker.setUser({ id: req.get('x-user-id') ?? req.ip })
  throw new Error(`Checkout failed on instance ${process.pid}`)
})

app.get('/health', (req, res) => res.json({ pid: process.pid }))

const port = Number(process.env.PORT ?? 3000)
// Express 5 hands a listen error (a port already taken, say) to this callback instead of throwing it.
const server = app.listen(port, (err) => {
  if (err) {
    console.error(err.code === 'EADDRINUSE'
      ? `instance ${process.pid}: port ${port} is in use; set another port, e.g. PORT=${port + 1} node examples/multi-instance/app.js`
      : `instance ${process.pid}: cannot listen on port ${port}: ${err.message}`)
    tracker.close().finally(() => process.exit(1))
    return
  }
  const { port: actual } = server.address()
  console.log(`instance ${process.pid} listening on http://localhost:${actual} (panel: /errors)`)
  process.send?.({ listening: actual })
})

async function shutdown() {
  server.close()
  await tracker.close()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)

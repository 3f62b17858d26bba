// The Express example in several worker processes on one port with Node's cluster module, all on
// the default file store: `node examples/express-app/cluster.js` (after `npm run build`; WORKERS=2
// for another count, PORT as for the app). Every worker records into .faultline/errors.json, and the
// panel of any of them (http://localhost:3000/errors) shows every worker's errors with exact counts;
// each alert is sent once. `pm2 start examples/express-app/server.js -i 4` does the same with pm2.
//
// `kill -USR2 <this pid>` restarts the workers one at a time, each new one listening before the old
// one stops (as `pm2 reload` does): the two overlap on the store, and nothing is lost or counted twice.
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'

const count = Number(process.env.WORKERS ?? 4)
/** how long a new worker and the one it replaces run side by side in a rolling restart */
const OVERLAP_MS = Number(process.env.OVERLAP_MS ?? 2000)
let stopping = false

cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.js', import.meta.url)) })

function fork() {
  const worker = cluster.fork()
  // the first worker's port (PORT=0 picks a free one, shared by all) is told to whoever started this
  worker.on('message', (message) => {
    if (message?.listening !== undefined) process.send?.(message)
  })
  return worker
}

function listening(worker) {
  return new Promise((resolve) => worker.once('listening', resolve))
}

for (let i = 0; i < count; i++) fork()
console.log(`example-shop: ${count} workers (primary ${process.pid}); the panel of any of them shows them all`)

// a worker that dies unasked (a crash) is replaced, as pm2 would
cluster.on('exit', (worker, code, signal) => {
  if (stopping || worker.replaced) return
  console.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
  fork()
})

process.on('SIGUSR2', async () => {
  for (const old of Object.values(cluster.workers)) {
    const next = fork()
    await listening(next)
    await new Promise((resolve) => setTimeout(resolve, OVERLAP_MS))
    old.replaced = true
    // the old worker finishes its requests and stores what they captured (see shutdown in server.js)
    old.process.kill('SIGTERM')
    await new Promise((resolve) => old.once('exit', resolve))
  }
  console.log('example-shop: every worker restarted')
  process.send?.({ reloaded: true })
})

function stop() {
  stopping = true
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers).length === 0) process.exit(0)
  })
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

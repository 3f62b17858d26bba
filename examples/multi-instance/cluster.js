// Several instances of examples/multi-instance/app.js on one port with Node's cluster module,
// all recording into one PostgreSQL: `node examples/multi-instance/cluster.js` (INSTANCES=4 for more).
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'

const instances = Number(process.env.INSTANCES ?? 2)

if (cluster.isPrimary) {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./app.js', import.meta.url)) })
  for (let i = 0; i < instances; i++) cluster.fork()
  cluster.on('exit', (worker, code) => console.log(`instance ${worker.process.pid} exited with ${code}`))
}

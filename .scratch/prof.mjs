// usage: node prof.mjs <node> <framework> <route> <variant>  -> writes profile to /tmp/prof-<variant>
import { fork } from 'node:child_process'
import { rmSync, mkdirSync } from 'node:fs'
const [nodeBin, fw, route, variant] = process.argv.slice(2)
const dir = `/tmp/prof-${fw}-${variant}`
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir)
const child = fork('/work/main/bench/request-overhead.js', ['--child', fw, route, variant], { execPath: nodeBin, execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`], env: { ...process.env, NODE_ENV: 'production' } })
child.on('message', (m) => console.log(variant, 'ns/req', Math.round(m)))
child.on('exit', () => console.log('profile in', dir))

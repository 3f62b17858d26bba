// node fail.mjs <nodeBin> [express|koa] [reps]
import { fork } from 'node:child_process'
const [nodeBin, fw = 'express', reps = '3'] = process.argv.slice(2)
const run = (variant) => new Promise((res, rej) => { const c = fork('/work/main/bench/request-overhead.js', ['--child', fw, 'fail', variant], { execPath: nodeBin, env: { ...process.env, NODE_ENV: 'production' } }); c.once('message', res); c.once('exit', (code) => code && rej(new Error('exit ' + code))) })
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
const b = [], f = []
for (let i = 0; i < Number(reps); i++) { b.push(await run('bare')); f.push(await run('faultline')) }
console.log(fw, 'bare', b.map(Math.round).join(' '), 'faultline', f.map(Math.round).join(' '), '=> µs/error', ((med(f) - med(b)) / 1000).toFixed(1))

// node ab.mjs <nodeBin> <framework> <reps>: bare, ref faultline, main faultline alternated
import { fork } from 'node:child_process'
const [nodeBin, fw = 'express', reps = '3'] = process.argv.slice(2)
const run = (root, variant) => new Promise((res, rej) => { const c = fork(`${root}/bench/request-overhead.js`, ['--child', fw, 'fail', variant], { cwd: root, execPath: nodeBin, env: { ...process.env, NODE_ENV: 'production' } }); c.once('message', res); c.once('exit', (code) => code && rej(new Error('exit ' + code))) })
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
const b = [], r = [], m = []
for (let i = 0; i < Number(reps); i++) { b.push(await run('/work/main', 'bare')); r.push(await run('/work/ref', 'faultline')); m.push(await run('/work/main', 'faultline')) }
const f = (x) => ((med(x) - med(b)) / 1000).toFixed(1)
console.log(fw, process.argv[2].includes('24') ? 'node24' : 'node20', 'bare', (med(b)/1000).toFixed(1), 'µs; per error: ref', f(r), 'main', f(m))

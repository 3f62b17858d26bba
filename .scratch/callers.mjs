import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2])); const name = process.argv[3]
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n)
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
const byId = new Map(p.nodes.map((n) => [n.id, n])); const agg = new Map(); let tot = 0
for (const [id, t] of dt) { const n = byId.get(id); if (n.callFrame.functionName !== name) continue; tot += t
  const chain = []; for (let c = parent.get(n.id); c && chain.length < 4; c = parent.get(c.id)) chain.push(c.callFrame.functionName || '(anon)')
  const k = chain.join(' < '); agg.set(k, (agg.get(k) ?? 0) + t) }
for (const [k, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((t / 1000).toFixed(0), 'ms', k)
console.log('total', (tot/1000).toFixed(0))

import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2]))
const pat = new RegExp(process.argv[3] ?? '.')
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const dt = new Map()
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\//, '')}:${n.callFrame.lineNumber + 1}`
const incl = new Map(); let total = 0
for (const [id, t] of dt) {
  if (byId.get(id).callFrame.functionName === '(idle)') continue
  total += t
  const seen = new Set()
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const k = key(byId.get(cur)); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t) } }
}
console.log('total non-idle ms', (total / 1000).toFixed(0))
for (const [k, t] of [...incl].filter(([k]) => pat.test(k)).sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 50))) console.log((100 * t / total).toFixed(1).padStart(5), '%', k)

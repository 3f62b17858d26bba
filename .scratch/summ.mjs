// usage: node summ.mjs <profile.cpuprofile> [top]
import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2]))
const top = Number(process.argv[3] ?? 40)
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const self = new Map()
const dt = new Map()
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
let total = 0
for (const [id, t] of dt) {
  const n = byId.get(id); const f = n.callFrame
  const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*\/(node_modules\/)?/, '')}:${f.lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + t); total += t
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
for (const [k, t] of rows) console.log((100 * t / total).toFixed(1).padStart(5), '%', k)

// Prints the functions with the most self time in V8 CPU profiles (from `node --cpu-prof`, or
// `BENCH_PROFILE=dir npm run bench -- --only express:fail:faultline`), with their share of all
// samples, and the same grouped by file. Several profiles are summed.
//
//   node bench/profile-top.js dir-or-file.cpuprofile... [--top 30] [--match dist/]
//   --match: also the inclusive time of the functions whose file path contains the text, and their total share
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

const args = process.argv.slice(2)
const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 30
const match = args.includes('--match') ? args[args.indexOf('--match') + 1] : null
const inputs = args.filter((a, i) => !a.startsWith('--') && !['--top', '--match'].includes(args[i - 1]))
if (inputs.length === 0) {
  console.error('usage: node bench/profile-top.js <profile or dir>... [--top N] [--match text]')
  process.exit(2)
}

const files = inputs.flatMap((input) =>
  statSync(input).isDirectory()
    ? readdirSync(input).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(input, f))
    : [input],
)

const byFunction = new Map()
const byFile = new Map()
// inclusive: time with the function anywhere on the stack, for the functions whose location matches --match
const inclusive = new Map()
let matched = 0
let total = 0
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  // samples[i] is the node on top of the stack at tick i; timeDeltas weigh them
  const selfTime = new Map()
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const parents = new Map()
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id)
  const label = (callFrame) => {
    const url = callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
    return { url, key: `${callFrame.functionName || '(anonymous)'}  ${url ? `${url}:${callFrame.lineNumber + 1}` : '(native)'}` }
  }
  if (match) {
    for (const [id, micros] of selfTime) {
      const seen = new Set()
      for (let at = id; at !== undefined; at = parents.get(at)) {
        const { url, key } = label(nodes.get(at).callFrame)
        if (url.includes(match)) seen.add(key)
      }
      if (seen.size) matched += micros
      for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + micros)
    }
  }
  for (const [id, micros] of selfTime) {
    const { callFrame } = nodes.get(id)
    const url = callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
    const where = url ? `${url}:${callFrame.lineNumber + 1}` : '(native)'
    const key = `${callFrame.functionName || '(anonymous)'}  ${where}`
    total += micros
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
    const fileKey = url || `(${callFrame.functionName || 'native'})`
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + micros)
  }
}

function print(title, map) {
  console.log(`\n${title}`)
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, micros] of rows) console.log(`${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`)
}

console.log(`${files.length} profile(s), ${(total / 1000).toFixed(0)} ms sampled`)
print('self time by function', byFunction)
print('self time by file', byFile)
if (match) {
  console.log(`\n${((100 * matched) / total).toFixed(1)}% of samples (${(matched / 1000).toFixed(0)} ms) have a frame matching '${match}' on the stack`)
  print(`inclusive time, functions matching '${match}'`, inclusive)
}

// Minifies the browser client into dist/client/faultline.js, the one file faultline serves at
// <path>/client.js. `npm run build` runs it; so does the test setup, so tests serve the current source.
import { buildSync } from 'esbuild'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const clientSource = path.join(root, 'client', 'faultline.js')
export const clientOutput = path.join(root, 'dist', 'client', 'faultline.js')

export function buildClient() {
  const [out] = buildSync({ entryPoints: [clientSource], minify: true, target: 'es2020', write: false, logLevel: 'warning' }).outputFiles
  mkdirSync(path.dirname(clientOutput), { recursive: true })
  // written beside and renamed, so that a reader never sees half a file
  const temporary = `${clientOutput}.${process.pid}.tmp`
  writeFileSync(temporary, out.contents)
  renameSync(temporary, clientOutput)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildClient()

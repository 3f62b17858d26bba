/**
 * The browser client's bytes, as faultline serves them at `<path>/client.js`: the minified build of
 * `client/faultline.js` (`npm run build` writes it to `dist/client/`, which the package ships).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { packageRoot } from '../package-root.js'

export interface ClientScript {
  body: Buffer
  /** the same bytes gzipped, for a request that accepts gzip */
  gzip: Buffer
  /** a strong ETag: the content's hash, quoted */
  etag: string
  type: string
}

export const clientScriptFile = path.join(packageRoot, 'dist', 'client', 'faultline.js')

let loaded: ClientScript | undefined

/** The client script, read and hashed once per process (on first use, so an app without `browser` never reads it). */
export function clientScript(): ClientScript {
  if (loaded) return loaded
  let body: Buffer
  try {
    body = readFileSync(clientScriptFile)
  } catch (err) {
    throw new Error(`faultline: cannot read the browser client ${clientScriptFile} (${(err as Error).message}); in a checkout run npm run build, in an installed package reinstall faultline`)
  }
  loaded = {
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    type: 'text/javascript; charset=utf-8',
  }
  return loaded
}

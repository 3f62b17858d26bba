/**
 * Finds `views/panel/`, compiles its EJS templates once, and serves the stylesheet and script.
 * Works both from the TypeScript sources (`lib/panel/`) and from the build (`dist/lib/panel/`).
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import ejs from 'ejs'
import { escapeHtml } from '../escape-html.js'
import { viewsDir } from '../package-root.js'

export interface Asset {
  body: Buffer
  type: string
  /** short content hash, used in the URL so browsers may cache it for good */
  version: string
}

type Template = (locals: Record<string, unknown>) => string

export interface Views {
  render(name: string, locals: Record<string, unknown>): string
  asset(name: string): Asset | null
}

const ASSET_TYPES: Record<string, string> = {
  'panel.css': 'text/css; charset=utf-8',
  'panel.js': 'text/javascript; charset=utf-8',
}

const compiled = new Map<string, Views>()

/**
 * Compiles every template in `views/panel` once per process; pages then only run functions.
 * Templates escape with `<%= %>`; `<%-` appears only around `include(...)`, which is itself escaped output.
 */
export function loadViews(dir: string = path.join(viewsDir, 'panel')): Views {
  const known = compiled.get(dir)
  if (known) return known
  const templates = new Map<string, Template>()
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.ejs')) continue
    const filename = path.join(dir, file)
    templates.set(file.slice(0, -4), ejs.compile(readFileSync(filename, 'utf8'), { filename, cache: true, rmWhitespace: false, escape: escapeHtml }) as Template)
  }
  const assets = new Map<string, Asset>()
  for (const [file, type] of Object.entries(ASSET_TYPES)) {
    const filename = path.join(dir, file)
    if (!existsSync(filename)) continue
    const body = readFileSync(filename)
    assets.set(file, { body, type, version: createHash('sha256').update(body).digest('hex').slice(0, 10) })
  }
  const views: Views = {
    render(name, locals) {
      const template = templates.get(name)
      if (!template) throw new Error(`faultline: no panel template named ${name}`)
      return template(locals)
    },
    asset(name) {
      return assets.get(name) ?? null
    },
  }
  compiled.set(dir, views)
  return views
}

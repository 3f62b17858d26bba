/**
 * The few ways a panel response ends: a page, JSON, a redirect, or a stored asset. Each one sets
 * the length and type itself so the host app's middleware has nothing left to add.
 */
import type { ServerResponse } from 'node:http'
import type { Asset } from './render.js'

/** Ends the response with an HTML page. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  const body = Buffer.from(html, 'utf8')
  res.statusCode = status
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.setHeader('Content-Length', body.length)
  res.end(body)
}

/** Ends the response with JSON; `undefined` sends no body (204). */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status
  if (value === undefined) {
    res.end()
    return
  }
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', body.length)
  res.end(body)
}

/** A JSON error in the API's one shape: `{ error: { status, message } }`. */
export function sendJsonError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { status, message } })
}

/** 303 See Other: after a form post the browser loads the target with GET. */
export function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 303
  res.setHeader('Location', location)
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.end(`See ${location}`)
}

/** Serves the stylesheet or script. Its URL carries a content hash, so browsers may keep it. */
export function sendAsset(res: ServerResponse, asset: Asset, versioned: boolean): void {
  res.statusCode = 200
  res.setHeader('Content-Type', asset.type)
  res.setHeader('Content-Length', asset.body.length)
  res.setHeader('Cache-Control', versioned ? 'private, max-age=31536000, immutable' : 'no-store')
  res.end(asset.body)
}

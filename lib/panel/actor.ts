/**
 * Who made a change, for the activity log: the HTTP Basic user name when the panel has
 * `auth: { username, password }` (the request passed it, so that is who is signed in), else what
 * the request came through: 'panel' for the HTML forms, 'API' for the JSON API.
 */
import type { IncomingMessage } from 'node:http'
import type { ResolvedOptions } from '../options.js'
import { parseBasic } from './access.js'

export function actorOf(req: IncomingMessage, options: ResolvedOptions, via: 'panel' | 'API'): string {
  const auth = options.panel ? options.panel.auth : null
  if (auth !== null && typeof auth === 'object') {
    const given = parseBasic(req.headers.authorization)
    if (given !== null && given.username !== '') return given.username
  }
  return via
}

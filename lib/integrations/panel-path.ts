/**
 * Splits a request URL (relative to where the middleware is mounted) into the part under the
 * panel path, or returns null when the request is not for the panel. Cheap: runs on every request.
 */
export function matchPanel(url: string, panelPath: string): { path: string; search: string } | null {
  if (!url.startsWith(panelPath)) return null
  const next = url.charCodeAt(panelPath.length)
  // the end, '/', or '?'
  if (!(Number.isNaN(next) || next === 47 || next === 63)) return null
  const rest = url.slice(panelPath.length)
  const q = rest.indexOf('?')
  const path = (q >= 0 ? rest.slice(0, q) : rest) || '/'
  return { path, search: q >= 0 ? rest.slice(q) : '' }
}

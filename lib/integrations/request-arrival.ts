import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Published by Node's HTTP server for each request, just before its 'request' listeners run. */
const REQUEST_START = 'http.server.request.start'

/**
 * Calls `onRequest` for every request any HTTP server of the process receives, before the app sees
 * it, in the request's own async context: a scope entered there is current for the rest of the
 * request. Returns the unsubscribe.
 */
export function onRequestArrival(onRequest: (req: IncomingMessage, res: ServerResponse) => void): () => void {
  const handler = (message: unknown) => {
    try {
      const { request, response } = message as { request: IncomingMessage; response: ServerResponse }
      onRequest(request, response)
    } catch {
      // a subscriber's throw would reach the host app as an uncaught exception
    }
  }
  diagnostics.subscribe(REQUEST_START, handler)
  return () => {
    diagnostics.unsubscribe(REQUEST_START, handler)
  }
}

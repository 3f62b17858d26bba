// vitest global setup: builds the browser client from its source, so that every test (and
// faultline's ingest, which serves it) runs the current code without a full `npm run build`.
import { buildClient } from '../../client/build.js'

export default function setup(): void {
  buildClient()
}

/**
 * The ingest's public key: the option's, else one generated and kept in the store (so that pages
 * cached across restarts, and every process sharing the store, send the same one). A store
 * without `claimSetting` gets a key for this process alone, said once.
 */
import { randomBytes } from 'node:crypto'
import type { Store } from '../types.js'
import { BROWSER_KEY } from '../options.js'

export const KEY_SETTING = 'browser.key'

export async function browserKey(given: string | null, store: Store, report: (err: Error) => void): Promise<string> {
  if (given !== null) return given
  const generated = randomBytes(16).toString('hex')
  if (typeof store.claimSetting !== 'function') {
    report(new Error('the store keeps no settings (it has no claimSetting), so the browser key is new at each start and pages cached from before send a key refused with 403; set browser.key to keep one'))
    return generated
  }
  try {
    const kept = await store.claimSetting(KEY_SETTING, generated)
    if (typeof kept === 'string' && BROWSER_KEY.test(kept)) return kept
    report(new Error('the store returned a browser key that is not one; using a key for this process alone (set browser.key to keep one)'))
  } catch (err) {
    report(new Error(`the browser key could not be read from the store, so this process uses a key of its own until it restarts: ${(err as Error)?.message}`))
  }
  return generated
}

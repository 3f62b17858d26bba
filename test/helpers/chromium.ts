/**
 * Debian's Chromium driven by playwright-core, for the browser tests. Without /usr/bin/chromium a
 * file's tests skip with one line saying so, and with CI set they fail instead (see CONTRIBUTING.md).
 */
import { existsSync } from 'node:fs'
import { describe, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

/** True when Chromium is installed; otherwise says once which tests are skipped, or fails them in CI. */
export function chromiumAvailable(what: string): boolean {
  const available = existsSync(CHROMIUM)
  if (!available && !process.env.CI) console.log(`${what} skipped: ${CHROMIUM} is missing; apt-get install -y chromium enables them`)
  describe.runIf(!available && process.env.CI)(`${what} (CI)`, () => {
    it('needs Chromium in CI', () => {
      throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium)`)
    })
  })
  return available
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS })
}

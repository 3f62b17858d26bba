/**
 * The app root comes from the app (its package.json), not from the working directory: the same
 * script started from two folders groups its errors into the same issue and keeps one store, in
 * the app's folder. Real child processes, with faultline installed in the app's node_modules.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const faultline = fileURLToPath(new URL('..', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/app/server.mjs', import.meta.url))
const tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'faultline-root-')))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** An app folder: package.json, faultline in node_modules, the script in src/. */
function makeApp(): string {
  const app = path.join(tmp, 'shop')
  mkdirSync(path.join(app, 'src'), { recursive: true })
  mkdirSync(path.join(app, 'node_modules'))
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'shop', version: '1.2.3', type: 'module' }))
  symlinkSync(faultline, path.join(app, 'node_modules', 'faultline'))
  copyFileSync(fixture, path.join(app, 'src', 'server.mjs'))
  return app
}

function runFrom(cwd: string, script: string): Promise<{ issues: string[]; store: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script], { cwd, timeout: 15_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

describe('the app root (real child processes)', () => {
  it('gives the same issue and the same store whichever folder the app is started from', async () => {
    const app = makeApp()
    const script = path.join(app, 'src', 'server.mjs')
    const elsewhere = path.join(tmp, 'elsewhere')
    mkdirSync(elsewhere)
    const fromApp = await runFrom(app, script)
    const fromElsewhere = await runFrom(elsewhere, script)
    const fromSrc = await runFrom(path.join(app, 'src'), script)
    // an issue's id is its fingerprint's hash: the same bug is the same issue whatever the folder
    expect(fromApp.issues).toHaveLength(1)
    expect(fromElsewhere.issues).toEqual(fromApp.issues)
    expect(fromSrc.issues).toEqual(fromApp.issues)
    // and it is counted in one store, in the app's folder
    expect(fromApp.store).toBe(path.join(app, '.faultline', 'errors.json'))
    expect(fromElsewhere.store).toBe(fromApp.store)
    expect(fromSrc.store).toBe(fromApp.store)
  }, 30_000)
})

/**
 * A start-up failure says one line with the fix, never a stack: the example apps, run as a user
 * runs them (real child processes), with a store that cannot be opened and on a port already taken.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const EXPRESS_EXAMPLE = fileURLToPath(new URL('../examples/express-app/server.js', import.meta.url))
const KOA_EXAMPLE = fileURLToPath(new URL('../examples/koa-app/server.js', import.meta.url))
const tmp = mkdtempSync(path.join(os.tmpdir(), 'faultline-startup-'))
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill()
  rmSync(tmp, { recursive: true, force: true })
})

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

function start(script: string, cwd: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, [script], { cwd, env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'development', ...env } })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, run: Run): Promise<T> {
  const until = Date.now() + 15_000
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (run.child.exitCode !== null || Date.now() > until) throw new Error(`no ${what}; stdout: ${run.stdout()} stderr: ${run.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '')
}

describe('start-up failures (real child processes)', () => {
  it('a store it cannot open: one line naming the path and the fix, and the app keeps serving and recording', async () => {
    const cwd = mkdtempSync(path.join(tmp, 'app-'))
    // the example keeps its store in ./.faultline/: a file stands there instead of a folder
    writeFileSync(path.join(cwd, '.faultline'), 'not a folder')
    const run = start(EXPRESS_EXAMPLE, cwd, { PORT: '0' })
    const port = await waitFor('port', () => run.stdout().match(/listening on http:\/\/localhost:(\d+)/)?.[1], run)
    const home = await fetch(`http://127.0.0.1:${port}/`)
    expect(home.status).toBe(200)
    expect(await home.text()).toContain('example-shop')
    expect((await fetch(`http://127.0.0.1:${port}/users/42`)).status).toBe(500)
    // kept in memory: the panel still shows it
    const listed = await waitFor('issue in the panel', async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/errors/api/issues?q=User`)).json() as { issues: Array<{ title: string }> }
      return body.issues.length > 0 ? body.issues.map((i) => i.title) : undefined
    }, run)
    expect(listed).toEqual(['Error: User 42 not found'])
    const store = path.join(cwd, '.faultline', 'errors.json')
    expect(lines(run.stderr())).toEqual([
      `faultline: cannot open the file store at ${store} (${path.join(cwd, '.faultline')} is a file, not a folder). ` +
        "Give it a folder the app may write to, e.g. createTracker({ store: '/var/lib/myapp/errors.json' }), or use another store. " +
        'Meanwhile, errors are kept in memory and lost when the app stops.',
    ])
    expect(run.stdout()).toContain('the store:  in memory only (see the line on stderr)')
  }, 30_000)

  it.each([
    ['Express', EXPRESS_EXAMPLE, (port: number) => `example-shop: port ${port} is in use; set another port, e.g. PORT=${port + 1} npm start`],
    ['Koa', KOA_EXAMPLE, (port: number) => `example-koa: port ${port} is in use; set another port, e.g. PORT=${port + 1} node examples/koa-app/server.js`],
  ])('the %s example on a port already taken: one line with the fix, and exit code 1', async (_name, script, message) => {
    const busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, resolve))
    const port = (busy.address() as net.AddressInfo).port
    try {
      const run = start(script, mkdtempSync(path.join(tmp, 'app-')), { PORT: String(port) })
      expect(await run.exited).toBe(1)
      expect(lines(run.stderr())).toEqual([message(port)])
    } finally {
      busy.close()
    }
  }, 30_000)
})

import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))

/**
 * The package as an app installs it (its built files, views and package.json), beside the
 * dependencies it names, but for lowdb: a package the file store alone needs.
 */
function installWithoutLowdb(): string {
  const app = mkdtempSync(path.join(os.tmpdir(), 'faultline-no-lowdb-'))
  const installed = path.join(app, 'node_modules', 'faultline')
  mkdirSync(installed, { recursive: true })
  for (const part of ['dist', 'views', 'package.json']) cpSync(path.join(repo, part), path.join(installed, part), { recursive: true })
  const { dependencies } = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  for (const dependency of Object.keys(dependencies).filter((name) => name !== 'lowdb')) {
    const target = path.join(app, 'node_modules', dependency)
    mkdirSync(path.dirname(target), { recursive: true })
    symlinkSync(path.join(repo, 'node_modules', dependency), target)
  }
  return app
}

function run(app: string, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  writeFileSync(path.join(app, 'app.mjs'), script)
  return new Promise((resolve) => {
    execFile(process.execPath, ['app.mjs'], { cwd: app, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr })
    })
  })
}

describe('an app on another store', () => {
  it('never loads lowdb, which only the file store needs', async () => {
    const app = installWithoutLowdb()
    try {
      const onMemory = await run(app, `
        import { createTracker } from 'faultline'
        import { memoryStore } from 'faultline/adapters/memory'
        const tracker = createTracker({ store: memoryStore(), panel: false })
        tracker.captureException(new Error('stored without lowdb'))
        await tracker.flush()
        console.log((await tracker.store.listIssues()).issues.map((issue) => issue.title).join())
        await tracker.close()
      `)
      expect(onMemory).toMatchObject({ code: 0, stdout: 'Error: stored without lowdb\n' })
      // the file store does need it, and says which package is missing
      const onFile = await run(app, `
        import { createTracker } from 'faultline'
        const tracker = createTracker({ store: 'errors.json', panel: false, onInternalError: (err) => console.log(err.message) })
        tracker.captureException(new Error('needs lowdb'))
        await tracker.flush(2000)
        await tracker.close(500)
      `)
      expect(onFile.stdout).toContain("Cannot find package 'lowdb'")
    } finally {
      rmSync(app, { recursive: true, force: true })
    }
  })
})

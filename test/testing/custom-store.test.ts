/**
 * faultline/testing used as an app would use it: a package in a temporary folder outside the repo,
 * with faultline linked into its node_modules, runs the conformance suite on stores of its own
 * (test/fixtures/custom-store) with `node --test`, and with vitest. Uses dist/, as `npm test` builds it.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueId, storeConformance } from '../../testing/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../fixtures/custom-store', import.meta.url))

/** The titles of the suite's tests, gathered by a runner that only lists them. */
function suiteTitles(): string[] {
  const titles: string[] = []
  storeConformance('listing', () => { throw new Error('not run') }, { describe: (_name, fn) => fn(), it: (title) => { titles.push(title) } })
  return titles
}
const TITLES = suiteTitles()

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'custom-store-'))
  cpSync(FIXTURE, dir, { recursive: true })
  mkdirSync(path.join(dir, 'node_modules'))
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'faultline'), 'dir')
  symlinkSync(path.join(ROOT, 'node_modules', 'vitest'), path.join(dir, 'node_modules', 'vitest'), 'dir')
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** The environment of this test, without what marks it as running inside vitest. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')))
}

interface NodeTestRun {
  status: number | null
  output: string
  summary: { tests: number; pass: number; fail: number }
  /** the titles of the failed tests (not of the groups around them) */
  failed: string[]
  /** what node:test says about one failed test */
  failure(title: string): string
}

function nodeTest(file: string): NodeTestRun {
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: plainEnv() })
  const output = result.stdout + result.stderr
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output)?.[1])
  const failed = [...output.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).filter((title) => TITLES.includes(title))
  return {
    status: result.status,
    output,
    summary: { tests: count('tests'), pass: count('pass'), fail: count('fail') },
    failed,
    failure(title) {
      const start = output.indexOf(`not ok`, output.indexOf(`# Subtest: ${title}\n`))
      // its report ends with a line of three dots
      const length = output.slice(start).search(/^\s*\.\.\.$/m)
      return start < 0 || length < 0 ? '' : output.slice(start, start + length)
    },
  }
}

describe('faultline/testing in a package outside the repo', () => {
  it('passes a correct store under node:test, every test of the suite run', () => {
    const run = nodeTest('correct.test.js')
    expect(run.failed).toEqual([])
    expect(run.summary).toEqual({ tests: TITLES.length, pass: TITLES.length, fail: 0 })
    expect(run.status, run.output).toBe(0)
  })

  it('passes a correct store under vitest', () => {
    const vitest = path.join(dir, 'node_modules', 'vitest', 'vitest.mjs')
    const result = spawnSync(process.execPath, [vitest, 'run', '--reporter=json', 'correct.vitest.test.js'], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: plainEnv() })
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')))
    expect({ total: report.numTotalTests, passed: report.numPassedTests, failed: report.numFailedTests }).toEqual({ total: TITLES.length, passed: TITLES.length, failed: 0 })
  })

  it('fails a store that counts a folded record as one error, in the tests about `times`, showing the counts', () => {
    const run = nodeTest('forgets-times.test.js')
    expect(run.status).toBe(1)
    expect(run.failed).toEqual([
      'counts a folded shed record (times) as that many errors, and reopens a resolved issue once',
      'refuses times that is not a whole number of at least 1, or above 1 on a kept event',
      'counts shed and folded records for their user, and keeps users across a regression and pruning',
    ])
    expect(run.summary).toEqual({ tests: TITLES.length, pass: TITLES.length - 3, fail: 3 })
    // the store said 2 errors where 41 were recorded
    const folded = run.failure('counts a folded shed record (times) as that many errors, and reopens a resolved issue once')
    expect(folded).toMatch(/count: 41\b/)
    expect(folded).toMatch(/count: 2\b/)
    expect(run.failure('refuses times that is not a whole number of at least 1, or above 1 on a kept event')).toContain('Missing expected rejection (TypeError)')
  })

  it('fails a store whose listIssues ignores status, saying which issues it listed', () => {
    const run = nodeTest('ignores-status.test.js')
    expect(run.status).toBe(1)
    expect(run.failed).toContain('lists unresolved issues by default, most recently seen first')
    expect(run.failed).toContain('filters by status, or lists every status with all')
    expect(run.summary.fail).toBe(run.failed.length)
    // asked for the resolved issue 'a', it listed 'b' and 'c' too
    const byStatus = run.failure('filters by status, or lists every status with all')
    expect(byStatus).toContain('Expected values to be strictly deep-equal')
    for (const name of ['a', 'b', 'c']) expect(byStatus).toContain(issueId(name))
  })
})

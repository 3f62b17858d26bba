import { defineConfig } from 'vitest/config'

// The suite in groups, so that a change can be checked in seconds (`npm run test:unit`) and a slow
// part run alone (`npm run test:processes`, and so on). `npm test` runs every group.
//
// A test file belongs to the group of the slowest thing it uses; a file listed in no group below is
// a unit test. A new file that starts processes, a browser or PostgreSQL, or that takes seconds,
// goes in its group's list.
const slow = {
  // child processes: crashes, many writers on one file store, cluster workers, mount
  processes: [
    'test/adapters/file-disk.test.ts',
    'test/adapters/file-processes.test.ts',
    'test/app-root.test.ts',
    'test/cluster.test.ts',
    'test/process-hooks.test.ts',
    // 3 of its 22 tests run node in a child (source maps, ES module stacks)
    'test/stacktrace.test.ts',
    'test/startup-failure.test.ts',
    'test/without-lowdb.test.ts',
    // runs the conformance suite in a store package outside the repo, under node --test and vitest
    'test/testing/custom-store.test.ts',
    // one of its two tests imports the built package in a child
    'test/alerts/console-transport.test.ts',
    // builds bundles with esbuild (its binary, in a child)
    'test/source-maps/browser.test.ts',
    // one of its tests builds a bundle with esbuild, to map the frames sent through its map
    'test/browser/ingest.test.ts',
    // compiles an app with tsc and runs it with node
    'test/source-maps/server.test.ts',
  ],
  // Chromium through playwright-core
  browser: ['test/alerts/email-render.test.ts', 'test/panel/browser.test.ts', 'test/panel/accessibility.test.ts', 'test/panel/live.test.ts', 'test/panel/layout.test.ts', 'test/panel/stack-browser.test.ts', 'test/browser/client.test.ts', 'test/browser/end-to-end.test.ts'],
  // a PostgreSQL server
  postgres: ['test/adapters/postgres*.test.ts', 'test/multi-instance.test.ts', 'test/postgres-outage.test.ts'],
  // thousands of issues, errors or requests per test
  scale: [
    'test/adapters/file.test.ts',
    'test/alerts/email.test.ts',
    'test/alerts/tracker-alerts.test.ts',
    'test/integrations/differential.test.ts',
    // 10,000 requests to the browser ingest
    'test/browser/ingest-flood.test.ts',
  ],
}
const STORM = 'test/storm.test.ts'

// the groups run together, on 2 workers (the machine has 2 cores; child-process and browser tests
// need room to breathe): vitest requires one worker count for projects of one group order
const group = (name: string, include: string[], exclude?: string[]) => ({
  extends: true as const,
  test: { name, include, ...(exclude && { exclude }), maxWorkers: 2, sequence: { groupOrder: 0 } },
})

export default defineConfig({
  test: {
    // the browser client is built from client/faultline.js before any test serves it
    globalSetup: ['test/helpers/build-client.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      group('unit', ['test/**/*.test.ts'], [...Object.values(slow).flat(), STORM]),
      ...Object.entries(slow).map(([name, files]) => group(name, files)),
      {
        extends: true,
        test: {
          // a real server under a real load, its memory compared with the bare app's: alone on the machine, after the rest
          name: 'alone',
          include: [STORM],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})

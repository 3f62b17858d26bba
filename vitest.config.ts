import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the machine has 2 cores; child-process and browser tests need room to breathe
    maxWorkers: 2,
    pool: 'forks',
  },
})

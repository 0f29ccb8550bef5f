import { defineConfig } from 'vitest/config'

// The Chromium suite (test/browser/, issue 16): `npm run test:browser`. vitest.config.ts excludes it
// so that `npx vitest run` does not run it a second time.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})

import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the Chromium suite has its own config (vitest.browser.config.ts, `npm run test:browser`)
    exclude: [...configDefaults.exclude, 'test/browser/**'],
    testTimeout: 20_000,
  },
})

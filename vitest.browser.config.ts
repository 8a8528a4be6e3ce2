import { defineConfig } from 'vitest/config';

/** The console in real Chromium (playwright-core + /usr/bin/chromium): `npm run test:browser`. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One Chromium at a time: the screenshot must not compete for the CPU with another browser.
    fileParallelism: false,
  },
});

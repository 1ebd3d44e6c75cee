import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  // Code under test that imports unetc by package name (generated/) gets the sources, as tsconfig's
  // paths say, not dist/ through package.json's exports (which would load a second runtime).
  resolve: {
    alias: [
      { find: /^unetc$/, replacement: src('index.ts') },
      { find: /^unetc\/runtime$/, replacement: src('runtime/index.ts') },
      { find: /^unetc\/prettier$/, replacement: src('prettier/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
  },
});

// Lint for the compiler's own sources (not for generated/ or emitted code, which tsc --strict and
// the generated-freshness test hold). Formatting is prettier's job (.prettierrc.json), so
// eslint-config-prettier turns off every stylistic rule that would fight it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'generated/', 'native/build/', 'editors/**/out/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
    rules: {
      // `_`-prefixed names are deliberately unused (callbacks' positional parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Some long lines are tables; the formatter, not the linter, owns line length.
      'max-len': 'off',
    },
  },
  prettier,
);

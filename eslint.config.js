// Lint: typescript-eslint's recommended rules with type information for the checks that need it.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'plugins/*/dist/**', 'node_modules/**', 'test/fixtures/**', 'web/**', 'coverage/**', 'test-artifacts/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    // test/tsconfig.json covers src, tests and examples; the plugin has its own (its `pf/destination` path).
    languageOptions: {
      parserOptions: {project: ['./test/tsconfig.json', './plugins/pf-trace-otlp/tsconfig.json'], tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', {fixStyle: 'inline-type-imports'}],
      // `any` only with a comment saying why (eslint-disable-next-line … -- reason).
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true}],
    },
  },
  {
    // Tests read the CLI's JSON output and fake servers' bodies, which have no static type.
    files: ['test/**/*.ts', 'plugins/*/test/**/*.ts'],
    rules: {'@typescript-eslint/no-explicit-any': 'off'},
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
      },
    },
    rules: {'@typescript-eslint/no-require-imports': 'off', 'no-unused-vars': ['error', {argsIgnorePattern: '^_'}]},
  },
)

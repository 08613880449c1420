import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const devStack = {
  group: ['**/dev/*', './dev/*', '../dev/*'],
  message: 'Product code must not import the development stack (src/dev).',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'dist',
      '.stack',
      '.stack-conformance',
      'coverage',
      'test-artifacts',
      'bin/*.js',
      'jest.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // What the product image ships never reaches into the development stack (local stack,
    // Tekton simulator, in-memory fakes, simulation): imports run downhill.
    files: ['src/**/*.ts'],
    ignores: ['src/dev/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [devStack] }],
    },
  },
  {
    // What the worker and the intake print goes through the JSON logger (src/log.ts); the CLI,
    // the development stack and the docs generators talk to a person on a terminal.
    files: ['src/**/*.ts'],
    ignores: ['src/dev/**', 'src/cli/**', 'src/docs/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // The domain core is pure: it imports only itself (and zod), never a port, adapter or SDK.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            devStack,
            { group: ['../*', '!../domain/*'], message: 'The domain core imports nothing above it.' },
            {
              group: ['@temporalio/*', '@kubernetes/*', 'node:*', 'yaml'],
              message: 'The domain core is pure: no SDKs, no I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed: no Node built-ins, no wall clock, no ambient randomness.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            devStack,
            { group: ['node:*'], message: 'Workflow code must not use Node built-ins.' },
            {
              group: [
                'fs',
                'path',
                'os',
                'crypto',
                'child_process',
                'http',
                'https',
                'net',
                'events',
                'util',
              ],
              message: 'Workflow code must not use Node built-ins.',
            },
            {
              group: ['@kubernetes/*', '../activities/*', '../k8s/*'],
              message: 'Workflows import activities as types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Use the workflow-safe random from @temporalio/workflow.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message:
            'Use workflow time (Date.now is replay-safe only inside the sandbox; pass time explicitly).',
        },
      ],
    },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Pure folders: the store (and, later, raft) must be deterministic — no clock,
// no randomness, no I/O. Time and randomness are injected as data.
const pureRestrictions = {
  'no-restricted-globals': [
    'error',
    { name: 'Date', message: 'pure code reads no clock: pass nowMs in' },
    { name: 'setTimeout', message: 'pure code has no timers: the driver ticks it' },
    { name: 'setInterval', message: 'pure code has no timers: the driver ticks it' },
    { name: 'setImmediate', message: 'pure code has no timers' },
    { name: 'process', message: 'pure code does no I/O' },
    { name: 'Promise', message: 'pure code is synchronous' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'use the injected seeded Rng' },
    { object: 'performance', property: 'now', message: 'pure code reads no clock' },
  ],
  'no-restricted-imports': [
    'error',
    { patterns: [{ group: ['node:*', 'fs', 'net', 'http', 'os', 'crypto'], message: 'pure code does no I/O' }] },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['core-server/store/**/*.ts', 'core-server/raft/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: pureRestrictions,
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);

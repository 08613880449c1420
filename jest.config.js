// Jest on Node 20 cannot load @kubernetes/client-node 1.x (ESM-only) by itself: these four
// packages are transformed to CommonJS with everything else we own.
const esmOnly = ['@kubernetes/client-node', 'openid-client', 'jose', 'oauth4webapi'];
const transform = {
  '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
const transformIgnorePatterns = [`node_modules/(?!(${esmOnly.join('|')})/)`];

// Lazy `import('./x.js')` of our TypeScript (the extension nodenext asks for) resolves to x.ts.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };

const base = { testEnvironment: 'node', transform, transformIgnorePatterns, moduleNameMapper };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      // The CLI tests run bin/remediate.js, i.e. the prebuilt dist/ (rebuilt here if a source is newer).
      globalSetup: '<rootDir>/test/support/build-if-stale.ts',
    },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/long-timeout.ts'],
    },
    // Each file starts its own stack so it can kill and restart servers (scenarios S19–S21, S24 of docs/behaviour.md).
    {
      ...base,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      // Faults of the production topology's own processes (history, matching, PostgreSQL).
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/production/'],
      setupFilesAfterEnv: [
        '<rootDir>/test/support/long-timeout.ts',
        '<rootDir>/test/faults/support/setup.ts',
      ],
    },
    // The same suite, plus test/faults/production, on the real Temporal server's services on
    // PostgreSQL over mTLS (`npm run test:faults:production`; tools from provision.sh --profile temporal-server).
    {
      ...base,
      displayName: 'faults-production',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/faults/support/production-topology.ts'],
      setupFilesAfterEnv: [
        '<rootDir>/test/support/long-timeout.ts',
        '<rootDir>/test/faults/support/setup.ts',
      ],
    },
    // The conformance stack (real kube-apiserver, Tekton, kwok, Alertmanager): `npm run test:conformance`.
    {
      ...base,
      displayName: 'conformance',
      testMatch: ['<rootDir>/test/conformance/**/*.test.ts'],
      globalSetup: '<rootDir>/test/conformance/global-setup.ts',
      globalTeardown: '<rootDir>/test/conformance/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/long-timeout.ts'],
    },
  ],
};

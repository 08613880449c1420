#!/usr/bin/env node
'use strict';
// The package bin. Runs the compiled CLI after `npm run build`, else the TypeScript source
// through tsx, so that `npx remediate` works in a fresh checkout without a build step.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (existsSync(compiled)) {
  require(compiled);
} else {
  require('tsx/cjs');
  require(join(__dirname, '..', 'src', 'cli', 'main.ts'));
}

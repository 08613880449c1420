#!/usr/bin/env node
'use strict';
// The package bin: runs the prebuilt CLI bundle (scripts/build.mjs, run by `npm ci` through npm's
// `prepare`). It never compiles TypeScript: start-up time is what operators polling it pay.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// Node 22.1+: V8 keeps compiled code of the entry between runs (the commands bundle has its own cache).
require('node:module').enableCompileCache?.();

const bundle = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!existsSync(bundle)) {
  process.stderr.write(`remediate: ${bundle} is missing: run \`npm run build\` (npm ci runs it)\n`);
  process.exit(1);
}
require(bundle);

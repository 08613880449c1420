/**
 * Tests that run bin/remediate.js run the prebuilt bundle in dist/, as users do. `npm ci` built it;
 * this rebuilds it when a source is newer (after an edit), and is a no-op otherwise.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function buildIfStale(): void {
  execFileSync(process.execPath, [join(__dirname, '../../scripts/build.mjs'), '--if-stale'], {
    stdio: 'inherit',
  });
}

/**
 * Bundles the workflow code (webpack, via the SDK) and writes it to the path given as the only
 * argument. Run as a child process by the worker, so webpack's memory never stays in the worker.
 */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleOptions } from './workflow-bundle';

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: bundle-workflows <output.js>');
  const { code } = await bundleWorkflowCode(workflowBundleOptions);
  writeFileSync(out, code);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

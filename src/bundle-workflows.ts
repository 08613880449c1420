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
  // The worker reads this from the failed child's stderr into its own (JSON) error.
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * How the workflow code is bundled: one definition for the worker, the tests and the replay guard,
 * so all three run the same bundle.
 */
import type { BundleOptions } from '@temporalio/worker';

export const workflowsPath = require.resolve('./workflows');

export const workflowBundleOptions: BundleOptions = {
  workflowsPath,
  // Loaded once per workflow thread and shared by all workflows in the reusable V8 context, instead
  // of evaluated again per cached workflow. Only stateless modules belong here: the SDK freezes them.
  preloadModules: [require.resolve('./workflows/zod-preload')],
};

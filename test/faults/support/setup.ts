import { DefaultLogger, Runtime } from '@temporalio/worker';

// In-process workers log every state change at INFO; the faults are expected, keep warnings only.
Runtime.install({ logger: new DefaultLogger('WARN') });

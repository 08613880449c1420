// The `faults-production` project: every fault stack runs the production Temporal topology.
process.env.REMEDIATION_FAULT_TOPOLOGY = 'production';

/** Help texts (INTERFACES.md "CLI"); each ends with a newline. */

const globals = `Global flags:
  --address HOST:PORT     Temporal frontend (env TEMPORAL_ADDRESS, else .stack/stack.json, else 127.0.0.1:7233)
  --namespace NS          Temporal namespace (env TEMPORAL_NAMESPACE, else .stack/stack.json, else default)
  --task-queue Q          task queue of the worker (env REMEDIATION_TASK_QUEUE, default remediation)
  --json                  machine-readable output; errors as {"error": {code, message, fields}} on stderr
  -h, --help              this help
`;

const exits = `Exit codes: 0 success, 1 the operation failed, 2 bad usage or invalid input.
`;

export const commandHelp: Readonly<Record<string, string>> = {
  start: `Usage: remediate start --fingerprint F --target ns/Kind/name --action A --pipeline P [flags]

Starts a remediation and prints its id (--json: {id, workflowId, started}). Starting again with the
same --id is a no-op: started is false and the existing remediation is reported.

  --fingerprint F         alert fingerprint (required)
  --target KEY            [cluster::]namespace/Kind/name or Kind/name, Kind as Kubernetes spells it (required)
  --action A              action id (required)
  --pipeline P            Tekton Pipeline to run (required)
  --param k=v             Pipeline param, repeatable
  --id ID                 idempotency key (default: a random UUID)
  --deadline D            run by then: a duration (30m) or an ISO-8601 date-time (default 1h)
  --severity S            critical, warning (default) or info
  --signal-name N         alert name (default: the fingerprint)
  --label k=v             alert label, repeatable
  --service-account SA    PipelineRun service account
  --timeout D             PipelineRun timeout, e.g. 10m
  --wait                  follow progress until the end; exit 0 if Completed, 1 if Failed/Skipped/Cancelled

${globals}
${exits}`,
  status: `Usage: remediate status ID

Shows a remediation's phase, block reason, attempts, PipelineRuns, failure and timeline
(--json: the status object).

${globals}
${exits}`,
  list: `Usage: remediate list [--phase P] [--target KEY] [--fingerprint F] [--limit N]

Lists remediations, newest first.

  --phase P               Pending, Routing, Blocked, Executing, Completed, Failed, Skipped or Cancelled
  --target KEY            only this target (ns/Kind/name)
  --fingerprint F         only this alert fingerprint
  --limit N               at most N (default 50)

${globals}
${exits}`,
  target: `Usage: remediate target ns/Kind/name

Shows the persisted target state: lock, failures, backoff, manual review, last success/failure.

  --kubeconfig PATH       cluster holding the ledger (env KUBECONFIG, else .stack/stack.json, else default)
  --control-namespace NS  namespace of the ledger (default: .stack/stack.json, else remediation-system)

${globals}
${exits}`,
  clear: `Usage: remediate clear ns/Kind/name --reason "…" [--by NAME]

Clears PreviousExecutionFailed / ExhaustedRetries on a target and wakes the remediations waiting on it.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who (default: $USER)

${globals}
${exits}`,
  override: `Usage: remediate override ID --reason "…" [--by NAME]

Lets one blocked remediation skip its temporary block once. Refused (exit 1) for manual, lock and
terminal blocks, and when the remediation is not blocked.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who (default: $USER)

${globals}
${exits}`,
  cancel: `Usage: remediate cancel ID [--reason "…"]

Requests cancellation of a remediation.

  --reason TEXT           why (echoed in the output)

${globals}
${exits}`,
};

export const mainHelp = `Usage: remediate <command> [flags]

Durable auto-remediation for Kubernetes on Temporal and Tekton.

Commands:
  start      start a remediation (optionally --wait for its outcome)
  status     show one remediation
  list       list remediations, newest first
  target     show a target's persisted state
  clear      clear a target's manual-review block
  override   let a remediation skip its temporary block once
  cancel     cancel a remediation

Run \`remediate <command> --help\` for a command's flags.

${globals}
${exits}`;

/** Help texts; each ends with a newline. */

const globals = `Global flags:
  --address HOST:PORT     Temporal frontend (env TEMPORAL_ADDRESS, else the profile, else .stack/stack.json,
                          else 127.0.0.1:7233)
  --namespace NS          Temporal namespace (env TEMPORAL_NAMESPACE, else the profile, else .stack/stack.json,
                          else default)
  --profile NAME          profile of the Temporal config file, as the temporal CLI's (env TEMPORAL_PROFILE,
                          default "default"); TLS, API key (TEMPORAL_API_KEY) and mTLS come from it or from
                          the TEMPORAL_TLS_* variables
  --config-file PATH      Temporal TOML config file (env TEMPORAL_CONFIG_FILE, default
                          ~/.config/temporalio/temporal.toml)
  --task-queue Q          task queue of the worker (env REMEDIATION_TASK_QUEUE, default remediation)
  --json                  machine-readable output; errors as {"error": {code, message, fields}} on stderr
  -h, --help              this help
  --version               print the version (and the git commit it was built from) and exit
`;

const exits = `Exit codes: 0 success, 1 the operation failed, 2 bad usage, invalid input or unusable
connection settings (unreadable certificate, unknown profile or context).
`;

export const commandHelp: Readonly<Record<string, string>> = {
  start: `Usage: remediate start --fingerprint F --target ns/Kind/name --action A [--pipeline P] [flags]

Starts a remediation and prints its id (--json: {id, workflowId, started}). Starting again with the
same --id is a no-op: started is false and the existing remediation is reported. The worker first
checks the action against its catalog (see \`remediate actions\`): a refusal exits 2 naming the field
and starts nothing.

  --fingerprint F         alert fingerprint (required)
  --target KEY            [cluster::]namespace/Kind/name or Kind/name, Kind as Kubernetes spells it (required)
  --action A              action id: a RemediationAction in the catalog (required)
  --pipeline P            Tekton Pipeline; optional for a catalogued action (must equal the catalog's),
                          required for an uncatalogued one (only when the policy allows those)
  --param k=v             Pipeline param, repeatable; a catalogued action accepts only its own params
                          and fills the target's params itself
  --by NAME               who asks (default: the OS user); recorded for approvals
  --id ID                 idempotency key (default: a random UUID)
  --deadline D            start the PipelineRun by then: a duration > 0 (30m) or a future ISO-8601
                          date-time, at most 720h (30 days) ahead (default 1h; the worker's policy
                          maxDeadline, default 24h, may refuse less)
  --severity S            critical, warning (default) or info
  --signal-name N         alert name (default: the fingerprint)
  --label k=v             alert label, repeatable
  --service-account SA    PipelineRun service account (uncatalogued actions only; the catalog's is used)
  --timeout D             PipelineRun timeout, 1s to 24h, e.g. 10m (default: the worker's, 30m)
  --wait                  follow progress until the end; exit 0 if Completed, 1 if Failed/Skipped/Cancelled,
                          and 1 if the workflow closes without a final phase (terminated, timed out …):
                          prints what Temporal says. With --json, JSON lines: {id, workflowId, started},
                          then one status object per phase change, the last one final (or
                          {id, closed, temporalStatus, reason, lastStatus})

${globals}
${exits}`,
  actions: `Usage: remediate actions

Lists the action catalog (RemediationAction objects in the control namespace) as the worker sees
it: each action's Pipeline, ServiceAccount, mode, targets, the params it fills from the target and
the params callers may set. Invalid objects are listed with what is wrong (they are refused).
--json: {namespace, allowUncataloguedActions, entries: [{id, resourceVersion, spec, problems}]}.

${globals}
${exits}`,
  status: `Usage: remediate status ID [--wait]

Shows a remediation's phase, block reason, attempts, PipelineRuns, failure and timeline
(--json: the status object).

  --wait                  follow it until it ends: one line per phase change, then the outcome; exit 0 if
                          Completed, else 1. With --json, JSON lines: one status object per phase change,
                          the last one final (or {id, closed, temporalStatus, reason, lastStatus})

${globals}
${exits}`,
  list: `Usage: remediate list [--phase P] [--reason R] [--target KEY] [--fingerprint F] [--limit N] [-o wide]

Lists remediations, newest first: ID, PHASE, BLOCK, TARGET, ACTION and AGE (since it started, as
kubectl prints ages); -o wide adds FINGERPRINT, STARTED and CLOSED.

  --phase P               Pending, Routing, Blocked, Executing, Completed, Failed, Skipped or Cancelled
  --reason R              block reason while blocked (e.g. AwaitingApproval), end reason once ended
                          (e.g. DryRun, Rejected, ActionNotAllowed)
  --target KEY            only this target (ns/Kind/name)
  --fingerprint F         only this alert fingerprint
  --limit N               at most N (default 50)
  -o, --output FORMAT     wide (more columns) or json (the same as --json)

${globals}
${exits}`,
  target: `Usage: remediate target ns/Kind/name

Shows the persisted target state: lock, failures, backoff, manual review, last success/failure.

  --kubeconfig PATH       cluster holding the ledger (env KUBECONFIG, else .stack/stack.json, else
                          ~/.kube/config); a list a:b merges as in kubectl
  --context NAME          kubeconfig context (env KUBE_CONTEXT, default its current-context)
  --control-namespace NS  namespace of the ledger (default: .stack/stack.json, else remediation-system)

${globals}
${exits}`,
  clear: `Usage: remediate clear ns/Kind/name --reason "…" [--by NAME]

Clears PreviousExecutionFailed / ExhaustedRetries on a target and wakes the remediations waiting on it.
A target with no ledger record (never remediated, or a typo: keys are case-sensitive) is refused
with exit 1 and nothing is written. The CLI checks the ledger first (--kubeconfig,
--control-namespace as for \`target\`); if it cannot read it, the worker's check still refuses.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who, recorded in the audit (default: the OS user name, else $USER; not empty)
  --kubeconfig PATH       cluster holding the ledger (env KUBECONFIG, else .stack/stack.json, else
                          ~/.kube/config); a list a:b merges as in kubectl
  --context NAME          kubeconfig context (env KUBE_CONTEXT, default its current-context)
  --control-namespace NS  namespace of the ledger (default: .stack/stack.json, else remediation-system)

${globals}
${exits}`,
  override: `Usage: remediate override ID --reason "…" [--by NAME]

Lets one blocked remediation skip its temporary block once. Refused (exit 1) for manual, lock and
terminal blocks, and when the remediation is not blocked.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who, recorded in the audit (default: the OS user name, else $USER; not empty)

${globals}
${exits}`,
  resolve: `Usage: remediate resolve ID [--reason "…"]

Tells a remediation that its signal resolved (what the intake does for Alertmanager's resolved
notifications). Verifying → Completed with verification Effective; one that has not run yet (waiting,
awaiting approval) → Skipped AlreadyResolved, unless its action says runWhenResolved.

  --reason TEXT           what resolved it (shown in the status timeline)

${globals}
${exits}`,
  approve: `Usage: remediate approve ID --reason "…" [--by NAME]

Approves a remediation that is Blocked with AwaitingApproval: it routes again from the top and runs
once every check passes; the approval covers its retries. Refused (exit 1) when it awaits no
approval, and when NAME requested it and the action forbids self-approval. Audited on the target.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who, recorded in the audit (default: the OS user name, else $USER; not empty)

${globals}
${exits}`,
  reject: `Usage: remediate reject ID --reason "…" [--by NAME]

Rejects a remediation awaiting approval: it ends Skipped with reason Rejected. Audited on the target.

  --reason TEXT           why (required, recorded in the audit)
  --by NAME               who, recorded in the audit (default: the OS user name, else $USER; not empty)

${globals}
${exits}`,
  completion: `Usage: remediate completion bash|zsh

Prints a shell completion script (commands, flags, and the values of --phase, --reason, --severity, -o).

  source <(remediate completion bash)     # bash; or save it as /etc/bash_completion.d/remediate
  source <(remediate completion zsh)      # zsh, after compinit; or save it as _remediate on $fpath
`,
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
  clear      clear a target's manual-review / ExhaustedRetries block
  override   let a remediation skip its temporary block once
  resolve    tell a remediation its signal resolved (verification, AlreadyResolved)
  approve    approve a remediation awaiting approval
  reject     reject a remediation awaiting approval (it ends Skipped, Rejected)
  cancel     cancel a remediation
  actions    list the action catalog (what may run, with which params)
  completion print a bash or zsh completion script

Run \`remediate <command> --help\` for a command's flags.

${globals}
${exits}`;

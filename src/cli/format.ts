/** Human-readable views for the CLI's text mode (`--json` prints the objects as they are). */
import type { RemediationClosedError, RemediationSummary, TargetView } from '../client';
import { formatDuration } from '../domain/duration';
import type { ActionCatalogView, ClearTargetResult, RemediationStatus } from '../temporal-contract';

const TIMELINE_TAIL = 8;
const AUDIT_TAIL = 5;

/** Local wall-clock time `HH:MM:SS` of an instant. */
export function clock(at: Date | string): string {
  const d = typeof at === 'string' ? new Date(at) : at;
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `in 1m50s` / `3m ago`, to the second. */
export function relative(at: string, now: Date): string {
  const ms = Math.round((Date.parse(at) - now.getTime()) / 1000) * 1000;
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

/** One `--wait` progress line: `12:04:10 Blocked ExponentialBackoff until 12:05:10 — …`. */
export function progressLine(status: RemediationStatus, now: Date): string {
  const why = status.reason ?? status.blockReason;
  return [
    clock(now),
    status.phase,
    why,
    status.blockedUntil ? `until ${clock(status.blockedUntil)}` : null,
    status.phase === 'Executing' && status.attempts > 0 ? `(attempt ${status.attempts})` : null,
    status.message ? `— ${status.message}` : null,
  ]
    .filter(Boolean)
    .join(' ');
}

/** The last word of `start --wait`: how the remediation ended. */
export function outcome(status: RemediationStatus): string {
  const lines = [`${status.id} ${status.phase}${status.reason ? `: ${status.reason}` : ''}`];
  if (status.duplicateOf) lines.push(`duplicate of ${status.duplicateOf}`);
  if (status.failure) lines.push(`failure: ${failureText(status.failure)}`);
  if (status.pipelineRuns.length) lines.push(`PipelineRuns: ${status.pipelineRuns.join(', ')}`);
  return lines.join('\n');
}

export function statusView(s: RemediationStatus, now: Date): string {
  const rows: [string, string | null][] = [
    ['Remediation', s.id],
    ['Phase', s.phase + (s.reason ? ` (${s.reason})` : '')],
    ['Blocked by', s.blockReason ? s.blockReason + (s.blockKind ? ` (${s.blockKind})` : '') : null],
    ['Blocked until', s.blockedUntil ? `${s.blockedUntil} (${relative(s.blockedUntil, now)})` : null],
    [
      'Budget',
      s.budget
        ? `${s.budget.budget} (${s.budget.scope} ${s.budget.key}): ${s.budget.used}/${s.budget.limit} ${s.budget.limitedBy === 'maxPerWindow' ? 'starts in the window' : s.budget.limitedBy === 'queue' ? 'in use, earlier waiters first' : 'slots in use'}`
        : null,
    ],
    ['Message', s.message || null],
    ['Target', s.target],
    ['Action', s.action],
    ['Fingerprint', s.fingerprint],
    ['Deadline', s.deadline ? `${s.deadline} (${relative(s.deadline, now)})` : null],
    ['Attempts', String(s.attempts)],
    ['PipelineRuns', s.pipelineRuns.length ? s.pipelineRuns.join(', ') : null],
    ['Failure', s.failure ? failureText(s.failure) : null],
    ['Duplicate of', s.duplicateOf],
    ['Duplicates', s.duplicates ? String(s.duplicates) : null],
    ['Override', s.override ? `by ${s.override.by} at ${s.override.at}: ${s.override.reason}` : null],
  ];
  const lines = table(rows);
  const tail = s.timeline.slice(-TIMELINE_TAIL);
  if (tail.length) {
    lines.push(`Timeline (last ${tail.length} of ${s.timeline.length}):`);
    for (const e of tail)
      lines.push(`  ${e.at}  ${e.phase.padEnd(9)} ${e.event}${e.message ? ` — ${e.message}` : ''}`);
  }
  return lines.join('\n');
}

/**
 * How long ago, as kubectl prints an AGE (its HumanDuration): `45s`, `4m10s`, `25m`, `5h30m`,
 * `20h`, `3d4h`, `120d`, `3y40d`, `9y`. Coarser as it grows: the column stays narrow.
 */
export function age(since: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(seconds / 3600);
  const days = Math.floor(hours / 24);
  const years = Math.floor(days / 365);
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (hours < 3) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (years < 2) return `${days}d`;
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** `list`: kubectl-style columns, AGE last; `wide` adds the fingerprint and exact times. */
export function listView(
  items: readonly RemediationSummary[],
  now: Date,
  { wide = false }: { wide?: boolean } = {},
): string {
  if (items.length === 0) return 'no remediations';
  const header = ['ID', 'PHASE', 'BLOCK', 'TARGET', 'ACTION', 'AGE'];
  if (wide) header.push('FINGERPRINT', 'STARTED', 'CLOSED');
  const rows = items.map((r) => {
    const row = [
      r.id,
      r.phase ?? r.status,
      r.blockReason ?? '-',
      r.target ?? '-',
      r.action ?? '-',
      age(r.startTime, now),
    ];
    if (wide) row.push(r.fingerprint ?? '-', r.startTime, r.closeTime ?? '-');
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function targetViewText(t: TargetView, now: Date): string {
  const rows: [string, string | null][] = [
    ['Target', t.key],
    [
      'Lock',
      t.lock
        ? `held by ${t.lock.remediationId} (fencing token ${t.lock.fencingToken}) since ${t.lock.acquiredAt}`
        : 'free',
    ],
    ['Waiters', t.waiters.length ? t.waiters.join(', ') : null],
    ['Failures in a row', String(t.consecutiveFailures)],
    [
      'Next allowed',
      t.nextAllowedExecution ? `${t.nextAllowedExecution} (${relative(t.nextAllowedExecution, now)})` : null,
    ],
    [
      'Manual review',
      t.manualReview?.required
        ? `required since ${t.manualReview.since} (${t.manualReview.reason}, remediation ${t.manualReview.remediationId})`
        : 'not required',
    ],
    [
      'Last success',
      t.lastSuccess
        ? `${t.lastSuccess.actionId} at ${t.lastSuccess.at} (${t.lastSuccess.pipelineRun})`
        : null,
    ],
    ['Last failure', t.lastFailure ? `${failureText(t.lastFailure)} at ${t.lastFailure.at}` : null],
    ['Fencing token', String(t.fencingToken)],
  ];
  const lines = table(rows);
  const audit = t.audit.slice(-AUDIT_TAIL);
  const dropped = t.auditDropped ?? 0;
  if (audit.length || dropped) {
    const notes = [
      audit.length < t.audit.length ? `last ${audit.length} of ${t.audit.length} kept` : null,
      dropped ? `${dropped} older ${dropped === 1 ? 'entry' : 'entries'} dropped` : null,
    ].filter(Boolean);
    lines.push(notes.length ? `Audit (${notes.join('; ')}):` : 'Audit:');
    for (const a of audit) lines.push(`  ${a.at}  ${a.action} by ${a.by}: ${a.reason}`);
  }
  return lines.join('\n');
}

/** The last word of `start --wait` when the workflow closed without a final phase (terminated …). */
export function closedText(e: RemediationClosedError): string {
  const lines = [e.message];
  const last = e.lastStatus;
  if (last) {
    const why = last.reason ?? last.blockReason;
    lines.push(
      `last status: ${last.phase}${why ? ` ${why}` : ''}${last.message ? ` — ${last.message}` : ''}`,
    );
  }
  return lines.join('\n');
}

export function clearedText(r: ClearTargetResult): string {
  const was = r.cleared;
  const lines = [
    `cleared ${r.target} (was: manual review ${was.manualReviewRequired ? 'required' : 'not required'}, ` +
      `${was.consecutiveFailures} failure(s) in a row, next allowed ${was.nextAllowedExecution ?? 'now'})`,
  ];
  if (r.woken.length) lines.push(`woke ${r.woken.length} waiting remediation(s): ${r.woken.join(', ')}`);
  return lines.join('\n');
}

function failureText(f: {
  category: string;
  reason: string;
  message: string;
  wasExecutionFailure: boolean;
}): string {
  const when = f.wasExecutionFailure ? 'execution' : 'pre-execution';
  return `${f.category} (${f.reason}, ${when})${f.message ? `: ${f.message}` : ''}`;
}

/** Label/value rows, labels padded to one column; rows without a value are left out. */
function table(rows: readonly [string, string | null][]): string[] {
  const shown = rows.filter((r): r is [string, string] => r[1] !== null);
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}

/** `remediate actions`: one block per action, invalid ones with their problems. */
export function actionsView(view: ActionCatalogView): string {
  const lines = [
    `catalog: RemediationAction objects in ${view.namespace}; uncatalogued actions ${view.allowUncataloguedActions ? 'ALLOWED (policy allowUncataloguedActions: true)' : 'refused'}`,
  ];
  if (view.entries.length === 0) lines.push('no actions');
  for (const entry of view.entries) {
    lines.push('');
    if (!entry.spec) {
      lines.push(`${entry.id}  INVALID (refused)`);
      for (const p of entry.problems) lines.push(`  ${p.field}: ${p.message}`);
      continue;
    }
    const spec = entry.spec;
    const fromTarget = Object.entries(spec.targetParams).map(([k, v]) => `${k}=${v}`);
    const callerParams = spec.params.map((p) => {
      const rules = [
        p.pattern !== undefined ? `pattern ${p.pattern}` : null,
        p.enum ? `one of ${p.enum.join('|')}` : null,
        p.maxLength !== undefined ? `≤${p.maxLength} chars` : null,
        p.default !== undefined ? `default ${JSON.stringify(p.default)}` : null,
      ].filter(Boolean);
      return `${p.name}${rules.length ? ` (${rules.join(', ')})` : ''}`;
    });
    lines.push(entry.id);
    lines.push(
      ...table([
        ['pipeline', spec.pipeline],
        ['serviceAccount', spec.serviceAccountName ?? '(namespace default)'],
        ['mode', spec.mode],
        ['kinds', spec.targets.kinds?.join(', ') ?? 'any'],
        ['namespaces', spec.targets.namespaces?.join(', ') ?? 'any'],
        ['from target', fromTarget.join(', ') || '-'],
        ['params', callerParams.join('; ') || '-'],
        ['timeout', spec.timeout !== undefined ? formatDuration(spec.timeout) : '(policy default)'],
        [
          'approval',
          spec.approval.required
            ? `required${spec.approval.forbidSelfApproval ? ', not by the requester' : ''}`
            : 'no',
        ],
        ['verification', spec.verification ? `window ${formatDuration(spec.verification.window)}` : 'no'],
      ]).map((l) => `  ${l}`),
    );
  }
  return lines.join('\n');
}

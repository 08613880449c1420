/**
 * What a person sees in the Temporal Web UI (the dev server's, stackInfo().temporal.uiUrl), driven
 * in headless Debian Chromium by playwright-core: a blocked remediation is found by our search
 * attributes in the workflows list, and its page shows the static summary set by client.start(),
 * why it waits (current details, the timer's summary, BlockReason) — docs/behaviour.md#operator-controls — and, for a
 * remediation awaiting approval, who must act; a remediation that ended Failed is listed as a Failed workflow.
 * Screenshots land in test-artifacts/web-ui/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { RemediationRequestInput } from '../../src/domain/request';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = resolve(__dirname, '../../test-artifacts/web-ui');
const UI_TIMEOUT = 30_000;

/** Debian's Chromium; CI (root, fresh machine) installs it here. Test tools' own downloads fail on this network. */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  execFileSync('bash', [resolve(__dirname, '../../scripts/install-chromium.sh')], {
    stdio: 'inherit',
    timeout: 15 * 60_000,
  });
}

describe('Temporal Web UI', () => {
  const h = new RemediationHarness();
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let succeed: string;

  beforeAll(async () => {
    ensureChromium();
    mkdirSync(SHOTS, { recursive: true });
    await h.open();
    await h.startWorker();
    succeed = await h.definePipeline('succeed');
    profile = mkdtempSync(join(tmpdir(), 'web-ui-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      // Without the background-networking flags Chromium's own connections are refused here.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    browser.setDefaultTimeout(UI_TIMEOUT);
    page = await browser.newPage();
  }, 20 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await h.close();
  });

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** Runs a UI step; on failure keeps a screenshot of what the page showed. */
  async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      await shot(`${name}-FAILED`).catch(() => {});
      throw error;
    }
  }

  /** Waits until some frame of the page (markdown is rendered in iframes) shows `text`. */
  async function waitForFrameText(text: RegExp): Promise<void> {
    const until = Date.now() + UI_TIMEOUT;
    for (;;) {
      for (const frame of page.frames()) {
        const body = await frame
          .locator('body')
          .innerText({ timeout: 1_000 })
          .catch(() => '');
        if (text.test(body)) return;
      }
      if (Date.now() > until) throw new Error(`no frame shows ${text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The workflows list filtered by a visibility query, as in docs/operating.md. */
  function listUrl(query: string): string {
    const { uiUrl, namespace } = h.info.temporal;
    return `${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`;
  }

  /** Visibility is eventually consistent: wait until the server lists the remediation for `query`. */
  async function waitListed(id: string, query: string): Promise<void> {
    const until = Date.now() + 30_000;
    for (;;) {
      const found: string[] = [];
      for await (const w of h.client.client.workflow.list({ query })) found.push(w.workflowId);
      if (found.includes(`remediation-${id}`)) return;
      if (Date.now() > until)
        throw new Error(`remediation-${id} not listed for ${query}: ${found.join(', ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Finds the remediation in the filtered list, opens it, and checks the page explains the block. */
  async function inspect(
    prefix: string,
    id: string,
    query: string,
    target: string,
    expected: { summary: string; details: RegExp; timer: RegExp; blockReason: string },
  ): Promise<void> {
    const workflowId = `remediation-${id}`;
    await waitListed(id, query);

    await step(`${prefix}-1-list`, async () => {
      await page.goto(listUrl(query));
      const link = page.getByRole('link', { name: workflowId, exact: true });
      await link.waitFor();
      // The query became the list's filter chips, so only the matching remediation is listed.
      await page.getByText(`"${target}"`).first().waitFor();
      expect(await page.getByRole('link', { name: /^remediation-/ }).count()).toBe(1);
      await shot(`${prefix}-1-list`);
      await link.click();
      await page.waitForURL(new RegExp(`/workflows/${workflowId}/[^/]+/`));
    });

    await step(`${prefix}-2-timeline`, async () => {
      // The durable wait is a timer whose summary says what it waits for.
      await page.getByText(expected.timer).first().waitFor();
      // Routing is a local activity: the timeline names it by its type (a marker has no summary).
      await page.getByText('route', { exact: true }).first().waitFor();
      await shot(`${prefix}-2-timeline`);
    });

    await step(`${prefix}-3-user-metadata`, async () => {
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.getByText('Current Details').first().waitFor();
      // The UI renders summary, details and current details as markdown, each in its own iframe.
      await page
        .frameLocator('#user-metadata-summary')
        .getByText(expected.summary, { exact: true })
        .waitFor();
      await page.frameLocator('#user-metadata-details').getByText(`Target ${target}`).waitFor();
      await waitForFrameText(expected.details);
      await shot(`${prefix}-3-user-metadata`);
    });

    await step(`${prefix}-4-search-attributes`, async () => {
      await page.getByRole('tab', { name: 'Search Attributes' }).click();
      await page.getByText(`"BlockReason": "${expected.blockReason}"`).waitFor();
      await page.getByText('"RemediationPhase": "Blocked"').waitFor();
      await shot(`${prefix}-4-search-attributes`);
    });
  }

  it('S12: a RecentlyRemediated remediation is found by its search attributes and shows its summary and why it waits', async () => {
    const namespace = uniqueName('ns');
    const target = `${namespace}/Deployment/api`;
    const first = await h.start(h.request({ namespace, pipeline: succeed }));
    expect(await h.result(first)).toMatchObject({ phase: 'Completed' });
    const id = await h.start(h.request({ namespace, pipeline: succeed }));
    await h.waitFor(id, (s) => s.blockReason === 'RecentlyRemediated', 60_000, 'RecentlyRemediated');

    await inspect(
      'recently-remediated',
      id,
      `RemediationPhase="Blocked" AND TargetResource="${target}"`,
      target,
      {
        summary: `restart-deployment on ${target} (signal KubePodCrashLooping)`,
        details: /Blocked — RecentlyRemediated: .*cooldown of 5m ends at/,
        timer: /RecentlyRemediated until \d\d:\d\d:\d\d \(attempt 1\)/,
        blockReason: 'RecentlyRemediated',
      },
    );
    await h.client.cancel(id, 'web-ui test done');
  });

  it('S7: a remediation waiting for a manual clear (PreviousExecutionFailed) shows what the operator must do', async () => {
    const namespace = uniqueName('ns');
    const target = `${namespace}/Deployment/api`;
    const failing = await h.start(h.request({ namespace, pipeline: await h.definePipeline('fail-step') }));
    expect(await h.result(failing)).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed' });

    // The run that failed is a Failed workflow (S39): the Failures view of docs/operators-guide.md lists it.
    const failures = `ExecutionStatus="Failed" AND TargetResource="${target}"`;
    await waitListed(failing, failures);
    await step('failed-1-list', async () => {
      await page.goto(listUrl(failures));
      const link = page.getByRole('link', { name: `remediation-${failing}`, exact: true });
      await link.waitFor();
      expect(await page.getByRole('link', { name: /^remediation-/ }).count()).toBe(1);
      const row = page.getByRole('row').filter({ has: link });
      await row.getByText(/^Failed$/).waitFor();
      await shot('failed-1-list');
    });

    const id = await h.start(h.request({ namespace, pipeline: succeed }));
    await h.waitFor(id, (s) => s.blockReason === 'PreviousExecutionFailed', 60_000, 'the manual block');

    await inspect(
      'previous-execution-failed',
      id,
      `BlockReason="PreviousExecutionFailed" AND TargetResource="${target}"`,
      target,
      {
        summary: `restart-deployment on ${target} (signal KubePodCrashLooping)`,
        details: /Blocked — PreviousExecutionFailed: .*needs manual review/,
        timer: /PreviousExecutionFailed: wait for an operator to clear the target/,
        blockReason: 'PreviousExecutionFailed',
      },
    );
    await h.client.cancel(id, 'web-ui test done');
  });

  it('S36: a remediation awaiting approval (forbidSelfApproval) is found by BlockReason and its page says who must act', async () => {
    const action = uniqueName('web-ui-approval');
    await h.defineAction(action, {
      pipeline: succeed,
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
      approval: { required: true, forbidSelfApproval: true },
    });
    const namespace = uniqueName('ns');
    const target = `${namespace}/Deployment/api`;
    // A catalogued action: the request names it and no Pipeline of its own.
    const base = h.request({ namespace, action, pipeline: succeed });
    const { pipeline: _omitted, ...catalogued } = base.action;
    const req = { ...base, action: catalogued, requestedBy: 'bob' } as RemediationRequestInput;
    const id = await h.start(req);
    await h.waitFor(
      id,
      (s) => s.phase === 'Blocked' && s.blockReason === 'AwaitingApproval',
      60_000,
      'AwaitingApproval',
    );

    await inspect(
      'awaiting-approval',
      id,
      `BlockReason="AwaitingApproval" AND TargetResource="${target}"`,
      target,
      {
        summary: `${action} on ${target} (signal KubePodCrashLooping)`,
        details: new RegExp(
          `Blocked — AwaitingApproval:[\\s\\S]*anyone but bob[\\s\\S]*must act: remediate approve ${id}\\b`,
        ),
        timer: /AwaitingApproval: wait for an operator to approve or reject/,
        blockReason: 'AwaitingApproval',
      },
    );

    await h.client.approve(id, 'checked the dashboards', 'alice');
    expect(await h.result(id, 60_000)).toMatchObject({
      phase: 'Completed',
      approval: { state: 'Approved', by: 'alice', requestedBy: 'bob' },
    });

    await step('awaiting-approval-5-completed', async () => {
      // The same page, reloaded, shows it Completed (the UI shows no current details once closed).
      await page.reload();
      await page
        .getByText(/^completed$/i)
        .first()
        .waitFor();
      await shot('awaiting-approval-5-completed');
    });
  });
});

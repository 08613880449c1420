/**
 * What every ActionCatalog must do (src/ports/action-catalog.ts), run against the in-memory fake
 * (unit) and the watch-backed Kubernetes adapter on a real API server (integration). Each test uses
 * fresh ids, so the suite also runs against a namespace that other tests share; reads poll briefly
 * because a watch-backed cache sees a write a moment after the API server answered it.
 */
import { randomBytes } from 'node:crypto';

import { parseCatalogEntry, type CatalogEntry } from '../../src/domain/catalog';
import { type ActionCatalog, CatalogUnavailableError } from '../../src/ports/action-catalog';

export interface ActionCatalogUnderTest {
  catalog: ActionCatalog;
  /** Creates or replaces the RemediationAction `id` with this raw spec; resolves to its new resourceVersion. */
  put(id: string, spec: unknown): Promise<string>;
  /** Deletes the RemediationAction `id` (nothing when there is none). */
  remove(id: string): Promise<void>;
  /** A catalog of the same kind that has not synced (and will not during the test); closed afterwards. */
  unsynced(): Promise<{ catalog: ActionCatalog; close?(): Promise<void> }>;
  teardown?(): Promise<void>;
}

/** A valid spec using every field the worker implements today. */
export function fullSpec(pipeline = 'restart-deployment') {
  return {
    description: 'Rolling restart of the target Deployment',
    pipeline,
    serviceAccountName: 'remediation-runner',
    targets: { kinds: ['Deployment'], namespaces: ['prod-*', 'staging'] },
    targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
    params: [
      { name: 'rolloutTimeout', enum: ['1m', '5m'], default: '5m', description: 'kubectl duration' },
      { name: 'reason', pattern: '[a-z ]{1,40}', maxLength: 40 },
    ],
    timeout: '10m',
    mode: 'Enforce',
    approval: { required: false, forbidSelfApproval: false },
    runWhenResolved: false,
  };
}

/** Polls `read` until `check` holds (watch latency); fails with the last value after `timeoutMs`. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function actionCatalogContract(name: string, setup: () => Promise<ActionCatalogUnderTest>): void {
  describe(`ActionCatalog contract: ${name}`, () => {
    let subject: ActionCatalogUnderTest;
    let catalog: ActionCatalog;
    let run: string;
    let created: string[];
    const id = (suffix: string) => `ct-${run}-${suffix}`;
    const put = async (suffix: string, spec: unknown) => {
      created.push(id(suffix));
      return subject.put(id(suffix), spec);
    };
    /** The entry once the cache shows `resourceVersion` (or, with undefined, once the id is gone). */
    const seen = (suffix: string, resourceVersion: string | undefined) =>
      eventually(
        () => catalog.get(id(suffix)),
        (e) => e?.resourceVersion === resourceVersion,
      );
    const ours = (entries: CatalogEntry[]) => entries.filter((e) => e.id.startsWith(`ct-${run}-`));

    beforeAll(async () => {
      subject = await setup();
      catalog = subject.catalog;
    });
    afterAll(async () => {
      await subject.teardown?.();
    });
    beforeEach(() => {
      run = randomBytes(4).toString('hex');
      created = [];
    });
    afterEach(async () => {
      for (const c of created) await subject.remove(c);
    });

    it('when the id is not in the catalog, get returns undefined', async () => {
      await expect(catalog.get(id('missing'))).resolves.toBeUndefined();
      expect(ours(await catalog.list())).toEqual([]);
    });

    it('when an action is created, get and list return it parsed, defaults applied, at its resourceVersion', async () => {
      const resourceVersion = await put('a', { pipeline: 'restart-deployment' });
      expect(resourceVersion).toEqual(expect.any(String));
      const entry = await seen('a', resourceVersion);
      expect(entry).toEqual({
        id: id('a'),
        resourceVersion,
        spec: {
          pipeline: 'restart-deployment',
          targets: {},
          targetParams: {},
          params: [],
          mode: 'Enforce',
          approval: { required: false, forbidSelfApproval: false },
          runWhenResolved: false,
        },
        problems: [],
      });
      expect(ours(await catalog.list())).toEqual([entry]);
    });

    it('when an action sets every field, the entry is what parseCatalogEntry makes of the spec', async () => {
      const resourceVersion = await put('full', fullSpec());
      const entry = await seen('full', resourceVersion);
      expect(entry).toEqual(parseCatalogEntry(id('full'), resourceVersion, fullSpec()));
      expect(entry?.spec?.timeout).toBe(600_000);
    });

    it('when an action is updated, get and list return the new spec under a new resourceVersion', async () => {
      const first = await put('u', fullSpec());
      await seen('u', first);
      const second = await put('u', { ...fullSpec('scale-deployment'), mode: 'DryRun' });
      expect(second).not.toBe(first);
      const entry = await seen('u', second);
      expect(entry?.spec).toMatchObject({ pipeline: 'scale-deployment', mode: 'DryRun' });
      expect(ours(await catalog.list())).toEqual([entry]);
    });

    it('when an action is deleted, get returns undefined and list leaves it out', async () => {
      const kept = await put('kept', fullSpec());
      await seen('kept', kept);
      await seen('gone', await put('gone', fullSpec()));
      await subject.remove(id('gone'));
      await seen('gone', undefined);
      expect(ours(await catalog.list()).map((e) => e.id)).toEqual([id('kept')]);
    });

    it('when a spec passes the CRD but not the worker, the entry is listed with spec null and problems naming each field', async () => {
      const resourceVersion = await put('invalid', {
        pipeline: 'restart-deployment',
        targetParams: { name: '{{ target.owner }}' },
        params: [{ name: 'reason', pattern: '(unclosed' }],
      });
      const entry = await seen('invalid', resourceVersion);
      expect(entry).toMatchObject({ id: id('invalid'), resourceVersion, spec: null });
      expect(entry?.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            field: 'spec.params.0.pattern',
            message: 'must be a valid regular expression',
          }),
          expect.objectContaining({ field: 'spec.targetParams.name', rule: 'template' }),
        ]),
      );
      expect(entry?.problems.find((p) => p.field === 'spec.targetParams.name')?.message).toContain(
        '{{ target.owner }}',
      );
      expect(ours(await catalog.list())).toEqual([entry]);
    });

    it('when an invalid spec is fixed, the entry becomes valid under the new resourceVersion', async () => {
      await seen(
        'fixed',
        await put('fixed', { pipeline: 'restart-deployment', params: [{ name: 'x', pattern: '[' }] }),
      );
      const resourceVersion = await put('fixed', {
        pipeline: 'restart-deployment',
        params: [{ name: 'x', pattern: '[a-z]+' }],
      });
      const entry = await seen('fixed', resourceVersion);
      expect(entry?.problems).toEqual([]);
      expect(entry?.spec?.params).toEqual([{ name: 'x', pattern: '[a-z]+', required: false }]);
    });

    it('lists every entry sorted by id', async () => {
      const versions: Record<string, string> = {};
      for (const suffix of ['c', 'a', 'b-2', 'b']) versions[suffix] = await put(suffix, fullSpec());
      for (const [suffix, resourceVersion] of Object.entries(versions)) await seen(suffix, resourceVersion);
      const all = await catalog.list();
      expect(ours(all).map((e) => e.id)).toEqual([id('a'), id('b'), id('b-2'), id('c')]);
      const ids = all.map((e) => e.id);
      expect(ids).toEqual([...ids].sort());
    });

    it('when a caller mutates an entry it got, the catalog does not change', async () => {
      const resourceVersion = await put('copy', fullSpec());
      const entry = (await seen('copy', resourceVersion))!;
      entry.spec!.pipeline = 'changed';
      entry.spec!.params.length = 0;
      const [listed] = ours(await catalog.list());
      listed!.problems.push({ field: 'x', rule: 'y', message: 'z' });
      await expect(catalog.get(id('copy'))).resolves.toEqual(
        parseCatalogEntry(id('copy'), resourceVersion, fullSpec()),
      );
    });

    it('before the first sync, get and list throw CatalogUnavailableError', async () => {
      const { catalog: unsynced, close } = await subject.unsynced();
      try {
        await expect(unsynced.get('restart-deployment')).rejects.toBeInstanceOf(CatalogUnavailableError);
        await expect(unsynced.list()).rejects.toBeInstanceOf(CatalogUnavailableError);
      } finally {
        await close?.();
      }
    });
  });
}

import { InMemoryActionCatalog } from '../../../src/dev/fakes/in-memory-action-catalog';
import { CatalogUnavailableError } from '../../../src/ports/action-catalog';
import { actionCatalogContract, fullSpec } from '../../contract/action-catalog.contract';

actionCatalogContract('InMemoryActionCatalog', async () => {
  const catalog = new InMemoryActionCatalog();
  return {
    catalog,
    put: async (id, spec) => catalog.put(id, spec).resourceVersion,
    remove: async (id) => void catalog.delete(id),
    unsynced: async () => ({ catalog: new InMemoryActionCatalog({ synced: false }) }),
  };
});

describe('InMemoryActionCatalog', () => {
  it('when the caller mutates the spec it put, the stored entry does not change', async () => {
    const catalog = new InMemoryActionCatalog();
    const spec = fullSpec();
    catalog.put('restart', spec);
    spec.params.length = 0;
    spec.pipeline = 'changed';
    await expect(catalog.get('restart')).resolves.toMatchObject({
      spec: { pipeline: 'restart-deployment', params: [{ name: 'rolloutTimeout' }, { name: 'reason' }] },
    });
  });

  it('when unsynced with a sync timeout, a lookup waits for markSynced', async () => {
    const catalog = new InMemoryActionCatalog({ synced: false, syncTimeoutMs: 5_000 });
    catalog.put('restart', fullSpec());
    const lookup = catalog.get('restart');
    catalog.markSynced();
    await expect(lookup).resolves.toMatchObject({ id: 'restart', problems: [] });
  });

  it('when unsynced with a sync timeout, a lookup throws once the timeout passes', async () => {
    const catalog = new InMemoryActionCatalog({ synced: false, syncTimeoutMs: 20 });
    await expect(catalog.list()).rejects.toBeInstanceOf(CatalogUnavailableError);
  });

  it('versions come from one counter shared by all entries, like resourceVersion', () => {
    const catalog = new InMemoryActionCatalog();
    const a = catalog.put('a', fullSpec()).resourceVersion;
    const b = catalog.put('b', fullSpec()).resourceVersion;
    const a2 = catalog.put('a', fullSpec()).resourceVersion;
    expect(new Set([a, b, a2]).size).toBe(3);
  });
});

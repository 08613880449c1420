import {
  SharedPipelineRunWatch,
  type PipelineRunWatchTransport,
  type RunSubscriber,
  type WatchEventHandlers,
} from '../../../src/adapters/shared-pipeline-run-watch';
import type { PipelineRun } from '../../../src/domain/tekton';

const run = (name: string, resourceVersion: string, reason = 'Running'): PipelineRun => ({
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: { name, resourceVersion },
  spec: {},
  status: { conditions: [{ type: 'Succeeded', status: 'Unknown', reason }] },
});

/** An API server played by the test: what lists and GETs answer, and the watch streams opened. */
class ScriptedServer implements PipelineRunWatchTransport {
  objects = new Map<string, PipelineRun>();
  resourceVersion = '100';
  lists = 0;
  gets = 0;
  streams: { from: string | undefined; handlers: WatchEventHandlers; stopped: boolean }[] = [];

  async list() {
    this.lists++;
    return { resourceVersion: this.resourceVersion, items: [...this.objects.values()] };
  }
  async watch(from: string | undefined, handlers: WatchEventHandlers) {
    const stream = { from, handlers, stopped: false };
    this.streams.push(stream);
    return { stop: () => void (stream.stopped = true) };
  }
  async get(name: string) {
    this.gets++;
    return this.objects.get(name);
  }
  get current() {
    return this.streams[this.streams.length - 1]!;
  }
  open() {
    return this.streams.filter((s) => !s.stopped);
  }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 5));

function recorder(): RunSubscriber & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    changed: (r) => events.push(`changed ${r.metadata.resourceVersion}`),
    deleted: (last) => events.push(`deleted ${last?.metadata.resourceVersion ?? 'unknown'}`),
  };
}

describe('SharedPipelineRunWatch', () => {
  let server: ScriptedServer;
  let watch: SharedPipelineRunWatch;
  beforeEach(() => {
    server = new ScriptedServer();
    watch = new SharedPipelineRunWatch(server, { minBackoffMs: 1, maxBackoffMs: 2, idleMs: 0 });
  });
  afterEach(() => watch.stop());

  it('when a hundred waits subscribe → one list, one watch stream, each subscriber hears only its run', async () => {
    const subs = Array.from({ length: 100 }, (_, i) => {
      server.objects.set(`r${i}`, run(`r${i}`, '100'));
      return { name: `r${i}`, rec: recorder() };
    });
    for (const s of subs) watch.subscribe(s.name, s.rec);
    await flush();
    expect(server.lists).toBe(1);
    expect(server.streams).toHaveLength(1);
    expect(server.current.from).toBe('100');
    expect(watch.connections).toBe(1);
    server.current.handlers.onEvent('MODIFIED', run('r7', '101', 'Succeeded'));
    expect(subs[7]!.rec.events.at(-1)).toBe('changed 101');
    expect(subs.filter((s) => s.rec.events.includes('changed 101'))).toHaveLength(1);
  });

  it('when the server ends the stream cleanly → watches again from the last resourceVersion (bookmarks count), no list', async () => {
    watch.subscribe('a', recorder());
    await flush();
    server.current.handlers.onEvent('MODIFIED', run('a', '105'));
    server.current.handlers.onEvent('BOOKMARK', { metadata: { resourceVersion: '130' } });
    server.current.handlers.onEnd(undefined);
    await flush();
    expect(server.streams).toHaveLength(2);
    expect(server.current.from).toBe('130');
    expect(server.lists).toBe(1);
    expect(watch.connections).toBe(1);
  });

  it('when the watch says 410 Gone → re-lists; a run deleted meanwhile is reported deleted with its last state', async () => {
    server.objects.set('a', run('a', '100'));
    server.objects.set('b', run('b', '100'));
    const a = recorder();
    const b = recorder();
    watch.subscribe('a', a);
    watch.subscribe('b', b);
    await flush();
    server.current.handlers.onEvent('MODIFIED', run('b', '102'));
    // Meanwhile (missed): a changes, b is deleted; the resourceVersion is compacted away.
    server.objects.set('a', run('a', '150'));
    server.objects.delete('b');
    server.resourceVersion = '160';
    server.current.handlers.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    server.current.handlers.onEnd(undefined);
    await flush();
    expect(server.lists).toBe(2);
    expect(a.events.at(-1)).toBe('changed 150');
    expect(b.events.at(-1)).toBe('deleted 102');
    expect(server.current.from).toBe('160');
    expect(watch.connections).toBe(1);
  });

  it('when the connection fails → re-lists after a backoff and carries on', async () => {
    server.objects.set('a', run('a', '100'));
    const a = recorder();
    watch.subscribe('a', a);
    await flush();
    server.current.handlers.onEnd(new Error('ECONNRESET'));
    expect(watch.connections).toBe(0);
    server.objects.set('a', run('a', '120', 'Succeeded'));
    await flush();
    expect(server.lists).toBe(2);
    expect(a.events.at(-1)).toBe('changed 120');
    expect(watch.connections).toBe(1);
  });

  it('when a list fails → retries it until the API server answers', async () => {
    let failures = 2;
    const list = server.list.bind(server);
    server.list = async () => {
      if (failures-- > 0) throw new Error('connection refused');
      return list();
    };
    watch.subscribe('a', recorder());
    for (let i = 0; i < 100 && server.streams.length === 0; i++) await flush();
    expect(failures).toBe(-1);
    expect(server.lists).toBe(1);
    expect(server.streams).toHaveLength(1);
  });

  it('when a run the shared cache never saw is missing from a re-list → a GET decides: gone is deleted, present is not', async () => {
    server.objects.set('present', run('present', '100'));
    const gone = recorder();
    const present = recorder();
    watch.subscribe('gone', gone);
    await flush();
    expect(gone.events).toEqual(['deleted unknown']); // the first GET: it never existed
    // Created after the list, not yet seen by the watch: the GET finds it.
    server.objects.set('late', run('late', '140'));
    const late = recorder();
    watch.subscribe('late', late);
    watch.subscribe('present', present);
    await flush();
    server.objects.delete('late');
    server.objects.set('late2', run('late2', '141'));
    server.current.handlers.onEnd(new Error('reset'));
    // The re-list does not show `late` (deleted in the gap, never seen by the watch): a GET confirms.
    await flush();
    await flush();
    expect(late.events).toEqual(['changed 140', 'deleted unknown']);
    expect(present.events.every((e) => e.startsWith('changed'))).toBe(true);
  });

  it('when a GET answer arrives after a watch event → the older GET answer is ignored', async () => {
    let answer!: (r: PipelineRun | undefined) => void;
    server.get = () => new Promise((resolve) => (answer = resolve));
    const a = recorder();
    watch.subscribe('a', a);
    await flush();
    server.current.handlers.onEvent('MODIFIED', run('a', '110'));
    answer(run('a', '105'));
    await flush();
    expect(a.events).toEqual(['changed 110']);
  });

  it('when the last subscriber leaves (no idle linger) → the stream is stopped, no connection left', async () => {
    const off1 = watch.subscribe('a', recorder());
    const off2 = watch.subscribe('b', recorder());
    await flush();
    off1();
    expect(watch.connections).toBe(1);
    off2();
    expect(watch.connections).toBe(0);
    expect(server.current.stopped).toBe(true);
    // Late events of the stopped stream are ignored; a new subscriber starts afresh.
    const c = recorder();
    watch.subscribe('c', c);
    server.streams[0]!.handlers.onEvent('ADDED', run('c', '999'));
    await flush();
    expect(c.events).not.toContain('changed 999');
    expect(server.lists).toBe(2);
    expect(watch.connections).toBe(1);
  });

  it('when an idle linger is set → the stream outlives the last subscriber for that long', async () => {
    watch = new SharedPipelineRunWatch(server, { idleMs: 30 });
    const off = watch.subscribe('a', recorder());
    await flush();
    off();
    expect(watch.connections).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(watch.connections).toBe(0);
  });

  it('when the list is refused for good (failsWaits) → every wait hears the error at once; a plain outage only retries', async () => {
    class Refused extends Error {}
    let refuse: Error | null = new Error('connection refused');
    server.list = async () => {
      server.lists++;
      if (refuse) throw refuse;
      return { resourceVersion: server.resourceVersion, items: [...server.objects.values()] };
    };
    watch.stop();
    watch = new SharedPipelineRunWatch(server, {
      minBackoffMs: 1,
      maxBackoffMs: 2,
      idleMs: 0,
      failsWaits: (e) => e instanceof Refused,
    });
    server.objects.set('r1', run('r1', '100'));
    const failures: unknown[] = [];
    const rec = recorder();
    watch.subscribe('r1', { ...rec, failed: (e) => failures.push(e) });
    await flush();
    expect(server.lists).toBeGreaterThan(1); // the outage is retried quietly
    expect(failures).toEqual([]);
    refuse = new Refused('pipelineruns is forbidden');
    await flush();
    expect(failures[0]).toBeInstanceOf(Refused);
  });
});

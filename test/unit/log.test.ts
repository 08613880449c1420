import { InvalidConfigError } from '../../src/domain/config';
import { createLogger, logLevelFromEnv, sdkLogLevel, temporalSdkLogger, type LogLevel } from '../../src/log';

const NOW = new Date('2026-12-06T03:00:00.000Z');

/** A logger writing into an array of parsed lines (and the raw text, to check one line per write). */
function capture(level?: LogLevel) {
  const chunks: string[] = [];
  const logger = createLogger({
    name: 'worker',
    ...(level ? { level } : {}),
    sink: { write: (chunk: string) => chunks.push(chunk) },
    clock: () => NOW,
  });
  const lines = () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
  return { logger, chunks, lines };
}

describe('LOG_LEVEL', () => {
  it('is info when unset or empty, and takes each level in any case', () => {
    expect(logLevelFromEnv({})).toBe('info');
    expect(logLevelFromEnv({ LOG_LEVEL: '' })).toBe('info');
    expect(logLevelFromEnv({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(logLevelFromEnv({ LOG_LEVEL: 'WARN' })).toBe('warn');
    expect(logLevelFromEnv({ LOG_LEVEL: ' error ' })).toBe('error');
  });

  it.each(['verbose', 'trace', 'warning', '3'])('refuses %p, naming LOG_LEVEL and the levels', (value) => {
    let thrown: unknown;
    try {
      logLevelFromEnv({ LOG_LEVEL: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidConfigError);
    expect((thrown as InvalidConfigError).errors).toEqual([
      {
        field: 'LOG_LEVEL',
        rule: 'enum',
        message: `must be one of debug, info, warn, error (got ${JSON.stringify(value)})`,
      },
    ]);
    expect((thrown as Error).message).toContain('LOG_LEVEL: must be one of debug, info, warn, error');
  });
});

describe('the JSON logger', () => {
  it('writes one JSON object per line: time, level, logger, msg first, then the fields', () => {
    const { logger, chunks } = capture();
    logger.info('worker started', { taskQueue: 'remediation', metrics: null });
    expect(chunks).toEqual([
      '{"time":"2026-12-06T03:00:00.000Z","level":"info","logger":"worker","msg":"worker started",' +
        '"taskQueue":"remediation","metrics":null}\n',
    ]);
  });

  it.each<[LogLevel, string[]]>([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ])('at %s writes only that level and above', (level, written) => {
    const { logger, lines } = capture(level);
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines().map((l) => l.level)).toEqual(written);
    expect(logger.enabled('debug')).toBe(level === 'debug');
    expect(logger.enabled('error')).toBe(true);
  });

  it('children add their bindings and keep the level; a field cannot replace time, level, logger or msg', () => {
    const { logger, lines } = capture('warn');
    const catalog = logger.child({ component: 'catalog' });
    catalog.info('not written');
    catalog.warn('watch failed', { level: 'debug', msg: 'spoofed', time: 'yesterday', attempt: 2 });
    expect(lines()).toEqual([
      {
        time: NOW.toISOString(),
        level: 'warn',
        logger: 'worker',
        msg: 'watch failed',
        component: 'catalog',
        attempt: 2,
      },
    ]);
  });

  it('keeps what JSON.stringify would lose: errors with name, message and stack; bigints as strings', () => {
    const { logger, lines } = capture();
    const error = new TypeError('boom');
    logger.error('failed', { error, nanos: 12n });
    const [line] = lines();
    expect(line).toMatchObject({ error: { name: 'TypeError', message: 'boom' }, nanos: '12' });
    expect((line!.error as { stack: string }).stack).toContain('TypeError: boom');
  });

  it('a field that cannot be serialized still leaves a line, and a broken sink never throws', () => {
    const { logger, lines } = capture();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    logger.warn('odd', { cycle });
    expect(lines()).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'odd', logError: expect.stringMatching(/circular/i) }),
    ]);
    const broken = createLogger({
      name: 'intake',
      sink: {
        write: () => {
          throw new Error('EPIPE');
        },
      },
    });
    expect(() => broken.error('lost')).not.toThrow();
  });
});

describe('the Temporal SDK bridge', () => {
  it('writes the SDK logs as lines of logger "temporal" with the SDK metadata as fields', () => {
    const { logger, lines } = capture('debug');
    const sdk = temporalSdkLogger(logger);
    sdk.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING', taskQueue: 'q' });
    sdk.log('WARN', 'Activity failed', { sdkComponent: 'activity', activityType: 'route' });
    sdk.trace('noise', { sdkComponent: 'core' });
    expect(lines()).toEqual([
      {
        time: NOW.toISOString(),
        level: 'info',
        logger: 'temporal',
        msg: 'Worker state changed',
        sdkComponent: 'worker',
        state: 'RUNNING',
        taskQueue: 'q',
      },
      expect.objectContaining({
        level: 'warn',
        logger: 'temporal',
        msg: 'Activity failed',
        activityType: 'route',
      }),
      expect.objectContaining({ level: 'debug', msg: 'noise' }), // TRACE is written as debug
    ]);
  });

  it('applies our level, and a forwarded core line keeps its own time', () => {
    const { logger, lines } = capture('warn');
    const sdk = temporalSdkLogger(logger);
    sdk.info('dropped');
    sdk.debug('dropped too');
    const at = Date.parse('2026-12-06T02:59:58.123Z');
    sdk.error('core failure', {
      sdkComponent: 'core',
      [Symbol.for('log_timestamp')]: BigInt(at) * 1_000_000n + 456n,
    });
    expect(lines()).toEqual([
      {
        time: '2026-12-06T02:59:58.123Z',
        level: 'error',
        logger: 'temporal',
        msg: 'core failure',
        sdkComponent: 'core',
      },
    ]);
  });

  it("names our levels as the core's log filter does", () => {
    expect(['debug', 'info', 'warn', 'error'].map((l) => sdkLogLevel(l as LogLevel))).toEqual([
      'DEBUG',
      'INFO',
      'WARN',
      'ERROR',
    ]);
  });
});

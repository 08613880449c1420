/**
 * Bad input: property-based fuzzing of the request validator (docs/behaviour.md#requests-and-keys, S2). Whatever comes
 * in, the validator throws only InvalidRequestError naming fields, accepted requests re-parse to
 * themselves, and the client never starts a workflow for a rejected input.
 */
import fc from 'fast-check';
import type { Client } from '@temporalio/client';
import { RemediationClient } from '../../../src/client';
import {
  InvalidRequestError,
  parseRemediationRequest,
  requestLimits,
  type RemediationRequest,
} from '../../../src/domain/request';
import { expectNamedErrors, hostileValue, mutate, mutation } from './arbitraries';

const valid = {
  id: 'alert-1',
  signal: {
    fingerprint: 'KubePodCrashLooping:abc',
    name: 'KubePodCrashLooping',
    severity: 'critical',
    labels: { team: 'core' },
  },
  target: { kind: 'Deployment', name: 'api', namespace: 'prod', cluster: 'eu-1' },
  action: {
    id: 'restart-deployment',
    pipeline: 'restart-deployment',
    params: { replicas: '3' },
    serviceAccountName: 'remediator',
    timeout: '10m',
  },
  deadline: '30m',
};

/** The clock absolute deadlines are checked against (the hostile values include instants around it). */
const NOW = Date.parse('2026-03-01T12:00:00Z');

const paths = [
  ['id'],
  ['signal'],
  ['signal', 'fingerprint'],
  ['signal', 'name'],
  ['signal', 'severity'],
  ['signal', 'labels'],
  ['signal', 'labels', 'team'],
  ['signal', 'extra'],
  ['target'],
  ['target', 'kind'],
  ['target', 'name'],
  ['target', 'namespace'],
  ['target', 'cluster'],
  ['action'],
  ['action', 'id'],
  ['action', 'pipeline'],
  ['action', 'params'],
  ['action', 'params', 'replicas'],
  ['action', 'params', 'bad name'],
  ['action', 'serviceAccountName'],
  ['action', 'timeout'],
  ['deadline'],
  ['unexpected'],
] as const;

const mutatedRequest = fc
  .array(mutation(paths), { minLength: 1, maxLength: 4 })
  .map((mutations) => mutate(valid, mutations));

/**
 * Parses as a client does (with a clock); on success checks the bounds and the round trip (also
 * without a clock, as the workflow re-validates), on failure the error type and its fields.
 */
function check(input: unknown): RemediationRequest | InvalidRequestError {
  let parsed: RemediationRequest;
  try {
    parsed = parseRemediationRequest(input, { now: NOW });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    expectNamedErrors((error as InvalidRequestError).errors);
    return error as InvalidRequestError;
  }
  expectWithinBounds(parsed);
  expect(parseRemediationRequest(parsed, { now: NOW })).toEqual(parsed);
  expect(parseRemediationRequest(parsed)).toEqual(parsed);
  return parsed;
}

/** An accepted deadline is strictly in the future and within the cap; a timeout is 1s–24h. */
function expectWithinBounds(request: RemediationRequest): void {
  const { deadline } = request;
  if (deadline) {
    const ahead = deadline.kind === 'after' ? deadline.ms : Date.parse(deadline.at) - NOW;
    expect(ahead).toBeGreaterThan(0);
    expect(ahead).toBeLessThanOrEqual(requestLimits.maxDeadlineMs);
  }
  const { timeout } = request.action;
  if (timeout !== undefined) {
    expect(timeout).toBeGreaterThanOrEqual(requestLimits.minActionTimeoutMs);
    expect(timeout).toBeLessThanOrEqual(requestLimits.maxActionTimeoutMs);
  }
}

function fakeTemporal() {
  const start = jest.fn().mockResolvedValue({});
  // The worker's action check admits everything here: this property is about the request rules.
  const execute = jest.fn().mockResolvedValue({ kind: 'allowed', action: {} });
  return { client: { workflow: { start, execute } } as unknown as Client, start };
}

describe('fuzz: request validator', () => {
  it('when the input is any JSON value then only a typed, field-naming error is thrown', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), hostileValue), (input) => void check(input)),
      { numRuns: 1000 },
    );
  });

  it('S2: when the deadline or the timeout is any value then an accepted one is within its bounds', () => {
    const edgeDurations = fc.constantFrom(
      0,
      '0s',
      '0ms',
      '1ms',
      1,
      '999ms',
      '1s',
      '24h',
      '24h1ms',
      '720h',
      '720h1ms',
      '9999h',
    );
    const instants = fc
      .integer({ min: -2 * requestLimits.maxDeadlineMs, max: 2 * requestLimits.maxDeadlineMs })
      .map((offset) => new Date(NOW + offset).toISOString());
    fc.assert(
      fc.property(
        fc.oneof(edgeDurations, instants, fc.nat(), hostileValue),
        fc.oneof(edgeDurations, fc.nat(), hostileValue),
        (deadline, timeout) => {
          void check({ ...valid, deadline, action: { ...valid.action, timeout } });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('when a key is the empty string then the error still names it (found by this fuzzer)', () => {
    const error = check({ ...valid, '': 0 });
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).errors.map((e) => e.field)).toEqual(['""']);
  });

  it('when a valid request is mutated then it is accepted and round-trips, or rejected naming fields', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutatedRequest, (input) => {
        if (!(check(input) instanceof InvalidRequestError)) accepted += 1;
      }),
      { numRuns: 1000 },
    );
    expect(accepted).toBeGreaterThan(0); // the generator is not so hostile that it only tests rejection
  });

  it('S2: when a mutated request goes through the client then a rejected one never starts a workflow', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedRequest, async (input) => {
        const temporal = fakeTemporal();
        const client = new RemediationClient(temporal.client, { now: () => NOW });
        const rejected = check(input) instanceof InvalidRequestError;
        if (rejected) {
          await expect(client.start(input)).rejects.toBeInstanceOf(InvalidRequestError);
          expect(temporal.start).not.toHaveBeenCalled();
        } else {
          await expect(client.start(input)).resolves.toMatchObject({ started: true });
          expect(temporal.start).toHaveBeenCalledTimes(1);
        }
      }),
      { numRuns: 500 },
    );
  });
});

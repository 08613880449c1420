import { DEFAULT_SCRIPT, Outcome, parseScript } from '../../../src/dev/simulator/script';

describe('parseScript', () => {
  it.each([
    ['when the annotation is missing', undefined, DEFAULT_SCRIPT],
    ['when only the outcome is given', '{"outcome":"oom"}', { outcome: Outcome.Oom, durationMs: 0 }],
    [
      'when a duration is given',
      '{"outcome":"hang","durationMs":250}',
      { outcome: Outcome.Hang, durationMs: 250 },
    ],
  ])('%s → a script', (_when, annotation, expected) => {
    expect(parseScript(annotation)).toEqual(expected);
  });

  it.each([
    ['when the JSON is broken', '{outcome', /not valid JSON/],
    ['when it is not an object', '[1]', /must be a JSON object/],
    ['when the outcome is unknown', '{"outcome":"explode"}', /outcome must be one of succeed, fail-step/],
    [
      'when the duration is negative',
      '{"outcome":"succeed","durationMs":-1}',
      /durationMs must be a non-negative integer/,
    ],
    ['when the duration is text', '{"outcome":"succeed","durationMs":"1s"}', /durationMs/],
  ])('%s → an error naming the problem', (_when, annotation, message) => {
    const result = parseScript(annotation);
    expect(result).toHaveProperty('error');
    expect((result as { error: string }).error).toMatch(message);
  });
});

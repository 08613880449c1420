import { simulate } from '../../../src/dev/simulation/simulate';

/** The checks are only worth something if they catch a broken wiring. */
async function firstViolation(
  mutation: 'ignoreDeadline' | 'blindToDeath' | 'blindToCatalog' | 'blindToBudgets',
  seeds: number,
) {
  for (let seed = 1; seed <= seeds; seed++) {
    const result = await simulate({ seed, mutation });
    if (result.violation) return { seed, ...result.violation };
  }
  return null;
}

describe('the safety simulation catches broken wiring', () => {
  it('I4: a create that ignores the deadline is caught', async () => {
    expect(await firstViolation('ignoreDeadline', 500)).toMatchObject({ invariant: 'I4' });
  }, 120_000);

  it('I2: activities blind to closed workflows leave locks and claims with the dead', async () => {
    expect(await firstViolation('blindToDeath', 100)).toMatchObject({
      invariant: expect.stringMatching(/^I[12]$/),
    });
  }, 120_000);

  it('catalog: activities that do not consult the catalog run what the caller asked, and are caught', async () => {
    expect(await firstViolation('blindToCatalog', 200)).toMatchObject({ invariant: 'catalog' });
  }, 120_000);

  it('budget: workers that know no budget run more at once than the budget allows, and are caught', async () => {
    expect(await firstViolation('blindToBudgets', 200)).toMatchObject({ invariant: 'budget' });
  }, 120_000);

  it('catalog: seed 188 — an action made a dry run after a remediation was admitted never runs for real', async () => {
    // Found by the simulation: the create re-read the catalog's Pipeline and params but not its mode,
    // so a remediation admitted before the operator made the action a dry run created a real run.
    process.env.SIM_TRACE = '1'; // the whole trace
    const result = await simulate({ seed: 188 }).finally(() => delete process.env.SIM_TRACE);
    expect(result.violation).toBeNull();
    const trace = result.trace.join('\n');
    expect(trace).toContain('"mode":"DryRun"} as RemediationAction scale');
    expect(trace).toMatch(/r5 start → refused rem-/);
  });

  it('a schedule is a pure function of its seed (replayable)', async () => {
    const [a, b] = [await simulate({ seed: 4242 }), await simulate({ seed: 4242 })];
    expect(b.trace).toEqual(a.trace);
    expect(b.steps).toBe(a.steps);
    expect(a.stats.pipelineRuns).toBeGreaterThan(0);
  });
});

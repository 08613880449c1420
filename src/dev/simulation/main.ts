/**
 * `npm run simulate -- [--runs N] [--seed S] [--from S] [--steps N]`: runs schedules of the safety
 * simulation and stops at the first violated invariant, printing its seed, the trace of the last
 * steps and a one-line command that replays exactly that schedule.
 */
import { parseArgs } from 'node:util';
import { simulate } from './simulate';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1000' },
      seed: { type: 'string' },
      from: { type: 'string', default: '1' },
      steps: { type: 'string', default: '150' },
      json: { type: 'boolean', default: false },
    },
  });
  const steps = Number(values.steps);
  const seeds = values.seed !== undefined ? [Number(values.seed)] : null;
  const runs = seeds ? 1 : Number(values.runs);
  const from = seeds ? seeds[0]! : Number(values.from);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs: expected a whole number ≥ 1');
  const started = Date.now();
  let totalSteps = 0;
  let pipelineRuns = 0;
  for (let i = 0; i < runs; i++) {
    const seed = seeds ? seeds[0]! : from + i;
    const result = await simulate({ seed, steps });
    totalSteps += result.steps;
    pipelineRuns += result.stats.pipelineRuns;
    if (result.violation) {
      const v = result.violation;
      console.error(`VIOLATION ${v.invariant} at step ${v.step} (seed ${seed}): ${v.message}`);
      console.error(result.trace.map((line) => `  ${line}`).join('\n'));
      console.error(`replay: npm run simulate -- --seed ${seed} --steps ${steps}`);
      if (values.json) console.log(JSON.stringify({ seed, violation: v, schedules: i + 1 }));
      process.exitCode = 1;
      return;
    }
    if ((i + 1) % 10_000 === 0)
      console.error(`… ${i + 1} schedules, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const seconds = (Date.now() - started) / 1000;
  const summary = { schedules: runs, from, steps: totalSteps, pipelineRuns, seconds, violations: 0 };
  console.log(
    values.json
      ? JSON.stringify(summary)
      : `${runs} schedules (seeds ${from}…${from + runs - 1}), ${totalSteps} steps, ${pipelineRuns} PipelineRuns, no violation, ${seconds.toFixed(1)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});

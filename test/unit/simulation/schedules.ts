import { simulate } from '../../../src/dev/simulation/simulate';

/** Runs `count` schedules from seed `from`; fails with the seed, the trace and the replay command. */
export function runSchedules(from: number, count: number): void {
  it(`I1–I10 hold after every step of ${count} seeded schedules (seeds ${from}…${from + count - 1})`, async () => {
    for (let seed = from; seed < from + count; seed++) {
      const result = await simulate({ seed });
      if (result.violation) {
        const v = result.violation;
        throw new Error(
          `${v.invariant} violated at step ${v.step} of seed ${seed}: ${v.message}\n` +
            `${result.trace.join('\n')}\nreplay: npm run simulate -- --seed ${seed}`,
        );
      }
    }
  }, 1_200_000);
}

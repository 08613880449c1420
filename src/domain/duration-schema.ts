/** The zod schema of a duration (./duration.ts): a duration string or milliseconds → milliseconds. */
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration';

export const durationSchema = z
  .union([z.string(), z.number()], { error: DURATION_HINT })
  .transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `${DURATION_HINT}, got ${JSON.stringify(value)}`,
        params: { rule: 'duration' },
      });
      return z.NEVER;
    }
  });

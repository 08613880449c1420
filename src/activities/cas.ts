import { LedgerConflictError } from '../ports/ledger';

export type Sleep = (ms: number) => Promise<void>;

const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs read → decide → compare-and-swap write until the write wins. Every ledger change goes
 * through here, so two workers racing on one record can never both win.
 */
export async function withCas<T>(
  attempt: () => Promise<T>,
  options: { maxAttempts?: number; sleep?: Sleep; random?: () => number } = {},
): Promise<T> {
  const { maxAttempts = 100, sleep = realSleep, random = Math.random } = options;
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof LedgerConflictError) || i >= maxAttempts) throw error;
      // Spread racing writers apart; the loser re-reads and decides again.
      await sleep(random() * Math.min(200, 5 * i));
    }
  }
}

import { LedgerConflictError } from '../ports/ledger';

/**
 * Runs read → decide → compare-and-swap write until the write wins. Every ledger change goes
 * through here, so two workers racing on one record can never both win (SEMANTICS §3).
 */
export async function withCas<T>(attempt: () => Promise<T>, maxAttempts = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof LedgerConflictError) || i >= maxAttempts) throw error;
      // Spread racing writers apart; the loser re-reads and decides again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * i)));
    }
  }
}

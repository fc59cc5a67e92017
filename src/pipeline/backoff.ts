/**
 * Retry delays that respect the EHR: exponential with jitter, but never sooner than the
 * server's own `Retry-After` (a 429 or 503 that says "come back in 30 s" is taken at its word).
 */
import { RetryableError } from '../errors.ts';

/** The BullMQ backoff type that selects this strategy (see JOB_BACKOFF in jobs.ts). */
export const RETRY_AFTER_BACKOFF = 'retry-after';

/** No single wait longer than an hour: an outage is better probed hourly than abandoned. */
const MAX_DELAY_MS = 3600_000;

export function retryAfterBackoff(baseDelayMs: number, random: () => number = Math.random) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const exponential = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
    // ±20 % jitter so workers that failed together do not retry together.
    const jittered = Math.round(exponential * (0.8 + 0.4 * random()));
    const asked = err instanceof RetryableError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
    return Math.min(MAX_DELAY_MS, Math.max(jittered, asked));
  };
}

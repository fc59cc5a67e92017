/**
 * A notification sender that behaves like HAPI FHIR's rest-hook delivery: a failed attempt
 * (non-2xx, connection error, timeout) is retried with back-off (1 s × 1.1, honouring
 * Retry-After) until 60 s after the first attempt, then the notification is given up.
 * fhir-risk answers 503 while Redis is down; only a sender that retries makes that safe, and a
 * sender that gives up is exactly how a real server loses events (the sweep's job to recover).
 */
import type { NotificationRequest } from '../support/notifications.ts';

export interface SenderPolicy {
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** Stop retrying this long after the first attempt (HAPI: 60 s). 0: never retry. */
  giveUpAfterMs: number;
  requestTimeoutMs: number;
}

export const HAPI_LIKE: SenderPolicy = { initialDelayMs: 1000, multiplier: 1.1, maxDelayMs: 30_000, giveUpAfterMs: 60_000, requestTimeoutMs: 10_000 };

export interface SenderStats {
  sent: number;
  delivered: number;
  attempts: number;
  /** Failed attempts by HTTP status (`network` for connection errors and timeouts). */
  failedAttempts: Record<string, number>;
  gaveUp: number;
  /** 4xx other than 408/429: a bug in the test's payloads (HAPI would not retry these either). */
  rejected: number;
}

export function newStats(): SenderStats {
  return { sent: 0, delivered: 0, attempts: 0, failedAttempts: {}, gaveUp: 0, rejected: 0 };
}

/** Delivers one notification; resolves with its final fate. */
export async function deliver(baseUrl: string, request: NotificationRequest, extraHeaders: Record<string, string>, policy: SenderPolicy, stats: SenderStats): Promise<'delivered' | 'gave-up' | 'rejected'> {
  stats.sent++;
  const first = Date.now();
  let delay = policy.initialDelayMs;
  for (;;) {
    stats.attempts++;
    let status = 'network';
    let retryAfterMs = 0;
    try {
      const res = await fetch(`${baseUrl}${request.path}`, {
        method: request.method,
        headers: { ...request.headers, ...extraHeaders },
        ...(request.body !== '' ? { body: request.body } : {}),
        signal: AbortSignal.timeout(policy.requestTimeoutMs),
      });
      await res.arrayBuffer();
      if (res.ok) {
        stats.delivered++;
        return 'delivered';
      }
      status = String(res.status);
      retryAfterMs = Number(res.headers.get('retry-after') ?? 0) * 1000 || 0;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        stats.rejected++;
        return 'rejected';
      }
    } catch {
      // connection refused / reset / timeout: retried like a 5xx
    }
    stats.failedAttempts[status] = (stats.failedAttempts[status] ?? 0) + 1;
    const wait = Math.max(delay, retryAfterMs);
    if (policy.giveUpAfterMs <= 0 || Date.now() + wait - first > policy.giveUpAfterMs) {
      stats.gaveUp++;
      return 'gave-up';
    }
    await new Promise((r) => setTimeout(r, wait));
    delay = Math.min(policy.maxDelayMs, delay * policy.multiplier);
  }
}

/** Sends `requests` with at most `concurrency` in flight and at most `perSecond` started per second. */
export async function deliverAll(
  baseUrl: string,
  requests: readonly { request: NotificationRequest; headers: Record<string, string> }[],
  opts: { concurrency: number; perSecond: number; policy: SenderPolicy; stats: SenderStats },
): Promise<void> {
  let next = 0;
  const start = Date.now();
  const lane = async (): Promise<void> => {
    for (let i = next++; i < requests.length; i = next++) {
      const due = start + (i * 1000) / opts.perSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const { request, headers } = requests[i]!;
      await deliver(baseUrl, request, headers, opts.policy, opts.stats);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, lane));
}

/**
 * Subscription delivery: turns committed changes into rest-hook notifications.
 *
 * Semantics (modelled on HAPI FHIR's in-memory subscription channel):
 * - a Subscription with `channel.type` `rest-hook` and status `requested` or `active` is live;
 *   `off`, `error`, a delete, or an unreadable Subscription stops it and drops its queue;
 * - a classic Subscription created `requested` is set `active` at once (HAPI does); a Backport
 *   one gets a `handshake` first and becomes `active` on success, `error` when it gives up;
 * - each change to a resource (any type but Subscription) that matches a live Subscription's
 *   filters is queued for it; delivery is asynchronous (never delays the write), strictly in
 *   order per Subscription, concurrent across Subscriptions;
 * - a failed attempt (non-2xx, connection error, timeout; for topic-based notifications also a
 *   2xx without a FHIR resource body or 204, as HAPI's client rejects those) is retried with
 *   exponential back-off (HAPI: 1 s × 1.1) honouring `Retry-After`, until `giveUpAfterMs`
 *   (HAPI: 60 s); then the notification is dropped and logged, and the next one is tried.
 */
import type { Subscription } from 'fhir/r4.js';
import type { Resource as MResource } from '@medplum/fhirtypes';
import { logger } from '../observability/logger.ts';
import { matchesSearch } from './matching.ts';
import { backportRequest, classicRequest, type OutgoingRequest } from './notifications.ts';
import type { ResourceChange } from './repository.ts';
import { matchedTypes, parseSubscription, type SubscriptionConfig } from './subscription-config.ts';

export interface RetryPolicy {
  /** First back-off delay. HAPI: 1000 ms. */
  readonly initialDelayMs: number;
  /** Growth per attempt. HAPI: 1.1. */
  readonly multiplier: number;
  /** Largest single delay. */
  readonly maxDelayMs: number;
  /** Stop retrying a notification this long after its first attempt. HAPI: 60 s. */
  readonly giveUpAfterMs: number;
  /** Per-attempt HTTP timeout. */
  readonly requestTimeoutMs: number;
}

export const HAPI_RETRY_POLICY: RetryPolicy = {
  initialDelayMs: 1000,
  multiplier: 1.1,
  maxDelayMs: 30_000,
  giveUpAfterMs: 60_000,
  requestTimeoutMs: 10_000,
};

export interface DeliveryOptions {
  /** The sandbox FHIR base (fullUrls in notifications). Read at send time: known after listen. */
  readonly baseUrl: () => string;
  readonly retry: RetryPolicy;
  /**
   * Classic delete notifications: `extension` (HAPI: only with `subscription-send-delete-messages`
   * on `channel`) or `always`.
   */
  readonly classicDeletes: 'extension' | 'always';
  /** Writes a Subscription's status back to the store (through the sandbox's write path). */
  readonly setStatus: (id: string, status: 'active' | 'error', reason?: string) => Promise<void>;
}

export interface DeliveryCounters {
  /** Notifications queued (handshakes included). */
  queued: number;
  /** HTTP attempts made. */
  attempts: number;
  /** Notifications acknowledged by the receiver. */
  delivered: number;
  /** Attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Notifications dropped after retrying for `giveUpAfterMs`. */
  gaveUp: number;
  /** Notifications dropped because their Subscription stopped. */
  dropped: number;
}

type Work = { kind: 'send'; request: OutgoingRequest; handshake: boolean } | { kind: 'activate' };

interface LiveSubscription {
  config: SubscriptionConfig;
  /** Backport `events-since-subscription-start`. */
  eventCount: number;
  readonly queue: Work[];
  running: boolean;
  readonly abort: AbortController;
}

class Stopped extends Error {}

export class SubscriptionDelivery {
  readonly counters: DeliveryCounters = { queued: 0, attempts: 0, delivered: 0, failedAttempts: 0, gaveUp: 0, dropped: 0 };
  private readonly live = new Map<string, LiveSubscription>();
  private readonly idleWaiters: (() => void)[] = [];
  private pending = 0;
  private closed = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Notifications queued or in flight right now. */
  get pendingCount(): number {
    return this.pending;
  }

  /** Backport `events-since-subscription-start` of a live Subscription (0 when not live). */
  eventCount(subscriptionId: string): number {
    return this.live.get(subscriptionId)?.eventCount ?? 0;
  }

  /** Ids of the Subscriptions currently delivering. */
  get liveSubscriptions(): string[] {
    return [...this.live.keys()];
  }

  /**
   * Takes committed changes, in commit order. Synchronous: everything a write causes is queued
   * before the write's HTTP response goes out, so `idle()` after a response covers it.
   */
  onChanges(changes: readonly ResourceChange[]): void {
    if (this.closed) return;
    for (const change of changes) {
      if (change.resourceType === 'Subscription') this.onSubscriptionChange(change);
      else this.onResourceChange(change);
    }
  }

  /** Resolves when no notification is queued or in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops every queue and in-flight attempt; pending notifications are dropped. */
  close(): void {
    this.closed = true;
    for (const id of [...this.live.keys()]) this.stop(id);
    this.settle(0);
  }

  private onSubscriptionChange(change: ResourceChange): void {
    const sub = change.resource as Subscription;
    const known = this.live.get(change.id);
    if (change.interaction === 'delete' || (sub.status !== 'requested' && sub.status !== 'active')) {
      if (known) this.stop(change.id);
      return;
    }
    const parsed = parseSubscription(sub);
    if (!parsed.ok) {
      logger.warn({ subscription: change.id, reason: parsed.reason }, 'sandbox: subscription cannot be delivered');
      if (known) this.stop(change.id);
      this.enqueueStatus(change.id, 'error', parsed.reason);
      return;
    }
    const { config } = parsed;
    if (known && known.config.fingerprint === config.fingerprint && config.status === 'active') {
      known.config = config;
      return;
    }
    const live = known ?? { config, eventCount: 0, queue: [], running: false, abort: new AbortController() };
    live.config = config;
    this.live.set(config.id, live);
    if (config.status !== 'requested') return;
    if (config.style === 'backport') {
      const request = backportRequest(config, this.options.baseUrl(), {
        type: 'handshake',
        status: 'requested',
        eventsSinceSubscriptionStart: live.eventCount,
        timestamp: new Date().toISOString(),
      });
      this.enqueue(live, { kind: 'send', request, handshake: true });
    } else {
      this.enqueue(live, { kind: 'activate' });
    }
  }

  private onResourceChange(change: ResourceChange): void {
    for (const live of this.live.values()) {
      const { config } = live;
      if (!matches(config, change)) continue;
      if (config.style === 'classic') {
        const request = classicRequest(config, change, { deletes: this.options.classicDeletes });
        if (request) this.enqueue(live, { kind: 'send', request, handshake: false });
        continue;
      }
      live.eventCount += 1;
      const request = backportRequest(config, this.options.baseUrl(), {
        type: 'event-notification',
        status: 'active',
        eventsSinceSubscriptionStart: live.eventCount,
        event: { eventNumber: live.eventCount, change },
        timestamp: change.timestamp,
      });
      this.enqueue(live, { kind: 'send', request, handshake: false });
    }
  }

  private enqueue(live: LiveSubscription, work: Work): void {
    live.queue.push(work);
    this.pending += 1;
    if (work.kind === 'send') this.counters.queued += 1;
    if (!live.running) void this.drain(live);
  }

  /** A status write for a Subscription that is not live (e.g. an unreadable one). */
  private enqueueStatus(id: string, status: 'error', reason: string): void {
    this.pending += 1;
    void this.options
      .setStatus(id, status, reason)
      .catch((err: unknown) => logger.warn({ subscription: id, err: (err as Error).message }, 'sandbox: status update failed'))
      .finally(() => this.settle(1));
  }

  private async drain(live: LiveSubscription): Promise<void> {
    live.running = true;
    try {
      while (live.queue.length > 0 && !live.abort.signal.aborted) {
        const work = live.queue[0] as Work;
        try {
          await this.perform(live, work);
        } catch (err) {
          if (!(err instanceof Stopped)) logger.error({ subscription: live.config.id, err: (err as Error).message }, 'sandbox: delivery error');
        }
        // stop() may have emptied the queue and settled it meanwhile.
        if (live.queue[0] === work) {
          live.queue.shift();
          this.settle(1);
        }
      }
    } finally {
      live.running = false;
    }
  }

  private async perform(live: LiveSubscription, work: Work): Promise<void> {
    const id = live.config.id;
    if (work.kind === 'activate') {
      await this.options.setStatus(id, 'active');
      return;
    }
    const delivered = await this.sendWithRetry(live, work.request);
    if (work.handshake && !live.abort.signal.aborted) {
      await this.options.setStatus(id, delivered ? 'active' : 'error', delivered ? undefined : 'handshake failed');
    }
  }

  /** Sends until acknowledged or `giveUpAfterMs` has passed; true when delivered. */
  private async sendWithRetry(live: LiveSubscription, request: OutgoingRequest): Promise<boolean> {
    const { retry } = this.options;
    const topicBased = live.config.style === 'backport';
    const started = Date.now();
    let delay = retry.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (live.abort.signal.aborted) throw new Stopped();
      this.counters.attempts += 1;
      const result = await attemptOnce(request, retry.requestTimeoutMs, live.abort.signal, topicBased);
      if (result.ok) {
        this.counters.delivered += 1;
        logger.debug({ subscription: live.config.id, notification: request.label, attempt }, 'sandbox: notification delivered');
        return true;
      }
      if (live.abort.signal.aborted) throw new Stopped();
      this.counters.failedAttempts += 1;
      const wait = Math.min(Math.max(delay, result.retryAfterMs ?? 0), retry.maxDelayMs);
      if (Date.now() - started + wait > retry.giveUpAfterMs) {
        this.counters.gaveUp += 1;
        logger.warn(
          { subscription: live.config.id, notification: request.label, attempts: attempt, lastError: result.error },
          'sandbox: notification dropped after retrying',
        );
        return false;
      }
      logger.debug({ subscription: live.config.id, notification: request.label, attempt, error: result.error }, 'sandbox: delivery failed; retrying');
      await sleep(wait, live.abort.signal);
      delay = Math.min(delay * retry.multiplier, retry.maxDelayMs);
    }
  }

  private stop(id: string): void {
    const live = this.live.get(id);
    if (!live) return;
    this.live.delete(id);
    live.abort.abort();
    const dropped = live.queue.length;
    live.queue.length = 0;
    this.counters.dropped += dropped;
    this.settle(dropped);
  }

  private settle(done: number): void {
    this.pending = Math.max(0, this.pending - done);
    if (this.pending === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}

function matches(config: SubscriptionConfig, change: ResourceChange): boolean {
  if (config.filters.length === 0) return matchedTypes(config).includes(change.resourceType);
  const resource = change.resource as unknown as MResource;
  return config.filters.some((f) => f.resourceType === change.resourceType && matchesSearch(resource, f));
}

interface AttemptResult {
  ok: boolean;
  error?: string;
  retryAfterMs?: number;
}

async function attemptOnce(request: OutgoingRequest, timeoutMs: number, stop: AbortSignal, topicBased: boolean): Promise<AttemptResult> {
  try {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) {
      return { ok: false, error: `HTTP ${res.status}`, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
    }
    if (topicBased && res.status !== 204 && !isFhirResourceBody(text)) {
      return { ok: false, error: `HTTP ${res.status} without a FHIR resource body (HAPI rejects it)` };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).cause ? String((err as Error).cause) : (err as Error).message };
  }
}

function isFhirResourceBody(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { resourceType?: unknown };
    return typeof parsed?.resourceType === 'string';
  } catch {
    return false;
  }
}

function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Stopped());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

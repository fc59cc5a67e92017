/**
 * Per-subscription bookkeeping of topic-based notifications: the last event number (to detect
 * gaps, which are answered with a reconciliation sweep) and the last time the subscription was
 * heard from (to report missed heartbeats on /readyz).
 *
 * Two implementations behind one interface: in-memory (one replica, tests) and Redis (several
 * replicas: each pod sees only part of the notifications, so per-pod counters would report false
 * gaps). Both apply the same rules, `advanceEventCounter`; the Redis one runs them in a Lua script
 * so concurrent requests cannot interleave a read and a write.
 */
import type { NotificationParse } from './notification.ts';

/** What one notification tells the tracker. */
export interface SubscriptionObservation {
  /** The Subscription reference as sent (the tracking key). */
  readonly subscription: string;
  readonly kind: Exclude<NotificationParse['kind'], 'ping' | 'validation'>;
  readonly eventNumbers: readonly number[];
  readonly eventsSinceSubscriptionStart?: number;
  readonly heartbeatPeriodSeconds?: number;
  readonly at: Date;
}

/** Event numbers `from..to` (inclusive) that were never received. */
export interface EventGap {
  readonly subscription: string;
  readonly from: number;
  readonly to: number;
}

/** A subscription that has been silent for longer than its heartbeat period. */
export interface OverdueHeartbeat {
  readonly subscription: string;
  readonly heartbeatPeriodSeconds: number;
  readonly lastNotificationAt: string;
  readonly silentForSeconds: number;
}

export interface SubscriptionTracker {
  /** Records a notification (only once its events are stored); returns the gap it reveals, if any. */
  observe(observation: SubscriptionObservation): Promise<EventGap | undefined>;
  /** Subscriptions whose heartbeat period has been exceeded at `now` (for /readyz detail). */
  heartbeatStatus(now: Date): Promise<OverdueHeartbeat[]>;
}

/**
 * How an observation moves the counter:
 * - `reset` (handshake): the counter starts again at what the server says;
 * - `authoritative` (heartbeat, query-status): the server's current count; a lower count than ours
 *   means its counter was reset (HAPI keeps it in memory), so we follow it;
 * - `events`: numbers of delivered events; a lower number is a late or repeated delivery (senders
 *   deliver concurrently), unless it is 1, which is a counter that restarted.
 */
export type CounterMode = 'reset' | 'authoritative' | 'events';

/** The observation reduced to what the counter rules need; undefined when it carries no number. */
export interface CounterStep {
  readonly mode: CounterMode;
  /** Lowest event number this notification delivers (`highest + 1` when it delivers none). */
  readonly lowest: number;
  readonly highest: number;
}

export function counterStep(observation: SubscriptionObservation): CounterStep | undefined {
  const numbers = observation.eventNumbers;
  if (observation.kind === 'events' && numbers.length > 0) {
    return { mode: 'events', lowest: Math.min(...numbers), highest: Math.max(...numbers) };
  }
  const count = observation.eventsSinceSubscriptionStart;
  if (count === undefined) return undefined;
  const mode: CounterMode = observation.kind === 'handshake' ? 'reset' : 'authoritative';
  return { mode, lowest: count + 1, highest: count };
}

/**
 * The counter rules (mirrored by the Lua script of the Redis tracker). Returns the new last
 * event number and the missed range, if any.
 */
export function advanceEventCounter(
  last: number | undefined,
  step: CounterStep,
): { last: number; gap?: { from: number; to: number } } {
  if (step.mode === 'reset' || last === undefined) return { last: step.highest };
  if (step.highest < last) {
    const restarted = step.mode === 'authoritative' || step.lowest <= 1;
    return { last: restarted ? step.highest : last };
  }
  const gap = step.lowest > last + 1 ? { from: last + 1, to: step.lowest - 1 } : undefined;
  return { last: step.highest, ...(gap && { gap }) };
}

/** Lists the subscriptions silent for longer than their heartbeat period. */
export function overdueHeartbeats(
  entries: Iterable<{ subscription: string; heartbeatPeriodSeconds?: number; lastSeenMs: number }>,
  now: Date,
): OverdueHeartbeat[] {
  const overdue: OverdueHeartbeat[] = [];
  for (const e of entries) {
    if (e.heartbeatPeriodSeconds === undefined) continue;
    const silentMs = now.getTime() - e.lastSeenMs;
    if (silentMs <= e.heartbeatPeriodSeconds * 1000) continue;
    overdue.push({
      subscription: e.subscription,
      heartbeatPeriodSeconds: e.heartbeatPeriodSeconds,
      lastNotificationAt: new Date(e.lastSeenMs).toISOString(),
      silentForSeconds: Math.floor(silentMs / 1000),
    });
  }
  return overdue.sort((a, b) => a.subscription.localeCompare(b.subscription));
}

interface MemoryState {
  last?: number;
  lastSeenMs: number;
  heartbeatPeriodSeconds?: number;
}

/** In-process tracker: right for a single replica and for tests. */
export class InMemorySubscriptionTracker implements SubscriptionTracker {
  private readonly states = new Map<string, MemoryState>();

  async observe(observation: SubscriptionObservation): Promise<EventGap | undefined> {
    const state: MemoryState = this.states.get(observation.subscription) ?? { lastSeenMs: 0 };
    state.lastSeenMs = Math.max(state.lastSeenMs, observation.at.getTime());
    if (observation.heartbeatPeriodSeconds !== undefined) state.heartbeatPeriodSeconds = observation.heartbeatPeriodSeconds;
    this.states.set(observation.subscription, state);
    const step = counterStep(observation);
    if (!step) return undefined;
    const next = advanceEventCounter(state.last, step);
    state.last = next.last;
    return next.gap && { subscription: observation.subscription, ...next.gap };
  }

  async heartbeatStatus(now: Date): Promise<OverdueHeartbeat[]> {
    return overdueHeartbeats(
      [...this.states].map(([subscription, s]) => ({
        subscription,
        lastSeenMs: s.lastSeenMs,
        ...(s.heartbeatPeriodSeconds !== undefined && { heartbeatPeriodSeconds: s.heartbeatPeriodSeconds }),
      })),
      now,
    );
  }
}

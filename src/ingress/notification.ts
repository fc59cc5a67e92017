/**
 * What an adapter receives (one HTTP request, already read) and what it returns (a parse result).
 *
 * Adapters are pure functions of these inputs: no I/O, no clock, no EHR calls. The router does
 * everything with side effects (auth, enqueue, subscription tracking, sweeps).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { DeliveryStyle, ResourceEvent } from './resource-event.ts';

/** One notification request as the router read it. */
export interface NotificationRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  /** Node's header map: names are lower-case. */
  readonly headers: IncomingHttpHeaders;
  /** The exact bytes received (HMAC is computed over these, never over re-serialised JSON). */
  readonly rawBody: Buffer;
  /** The parsed body when it is non-empty JSON; `undefined` for an empty body. */
  readonly json: unknown;
  /** Route parameters of `/notify/:type/:id`; absent on `POST /notify`. */
  readonly params: { readonly type?: string; readonly id?: string };
}

/** What a topic-based notification (Backport R4/R4B, R5) says about its Subscription. */
export interface SubscriptionInfo {
  /** The Subscription reference exactly as sent (a label for tracking, never fetched). */
  readonly reference: string;
  /** `requested` | `active` | `error` | `off`, when sent. */
  readonly status?: string;
  readonly topic?: string;
  /** `events-since-subscription-start` / `eventsSinceSubscriptionStart`. */
  readonly eventsSinceSubscriptionStart?: number;
  /** The event numbers this notification carries (empty for handshake, heartbeat, status). */
  readonly eventNumbers: readonly number[];
  /** `heartbeat-period` in seconds, when the notification carries it. */
  readonly heartbeatPeriodSeconds?: number;
  /** Error codes (or texts) of `error` parameters / `SubscriptionStatus.error`. */
  readonly errors: readonly string[];
}

/** The result of parsing one notification; `style` is for logs and metrics only. */
export type NotificationParse =
  | {
      readonly kind: 'events';
      readonly style: DeliveryStyle;
      readonly events: readonly ResourceEvent[];
      readonly subscription?: SubscriptionInfo;
      /**
       * Set when the notification says something changed without saying what (`empty` content,
       * a notification event without `focus`): only a reconciliation sweep can find it.
       */
      readonly sweepReason?: string;
    }
  | { readonly kind: 'handshake' | 'heartbeat'; readonly style: DeliveryStyle; readonly subscription: SubscriptionInfo }
  /** HAPI's payload-less rest-hook: "something matched", nothing more. */
  | { readonly kind: 'ping'; readonly style: DeliveryStyle }
  /** A `query-status` Bundle (the `$status` answer), possibly reporting subscription errors. */
  | { readonly kind: 'status'; readonly style: DeliveryStyle; readonly subscription: SubscriptionInfo }
  /** Azure Event Grid's subscription validation handshake: echo the code back. */
  | { readonly kind: 'validation'; readonly style: DeliveryStyle; readonly validationResponse: string };

/** One adapter per delivery style. Throws `InvalidInputError` when the request is not its style's notification. */
export type NotificationAdapter = (request: NotificationRequest) => NotificationParse;

/**
 * The `/notify` routes: every delivery style in, `ResourceEvent`s to the `EventSink` out.
 *
 * Per request: read the raw body (413 over the limit) → authenticate (401) → check the media type
 * (415) → parse JSON (400) → pick the adapter and parse (400) → enqueue and wait until stored
 * (503 + Retry-After when the queue is down) → track the subscription (gaps start a sweep) → 200
 * with an information OperationOutcome. Nothing here calls the EHR.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { InvalidInputError, PayloadTooLargeError, QueueUnavailableError, UnsupportedMediaTypeError } from '../errors.ts';
import { logger } from '../observability/logger.ts';
import { acceptedOutcome, toHttpOutcome } from '../outcomes.ts';
import { parseNotification } from './adapters/detect.ts';
import { verifyNotificationAuth } from './auth.ts';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.ts';
import { assertNotificationMediaType } from './media-type.ts';
import type { NotificationParse, NotificationRequest, SubscriptionInfo } from './notification.ts';
import { headerValue } from './references.ts';
import type { DeliveryStyle, EventSink } from './resource-event.ts';
import { InMemorySubscriptionTracker, type SubscriptionTracker } from './subscription-tracker.ts';

/** Default body limit: a full-resource notification is small; 5 MB leaves room for big Bundles. */
export const DEFAULT_NOTIFY_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/** Outcome label of `onNotification`, matching `fhir_risk_notifications_total{outcome}`. */
export type NotificationOutcomeLabel =
  | 'accepted'
  | 'duplicate'
  | 'ignored'
  | 'handshake'
  | 'heartbeat'
  | 'status'
  | 'ping'
  | 'validation'
  | 'rejected';

/** Optional metric hooks, so ingress stays free of prom-client wiring. */
export interface IngressMetrics {
  onNotification?(style: DeliveryStyle | 'unknown', outcome: NotificationOutcomeLabel): void;
  /** A gap in a subscription's event numbers (a sweep was requested). */
  onGap?(subscription: string, missedEvents: number): void;
}

export interface IngressRouterDeps {
  sink: EventSink;
  /** `NOTIFY_SECRET`; when unset, notifications are not authenticated. */
  notifySecret?: string;
  /** Largest accepted body; default `DEFAULT_NOTIFY_BODY_LIMIT_BYTES`. */
  bodyLimitBytes?: number;
  metrics?: IngressMetrics;
  /** Default: an in-memory tracker (right for one replica only; pass the Redis one otherwise). */
  subscriptionTracker?: SubscriptionTracker;
  /** Clock for subscription tracking; default `() => new Date()`. */
  now?: () => Date;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Builds the router with `POST /notify`, `PUT|POST|DELETE /notify/:type/:id` and `OPTIONS /notify`. */
export function createIngressRouter(deps: IngressRouterDeps): Router {
  const tracker = deps.subscriptionTracker ?? new InMemorySubscriptionTracker();
  const now = deps.now ?? (() => new Date());
  if (!deps.notifySecret) logger.warn('NOTIFY_SECRET is not set: /notify accepts unauthenticated notifications');

  const router = express.Router();
  const readRawBody = express.raw({ type: () => true, limit: deps.bodyLimitBytes ?? DEFAULT_NOTIFY_BODY_LIMIT_BYTES });

  const handle = async (req: Request, res: Response): Promise<void> => {
    let style: DeliveryStyle | 'unknown' = 'unknown';
    try {
      const request = readNotificationRequest(req, deps.notifySecret);
      const parsed = parseNotification(request);
      style = parsed.style;
      const label = await act(parsed, { ...deps, tracker, now });
      deps.metrics?.onNotification?.(style, label);
      if (parsed.kind === 'validation') {
        res.status(200).json({ validationResponse: parsed.validationResponse });
        return;
      }
      sendOutcome(res, 200, acceptedOutcome(describe(parsed, label)));
    } catch (err) {
      deps.metrics?.onNotification?.(style, 'rejected');
      throw err;
    }
  };

  router.post('/notify', readRawBody, handle);
  router.put('/notify/:type/:id', readRawBody, handle);
  router.post('/notify/:type/:id', readRawBody, handle);
  router.delete('/notify/:type/:id', readRawBody, handle);
  // CloudEvents webhook abuse protection (Event Grid's CloudEvents schema validates with OPTIONS).
  router.options('/notify', (req, res) => {
    verifyNotificationAuth(deps.notifySecret, { headers: req.headers, queryToken: req.query.token, rawBody: Buffer.alloc(0) });
    const origin = headerValue(req.headers, 'webhook-request-origin');
    if (origin !== undefined) res.set({ 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*' });
    res.set('Allow', 'POST, OPTIONS').status(200).end();
  });
  // Scoped to /notify so errors of other routes (mounted before us) keep their own handling.
  router.use('/notify', ingressErrorHandler);
  return router;
}

/** Auth, media type and JSON parsing: everything between the raw bytes and an adapter. */
function readNotificationRequest(req: Request, notifySecret: string | undefined): NotificationRequest {
  if (req.body !== undefined && !Buffer.isBuffer(req.body)) {
    // Someone parsed the body before us: the raw bytes (needed for X-Signature) are gone.
    throw new Error('The ingress router must be mounted before any body-parsing middleware');
  }
  const rawBody: Buffer = req.body ?? Buffer.alloc(0);
  verifyNotificationAuth(notifySecret, { headers: req.headers, queryToken: req.query.token, rawBody });
  const method = req.method as NotificationRequest['method'];
  const { type, id } = req.params as Record<string, unknown>;
  const params = { ...(typeof type === 'string' && { type }), ...(typeof id === 'string' && { id }) };
  const text = rawBody.toString('utf8');
  // A DELETE's body (if any) means nothing; an empty body has no media type to check.
  if (method === 'DELETE' || text.trim().length === 0) return { method, headers: req.headers, rawBody, json: undefined, params };
  assertNotificationMediaType(headerValue(req.headers, 'content-type'));
  if (exceedsJsonDepth(text)) throw new InvalidInputError(`The body nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    // JSON.parse's message quotes the input: keep body content out of responses and logs.
    throw new InvalidInputError('The body is not valid JSON');
  }
  return { method, headers: req.headers, rawBody, json, params };
}

interface ActDeps extends IngressRouterDeps {
  tracker: SubscriptionTracker;
  now: () => Date;
}

/** Does what the notification asks; resolves only once its events are stored. */
async function act(parsed: NotificationParse, deps: ActDeps): Promise<NotificationOutcomeLabel> {
  switch (parsed.kind) {
    case 'validation':
      return 'validation';
    case 'ping':
      // Its only content is "something matched": if the sweep cannot be requested, the sender must retry.
      await deps.sink.requestSweep('empty ping');
      return 'ping';
    case 'handshake':
    case 'heartbeat':
    case 'status':
      await track(parsed.kind, parsed.subscription, deps);
      if (parsed.kind === 'handshake') logger.info({ subscription: parsed.subscription.reference, style: parsed.style }, 'subscription handshake');
      return parsed.kind;
    case 'events': {
      const result = parsed.events.length > 0 ? await deps.sink.enqueue(parsed.events) : { accepted: 0, duplicates: 0, ignored: 0 };
      if (parsed.sweepReason !== undefined) await deps.sink.requestSweep(parsed.sweepReason);
      if (parsed.subscription) await track('events', parsed.subscription, deps);
      logger.debug({ style: parsed.style, events: parsed.events.length, ...result, subscription: parsed.subscription?.reference }, 'notification accepted');
      return result.accepted > 0 ? 'accepted' : result.duplicates > 0 ? 'duplicate' : 'ignored';
    }
  }
}

/**
 * Records the notification against its subscription; a gap or an `error` status asks for a sweep.
 * Runs after the events are stored, so a notification that failed to enqueue (and will be
 * redelivered, or dropped by the sender) never advances the counter. A failed sweep request here
 * is logged, not fatal: the events are stored and the scheduled sweep will cover the gap.
 */
async function track(kind: 'handshake' | 'heartbeat' | 'status' | 'events', subscription: SubscriptionInfo, deps: ActDeps): Promise<void> {
  let gap;
  try {
    gap = await deps.tracker.observe({
      subscription: subscription.reference,
      kind,
      eventNumbers: subscription.eventNumbers,
      ...(subscription.eventsSinceSubscriptionStart !== undefined && { eventsSinceSubscriptionStart: subscription.eventsSinceSubscriptionStart }),
      ...(subscription.heartbeatPeriodSeconds !== undefined && { heartbeatPeriodSeconds: subscription.heartbeatPeriodSeconds }),
      at: deps.now(),
    });
  } catch (err) {
    // The Redis tracker fails like the queue does (Redis down or restarting). Answer 503 +
    // Retry-After, not 500: the sender retries, the stored events make the retry a no-op, and
    // the retry advances the counter. (Found by the chaos run: a Redis restart gave a 500 here.)
    throw new QueueUnavailableError('The subscription tracker (Redis) is unavailable; retry later', { cause: err });
  }
  const reasons: string[] = [];
  if (gap) {
    deps.metrics?.onGap?.(gap.subscription, gap.to - gap.from + 1);
    reasons.push(`gap in ${gap.subscription} events ${gap.from}..${gap.to}`);
  }
  if (subscription.status === 'error') {
    reasons.push(`${subscription.reference} reports status error (${subscription.errors.join(', ') || 'no detail'})`);
  }
  for (const reason of reasons) {
    logger.warn({ subscription: subscription.reference, reason }, 'requesting a reconciliation sweep');
    try {
      await deps.sink.requestSweep(reason);
    } catch (err) {
      logger.warn({ err: (err as Error).message, reason }, 'could not request a sweep; the scheduled sweep will cover it');
    }
  }
}

function describe(parsed: NotificationParse, label: NotificationOutcomeLabel): string {
  switch (parsed.kind) {
    case 'ping':
      return 'Notification received; a reconciliation sweep was requested';
    case 'handshake':
      return `Handshake accepted for ${parsed.subscription.reference}`;
    case 'heartbeat':
      return `Heartbeat received for ${parsed.subscription.reference}`;
    case 'status':
      return `Subscription status received for ${parsed.subscription.reference} (${parsed.subscription.status ?? 'unknown'})`;
    case 'events':
      return `Notification accepted: ${parsed.events.length} event(s), outcome ${label}${parsed.sweepReason ? '; a reconciliation sweep was requested' : ''}`;
    case 'validation':
      return 'Validation accepted';
  }
}

function sendOutcome(res: Response, status: number, outcome: OperationOutcome, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(outcome);
  // Straight to node's response: express's res.send would hash the body for an ETag and check
  // request freshness on every notification, neither of which means anything for this answer.
  res.writeHead(status, { ...headers, 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** body-parser's errors → our typed errors; then the one mapping in outcomes.ts. */
function ingressErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(err);
    return;
  }
  const typed = fromBodyParserError(err);
  const { status, outcome, headers } = toHttpOutcome(typed);
  if (status >= 500) logger.error({ err: typed instanceof Error ? typed.message : String(typed), status }, 'notification failed');
  else logger.info({ status, reason: outcome.issue[0]?.diagnostics }, 'notification rejected');
  sendOutcome(res, status, outcome, headers);
}

function fromBodyParserError(err: unknown): unknown {
  // express cannot percent-decode a route parameter (`/notify/Observation/%`): a malformed path.
  if (err instanceof URIError) return new InvalidInputError('The request path is not valid percent-encoding');
  const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
  switch (type) {
    case 'entity.too.large':
      return new PayloadTooLargeError('The notification body is larger than the configured limit');
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeError('Unsupported Content-Encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'entity.verify.failed':
      return new InvalidInputError('The request body could not be read');
    default:
      return err;
  }
}

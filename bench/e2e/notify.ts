/**
 * Sending notifications to the service under test: HAPI R4 rest-hook style
 * (`PUT /notify/Observation/:id` with the resource), as the test support builds them.
 *
 * The load generator shares the machine with what it measures, so it is kept cheap: node:http
 * with keep-alive sockets instead of fetch (whose streams cost about twice the CPU per request).
 */
import { Agent, request as httpRequest } from 'node:http';
import type { Observation } from 'fhir/r4.js';
import { hapiPut, type NotificationRequest } from '../../test/support/notifications.ts';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request on a keep-alive socket; resolves with the status and the Retry-After header. */
function send(serviceUrl: string, req: NotificationRequest): Promise<{ status: number; retryAfter: number }> {
  const url = new URL(req.path, serviceUrl);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { agent, method: req.method, hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after']) || 1 }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** One notification: the Observation as of `version` (a distinct event per version). */
export interface Notification {
  readonly patientId: string;
  readonly observation: Observation & { id: string };
  readonly version: number;
}

/** 503 answers (the service could not store the event in time) that were retried, as a sender would. */
export const retried = { count: 0 };

const MAX_ATTEMPTS = 10;

/**
 * Sends one notification; resolves with the time it was first sent (epoch ms). Like HAPI, a 503
 * is retried after its `Retry-After` (counted in `retried`); any other non-2xx throws.
 */
export async function notify(serviceUrl: string, n: Notification): Promise<number> {
  const sentAt = Date.now();
  const request = hapiPut({ ...n.observation, meta: { versionId: String(n.version) } });
  for (let attempt = 1; ; attempt++) {
    const res = await send(serviceUrl, request);
    if (res.status >= 200 && res.status < 300) return sentAt;
    if (res.status !== 503 || attempt === MAX_ATTEMPTS) {
      throw new Error(`notification about ${n.observation.id} v${n.version}: HTTP ${res.status}`);
    }
    retried.count += 1;
    await new Promise((r) => setTimeout(r, 1000 * res.retryAfter));
  }
}

/** Sends all of `list` in order with `concurrency` requests in flight; resolves with the elapsed seconds. */
export async function notifyAll(serviceUrl: string, list: readonly Notification[], concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) await notify(serviceUrl, list[next++] as Notification);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

/** Sends `list` at a steady `perSecond` (open loop: one every 1/perSecond s, whatever the answers); resolves with each send time. */
export async function notifyAtRate(serviceUrl: string, list: readonly Notification[], perSecond: number): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const interval = 1000 / perSecond;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < list.length; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const n = list[i] as Notification;
    inFlight.push(notify(serviceUrl, n).then((t) => void sentAt.set(n.patientId, t)));
  }
  await Promise.all(inFlight);
  return sentAt;
}

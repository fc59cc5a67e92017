/**
 * `startSandbox`: the development FHIR R4 server used by the demo and the end-to-end tests.
 *
 * An in-memory FHIR REST API (Medplum `FhirRouter` over a `MemoryRepository`) at
 * `http://<host>:<port>/fhir/R4`, with rest-hook Subscription delivery (HAPI R4 classic and
 * Subscriptions Backport R4) and optional fault injection. Never imported by the service itself.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'fhir/r4.js';
import type { Resource as MResource } from '@medplum/fhirtypes';
import { ensureSearchParameters } from './definitions.ts';
import { HAPI_RETRY_POLICY, SubscriptionDelivery, type DeliveryCounters, type RetryPolicy } from './delivery.ts';
import { noFaults, type FaultCounters, type SandboxFaults } from './faults.ts';
import { createSandboxApp, type RequestCounters } from './http.ts';
import { SandboxRepository } from './repository.ts';
import { createSandboxRouter, type RouteContext } from './routes.ts';
import { SerialQueue } from './serial-queue.ts';

/** Path of the FHIR base on the sandbox host. */
export const SANDBOX_BASE_PATH = '/fhir/R4';

export interface SandboxOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Search page size without `_count` (default 50) and the largest `_count` honoured (default 1000). */
  pageSize?: number;
  maxPageSize?: number;
  /** Delivery retry policy; defaults to HAPI's (1 s × 1.1 back-off, give up after 60 s). */
  retry?: Partial<RetryPolicy>;
  /** Classic rest-hook deletes: only with HAPI's send-delete-messages extension (default) or always. */
  classicDeletes?: 'extension' | 'always';
  /** Largest request body (default `32mb`). */
  bodyLimit?: string;
}

export interface SandboxCounters {
  readonly requests: RequestCounters;
  readonly faults: FaultCounters;
  readonly delivery: DeliveryCounters;
}

export interface Sandbox {
  /** FHIR base URL, no trailing slash, e.g. `http://127.0.0.1:41234/fhir/R4`. */
  readonly baseUrl: string;
  readonly port: number;
  /** The store behind the API (a Medplum `MemoryRepository`), for assertions. */
  readonly repo: SandboxRepository;
  /** Live counters (requests by method and interaction, injected faults, deliveries). */
  readonly counters: SandboxCounters;
  /** Fault injection for the REST API; all zero (off) by default. Mutate freely. */
  readonly faults: SandboxFaults;
  /** Resolves when no notification is queued or in flight. */
  deliveryIdle(): Promise<void>;
  /** Notifications queued or in flight. */
  readonly pendingDeliveries: number;
  /** Stops delivery (pending notifications are dropped) and the HTTP server. */
  close(): Promise<void>;
}

/** Starts a sandbox FHIR server; resolves once it listens. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  ensureSearchParameters();
  const repo = new SandboxRepository();
  const writes = new SerialQueue();
  const ctx: RouteContext = {
    baseUrl: '',
    defaultCount: opts.pageSize ?? 50,
    maxCount: opts.maxPageSize ?? 1000,
    eventCount: (id) => delivery.eventCount(id),
  };

  /** Moves a Subscription out of `requested` (or an active one to `error`) through the write path. */
  const setStatus = (id: string, status: 'active' | 'error', reason?: string): Promise<void> =>
    writes.run(async () => {
      if (!repo.exists('Subscription', id)) return;
      const current = (await repo.readResource('Subscription', id)) as unknown as Subscription;
      const allowed = current.status === 'requested' || (status === 'error' && current.status === 'active');
      if (!allowed) return;
      const next: Subscription = { ...current, status };
      if (status === 'error' && reason) next.error = reason;
      else delete next.error;
      repo.beginUnitOfWork();
      try {
        await repo.updateResource(next as unknown as MResource);
      } catch (err) {
        repo.rollback();
        throw err;
      }
      delivery.onChanges(repo.commit());
    });

  const delivery = new SubscriptionDelivery({
    baseUrl: () => ctx.baseUrl,
    retry: { ...HAPI_RETRY_POLICY, ...opts.retry },
    classicDeletes: opts.classicDeletes ?? 'extension',
    setStatus,
  });
  repo.setChangeListener((changes) => delivery.onChanges(changes));

  const counters = {
    requests: { total: 0, byMethod: {}, byInteraction: {} },
    faults: { errors: 0, stalls: 0 },
    delivery: delivery.counters,
  } satisfies SandboxCounters;
  const faults = noFaults();
  const router = createSandboxRouter(repo, ctx);
  const app = createSandboxApp({
    basePath: SANDBOX_BASE_PATH,
    router,
    repo,
    ctx,
    writes,
    onCommit: (changes) => delivery.onChanges(changes),
    counters: counters.requests,
    faults,
    faultCounters: counters.faults,
    bodyLimit: opts.bodyLimit ?? '32mb',
  });

  const host = opts.host ?? '127.0.0.1';
  const server = createServer(app);
  // Longer than any client's idle keep-alive (undici: 4 s; HAPI: 60 s), so the server never closes
  // a connection a client is about to reuse (that surfaces as ECONNRESET under load).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await listen(server, opts.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  ctx.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}${SANDBOX_BASE_PATH}`;

  let closed: Promise<void> | undefined;
  return {
    baseUrl: ctx.baseUrl,
    port,
    repo,
    counters,
    faults,
    deliveryIdle: () => delivery.idle(),
    get pendingDeliveries() {
      return delivery.pendingCount;
    },
    close: () => {
      closed ??= (async () => {
        delivery.close();
        repo.setChangeListener(undefined);
        await new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Assembly of the HTTP service: ingress, health, metrics, the /fhir facade, one error handler.
 * Reads top-down as the system: routes in the order a request meets them.
 */
import express, { type Express } from 'express';
import { createApiAuth, type ApiAuthConfig } from './api/api-auth.ts';
import { createAdminRouter } from './admin/router.ts';
import { createCdsHooksRouter } from './api/cds-hooks.ts';
import { createFhirFacade, type FacadeDeps } from './api/fhir-facade.ts';
import { errorHandler, sendFhir } from './api/async-route.ts';
import type { PublicJwks } from './fhir/jwks.ts';
import { createIngressRouter } from './ingress/router.ts';
import type { EventSink } from './ingress/resource-event.ts';
import type { SubscriptionTracker } from './ingress/subscription-tracker.ts';
import { heartbeatsOverdue, notificationsTotal, registry, subscriptionGapsTotal } from './observability/metrics.ts';
import { outcome } from './outcomes.ts';
import type { Pipeline } from './pipeline/runtime.ts';

export interface AppDeps extends FacadeDeps {
  sink: EventSink;
  notifySecret?: string;
  notifyBodyLimit: number;
  /** Redis answers and the queues can take events. */
  redisReady: () => Promise<boolean>;
  sampleQueueDepths?: () => Promise<void>;
  /** Shared across replicas (Redis) so gaps and silent subscriptions are seen cluster-wide. */
  subscriptionTracker?: SubscriptionTracker;
  /** The public key set of the SMART Backend Services signing key, when one is configured. */
  jwks?: PublicJwks;
  /** Authentication of the results API (`API_AUTH`); unset = none (development only). */
  apiAuth?: ApiAuthConfig;
  /** Authentication of CDS Hooks callers (the EHR's JWT); default none. */
  cdsAuth?: ApiAuthConfig;
  /** Queues for the admin pages (Bull Board, status page). */
  pipeline?: Pick<Pipeline, 'events' | 'scores' | 'maintenance'>;
}

/**
 * The worker's own small HTTP surface: liveness, readiness and metrics, so scoring metrics are
 * scraped from worker pods too (the API pods only see notifications and queue depths).
 */
export function createWorkerApp(deps: Pick<AppDeps, 'redisReady' | 'models'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res, next) => {
    void (async () => {
      const redis = await deps.redisReady();
      const ready = redis && deps.models.list().length > 0;
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', redis: redis ? 'up' : 'down', models: deps.models.list().map((m) => m.manifest.id) });
    })().catch(next);
  });
  app.get('/metrics', (_req, res, next) => {
    void (async () => {
      res.set('content-type', registry.contentType).send(await registry.metrics());
    })().catch(next);
  });
  app.use((req, res) => {
    sendFhir(res, 404, outcome('error', 'not-found', `No route for ${req.method} ${req.path}`));
  });
  return app;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);

  app.use(
    createIngressRouter({
      sink: deps.sink,
      bodyLimitBytes: deps.notifyBodyLimit,
      ...(deps.notifySecret ? { notifySecret: deps.notifySecret } : {}),
      ...(deps.subscriptionTracker ? { subscriptionTracker: deps.subscriptionTracker } : {}),
      metrics: {
        onNotification: (style, result) => notificationsTotal.inc({ style, outcome: result }),
        onGap: () => subscriptionGapsTotal.inc(),
      },
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res, next) => {
    void (async () => {
      const redis = await deps.redisReady();
      const models = deps.models.list().map((m) => m.manifest.id);
      const reasons: string[] = [];
      // Silent subscriptions are the most reported failure in the field: show them, but a
      // missed heartbeat does not make this pod unready (restarting it would not help).
      const overdueHeartbeats = redis ? await deps.subscriptionTracker?.heartbeatStatus(new Date()).catch(() => []) : [];
      if (!redis) reasons.push('redis does not answer');
      if (models.length === 0) reasons.push('no model loaded');
      res.status(reasons.length === 0 ? 200 : 503).json({
        status: reasons.length === 0 ? 'ready' : 'not-ready',
        reasons,
        redis: redis ? 'up' : 'down',
        models,
        modelProblems: deps.models.problems,
        overdueHeartbeats: overdueHeartbeats ?? [],
      });
    })().catch(next);
  });

  // The EHR's authorization server fetches our public key here (Epic requires a JWKS URL).
  app.get('/.well-known/jwks.json', (_req, res) => {
    if (!deps.jwks) {
      sendFhir(res, 404, outcome('error', 'not-found', 'No signing key is configured (FHIR_AUTH=smart-backend with FHIR_PRIVATE_KEY), so there is no JWK Set'));
      return;
    }
    res.set('cache-control', 'public, max-age=3600').json(deps.jwks);
  });

  app.get('/metrics', (_req, res, next) => {
    void (async () => {
      await deps.sampleQueueDepths?.().catch(() => undefined);
      const overdue = await deps.subscriptionTracker?.heartbeatStatus(new Date()).catch(() => undefined);
      if (overdue) heartbeatsOverdue.set(overdue.length);
      res.set('content-type', registry.contentType).send(await registry.metrics());
    })().catch(next);
  });

  // One instance for every router it guards (it caches the JWKS): /fhir now, /cds-services and /admin too.
  const apiAuth = createApiAuth(deps.apiAuth ?? { mode: 'none' });
  app.use('/fhir', express.json({ type: ['application/json', 'application/fhir+json'], limit: '1mb' }), createFhirFacade(deps, apiAuth));
  // CDS Hooks: the EHR calls this while a clinician opens the chart (the router parses its own JSON).
  // The EHR signs its own JWT for CDS Hooks (its issuer, our service URL as audience), so these
  // routes have their own verifier; scopes do not apply to a CDS client.
  const cdsAuth = deps.cdsAuth?.mode === 'jwt' ? createApiAuth(deps.cdsAuth) : undefined;
  app.use('/cds-services', ...(cdsAuth ? [cdsAuth] : []), createCdsHooksRouter(deps));
  // Bull Board and the status page: behind the API auth, plus a system-scope check of their own.
  if (deps.pipeline) app.use('/admin', apiAuth, createAdminRouter({ pipeline: deps.pipeline, models: deps.models }));

  app.use((req, res) => {
    sendFhir(res, 404, outcome('error', 'not-found', `No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler);
  return app;
}

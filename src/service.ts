/**
 * Start-up and shutdown of the long-running service (`start`, `serve`, `worker`).
 *
 * Order: config → models → value sets → EHR clients → pipeline (Redis) → HTTP. Shutdown runs
 * the other way on SIGTERM/SIGINT: stop taking requests, let workers finish or hand back their
 * jobs, close queues, then connections.
 */
import type { Server } from 'node:http';
import { createApp, createWorkerApp } from './app.ts';
import { BUNDLED_PROFILES_DIR, type Config } from './config.ts';
import { loadValueSets, type ValueSetIndex } from './features/value-sets.ts';
import { createAuthHeaderProvider } from './fhir/auth.ts';
import { FhirKitEhrClient } from './fhir/ehr-client.ts';
import { publicJwks } from './fhir/jwks.ts';
import { loadModelRegistry } from './models/registry.ts';
import { warmUpValidation } from './writeback/validate.ts';
import type { ModelRegistry } from './models/types.ts';
import { logger } from './observability/logger.ts';
import { ehrRequests } from './observability/metrics.ts';
import { startPipeline, type Pipeline } from './pipeline/runtime.ts';
import { RedisSubscriptionTracker } from './ingress/redis-subscription-tracker.ts';
import type { RiskAssessment } from 'fhir/r4.js';
import { join } from 'node:path';

export type Role = 'all' | 'api' | 'worker';

export interface RunningService {
  readonly pipeline: Pipeline;
  readonly models: ModelRegistry;
  readonly valueSets: ValueSetIndex;
  /** The HTTP server (the API, or a worker's health and metrics). */
  readonly server: Server;
  readonly port: number;
  stop(): Promise<void>;
}

export const VALUE_SETS_DIR = join(BUNDLED_PROFILES_DIR, 'valuesets');

export function createEhrClients(config: Config): { ehr: FhirKitEhrClient; results: FhirKitEhrClient } {
  if (!config.fhirBaseUrl) throw new Error('FHIR_BASE_URL is required');
  const authHeader = createAuthHeaderProvider(config.auth);
  const onRequest = ({ method, status, durationMs }: { method: string; status: number; durationMs: number }) =>
    ehrRequests.observe({ method, status: String(status) }, durationMs / 1000);
  const ehr = new FhirKitEhrClient({ baseUrl: config.fhirBaseUrl, authHeader, timeoutMs: config.fhirTimeoutMs, onRequest });
  const results =
    config.resultsBaseUrl && config.resultsBaseUrl !== config.fhirBaseUrl
      ? new FhirKitEhrClient({ baseUrl: config.resultsBaseUrl, authHeader, timeoutMs: config.fhirTimeoutMs, onRequest })
      : ehr;
  return { ehr, results };
}

export async function startService(
  config: Config,
  role: Role,
  hooks: { onWritten?: (ra: RiskAssessment) => void } = {},
): Promise<RunningService> {
  const models = await loadModelRegistry({ dir: config.modelsDir, strict: config.modelsStrict, disabled: config.modelsDisabled });
  for (const problem of models.problems) logger.error(problem);
  logger.info({ models: models.list().map((m) => `${m.manifest.id}@${m.manifest.version}`) }, 'models loaded');
  const valueSets = await loadValueSets(VALUE_SETS_DIR);
  // Before anything listens: indexing the R4 definitions takes seconds, and would otherwise stall
  // the first scoring while notifications queue up behind it.
  warmUpValidation();
  const { ehr, results } = createEhrClients(config);
  if (!config.notifySecret && role !== 'worker') {
    logger.warn('NOTIFY_SECRET is not set: /notify accepts unauthenticated notifications');
  }

  const pipeline = await startPipeline({
    config,
    models,
    valueSets,
    ehr,
    results,
    runWorkers: role !== 'api',
    ...(hooks.onWritten ? { onWritten: hooks.onWritten } : {}),
  });

  const app =
    role === 'worker'
      ? createWorkerApp({ redisReady: () => pipeline.redisReady(), models })
      : createApp({
          sink: pipeline.sink,
          pipeline,
          ...(config.notifySecret ? { notifySecret: config.notifySecret } : {}),
          notifyBodyLimit: config.notifyBodyLimit,
          redisReady: () => pipeline.redisReady(),
          sampleQueueDepths: () => pipeline.sampleQueueDepths(),
          subscriptionTracker: new RedisSubscriptionTracker(pipeline.producer, `${config.queuePrefix}:ingress`),
          ehr,
          results,
          models,
          valueSets,
          shadow: new Set(config.modelsShadow),
          writeMode: config.writeMode,
          ...(config.publicBaseUrl ? { publicBaseUrl: config.publicBaseUrl } : {}),
          ...(config.auth.kind === 'smart-backend' ? { jwks: publicJwks(config.auth.signingKey) } : {}),
          apiAuth: config.apiAuth,
          cdsAuth: config.cdsAuth,
        });
  // Workers listen too, for /healthz, /readyz and /metrics only.
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, '0.0.0.0', () => resolve(s));
    // EHRs (HAPI: 60 s) keep delivery connections alive; never close one they are about to reuse.
    s.keepAliveTimeout = 65_000;
    s.headersTimeout = 66_000;
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, role }, role === 'worker' ? 'fhir-risk workers running (health and metrics on this port)' : 'fhir-risk listening');

  return {
    pipeline,
    models,
    valueSets,
    server,
    port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open; in-flight requests still finish.
        server.closeIdleConnections();
      });
      await pipeline.close();
      await models.close();
    },
  };
}

/** Stops on SIGTERM/SIGINT, once; a second signal exits at once. */
export function stopOnSignals(service: RunningService): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight jobs');
    service.stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

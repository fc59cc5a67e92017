/**
 * `/admin`: a status page for operators and Bull Board (`/admin/queues`) for the events, scores
 * and maintenance queues.
 *
 * Mounted behind the API auth (`app.use('/admin', apiAuth, createAdminRouter(...))`), which
 * authenticates; this router then requires a system-level scope ({@link requireAdminScope}).
 * Bull Board can retry, promote and remove jobs; `readOnly` turns that off.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { deadLettersIn } from '../commands/dlq.ts';
import type { ModelRegistry } from '../models/types.ts';
import { registry as defaultRegistry } from '../observability/metrics.ts';
import type { Pipeline } from '../pipeline/runtime.ts';
import { requireAdminScope } from './authorize.ts';
import { summarizeMetrics } from './metrics-summary.ts';
import { renderStatusPage, type QueueDepth } from './status-page.ts';
import type { Registry } from 'prom-client';

export interface AdminDeps {
  pipeline: Pick<Pipeline, 'events' | 'scores' | 'maintenance'>;
  models: Pick<ModelRegistry, 'list' | 'problems'>;
  /** Where the router is mounted (Bull Board builds its links from it). Default `/admin`. */
  basePath?: string;
  /** Bull Board without retry/remove/clean buttons. Default false. */
  readOnly?: boolean;
  /** Default: the process registry of metrics.ts. */
  registry?: Registry;
  /** Who may use the pages. Default {@link requireAdminScope} (needs the API auth in front). */
  authorize?: RequestHandler;
}

const RECENT_FAILURES = 20;

/** The `/admin` router: `GET /` the status page, `/queues` Bull Board. */
export function createAdminRouter(deps: AdminDeps): Router {
  const basePath = (deps.basePath ?? '/admin').replace(/\/+$/, '');
  const queues: Queue[] = [deps.pipeline.events, deps.pipeline.scores, deps.pipeline.maintenance] as Queue[];
  const registry = deps.registry ?? defaultRegistry;

  const board = new ExpressAdapter();
  board.setBasePath(`${basePath}/queues`);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: deps.readOnly ?? false })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'fhir-risk queues' } },
  });

  const router = Router();
  router.use(deps.authorize ?? requireAdminScope);
  router.use('/queues', board.getRouter() as Router);

  router.get('/', (req: Request, res: Response, next: NextFunction) => {
    // `/admin` without the slash: relative links must resolve under /admin/.
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) {
      res.redirect(301, `${basePath}/`);
      return;
    }
    void (async () => {
      const [metrics, depths, failures] = await Promise.all([
        summarizeMetrics(registry),
        Promise.all(queues.map(async (q): Promise<QueueDepth> => ({ queue: q.name, counts: await q.getJobCounts() }))),
        deadLettersIn(queues, RECENT_FAILURES),
      ]);
      const html = renderStatusPage({
        generatedAt: new Date(),
        metrics,
        queues: depths,
        failures: failures.slice(0, RECENT_FAILURES),
        models: deps.models.list().map((m) => ({ id: m.manifest.id, version: m.manifest.version, title: m.manifest.title })),
        modelProblems: deps.models.problems,
        queuesHref: 'queues',
      });
      res
        .status(200)
        .set('content-type', 'text/html; charset=utf-8')
        .set('cache-control', 'no-store')
        .set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        .set('x-content-type-options', 'nosniff')
        .send(html);
    })().catch(next);
  });
  return router;
}

/**
 * The sandbox's HTTP face: express in front of the `FhirRouter`.
 *
 * Per request: count it, apply injected faults, check the media type and parse the body, hand a
 * `FhirRequest` to the router, and write the answer as `application/fhir+json` (a resource, or
 * an OperationOutcome with the matching status). Every write runs as one unit of work under a
 * write lock: a transaction Bundle with a failing entry is rolled back and answered with that
 * entry's outcome, and only committed changes reach subscription delivery.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { getStatus, isOk } from '@medplum/core';
import type { Bundle as MBundle, OperationOutcome as MOperationOutcome, Resource as MResource } from '@medplum/fhirtypes';
import type { FhirRequest, FhirResponse, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import { logger } from '../observability/logger.ts';
import { outcome } from '../outcomes.ts';
import { faultInjection, type FaultCounters, type SandboxFaults } from './faults.ts';
import type { ResourceChange, SandboxRepository } from './repository.ts';
import type { RouteContext } from './routes.ts';
import type { SerialQueue } from './serial-queue.ts';

/** Requests served, for benchmarks. Keys of `byInteraction` are FHIR restful interaction codes. */
export interface RequestCounters {
  total: number;
  byMethod: Record<string, number>;
  byInteraction: Record<string, number>;
}

export interface SandboxHttpDeps {
  readonly basePath: string;
  readonly router: FhirRouter;
  readonly repo: SandboxRepository;
  readonly ctx: RouteContext;
  readonly writes: SerialQueue;
  readonly onCommit: (changes: ResourceChange[]) => void;
  readonly counters: RequestCounters;
  readonly faults: SandboxFaults;
  readonly faultCounters: FaultCounters;
  /** Largest accepted request body (express/body-parser syntax, e.g. `32mb`). */
  readonly bodyLimit: string;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir', 'application/json-patch+json'];

export function createSandboxApp(deps: SandboxHttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(deps.basePath, express.text({ type: () => true, limit: deps.bodyLimit }));
  app.use(deps.basePath, (req, _res, next) => {
    deps.counters.total += 1;
    bump(deps.counters.byMethod, req.method);
    next();
  });
  app.use(deps.basePath, faultInjection(deps.faults, deps.faultCounters));
  app.use(deps.basePath, (req, res, next) => {
    handleFhirRequest(deps, req, res).catch(next);
  });
  app.use((_req: Request, res: Response) => {
    sendJson(res, 404, outcome('error', 'not-found', `Not found; the FHIR base is ${deps.basePath}`));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') {
      sendJson(res, 413, outcome('error', 'too-costly', `Request body larger than ${deps.bodyLimit}`));
    } else if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      sendJson(res, 415, outcome('error', 'not-supported', e.message ?? 'Unsupported encoding'));
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      sendJson(res, e.status, outcome('error', 'structure', e.message ?? 'Bad request'));
    } else {
      logger.error({ err: e.message }, 'sandbox: request failed');
      sendJson(res, 500, outcome('fatal', 'exception', 'Internal error; see the sandbox log'));
    }
  });
  return app;
}

async function handleFhirRequest(deps: SandboxHttpDeps, req: Request, res: Response): Promise<void> {
  const method = req.method.toUpperCase() as HttpMethod;
  const url = req.url.replace(/^\/+/, '');
  const path = url.split('?')[0] ?? '';
  const isSearchPost = method === 'POST' && path.endsWith('/_search');

  let body: unknown;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const parsed = parseBody(req, isSearchPost);
    if ('error' in parsed) {
      sendJson(res, parsed.status, outcome('error', parsed.status === 415 ? 'not-supported' : 'structure', parsed.error));
      return;
    }
    body = parsed.body;
  }

  bump(deps.counters.byInteraction, interactionOf(deps.router, method, url, body));
  const fhirRequest: FhirRequest = {
    method,
    url,
    pathname: '',
    params: {},
    query: {},
    body,
    headers: req.headers,
    // Medplum's strict transactions cap a Bundle at 50 updates (a Synthea patient has hundreds);
    // atomicity comes from our own unit of work instead.
    config: { transactions: false },
  };
  const isWrite = method !== 'GET' && method !== 'HEAD' && !isSearchPost;
  const response = isWrite
    ? await deps.writes.run(() => runUnitOfWork(deps, fhirRequest))
    : await deps.router.handleRequest(fhirRequest, deps.repo);
  writeFhirResponse(res, response, deps.ctx.baseUrl);
}

/** Runs one write; commits and publishes its changes, or rolls it back on failure. */
async function runUnitOfWork(deps: SandboxHttpDeps, fhirRequest: FhirRequest): Promise<FhirResponse> {
  const { repo } = deps;
  repo.beginUnitOfWork();
  try {
    const response = await deps.router.handleRequest(fhirRequest, repo);
    const failure = unitFailure(response, fhirRequest.body);
    if (failure) {
      repo.rollback();
      return [failure];
    }
    deps.onCommit(repo.commit());
    return response;
  } catch (err) {
    repo.rollback();
    throw err;
  }
}

/** Why a write must be undone: an error outcome, or any failed entry of a transaction Bundle. */
function unitFailure(response: FhirResponse, body: unknown): MOperationOutcome | undefined {
  const [result, resource] = response;
  if (!isOk(result)) return result;
  if ((body as { type?: string } | undefined)?.type !== 'transaction' || resource?.resourceType !== 'Bundle') return undefined;
  const entries = (resource as MBundle).entry ?? [];
  for (let i = 0; i < entries.length; i++) {
    const status = Number(entries[i]?.response?.status ?? 0);
    if (status >= 200 && status < 300) continue;
    const entryOutcome = entries[i]?.response?.outcome;
    const detail = entryOutcome?.issue?.[0]?.details?.text ?? entryOutcome?.issue?.[0]?.diagnostics ?? `status ${status}`;
    const failed: MOperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: entryOutcome?.issue?.[0]?.code ?? 'processing',
          diagnostics: `Transaction rolled back: Bundle.entry[${i}] failed: ${detail}`,
          expression: [`Bundle.entry[${i}]`],
        },
      ],
    };
    // Keep the entry's HTTP status (the outcome's id carries it for getStatus).
    return entryOutcome ? { ...failed, id: entryOutcome.id } : { ...failed, id: status >= 500 ? 'server-error' : 'bad-request' };
  }
  return undefined;
}

type ParsedBody = { body: unknown } | { error: string; status: 400 | 415 };

function parseBody(req: Request, isSearchPost: boolean): ParsedBody {
  const text = typeof req.body === 'string' ? req.body : '';
  if (isSearchPost && req.is('application/x-www-form-urlencoded')) {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      const prev = query[k];
      query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    return { body: query };
  }
  if (text.trim() === '') return { error: 'Request body is empty', status: 400 };
  if (!req.is(JSON_TYPES)) {
    return { error: `Content-Type must be application/fhir+json or application/json, not ${req.get('content-type') ?? '(none)'}`, status: 415 };
  }
  try {
    return { body: JSON.parse(text) as unknown };
  } catch (err) {
    return { error: `Body is not valid JSON: ${(err as Error).message}`, status: 400 };
  }
}

function interactionOf(router: FhirRouter, method: HttpMethod, url: string, body: unknown): string {
  const path = url.split('?')[0] ?? '';
  if (method === 'GET' && path === 'metadata') return 'capabilities';
  const interaction = router.find(method, url)?.data?.interaction ?? 'unknown';
  if (interaction === 'batch' && (body as { type?: string } | undefined)?.type === 'transaction') return 'transaction';
  return interaction;
}

function writeFhirResponse(res: Response, response: FhirResponse, baseUrl: string): void {
  const [result, resource] = response;
  const status = getStatus(result);
  if (!resource) {
    sendJson(res, status, result);
    return;
  }
  if (resource.resourceType === 'Bundle' && (resource.type === 'batch-response' || resource.type === 'transaction-response')) {
    decorateBatchResponse(resource, baseUrl);
  } else if (resource.resourceType !== 'Bundle' && resource.id && resource.meta?.versionId) {
    res.set('ETag', `W/"${resource.meta.versionId}"`);
    if (resource.meta.lastUpdated) res.set('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
    if (status === 201) {
      res.set('Location', `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`);
    }
  }
  sendJson(res, status, resource);
}

/** Adds `fullUrl`, a versioned `location`, `etag` and `lastModified` to each written entry. */
function decorateBatchResponse(bundle: MBundle, baseUrl: string): void {
  for (const entry of bundle.entry ?? []) {
    const r: MResource | undefined = entry.resource;
    if (!r || r.resourceType === 'Bundle' || !r.id || !entry.response) continue;
    entry.fullUrl = `${baseUrl}/${r.resourceType}/${r.id}`;
    const version = r.meta?.versionId;
    if (!version) continue;
    if (entry.response.location) entry.response.location = `${r.resourceType}/${r.id}/_history/${version}`;
    entry.response.etag = `W/"${version}"`;
    entry.response.lastModified = r.meta?.lastUpdated;
  }
}

function sendJson(res: Response, status: number, payload: unknown): void {
  res.status(status).set('Content-Type', FHIR_JSON).send(JSON.stringify(payload));
}

function bump(counter: Record<string, number>, key: string): void {
  counter[key] = (counter[key] ?? 0) + 1;
}


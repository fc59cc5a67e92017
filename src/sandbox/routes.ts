/**
 * The sandbox's `FhirRouter`: Medplum's routes, with the handlers a HAPI-like server needs swapped
 * in. Replacing handlers in the router (rather than wrapping the HTTP layer) makes batch and
 * transaction entries behave exactly like the same requests sent alone.
 */
import { allOk, badRequest, created, isOk, parseSearchRequest } from '@medplum/core';
import type { Bundle as MBundle, Resource as MResource } from '@medplum/fhirtypes';
import { FhirRouter, updateResourceImpl, type FhirRequest, type FhirRouteHandler } from '@medplum/fhir-router';
import type { Subscription } from 'fhir/r4.js';
import { capabilityStatement } from './capability.ts';
import { backportBundle } from './notifications.ts';
import type { SandboxRepository } from './repository.ts';
import { applyPaging, decorateSearchset, normalizeReferenceValues, type PagingOptions } from './search-query.ts';
import { parseSubscription } from './subscription-config.ts';

export interface RouteContext extends PagingOptions {
  /** Sandbox FHIR base URL, no trailing slash (known once the server listens). */
  baseUrl: string;
  /** Backport `events-since-subscription-start` of a Subscription (for `$status`). */
  eventCount: (subscriptionId: string) => number;
}

/** Builds the router over `repo`. `ctx` is read per request (the base URL is set after listen). */
export function createSandboxRouter(repo: SandboxRepository, ctx: RouteContext): FhirRouter {
  const router = new FhirRouter();

  const search: FhirRouteHandler = async (req) => {
    const resourceType = req.params.resourceType ?? '';
    if (!/^[A-Z][A-Za-z]+$/.test(resourceType)) return [badRequest(`Unknown resource type: ${resourceType}`)];
    const query = applyPaging(normalizeReferenceValues(resourceType, req.query), ctx);
    const bundle = await repo.search(parseSearchRequest(resourceType, query));
    return [allOk, decorateSearchset(bundle, ctx.baseUrl, resourceType, query)];
  };

  const update: FhirRouteHandler = async (req) => {
    const { resourceType = '', id = '' } = req.params;
    const existed = repo.exists(resourceType, id);
    const [outcome, resource] = await updateResourceImpl(resourceType as MResource['resourceType'], id, req.body as MResource, repo, {
      ifMatch: parseIfMatch(req.headers?.['if-match']),
    });
    if (!resource) return [outcome];
    return [isOk(outcome) && !existed ? created : outcome, resource];
  };

  const history: FhirRouteHandler = async (req) => {
    const { resourceType = '', id = '' } = req.params;
    const bundle: MBundle = await repo.readHistory(resourceType, id);
    for (const entry of bundle.entry ?? []) entry.fullUrl = `${ctx.baseUrl}/${resourceType}/${id}`;
    return [allOk, bundle];
  };

  const metadata: FhirRouteHandler = async () => [allOk, capabilityStatement(ctx.baseUrl) as unknown as MResource];

  const subscriptionStatus: FhirRouteHandler = async (req) => {
    const sub = (await repo.readResource('Subscription', req.params.id ?? '')) as unknown as Subscription;
    const parsed = parseSubscription(sub);
    if (!parsed.ok) return [badRequest(parsed.reason)];
    const status = sub.status === 'requested' || sub.status === 'active' || sub.status === 'error' ? sub.status : 'off';
    const bundle = backportBundle(parsed.config, ctx.baseUrl, {
      type: 'query-status',
      status,
      eventsSinceSubscriptionStart: ctx.eventCount(parsed.config.id),
      timestamp: new Date().toISOString(),
    });
    return [allOk, bundle as unknown as MResource];
  };

  replaceHandler(router, 'GET', ':resourceType', search);
  replaceHandler(router, 'PUT', ':resourceType/:id', update);
  replaceHandler(router, 'GET', ':resourceType/:id/_history', history);
  router.add('GET', 'metadata', metadata, 'operation');
  router.add('GET', 'Subscription/:id/$status', subscriptionStatus, 'operation');
  return router;
}

function replaceHandler(router: FhirRouter, method: FhirRequest['method'], path: string, handler: FhirRouteHandler): void {
  const segments = path.split('/');
  const route = router.router.routes.find(
    (r) =>
      r.method === method &&
      r.path.length === segments.length &&
      r.path.every((p, i) => (p.param ? `:${p.value}` : p.value) === segments[i]),
  );
  if (!route) throw new Error(`sandbox: FhirRouter has no route ${method} ${path} to replace`);
  route.handler = handler;
}

/** `W/"3"`, `"3"` or `3` → `3`. */
function parseIfMatch(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  return /"([^"]+)"/.exec(raw)?.[1] ?? raw.trim();
}

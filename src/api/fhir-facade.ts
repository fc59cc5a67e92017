/**
 * The `/fhir` facade: fhir-risk's results through ordinary FHIR REST.
 *
 * Reads are answered from the results store (RESULTS_FHIR_BASE_URL, default the EHR) and limited
 * to fhir-risk's own assessments (our identifier system). Paging: the store's `next`/`previous`
 * links are handed out as `GET /fhir/RiskAssessment?_page_token=<opaque>`; the token encodes the
 * store's own link (path and query, never a host), and is checked when it comes back so that it
 * can only ever address the store's RiskAssessment search (no SSRF, no widening of the search).
 * `$risk-assess` scores a patient now, synchronously.
 *
 * Authorization (SMART scopes, see `api-auth.ts`): `GET /metadata` is public; a search needs `s`
 * (a patient-scoped token's search is FORCED to its patient; naming another patient is a 403);
 * a read needs `r` on the assessment's patient; `$risk-assess` needs `r` on the patient, plus `c`
 * or `u` (v1 `write`) with `persist=true`.
 */
import { Buffer } from 'node:buffer';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Bundle, BundleEntry, BundleLink, CapabilityStatement, FhirResource, RiskAssessment } from 'fhir/r4.js';
import { AuthError, InvalidInputError, NotFoundError } from '../errors.ts';
import { gatherPatientRecord } from '../features/gather.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelRegistry } from '../models/types.ts';
import { notApplicableOutcome } from '../outcomes.ts';
import { assessRecord } from '../pipeline/assess.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM, ASSESSMENT_PROFILE } from '../writeback/identifier.ts';
import { writeRiskAssessment } from '../writeback/write.ts';
import { apiAccess, forbidden, requireAccess, searchRestriction } from './api-auth.ts';
import { asyncRoute, sendFhir } from './async-route.ts';

/** Reads one searchset page by URL (forced onto the store's own origin): `FhirKitEhrClient.followLink`. */
export interface SearchPageReader {
  readonly baseUrl: string;
  followLink(url: string): Promise<Bundle>;
}

export interface FacadeDeps {
  ehr: EhrClient;
  /** The results store: written to by the pipeline, searched page by page here. */
  results: EhrClient & SearchPageReader;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  shadow: ReadonlySet<string>;
  writeMode: 'put' | 'conditional-create';
  /** Our public base (for paging links); defaults to the request's own origin. */
  publicBaseUrl?: string;
}

/** Search parameters a client may send (forwarded to the results store). */
export const SEARCH_PARAMETERS: ReadonlySet<string> = new Set([
  'patient',
  'subject',
  'date',
  'method',
  'probability',
  'risk',
  '_count',
  '_sort',
  '_id',
  'status',
  '_lastUpdated',
]);

/**
 * Parameters the servers we support put in their own paging links (sandbox/Medplum `_offset`,
 * HAPI/Smile `_getpages`/`_getpagesoffset`/`_bundletype`, Azure `ct`, Google `_page_token`,
 * Firely `_cursor`). Accepted only inside a page token, never from a client directly.
 */
const PAGING_PARAMETERS: ReadonlySet<string> = new Set(['_offset', '_getpages', '_getpagesoffset', '_bundletype', '_pretty', '_format', 'ct', '_page_token', '_cursor', '_page', '_total']);

/** The restriction every search of the store carries: only fhir-risk's assessments. */
const OUR_IDENTIFIER = `${ASSESSMENT_IDENTIFIER_SYSTEM}|`;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const MAX_TOKEN_LENGTH = 4096;

export function createFhirFacade(deps: FacadeDeps, apiAuth: RequestHandler): Router {
  const router = Router();
  const ourBase = (req: Request) => `${deps.publicBaseUrl ?? `${req.protocol}://${req.get('host')}`}/fhir`;

  // Public, as SMART requires: clients discover the server before they hold a token.
  router.get('/metadata', (req, res) => {
    sendFhir(res, 200, capabilityStatement(ourBase(req), deps.models));
  });

  router.use(apiAuth);

  router.get(
    '/RiskAssessment',
    asyncRoute(async (req, res) => {
      const { patient } = searchRestriction(res);
      const clientQuery = new URL(req.originalUrl, 'http://facade.invalid').searchParams;
      const pageToken = clientQuery.get('_page_token');
      const storePath =
        pageToken === null ? storeSearch(clientQuery, patient, res) : storePageFromToken(pageToken, clientQuery, patient);
      const page = await deps.results.followLink(`${deps.results.baseUrl}/${storePath}`);
      sendFhir(res, 200, facadeSearchset(page, { ourBase: ourBase(req), self: `${ourBase(req)}${req.url}`, storeBaseUrl: deps.results.baseUrl, patient }));
    }),
  );

  router.get(
    '/RiskAssessment/:id',
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      if (!FHIR_ID.test(id)) throw new InvalidInputError('invalid resource id');
      // Refuse before looking, so a token without any read scope learns nothing about existence.
      if (!apiAccess(res).grants.some((g) => g.interactions.has('r'))) {
        throw forbidden(res, 'This access token does not allow reading RiskAssessments (needs system/RiskAssessment.rs)', 'system/RiskAssessment.rs');
      }
      const ra = await deps.results.read<RiskAssessment>('RiskAssessment', id);
      if (!ra || !isOurs(ra)) throw new NotFoundError(`RiskAssessment/${id} is not a fhir-risk assessment or does not exist`);
      requireAccess(res, ['r'], patientIdOf(ra.subject.reference ?? '') ?? '', 'system/RiskAssessment.rs');
      sendFhir(res, 200, ra);
    }),
  );

  router.post(
    '/Patient/:id/\\$risk-assess',
    asyncRoute(async (req, res) => {
      const patientId = String(req.params.id);
      if (!FHIR_ID.test(patientId)) throw new InvalidInputError('invalid patient id');
      const persist = booleanParameter(req.query.persist, 'persist');
      requireAccess(res, ['r'], patientId, 'patient/RiskAssessment.rs');
      if (persist) requireAccess(res, ['c', 'u'], patientId, 'system/RiskAssessment.write');
      const wanted = ([] as unknown[])
        .concat(req.query.model ?? [])
        .flatMap((m) => (typeof m === 'string' ? m.split(',') : []))
        .filter(Boolean);
      const unknown = wanted.filter((id) => !deps.models.get(id));
      if (unknown.length > 0) throw new InvalidInputError(`unknown or disabled model: ${unknown.join(', ')}`, 422);
      const models = wanted.length > 0 ? wanted.map((id) => deps.models.get(id)!) : [...deps.models.list()];
      const at = typeof req.query.at === 'string' ? new Date(req.query.at) : new Date();
      if (Number.isNaN(at.getTime())) throw new InvalidInputError('at: not a valid dateTime');
      const record = await gatherPatientRecord(deps.ehr, patientId, models.map((m) => m.manifest), deps.valueSets);
      const results = await assessRecord(record, models, at, { valueSets: deps.valueSets, shadow: deps.shadow });
      const entries: BundleEntry[] = [];
      for (const result of results) {
        if ('notApplicable' in result) {
          entries.push({ resource: notApplicableOutcome(result.notApplicable) });
          continue;
        }
        let assessment = result.assessment;
        // A server that assigns ids (conditional-create) names the assessment its own way.
        if (persist) assessment = { ...assessment, id: (await writeRiskAssessment(deps.results, assessment, { mode: deps.writeMode })).id };
        entries.push({ fullUrl: `${ourBase(req)}/RiskAssessment/${assessment.id}`, resource: assessment });
      }
      sendFhir(res, 200, { resourceType: 'Bundle', type: 'collection', entry: entries });
    }),
  );

  return router;
}

/**
 * The store's search (path and query relative to its base) for a client's query: only known
 * parameters, always our identifier system, forced to `patient` when the token is patient-scoped.
 */
function storeSearch(clientQuery: URLSearchParams, patient: string | undefined, res: Response): string {
  const params = new URLSearchParams();
  for (const [name, value] of clientQuery) {
    if (!SEARCH_PARAMETERS.has(name)) throw new InvalidInputError(`unsupported search parameter: ${name}`);
    if (name === '_count' && !/^\d{1,4}$/.test(value)) throw new InvalidInputError('_count: a whole number');
    params.append(name, value);
  }
  if (patient !== undefined) {
    if (!namesOnlyPatient(params, patient)) {
      throw forbidden(res, `This access token allows RiskAssessments of Patient/${patient} only`, `patient/RiskAssessment.rs`);
    }
    params.set('patient', `Patient/${patient}`);
  }
  params.set('identifier', OUR_IDENTIFIER);
  return `RiskAssessment?${params.toString()}`;
}

/**
 * Turns a store paging link into our opaque token: base64url of its path (relative to the store
 * base) and query. Undefined when the link does not lie under the store's base path (then we
 * cannot hand it out safely, so the link is dropped).
 */
export function encodePageToken(storeLink: string, storeBaseUrl: string): string | undefined {
  let link: URL;
  try {
    link = new URL(storeLink, `${storeBaseUrl}/`);
  } catch {
    return undefined;
  }
  // Servers behind a proxy often print another host in their links; the path is what counts.
  const basePath = new URL(storeBaseUrl).pathname.replace(/\/+$/, '');
  if (!link.pathname.startsWith(basePath)) return undefined;
  const relative = link.pathname.slice(basePath.length).replace(/^\/+/, '');
  if (relative !== 'RiskAssessment' && relative !== '') return undefined;
  return Buffer.from(`${relative}${link.search}`, 'utf8').toString('base64url');
}

/**
 * Decodes and checks a page token; returns the store path and query to GET, rebuilt from checked
 * parts only. Throws 400 (InvalidInputError) for anything that is not a RiskAssessment search of
 * the store restricted to our identifier system (or a HAPI-style `?_getpages=` continuation, whose
 * search the server holds), and 403 (AuthError) when it would widen a patient-scoped search.
 */
export function decodePageToken(token: string, patient: string | undefined): string {
  const bad = (why: string) => new InvalidInputError(`_page_token: not a paging token of this service (${why})`);
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad('malformed');
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^(RiskAssessment|)\?([^#]*)$/.exec(decoded);
  if (!match) throw bad('not a RiskAssessment search');
  const [, path, query] = match as unknown as [string, string, string];
  const params = new URLSearchParams(query);
  const checked = new URLSearchParams();
  for (const [name, value] of params) {
    const allowed = PAGING_PARAMETERS.has(name) || name === '_count' || (path === 'RiskAssessment' && (SEARCH_PARAMETERS.has(name) || name === 'identifier'));
    if (!allowed) throw bad(`parameter ${name}`);
    checked.append(name, value);
  }
  if (path === '') {
    // A continuation of a search the server keeps (HAPI, Smile): it names no search of its own.
    if (!params.has('_getpages')) throw bad('no search');
  } else {
    const identifiers = params.getAll('identifier');
    if (identifiers.length !== 1 || identifiers[0] !== OUR_IDENTIFIER) throw bad('not limited to fhir-risk assessments');
    if (patient !== undefined && (!params.has('patient') || !namesOnlyPatient(params, patient))) {
      throw new AuthError(`_page_token: this access token allows RiskAssessments of Patient/${patient} only`, 403);
    }
  }
  return `${path}?${checked.toString()}`;
}

function storePageFromToken(token: string, clientQuery: URLSearchParams, patient: string | undefined): string {
  if ([...clientQuery.keys()].some((k) => k !== '_page_token') || clientQuery.getAll('_page_token').length !== 1) {
    throw new InvalidInputError('_page_token comes alone: follow the link as given');
  }
  return decodePageToken(token, patient);
}

/** True when every patient/subject value names `patient` (bare id, `Patient/id` or an absolute URL). */
function namesOnlyPatient(params: URLSearchParams, patient: string): boolean {
  return [...params.getAll('patient'), ...params.getAll('subject')].every((value) =>
    value.split(',').every((one) => patientIdOf(one) === patient),
  );
}

/** `123`, `Patient/123`, `https://x/fhir/Patient/123` → `123`; another type → undefined. */
export function patientIdOf(reference: string): string | undefined {
  if (FHIR_ID.test(reference)) return reference;
  const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return match?.[1];
}

function isOurs(resource: FhirResource): resource is RiskAssessment {
  return resource.resourceType === 'RiskAssessment' && (resource.identifier ?? []).some((i) => i.system === ASSESSMENT_IDENTIFIER_SYSTEM);
}

/**
 * The store's searchset page as ours: only our assessments (and, for a patient-scoped token, only
 * that patient's: defence in depth behind the forced search), fullUrls and links on our base,
 * `total` only when the store gave one.
 */
export function facadeSearchset(
  page: Bundle,
  opts: { ourBase: string; self: string; storeBaseUrl: string; patient: string | undefined },
): Bundle {
  const entry: BundleEntry[] = [];
  for (const e of page.entry ?? []) {
    const resource = e.resource;
    if (!resource) continue;
    if (e.search?.mode === 'outcome' && resource.resourceType === 'OperationOutcome') {
      entry.push({ resource, search: { mode: 'outcome' } });
      continue;
    }
    if (!isOurs(resource)) continue;
    if (opts.patient !== undefined && patientIdOf(resource.subject.reference ?? '') !== opts.patient) continue;
    entry.push({ fullUrl: `${opts.ourBase}/RiskAssessment/${resource.id}`, resource, search: { mode: 'match' } });
  }
  const link: BundleLink[] = [{ relation: 'self', url: opts.self }];
  for (const l of page.link ?? []) {
    if (!['next', 'previous', 'prev', 'first', 'last'].includes(l.relation)) continue;
    const token = encodePageToken(l.url, opts.storeBaseUrl);
    if (token) link.push({ relation: l.relation === 'prev' ? 'previous' : l.relation, url: `${opts.ourBase}/RiskAssessment?_page_token=${token}` });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(typeof page.total === 'number' ? { total: page.total } : {}),
    link,
    entry,
  };
}

function booleanParameter(value: unknown, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new InvalidInputError(`${name}: true or false`);
}

function capabilityStatement(base: string, models: ModelRegistry): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    software: { name: 'fhir-risk', version: process.env.npm_package_version ?? '0.1.0' },
    implementation: { description: `fhir-risk results facade (${models.list().length} models loaded)`, url: base },
    rest: [
      {
        mode: 'server',
        resource: [
          {
            type: 'RiskAssessment',
            supportedProfile: [ASSESSMENT_PROFILE],
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [
              { name: 'patient', type: 'reference' },
              { name: 'subject', type: 'reference' },
              { name: 'date', type: 'date' },
              { name: 'method', type: 'token' },
              { name: 'probability', type: 'number' },
              { name: 'risk', type: 'token' },
              { name: 'status', type: 'token' },
              { name: '_id', type: 'token' },
              { name: '_lastUpdated', type: 'date' },
            ],
          },
          {
            type: 'Patient',
            operation: [{ name: 'risk-assess', definition: 'http://fhir-risk.org/fhir/OperationDefinition/risk-assess' }],
          },
        ],
      },
    ],
  };
}

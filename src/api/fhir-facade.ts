/**
 * The `/fhir` facade: fhir-risk's results through ordinary FHIR REST.
 *
 * Reads are answered from the results store (RESULTS_FHIR_BASE_URL, default the EHR) and limited
 * to fhir-risk's own assessments (our identifier system); paging links are rewritten to our base.
 * `$risk-assess` scores a patient now, synchronously.
 */
import { Router, type Request } from 'express';
import type { Bundle, BundleEntry, CapabilityStatement, RiskAssessment } from 'fhir/r4.js';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { gatherPatientRecord } from '../features/gather.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelRegistry } from '../models/types.ts';
import { notApplicableOutcome } from '../outcomes.ts';
import { assessRecord } from '../pipeline/assess.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM, ASSESSMENT_PROFILE } from '../writeback/identifier.ts';
import { writeRiskAssessment } from '../writeback/write.ts';
import { asyncRoute, sendFhir } from './async-route.ts';

export interface FacadeDeps {
  ehr: EhrClient;
  results: EhrClient;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  shadow: ReadonlySet<string>;
  writeMode: 'put' | 'conditional-create';
  /** Our public base (for paging links); defaults to the request's own origin. */
  publicBaseUrl?: string;
}

/** Search parameters the facade passes through to the results store. */
const PASSTHROUGH = new Set(['patient', 'subject', 'date', 'method', 'probability', 'risk', '_count', '_sort', '_id', 'status', '_lastUpdated', '_getpages', '_getpagesoffset', '_offset', '_page', 'ct', '_cursor']);

export function createFhirFacade(deps: FacadeDeps): Router {
  const router = Router();
  const ourBase = (req: Request) => `${deps.publicBaseUrl ?? `${req.protocol}://${req.get('host')}`}/fhir`;

  router.get('/metadata', (req, res) => {
    sendFhir(res, 200, capabilityStatement(ourBase(req), deps.models));
  });

  router.get(
    '/RiskAssessment',
    asyncRoute(async (req, res) => {
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.query)) {
        if (typeof value !== 'string') throw new InvalidInputError(`search parameter ${key} given more than once or malformed`);
        if (!PASSTHROUGH.has(key)) throw new InvalidInputError(`unsupported search parameter: ${key}`);
        params[key] = value;
      }
      params.identifier = `${ASSESSMENT_IDENTIFIER_SYSTEM}|`;
      const found = await deps.results.search<RiskAssessment>('RiskAssessment', params, 1);
      const base = ourBase(req);
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: found.length,
        link: [{ relation: 'self', url: `${base}${req.originalUrl.replace(/^\/fhir/, '')}` }],
        entry: found.map((resource): BundleEntry => ({ fullUrl: `${base}/RiskAssessment/${resource.id}`, resource, search: { mode: 'match' } })),
      };
      sendFhir(res, 200, bundle);
    }),
  );

  router.get(
    '/RiskAssessment/:id',
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new InvalidInputError('invalid resource id');
      const ra = await deps.results.read<RiskAssessment>('RiskAssessment', id);
      if (!ra || !ra.identifier?.some((i) => i.system === ASSESSMENT_IDENTIFIER_SYSTEM)) {
        throw new NotFoundError(`RiskAssessment/${id} is not a fhir-risk assessment or does not exist`);
      }
      sendFhir(res, 200, ra);
    }),
  );

  router.post(
    '/Patient/:id/\\$risk-assess',
    asyncRoute(async (req, res) => {
      const patientId = String(req.params.id);
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(patientId)) throw new InvalidInputError('invalid patient id');
      const wanted = ([] as string[]).concat((req.query.model as string | string[] | undefined) ?? []);
      const unknown = wanted.filter((id) => !deps.models.get(id));
      if (unknown.length > 0) throw new InvalidInputError(`unknown or disabled model: ${unknown.join(', ')}`, 422);
      const models = wanted.length > 0 ? wanted.map((id) => deps.models.get(id)!) : [...deps.models.list()];
      const persist = req.query.persist === 'true';
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
        if (persist) await writeRiskAssessment(deps.results, result.assessment, { mode: deps.writeMode });
        entries.push({ fullUrl: `${ourBase(req)}/RiskAssessment/${result.assessment.id}`, resource: result.assessment });
      }
      sendFhir(res, 200, { resourceType: 'Bundle', type: 'collection', entry: entries });
    }),
  );

  return router;
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

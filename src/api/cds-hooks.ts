/**
 * CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/): fhir-risk's scores as cards when a clinician
 * opens a patient's chart.
 *
 * - `GET /cds-services`: discovery, one `patient-view` service whose prefetch templates ask for
 *   what the loaded models read, plus the patient's stored fhir-risk assessments.
 * - `POST /cds-services/fhir-risk-patient-view`: one card per model that applies (see
 *   `cds-patient-view.ts` for where the data comes from and the deadline).
 *
 * The router parses its own JSON body and answers its own errors (JSON OperationOutcomes: 400
 * malformed, 404 unknown service, 412 no data reachable, 413 too large), so it can be mounted
 * behind any authentication middleware. Authenticating the CDS client (the spec's JWT) is the
 * mounting app's job.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import { FhirKitEhrClient } from '../fhir/ehr-client.ts';
import type { ModelRegistry } from '../models/types.ts';
import { logger } from '../observability/logger.ts';
import { outcome, toHttpOutcome } from '../outcomes.ts';
import type { CdsResponse } from './cds-cards.ts';
import { DEFAULT_DEADLINE_MS, DEFAULT_MAX_STORED_AGE_MS, evaluatePatientView, type PatientViewDeps } from './cds-patient-view.ts';
import { prefetchTemplates } from './cds-prefetch.ts';
import { PATIENT_VIEW_HOOK, parsePatientViewRequest } from './cds-request.ts';

/** The id of fhir-risk's patient-view service: `POST /cds-services/fhir-risk-patient-view`. */
export const PATIENT_VIEW_SERVICE_ID = 'fhir-risk-patient-view';

/** Largest request body by default: a prefetch with a long Observation history is big. */
export const DEFAULT_CDS_BODY_LIMIT = '5mb';

/** What the router needs; a superset of the `/fhir` facade's deps, so the app can pass its own. */
export interface CdsHooksDeps {
  /** Client on FHIR_BASE_URL (fhir-risk's own credentials). */
  ehr: EhrClient;
  /** Results store, where stored assessments are searched. */
  results: EhrClient;
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  /** Models in shadow mode give no card. */
  shadow?: ReadonlySet<string>;
  /** Time budget of a patient-view answer (default 2000 ms): what is not ready then gives no card. */
  cdsDeadlineMs?: number;
  /** Largest age of a stored assessment shown without recomputation (default 24 h). */
  cdsMaxStoredAgeMs?: number;
  /** Add one info card listing the models that do not apply and why (default false). */
  cdsExplainNotApplicable?: boolean;
  /** Largest request body, express syntax (default 5mb). */
  cdsBodyLimit?: string;
  /** Builds the client used with an EHR-issued access token; default: fhir-kit on `ehr.baseUrl`. */
  clientWithToken?: (accessToken: string) => EhrClient;
  /** Clock (tests). */
  now?: () => Date;
}

/** A CDS Hooks discovery service entry. */
export interface CdsService {
  hook: string;
  id: string;
  title: string;
  description: string;
  prefetch?: Record<string, string>;
}

/** The discovery document for the loaded (non-shadow) models. */
export function discoveryDocument(models: ModelRegistry, valueSets: ValueSetIndex, shadow: ReadonlySet<string> = new Set()): { services: CdsService[] } {
  const manifests = models
    .list()
    .map((m) => m.manifest)
    .filter((m) => !shadow.has(m.id));
  return {
    services: [
      {
        hook: PATIENT_VIEW_HOOK,
        id: PATIENT_VIEW_SERVICE_ID,
        title: 'fhir-risk clinical risk scores',
        description:
          'One card per clinical risk model that applies to the patient: the risk, its band, the horizon and the inputs that drove it. ' +
          `Models: ${manifests.map((m) => `${m.title} (${m.id} ${m.version})`).join('; ') || 'none loaded'}.`,
        // The spec forbids empty objects: no models, no prefetch member.
        ...(manifests.length > 0 ? { prefetch: prefetchTemplates(manifests, valueSets) } : {}),
      },
    ],
  };
}

/**
 * The `/cds-services` router. Mount it as `app.use('/cds-services', <auth>, createCdsHooksRouter(deps))`.
 */
export function createCdsHooksRouter(deps: CdsHooksDeps): Router {
  const router = Router();
  const shadow = deps.shadow ?? new Set<string>();
  const deadlineMs = deps.cdsDeadlineMs ?? DEFAULT_DEADLINE_MS;
  const viewDeps: PatientViewDeps = {
    ehr: deps.ehr,
    results: deps.results,
    models: deps.models,
    valueSets: deps.valueSets,
    shadow,
    deadlineMs,
    maxStoredAgeMs: deps.cdsMaxStoredAgeMs ?? DEFAULT_MAX_STORED_AGE_MS,
    explainNotApplicable: deps.cdsExplainNotApplicable ?? false,
    // The EHR's token is short-lived and for this call only: waiting past the deadline is useless.
    clientWithToken:
      deps.clientWithToken ??
      ((token) => new FhirKitEhrClient({ baseUrl: deps.ehr.baseUrl, authHeader: () => Promise.resolve(`Bearer ${token}`), timeoutMs: deadlineMs })),
    now: deps.now ?? (() => new Date()),
    log: logger.child({ component: 'cds-hooks' }),
  };

  router.use(express.json({ limit: deps.cdsBodyLimit ?? DEFAULT_CDS_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  router.get('/', (_req, res) => {
    res.json(discoveryDocument(deps.models, deps.valueSets, shadow));
  });

  router.post(`/${PATIENT_VIEW_SERVICE_ID}`, (req, res, next) => {
    void (async () => {
      const request = parsePatientViewRequest(req.body);
      const result = await evaluatePatientView(request, viewDeps);
      if (result.dataUnavailable) {
        const reasons = [...new Set(result.outcomes.map((o) => ('message' in o ? o.message : o.outcome)))].join('; ');
        res.status(412).json(outcome('error', 'processing', `The patient's FHIR data could not be read from the prefetch or the FHIR server: ${reasons}`));
        return;
      }
      const body: CdsResponse = { cards: result.cards };
      res.json(body);
    })().catch(next);
  });

  router.all('/:service', (req, res) => {
    const known = req.params.service === PATIENT_VIEW_SERVICE_ID;
    res
      .status(known ? 405 : 404)
      .json(outcome('error', known ? 'not-supported' : 'not-found', known ? `Use POST for ${PATIENT_VIEW_SERVICE_ID}` : `No CDS service ${String(req.params.service).slice(0, 80)}; see GET /cds-services`));
  });

  router.use(cdsErrorHandler);
  return router;
}

/** Errors as JSON OperationOutcomes (CDS clients speak application/json). */
function cdsErrorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const bodyError = err as { type?: string; status?: number };
  if (bodyError?.type === 'entity.parse.failed') {
    res.status(400).json(outcome('error', 'structure', 'the request body is not valid JSON'));
    return;
  }
  if (bodyError?.type === 'entity.too.large') {
    res.status(413).json(outcome('error', 'too-costly', 'the request body is too large'));
    return;
  }
  const mapped = toHttpOutcome(err);
  if (mapped.status >= 500) {
    logger.error({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err), path: req.path }, 'cds-hooks request failed');
  }
  res
    .status(mapped.status)
    .set(mapped.headers ?? {})
    .json(mapped.outcome);
}

/**
 * Answering one `patient-view` call: a card per model that applies, within the EHR's time budget.
 *
 * Data, best first, per model:
 *   (a) the stored fhir-risk RiskAssessment for the patient's current inputs, when fresh: no ONNX
 *       run, no write. "Current inputs" is exact: the deterministic identifier of an assessment of
 *       the inputs as they are now must equal the stored one's (same model version, same versioned
 *       basis, same feature values), so an updated or deleted input or a birthday makes it stale;
 *   (b) computed now from the hook's prefetch, when it holds everything the model reads;
 *   (c) computed now from one batch read of the FHIR server (FHIR_BASE_URL only: SSRF rule).
 * Work runs in parallel and races one deadline; what is not ready then gives no card.
 */
import { randomUUID } from 'node:crypto';
import type { FhirResource, RiskAssessment } from 'fhir/r4.js';
import { NotApplicableError } from '../errors.ts';
import { featurize } from '../features/featurize.ts';
import { gatherPatientRecord } from '../features/gather.ts';
import { recordOf } from '../features/record.ts';
import type { FeatureVector, PatientRecord } from '../features/types.ts';
import type { ValueSetIndex } from '../features/value-sets.ts';
import type { EhrClient } from '../fhir/client-types.ts';
import type { ModelManifest } from '../models/manifest.ts';
import type { LoadedModel, ModelRegistry } from '../models/types.ts';
import type { Logger } from '../observability/logger.ts';
import { assessRecord } from '../pipeline/assess.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM, assessmentIdentity } from '../writeback/identifier.ts';
import { buildCard, buildNotApplicableCard, type CardOrigin, type CdsCard, type NotApplicableModel } from './cds-cards.ts';
import { prefetchCovers, readPrefetch, storedAssessmentsSearch, type PrefetchedData } from './cds-prefetch.ts';
import type { PatientViewRequest } from './cds-request.ts';

/** Default time budget: EHRs typically wait a few seconds at most for patient-view cards. */
export const DEFAULT_DEADLINE_MS = 2_000;
/** Default largest age of a stored assessment shown without recomputation. */
export const DEFAULT_MAX_STORED_AGE_MS = 24 * 3_600_000;

export interface PatientViewDeps {
  /** Client on FHIR_BASE_URL with fhir-risk's own credentials. */
  readonly ehr: EhrClient;
  /** Results store (RESULTS_FHIR_BASE_URL): where stored assessments are searched. */
  readonly results: EhrClient;
  readonly models: ModelRegistry;
  readonly valueSets: ValueSetIndex;
  /** Models in shadow mode: their results are not for clinicians, so they give no card. */
  readonly shadow: ReadonlySet<string>;
  readonly deadlineMs: number;
  readonly maxStoredAgeMs: number;
  /** Adds one info card listing the models that do not apply and why. */
  readonly explainNotApplicable: boolean;
  /** A client on FHIR_BASE_URL that authenticates with the access token the EHR passed. */
  readonly clientWithToken: (accessToken: string) => EhrClient;
  readonly now: () => Date;
  readonly log: Logger;
}

/** What became of one model in one call (logs, tests). */
export type ModelOutcome =
  | { readonly model: string; readonly outcome: 'card'; readonly origin: CardOrigin; readonly card: CdsCard }
  | { readonly model: string; readonly outcome: 'not-applicable'; readonly notApplicable: NotApplicableError }
  | { readonly model: string; readonly outcome: 'timed-out' }
  /** The data could not be read (EHR down, auth refused, patient unknown). */
  | { readonly model: string; readonly outcome: 'data-unavailable'; readonly message: string }
  /** A bug (an invalid assessment, an ONNX failure): no card for that model, the others still answer. */
  | { readonly model: string; readonly outcome: 'failed'; readonly message: string };

export interface PatientViewResult {
  readonly cards: CdsCard[];
  readonly outcomes: readonly ModelOutcome[];
  /**
   * No model could get its data, so no decision support was possible: the spec's 412
   * ("unable to retrieve the necessary FHIR data").
   */
  readonly dataUnavailable: boolean;
}

/** Evaluates a validated `patient-view` request. Never throws for data problems: they become outcomes. */
export async function evaluatePatientView(request: PatientViewRequest, deps: PatientViewDeps): Promise<PatientViewResult> {
  const patientId = request.context.patientId;
  const log = deps.log.child({ hookInstance: request.hookInstance, patientId });
  const models = deps.models.list().filter((m) => !deps.shadow.has(m.manifest.id));
  const prefetched = readPrefetch(request.prefetch, patientId);
  if (prefetched.ignored.length > 0) log.debug({ keys: prefetched.ignored }, 'prefetch keys ignored (wrong type, another patient, or paged)');

  const covered = new Set(models.filter((m) => prefetchCovers(prefetched, m.manifest, deps.valueSets)).map((m) => m.manifest.id));
  const uncovered = models.filter((m) => !covered.has(m.manifest.id)).map((m) => m.manifest);
  const prefetchRecord = prefetched.patient ? recordFromPrefetch(prefetched) : undefined;

  // Both reads start at once and are shared by every model: one batch read, one search at most.
  const fetched = uncovered.length > 0 ? settle(gatherPatientRecord(fetchClientFor(request, deps, log), patientId, uncovered, deps.valueSets)) : undefined;
  const stored = prefetched.riskAssessments
    ? Promise.resolve(prefetched.riskAssessments)
    : deps.results.search<RiskAssessment>('RiskAssessment', storedAssessmentsSearch(patientId), 1).catch((err: unknown) => {
        log.warn({ err: errorText(err) }, 'stored assessments could not be read: computing instead');
        return [] as RiskAssessment[];
      });

  const work = models.map(async (model): Promise<ModelOutcome> => {
    const id = model.manifest.id;
    let record: PatientRecord;
    let origin: Exclude<CardOrigin, 'stored'>;
    if (covered.has(id) && prefetchRecord) {
      record = prefetchRecord;
      origin = 'prefetch';
    } else {
      const result = await fetched!;
      if ('error' in result) return { model: id, outcome: 'data-unavailable', message: errorText(result.error) };
      record = result.value;
      origin = 'fhir-server';
    }
    return scoreModel(model, record, origin, await stored, deps);
  });
  const guarded = work.map((p, i) =>
    p.catch((err: unknown): ModelOutcome => {
      log.error({ model: models[i]!.manifest.id, err: errorText(err) }, 'patient-view: a model failed');
      return { model: models[i]!.manifest.id, outcome: 'failed', message: errorText(err) };
    }),
  );

  const outcomes = await withDeadline(guarded, deps.deadlineMs, (i): ModelOutcome => ({ model: models[i]!.manifest.id, outcome: 'timed-out' }));
  const cards = outcomes.flatMap((o) => (o.outcome === 'card' ? [o.card] : []));
  const notApplicable = outcomes.flatMap((o) => (o.outcome === 'not-applicable' ? [notApplicableEntry(o.notApplicable, deps.models)] : []));
  if (deps.explainNotApplicable && notApplicable.length > 0) cards.push(buildNotApplicableCard(notApplicable, randomUUID()));

  const dataUnavailable = cards.length === 0 && outcomes.length > 0 && outcomes.every((o) => o.outcome === 'data-unavailable');
  log.info(
    {
      cards: cards.length,
      outcomes: outcomes.map((o) => `${o.model}:${o.outcome === 'card' ? o.origin : o.outcome === 'not-applicable' ? o.notApplicable.reason : o.outcome}`),
    },
    'patient-view answered',
  );
  return { cards, outcomes, dataUnavailable };
}

/** Featurizes, then shows the stored assessment of exactly these inputs when fresh, else computes. */
async function scoreModel(model: LoadedModel, record: PatientRecord, origin: Exclude<CardOrigin, 'stored'>, stored: readonly RiskAssessment[], deps: PatientViewDeps): Promise<ModelOutcome> {
  const { manifest } = model;
  const at = deps.now();
  let vector: FeatureVector;
  try {
    vector = featurize(manifest, record, at, deps.valueSets);
  } catch (err) {
    if (err instanceof NotApplicableError) return { model: manifest.id, outcome: 'not-applicable', notApplicable: err };
    throw err;
  }
  const reusable = freshStoredAssessment(stored, manifest, currentIdentifier(record, manifest, vector), at, deps.maxStoredAgeMs);
  if (reusable) {
    return { model: manifest.id, outcome: 'card', origin: 'stored', card: buildCard({ manifest, assessment: reusable, record, origin: 'stored', uuid: randomUUID() }) };
  }
  const [result] = await assessRecord(record, [model], at, { valueSets: deps.valueSets, shadow: deps.shadow });
  if (!result) throw new Error('assessRecord returned no result');
  if ('notApplicable' in result) return { model: manifest.id, outcome: 'not-applicable', notApplicable: result.notApplicable };
  return { model: manifest.id, outcome: 'card', origin, card: buildCard({ manifest, assessment: result.assessment, record, origin, uuid: randomUUID() }) };
}

/** The identifier value an assessment of these inputs would have (no ONNX run needed). */
function currentIdentifier(record: PatientRecord, manifest: ModelManifest, vector: FeatureVector): string {
  return assessmentIdentity({
    patientId: record.patient.id ?? '',
    modelId: manifest.id,
    modelVersion: manifest.version,
    basis: [...new Set(vector.values.flatMap((v) => v.basis))],
    features: vector.values,
  }).value;
}

/** Statuses of an assessment a clinician may be shown (not withdrawn, not shadow). */
const SHOWABLE_STATUSES: ReadonlySet<string> = new Set(['final', 'amended', 'corrected']);

/**
 * The stored assessment of exactly the current inputs, when it is final and at most `maxAgeMs`
 * old. Deterministic identifiers make it unique: a re-scoring of unchanged inputs writes nothing,
 * so its time is the first scoring of these inputs.
 */
export function freshStoredAssessment(
  stored: readonly RiskAssessment[],
  manifest: ModelManifest,
  identifier: string,
  now: Date,
  maxAgeMs: number,
): RiskAssessment | undefined {
  return stored.find((ra) => {
    const ours = ra.identifier?.find((i) => i.system === ASSESSMENT_IDENTIFIER_SYSTEM)?.value;
    const method = ra.method?.coding?.[0];
    const at = Date.parse(ra.occurrenceDateTime ?? '');
    const age = now.getTime() - at;
    return (
      ours === identifier &&
      method?.code === manifest.id &&
      method.version === manifest.version &&
      SHOWABLE_STATUSES.has(ra.status) &&
      Number.isFinite(age) &&
      age <= maxAgeMs &&
      age >= -60_000 // an assessment "from the future" means clock trouble: do not trust it
    );
  });
}

/**
 * The client for quick fetches: ours, unless the EHR passed a token for the very server we are
 * configured for. A `fhirServer` elsewhere is never contacted (SSRF rule), whatever it says.
 */
export function fetchClientFor(request: PatientViewRequest, deps: Pick<PatientViewDeps, 'ehr' | 'clientWithToken'>, log: { debug(obj: object, msg: string): void }): EhrClient {
  if (!request.fhirServer) return deps.ehr;
  if (!sameFhirBase(request.fhirServer, deps.ehr.baseUrl)) {
    log.debug({ fhirServerOrigin: originOf(request.fhirServer) }, 'fhirServer is not FHIR_BASE_URL: ignored (never fetched from another host); using our own client');
    return deps.ehr;
  }
  return request.fhirAuthorization ? deps.clientWithToken(request.fhirAuthorization.access_token) : deps.ehr;
}

/** Same scheme, host, port and path (trailing slashes and case of scheme/host aside). */
export function sameFhirBase(a: string, b: string): boolean {
  try {
    const [x, y] = [new URL(a), new URL(b)];
    const path = (u: URL) => u.pathname.replace(/\/+$/, '');
    return x.origin === y.origin && path(x) === path(y) && !x.username && !x.password;
  } catch {
    return false;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}

function recordFromPrefetch(data: PrefetchedData): PatientRecord {
  const resources: FhirResource[] = [...data.searches.values()].flat();
  return recordOf(data.patient!, resources);
}

/**
 * Awaits `work` (promises that never reject) until `deadlineMs`; a task not done by then is
 * reported by `timedOut(index)` and left to finish on its own, its result dropped.
 */
async function withDeadline<T>(work: readonly Promise<T>[], deadlineMs: number, timedOut: (index: number) => T): Promise<T[]> {
  const TIMEOUT = Symbol('timeout');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), deadlineMs);
  });
  try {
    return await Promise.all(work.map((p, i) => Promise.race([p, deadline]).then((r) => (r === TIMEOUT ? timedOut(i) : (r as T)))));
  } finally {
    clearTimeout(timer);
  }
}

type Settled<T> = { value: T } | { error: unknown };

/** A promise that never rejects, so a fetch nobody awaits any more cannot become an unhandled rejection. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

function notApplicableEntry(err: NotApplicableError, models: ModelRegistry): NotApplicableModel {
  return { modelId: err.modelId, title: models.get(err.modelId)?.manifest.title ?? err.modelId, reason: err.reason, diagnostics: err.diagnostics };
}

/** Error text for logs and 412 bodies: our errors name ids and statuses, never resource contents. */
function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : 'unknown error';
}

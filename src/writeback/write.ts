/**
 * Writes RiskAssessments to the EHR, idempotently.
 *
 * Two ways, both safe to repeat (BullMQ delivers at least once):
 * - `put`: PUT RiskAssessment/<deterministic id>. For servers that accept client-assigned ids
 *   (HAPI with client id strategy ANY/ALPHANUMERIC, Smile, Medplum, the sandbox). A second PUT of
 *   the same assessment lands on the same resource.
 * - `conditional-create`: POST with `If-None-Exist: identifier=<system>|<value>`. For servers that
 *   assign ids themselves (Epic, Azure, Google, HAPI's default). A second POST finds the first.
 *
 * HTTP failures become our typed errors: 5xx, 429, 408 and network failures → RetryableError
 * (with Retry-After when the server gave one); other 4xx → InvalidInputError (422) with the
 * server's OperationOutcome diagnostics. Errors the EhrClient already typed pass through unchanged.
 */
import type { OperationOutcome, RiskAssessment } from 'fhir/r4.js';
import type { EhrClient } from '../fhir/client-types.ts';
import { FhirRiskError, InvalidInputError, RetryableError } from '../errors.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM } from './canonical.ts';
import { identifierSearchToken } from './identifier.ts';

/** How the EHR accepts our assessments. */
export type WriteMode = 'put' | 'conditional-create';

/** Where the assessment ended up. */
export interface WriteResult {
  /** The server's logical id of the RiskAssessment. */
  readonly id: string;
  /**
   * True when this call created it. For `put` this is read from the returned version (`1`), which
   * servers that use other version ids cannot tell: then it is false.
   */
  readonly created: boolean;
}

/**
 * Writes a built (and validated) RiskAssessment. Repeating the call with the same assessment
 * never makes a second resource.
 */
export async function writeRiskAssessment(client: EhrClient, ra: RiskAssessment, opts: { mode: WriteMode }): Promise<WriteResult> {
  const identifierValue = assessmentIdentifierValue(ra);
  if (opts.mode === 'put') {
    if (!ra.id) throw new Error('writeRiskAssessment: a PUT needs the deterministic id (build it with buildRiskAssessment)');
    const body: RiskAssessment & { id: string } = { ...ra, id: ra.id };
    const saved = await withHttpErrors(`PUT RiskAssessment/${ra.id}`, () => client.update(body));
    return { id: saved.id ?? ra.id, created: saved.meta?.versionId === '1' };
  }
  // A server-assigned-id server rejects a create that carries an id (HAPI: HTTP 400), so send none.
  const { id: _clientId, ...body } = ra;
  const { resource, created } = await withHttpErrors('POST RiskAssessment (If-None-Exist)', () =>
    client.createIfNoneExist<RiskAssessment>(body, `identifier=${identifierSearchToken(identifierValue)}`),
  );
  if (!resource.id) throw new RetryableError('EHR accepted the RiskAssessment but returned no id');
  return { id: resource.id, created };
}

/**
 * Marks an assessment `entered-in-error` (an input it used was deleted or retracted). Accepts the
 * server's copy (from a search or read) or the assessment as built; in the second case the server
 * copy is found by its identifier. Returns undefined when the server has no such assessment;
 * `changed` is false when it was already entered-in-error.
 */
export async function markEnteredInError(client: EhrClient, ra: RiskAssessment): Promise<{ id: string; changed: boolean } | undefined> {
  const current = ra.meta?.versionId !== undefined && ra.id ? ra : await findByIdentifier(client, assessmentIdentifierValue(ra));
  if (!current?.id) return undefined;
  if (current.status === 'entered-in-error') return { id: current.id, changed: false };
  const body: RiskAssessment & { id: string } = { ...current, id: current.id, status: 'entered-in-error' };
  await withHttpErrors(`PUT RiskAssessment/${current.id}`, () => client.update(body));
  return { id: current.id, changed: true };
}

async function findByIdentifier(client: EhrClient, value: string): Promise<RiskAssessment | undefined> {
  const found = await withHttpErrors('GET RiskAssessment?identifier', () =>
    client.search<RiskAssessment>('RiskAssessment', { identifier: identifierSearchToken(value) }, 1),
  );
  return found[0];
}

function assessmentIdentifierValue(ra: RiskAssessment): string {
  const value = ra.identifier?.find((i) => i.system === ASSESSMENT_IDENTIFIER_SYSTEM)?.value;
  if (!value) throw new Error(`RiskAssessment has no ${ASSESSMENT_IDENTIFIER_SYSTEM} identifier`);
  return value;
}

/** Runs one EHR call, turning untyped HTTP failures into our typed errors. */
async function withHttpErrors<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyHttpError(what, err);
  }
}

/** The parts of an HTTP client error we read (fhir-kit-client, axios, fetch wrappers, Medplum). */
interface HttpErrorShape {
  status?: number;
  statusCode?: number;
  response?: { status?: number; data?: unknown; headers?: unknown };
  outcome?: OperationOutcome;
  headers?: unknown;
}

/**
 * Maps a failed EHR call to our errors. Exported for tests and for other writers.
 * @param what - the request, for the message (no resource bodies: they hold patient data).
 * @param err - what the client threw.
 */
export function classifyHttpError(what: string, err: unknown): Error {
  if (err instanceof FhirRiskError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpErrorShape;
  const status = e.response?.status ?? e.status ?? e.statusCode ?? 0;
  if (status === 0 || status === 408 || status === 429 || status >= 500) {
    const retryAfterSeconds = retryAfter(e.response?.headers ?? e.headers);
    const reason = status === 0 ? `network error: ${err instanceof Error ? err.message : String(err)}` : `HTTP ${status}`;
    return new RetryableError(`${what} failed: ${reason}`, {
      cause: err,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }
  const diagnostics = outcomeDiagnostics(e.outcome ?? e.response?.data);
  return new InvalidInputError(`${what} was refused with HTTP ${status}${diagnostics ? `: ${diagnostics}` : ''}`, 422, { cause: err });
}

/** Retry-After in seconds, from delta-seconds or an HTTP date. */
function retryAfter(headers: unknown): number | undefined {
  let raw: unknown;
  if (headers && typeof (headers as { get?: unknown }).get === 'function') raw = (headers as { get(name: string): unknown }).get('retry-after');
  else if (headers && typeof headers === 'object') {
    const record = headers as Record<string, unknown>;
    raw = record['retry-after'] ?? record['Retry-After'];
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(String(raw));
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function outcomeDiagnostics(data: unknown): string {
  const issues = (data as Partial<OperationOutcome> | undefined)?.issue;
  if (!Array.isArray(issues)) return '';
  return issues
    .map((i) => i.diagnostics ?? i.details?.text)
    .filter((t): t is string => Boolean(t))
    .join('; ')
    .slice(0, 500);
}

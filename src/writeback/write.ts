/**
 * Writes RiskAssessments to the EHR, idempotently.
 *
 * Two ways, both safe to repeat (BullMQ delivers at least once):
 * - `put`: PUT RiskAssessment/<deterministic id>. For servers that accept client-assigned ids
 *   (HAPI with client id strategy ANY/ALPHANUMERIC, Smile, Medplum, the sandbox). A second PUT of
 *   the same assessment lands on the same resource.
 * - `conditional-create`: POST with `If-None-Exist: identifier=<system>|<value>`. For servers that
 *   assign ids themselves (Epic, Azure, Google, HAPI's default). A second POST finds the first.
 *   Many servers do not make the check and the create atomic, so two writes at the same moment can
 *   both create. Two guards: concurrent writes of one assessment through one client share a single
 *   request (single flight), and a write that created verifies by searching the identifier; when it
 *   finds duplicates (another pod raced it) it keeps the earliest and deletes the others (a batch of
 *   DELETEs). Every racer picks the same survivor, and the last to create always sees all of them,
 *   so the race ends in one resource. A 412 (If-None-Exist matched several) is repaired the same way.
 *
 * HTTP failures become our typed errors: 5xx, 429, 408 and network failures → RetryableError
 * (with Retry-After when the server gave one); other 4xx → InvalidInputError (422) with the
 * server's OperationOutcome diagnostics. Errors the EhrClient already typed pass through unchanged.
 */
import type { RiskAssessment } from 'fhir/r4.js';
import type { EhrClient } from '../fhir/client-types.ts';
import { classifyHttpError, httpStatusOf } from '../fhir/http-errors.ts';
import { InvalidInputError, RetryableError } from '../errors.ts';
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
  return singleFlight(client, identifierValue, () => conditionalCreate(client, ra, identifierValue));
}

/** Writes in flight per client and identifier: a concurrent second write waits for the first. */
const inFlight = new WeakMap<EhrClient, Map<string, Promise<WriteResult>>>();

async function singleFlight(client: EhrClient, identifierValue: string, write: () => Promise<WriteResult>): Promise<WriteResult> {
  let writes = inFlight.get(client);
  if (!writes) inFlight.set(client, (writes = new Map()));
  const running = writes.get(identifierValue);
  if (running) return { id: (await running).id, created: false };
  const started = write();
  writes.set(identifierValue, started);
  try {
    return await started;
  } finally {
    writes.delete(identifierValue);
  }
}

async function conditionalCreate(client: EhrClient, ra: RiskAssessment, identifierValue: string): Promise<WriteResult> {
  // A server-assigned-id server rejects a create that carries an id (HAPI: HTTP 400), so send none.
  const { id: _clientId, ...body } = ra;
  let outcome: { resource: RiskAssessment; created: boolean };
  try {
    outcome = await withHttpErrors('POST RiskAssessment (If-None-Exist)', () =>
      client.createIfNoneExist<RiskAssessment>(body, `identifier=${identifierSearchToken(identifierValue)}`),
    );
  } catch (err) {
    // 412: If-None-Exist matched several: an earlier race left duplicates. Repair, keep the survivor.
    if (!isPreconditionFailed(err)) throw err;
    const survivor = await removeDuplicates(client, identifierValue);
    if (!survivor) throw err;
    return { id: survivor, created: false };
  }
  const { resource, created } = outcome;
  if (!resource.id) throw new RetryableError('EHR accepted the RiskAssessment but returned no id');
  if (!created) return { id: resource.id, created };
  // Created: a writer on another pod may have passed the same existence check at the same moment.
  const survivor = (await removeDuplicates(client, identifierValue)) ?? resource.id;
  return { id: survivor, created: survivor === resource.id };
}

/**
 * Finds every RiskAssessment with the identifier; when there are several, deletes all but the
 * earliest (by `meta.lastUpdated`, then id: every racer chooses the same one). Returns the
 * survivor's id, or undefined when the server has none.
 */
async function removeDuplicates(client: EhrClient, identifierValue: string): Promise<string | undefined> {
  const found = await withHttpErrors('GET RiskAssessment?identifier', () =>
    client.search<RiskAssessment>('RiskAssessment', { identifier: identifierSearchToken(identifierValue) }, 1),
  );
  const copies = found.filter((r): r is RiskAssessment & { id: string } => typeof r.id === 'string').sort(earliestFirst);
  const [survivor, ...duplicates] = copies;
  if (duplicates.length > 0) {
    const response = await withHttpErrors('DELETE duplicate RiskAssessments (batch)', () =>
      client.batch({
        resourceType: 'Bundle',
        type: 'batch',
        entry: duplicates.map((d) => ({ request: { method: 'DELETE', url: `RiskAssessment/${d.id}` } })),
      }),
    );
    for (const [i, entry] of (response.entry ?? []).entries()) {
      const status = Number.parseInt(entry.response?.status ?? '', 10);
      // 404/410: another racer deleted it first, which is what we wanted.
      if (status >= 300 && status !== 404 && status !== 410) {
        throw classifyHttpError(`DELETE RiskAssessment/${duplicates[i]?.id ?? '?'} (a duplicate from a concurrent write)`, { status });
      }
    }
  }
  return survivor?.id;
}

function earliestFirst(a: RiskAssessment & { id: string }, b: RiskAssessment & { id: string }): number {
  const ta = Date.parse(a.meta?.lastUpdated ?? '');
  const tb = Date.parse(b.meta?.lastUpdated ?? '');
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta - tb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function isPreconditionFailed(err: unknown): boolean {
  if (!(err instanceof InvalidInputError)) return false;
  return httpStatusOf(err.cause) === 412 || /\bHTTP 412\b/.test(err.message);
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

/** Runs one EHR call, turning untyped HTTP failures into our typed errors (the one mapping in src/fhir/http-errors.ts). */
async function withHttpErrors<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyHttpError(what, err);
  }
}

/**
 * The one mapping from a failed HTTP call toward a FHIR server to our typed errors, used by the
 * EHR client and the write-back (and any other writer):
 * - network failure, timeout, 408, 429, 5xx → `RetryableError`, carrying the server's
 *   Retry-After (delta-seconds or an HTTP date);
 * - any other status → `InvalidInputError` (422) with the server's OperationOutcome diagnostics.
 * Already-typed errors pass through unchanged.
 */
import type { OperationOutcome } from 'fhir/r4.js';
import { FhirRiskError, InvalidInputError, RetryableError } from '../errors.ts';

/** The parts of an HTTP client error we read (fhir-kit-client, axios, fetch wrappers, Medplum). */
export interface HttpErrorShape {
  status?: number;
  statusCode?: number;
  response?: { status?: number; data?: unknown; headers?: unknown };
  /** fhir-kit-client keeps the response headers here. */
  config?: { headers?: unknown };
  outcome?: OperationOutcome;
  headers?: unknown;
}

/** The HTTP status of a client error; 0 when the request never got an answer. */
export function httpStatusOf(err: unknown): number {
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpErrorShape;
  return e.response?.status ?? e.status ?? e.statusCode ?? 0;
}

/**
 * Maps a failed call to our errors.
 * @param what - the request, for the message (no resource bodies: they hold patient data).
 * @param err - what the client threw.
 */
export function classifyHttpError(what: string, err: unknown): Error {
  if (err instanceof FhirRiskError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpErrorShape;
  const status = httpStatusOf(err);
  if (status === 0 || status === 408 || status === 429 || status >= 500) {
    const retryAfterSeconds = retryAfter(e.response?.headers ?? e.config?.headers ?? e.headers);
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

/** The OperationOutcome's diagnostics, for the log line of a refused request. */
function outcomeDiagnostics(data: unknown): string {
  const issues = (data as Partial<OperationOutcome> | undefined)?.issue;
  if (!Array.isArray(issues)) return '';
  return issues
    .map((i) => i.diagnostics ?? i.details?.text)
    .filter((t): t is string => Boolean(t))
    .join('; ')
    .slice(0, 500);
}

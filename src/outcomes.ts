/**
 * The one place where errors become FHIR OperationOutcomes and HTTP statuses.
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import {
  AuthError,
  InvalidInputError,
  NotApplicableError,
  NotFoundError,
  PayloadTooLargeError,
  QueueUnavailableError,
  RetryableError,
  StaleError,
  UnsupportedMediaTypeError,
} from './errors.ts';

export const NOT_APPLICABLE_SYSTEM = 'http://fhir-risk.org/fhir/CodeSystem/not-applicable-reason';
export const MODEL_ID_EXTENSION = 'http://fhir-risk.org/fhir/StructureDefinition/model-id';

export interface HttpOutcome {
  status: number;
  outcome: OperationOutcome;
  /** Extra response headers, e.g. Retry-After for 503. */
  headers?: Record<string, string>;
}

export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: OperationOutcomeIssue['code'],
  diagnostics: string,
  extra: Partial<OperationOutcomeIssue> = {},
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics, ...extra }] };
}

/** The answer to an accepted notification: HAPI counts `{}` and an empty 200 as failed deliveries. */
export function acceptedOutcome(diagnostics: string): OperationOutcome {
  return outcome('information', 'informational', diagnostics);
}

/** The OperationOutcome that `assess` and `$risk-assess` return for a model that does not apply. */
export function notApplicableOutcome(err: NotApplicableError): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'information',
        code: 'not-supported',
        details: { coding: [{ system: NOT_APPLICABLE_SYSTEM, code: err.reason }], text: err.reason },
        diagnostics: err.diagnostics,
        expression: [`model:${err.modelId}`],
        extension: [{ url: MODEL_ID_EXTENSION, valueCode: err.modelId }],
      },
    ],
  };
}

/** Maps any thrown value to a status and an OperationOutcome. Unknown errors are 500s with no detail leaked. */
export function toHttpOutcome(err: unknown): HttpOutcome {
  if (err instanceof InvalidInputError) {
    return { status: err.status, outcome: outcome('error', err.status === 400 ? 'structure' : 'processing', err.message) };
  }
  if (err instanceof AuthError) {
    return { status: err.status, outcome: outcome('error', err.status === 401 ? 'login' : 'forbidden', err.message) };
  }
  if (err instanceof NotFoundError) return { status: 404, outcome: outcome('error', 'not-found', err.message) };
  if (err instanceof PayloadTooLargeError) return { status: 413, outcome: outcome('error', 'too-costly', err.message) };
  if (err instanceof UnsupportedMediaTypeError) {
    return { status: 415, outcome: outcome('error', 'not-supported', err.message) };
  }
  if (err instanceof QueueUnavailableError) {
    return {
      status: 503,
      outcome: outcome('error', 'transient', err.message),
      headers: { 'Retry-After': String(err.retryAfterSeconds) },
    };
  }
  if (err instanceof RetryableError) {
    return {
      status: 503,
      outcome: outcome('error', 'transient', err.message),
      headers: { 'Retry-After': String(err.retryAfterSeconds ?? 5) },
    };
  }
  if (err instanceof NotApplicableError) {
    return { status: 422, outcome: notApplicableOutcome(err) };
  }
  if (err instanceof StaleError) return { status: 200, outcome: outcome('information', 'informational', err.message) };
  return { status: 500, outcome: outcome('fatal', 'exception', 'Internal error; see the service log') };
}

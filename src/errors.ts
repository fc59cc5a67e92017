/**
 * Typed errors for every control-flow outcome of the pipeline.
 *
 * Each class says what the caller should do, not where it happened:
 * - `RetryableError`: try again later (EHR 5xx/429/timeout, Redis down). Workers let BullMQ back off.
 * - `NotApplicableError`: the model does not apply to this patient; no RiskAssessment, a reason.
 * - `InvalidInputError`: the input can never succeed as sent (malformed notification, bad Bundle).
 * - `StaleError`: a newer version of the resource was already processed; drop quietly.
 * - `AuthError`, `NotFoundError`, `PayloadTooLargeError`, `UnsupportedMediaTypeError`,
 *   `QueueUnavailableError`: HTTP-facing conditions.
 *
 * They are mapped to FHIR OperationOutcomes and HTTP statuses in exactly one place:
 * `src/outcomes.ts`.
 */

/** Base class: keeps `instanceof` and `name` right after transpilation (as BullMQ's errors do). */
export abstract class FhirRiskError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** A transient failure: the same work is expected to succeed later. */
export class RetryableError extends FhirRiskError {
  /** Seconds the other side asked us to wait (HTTP Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Codes of `http://fhir-risk.org/fhir/CodeSystem/not-applicable-reason`. */
export const NOT_APPLICABLE_REASONS = [
  'age-out-of-range',
  'missing-input',
  'stale-input',
  'input-out-of-range',
  'no-indication',
  'excluded-population',
  'deceased',
  'sex-not-supported',
  'model-disabled',
] as const;
export type NotApplicableReason = (typeof NOT_APPLICABLE_REASONS)[number];

/** The model does not apply to this patient now. Not a failure: the answer is "no score, because…". */
export class NotApplicableError extends FhirRiskError {
  constructor(
    readonly modelId: string,
    readonly reason: NotApplicableReason,
    /** Plain words for a clinician or an integration engineer; never patient data beyond ids. */
    readonly diagnostics: string,
  ) {
    super(`${modelId}: ${reason}: ${diagnostics}`);
  }
}

/** Input that can never succeed as sent. `status` is 400 (malformed) or 422 (well-formed, unprocessable). */
export class InvalidInputError extends FhirRiskError {
  constructor(
    message: string,
    readonly status: 400 | 422 = 400,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An older version than one already processed: dropping it is correct, not an error. */
export class StaleError extends FhirRiskError {}

export class AuthError extends FhirRiskError {
  constructor(
    message: string,
    readonly status: 401 | 403 = 401,
  ) {
    super(message);
  }
}

export class NotFoundError extends FhirRiskError {}

export class PayloadTooLargeError extends FhirRiskError {}

export class UnsupportedMediaTypeError extends FhirRiskError {}

/** Redis (the queue) cannot take the event: the sender must retry; we must not acknowledge. */
export class QueueUnavailableError extends FhirRiskError {
  readonly retryAfterSeconds = 5;
}

/** A configuration problem found at start-up; each entry is one line for the operator. */
export class ConfigError extends FhirRiskError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/**
 * The CDS Hooks 2.0 request of a `patient-view` call: its schema and the one place it is validated.
 *
 * Only what fhir-risk uses is checked strictly (hook, hookInstance, context.patientId, the
 * fhirServer/fhirAuthorization pair); unknown members (`extension`, other context fields) pass,
 * as the spec asks of services.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';

/** The only hook fhir-risk serves. */
export const PATIENT_VIEW_HOOK = 'patient-view';

/** FHIR id syntax: anything else could smuggle parameters into the search URLs built from it. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const fhirAuthorizationSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  expires_in: z.number().int().nonnegative(),
  scope: z.string(),
  subject: z.string(),
});

const patientViewRequestSchema = z
  .looseObject({
    hook: z.literal(PATIENT_VIEW_HOOK, { error: `hook must be "${PATIENT_VIEW_HOOK}"` }),
    hookInstance: z.string().min(1).max(200),
    fhirServer: z.url().optional(),
    fhirAuthorization: fhirAuthorizationSchema.optional(),
    context: z.looseObject({
      patientId: z.string().regex(FHIR_ID, 'context.patientId must be a FHIR id'),
      userId: z.string().min(1).optional(),
      encounterId: z.string().min(1).optional(),
    }),
    // null values are meaningful ("the client had no data for this key"), so keep them.
    prefetch: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => r.fhirAuthorization === undefined || r.fhirServer !== undefined, {
    message: 'fhirServer is required when fhirAuthorization is given',
    path: ['fhirServer'],
  });

/** A validated `patient-view` request. */
export type PatientViewRequest = z.infer<typeof patientViewRequestSchema>;

/**
 * Validates a `patient-view` request body.
 * @throws InvalidInputError (400) naming every problem, e.g. `context.patientId: must be a FHIR id`.
 */
export function parsePatientViewRequest(body: unknown): PatientViewRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('the CDS Hooks request must be a JSON object');
  }
  const parsed = patientViewRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(request)'}: ${issue.message}`);
  throw new InvalidInputError(`malformed CDS Hooks request: ${problems.join('; ')}`);
}

/**
 * The EHR-facing client surface the pipeline, featurization and write-back depend on.
 * Implemented in `src/fhir/ehr-client.ts` on fhir-kit-client; tests use the same class against the sandbox.
 */
import type { Bundle, FhirResource, Resource } from 'fhir/r4.js';

export interface EhrClient {
  /** Base URL of the server (no trailing slash). */
  readonly baseUrl: string;
  /** GET Type/id; undefined on 404/410. */
  read<T extends FhirResource>(resourceType: T['resourceType'], id: string): Promise<T | undefined>;
  /** GET Type?params, following `next` links up to `maxPages`; returns the matched resources. */
  search<T extends FhirResource>(resourceType: T['resourceType'], params: Record<string, string>, maxPages?: number): Promise<T[]>;
  /** POST a batch/transaction Bundle to the base. */
  batch(bundle: Bundle): Promise<Bundle>;
  /** PUT Type/id with the resource (client-assigned id). */
  update<T extends Resource>(resource: T & { id: string }): Promise<T>;
  /** POST Type with `If-None-Exist` (conditional create). */
  createIfNoneExist<T extends Resource>(resource: T, ifNoneExist: string): Promise<{ resource: T; created: boolean }>;
  /** Number of HTTP requests made so far (for the per-scoring metric and benchmarks). */
  readonly requestCount: number;
}

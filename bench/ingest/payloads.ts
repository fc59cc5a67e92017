/**
 * Request bodies for the ingest benchmark, built from the test-support notification builders so
 * they have exactly the shape of the e2e tests' (and the reference fixtures') notifications.
 *
 * Every request is a distinct event (a new resource id or version), so each one is really stored:
 * repeating one body would only measure BullMQ's duplicate-id no-op. Bodies come from a template
 * with placeholders so the load generator spends little CPU building them.
 */
import type { Observation } from 'fhir/r4.js';
import { backportR4, hapiPut } from '../../test/support/notifications.ts';

const ID = '__BENCHID__';
const VERSION = '987654321';
const EVENT = '123456789';
const SUBSCRIPTION = '__BENCHSUB__';

function template(): Observation & { id: string } {
  return {
    resourceType: 'Observation',
    id: ID,
    meta: { versionId: VERSION, lastUpdated: '2025-01-01T00:00:00Z' },
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma' }] },
    subject: { reference: 'Patient/bench-ingest-patient' },
    effectiveDateTime: '2025-01-01T00:00:00Z',
    valueQuantity: { value: 190, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}

export interface IngestPayload {
  readonly method: 'POST' | 'PUT';
  /** Path and body for the n-th request of a connection whose own id is `connection`. */
  request(connection: string, n: number): { path: string; body: string; headers: Record<string, string> };
}

function fill(text: string, connection: string, n: number): string {
  return text.split(ID).join(`obs-${connection}-${n}`).split(SUBSCRIPTION).join(`bench-${connection}`).split(VERSION).join(String(n)).split(EVENT).join(String(n));
}

/** Subscriptions Backport R4, full-resource history Bundle at `POST /notify`; one subscription per connection, event numbers in order. */
export function backportPayload(): IngestPayload {
  const req = backportR4(template(), 'full-resource', Number(EVENT), SUBSCRIPTION);
  return {
    method: 'POST',
    request: (connection, n) => ({ path: '/notify', body: fill(req.body, connection, n), headers: req.headers }),
  };
}

/** HAPI R4 classic rest-hook at `PUT /notify/Observation/:id` with the resource. */
export function hapiPutPayload(): IngestPayload {
  const req = hapiPut(template());
  return {
    method: 'PUT',
    request: (connection, n) => ({ path: fill(req.path, connection, n), body: fill(req.body, connection, n), headers: { ...req.headers, 'if-match': `W/"${n}"` } }),
  };
}

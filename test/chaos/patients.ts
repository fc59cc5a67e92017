/**
 * The chaos run's patients: PCE test vectors (so ascvd-pce applies) with a share made too old
 * for any cardiovascular model (so "no assessment" is an expected outcome too), loaded into the
 * sandbox as transaction Bundles before any fault is switched on.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import { patientBundleFromVector, pceVector, type PceVector } from '../support/pce-patient.ts';

const VECTORS = [
  'pce-cvrisk-white-male-55-sbp140',
  'pce-cvrisk-white-female-55-sbp140',
  'pce-cvrisk-black-male-55-sbp140',
  'pce-preventr-white-male-59-sbp148',
  'pce-preventr-black-male-59-smoker',
  'pce-cerner-white-male-46',
];

export interface ChaosPatient {
  readonly id: string;
  readonly bundle: Bundle;
  /** Ids of the Observations the burst notifies about. */
  readonly observations: { tc: string; hdl: string; bp: string };
}

/** `n` patients; every 10th is 85 years old (outside every cardiovascular model's range). */
export function buildPatients(n: number, runId: string, at = new Date()): ChaosPatient[] {
  const vectors = VECTORS.map((id) => pceVector(id));
  return Array.from({ length: n }, (_, i) => {
    const base = vectors[i % vectors.length]!;
    const vector: PceVector = i % 10 === 9 ? { ...base, inputs: { ...base.inputs, age: { value: 85 } } } : base;
    const id = `chaos-${runId}-${i}-${randomUUID().slice(0, 4)}`;
    return { id, bundle: patientBundleFromVector(vector, id, at), observations: { tc: `${id}-tc`, hdl: `${id}-hdl`, bp: `${id}-bp` } };
  });
}

/** POSTs the Bundles with a few in flight; throws on the first refusal (the run cannot be judged then). */
export async function loadPatients(fhirBase: string, patients: readonly ChaosPatient[], concurrency = 4): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < patients.length; i = next++) {
      const res = await fetch(fhirBase, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(patients[i]!.bundle) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`loading patient ${patients[i]!.id} failed: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

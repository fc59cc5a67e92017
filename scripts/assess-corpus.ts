/**
 * Scores every patient of a corpus of patient Bundles offline (the `assess` path) and prints
 * the counts: scored per model, and not applicable per model and reason.
 *
 * Usage: tsx scripts/assess-corpus.ts [dir-of-bundles] [--json]
 *   default dir: ../shared/data/synthea-r4/bundles
 *
 * Each patient is assessed as of one day after their newest Observation: the corpus is
 * historical (it ends in 2019–2025), and "now" would make every lab stale.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from 'fhir/r4.js';
import { BUNDLED_MODELS_DIR } from '../src/config.ts';
import { recordFromBundle } from '../src/features/gather.ts';
import { loadValueSets } from '../src/features/value-sets.ts';
import { loadModelRegistry } from '../src/models/registry.ts';
import { assessRecord } from '../src/pipeline/assess.ts';
import { latestObservationTime } from '../src/sandbox/load.ts';
import { VALUE_SETS_DIR } from '../src/service.ts';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--')) ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'synthea-r4', 'bundles');
const asJson = args.includes('--json');

const registry = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
const valueSets = await loadValueSets(VALUE_SETS_DIR);
const counts: Record<string, { scored: number; notApplicable: Record<string, number> }> = {};
for (const m of registry.list()) counts[m.manifest.id] = { scored: 0, notApplicable: {} };

const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
for (const file of files) {
  const bundle = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Bundle;
  const last = latestObservationTime(bundle) ?? new Date();
  const at = new Date(last.getTime() + 24 * 3600 * 1000);
  const results = await assessRecord(recordFromBundle(bundle), registry.list(), at, { valueSets });
  for (const r of results) {
    const c = counts[r.model.manifest.id]!;
    if ('notApplicable' in r) c.notApplicable[r.notApplicable.reason] = (c.notApplicable[r.notApplicable.reason] ?? 0) + 1;
    else c.scored++;
  }
}
await registry.close();

if (asJson) {
  console.log(JSON.stringify({ patients: files.length, counts }, null, 2));
} else {
  console.log(`${files.length} patients, each as of one day after their newest Observation\n`);
  console.log('| model | scored | not applicable (reason × patients) |');
  console.log('|---|---:|---|');
  for (const [id, c] of Object.entries(counts)) {
    const na = Object.entries(c.notApplicable)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${reason} ×${n}`)
      .join(', ');
    console.log(`| \`${id}\` | ${c.scored} | ${na || '—'} |`);
  }
}

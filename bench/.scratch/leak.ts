import { loadModelRegistry } from '../../src/models/registry.ts';
import { BUNDLED_MODELS_DIR } from '../../src/config.ts';
import { loadValueSets } from '../../src/features/value-sets.ts';
import { VALUE_SETS_DIR } from '../../src/service.ts';
import { recordFromBundle } from '../../src/features/gather.ts';
import { assessRecord } from '../../src/pipeline/assess.ts';
import { generatePatients } from '../e2e/patients.ts';
import { validateRiskAssessment } from '../../src/writeback/validate.ts';
const models = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
const vs = await loadValueSets(VALUE_SETS_DIR);
const patients = generatePatients('leak', 1200, 7);
const m = [models.get('ascvd-pce')!, models.get('prevent-cvd')!];
const heap = () => { global.gc!(); return Math.round(process.memoryUsage().heapUsed / 1048576); };
const mode = process.argv[2] ?? 'assess';
let ra: unknown;
for (let i = 0; i < patients.length; i++) {
  const p = patients[i]!;
  if (mode === 'assess') await assessRecord(recordFromBundle(p.bundle as never), m, new Date(), { valueSets: vs });
  else { if (!ra) ra = ((await assessRecord(recordFromBundle(p.bundle as never), m, new Date(), { valueSets: vs }))[0] as { assessment: unknown }).assessment; validateRiskAssessment({ ...(ra as object), subject: { reference: `Patient/${p.id}` } } as never); }
  if (i % 300 === 0) console.log(mode, i, 'heap MiB', heap());
}
console.log(mode, 'end heap MiB', heap());
await models.close();

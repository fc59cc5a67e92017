/**
 * `fhir-risk backfill`: schedule scorings for a population that produced no events (a bulk
 * load, a newly added model). Jobs go through the normal debounced score queue, so a backfill
 * that overlaps live traffic never scores a patient twice at once.
 */
import type { Patient } from 'fhir/r4.js';
import type { Config } from '../config.ts';
import { loadValueSets } from '../features/value-sets.ts';
import { loadModelRegistry } from '../models/registry.ts';
import { startPipeline } from '../pipeline/runtime.ts';
import { createEhrClients, VALUE_SETS_DIR } from '../service.ts';

export async function backfillCommand(config: Config, opts: { patient?: string[]; model?: string[] }): Promise<{ patients: number; jobs: number }> {
  const models = await loadModelRegistry({ dir: config.modelsDir, disabled: config.modelsDisabled });
  const valueSets = await loadValueSets(VALUE_SETS_DIR);
  const { ehr, results } = createEhrClients(config);
  const pipeline = await startPipeline({ config, models, valueSets, ehr, results, runWorkers: false });
  try {
    const modelIds = opts.model ?? models.list().map((m) => m.manifest.id);
    const unknown = modelIds.filter((id) => !models.get(id));
    if (unknown.length > 0) throw new Error(`unknown model: ${unknown.join(', ')}`);
    const patientIds =
      opts.patient ?? (await ehr.search<Patient>('Patient', { _count: '500', _elements: 'id' }, 1000)).map((p) => p.id!).filter(Boolean);
    const now = Date.now();
    for (const patientId of patientIds) await pipeline.scheduler.schedule(patientId, modelIds, 'backfill', now);
    return { patients: patientIds.length, jobs: patientIds.length * modelIds.length };
  } finally {
    await pipeline.close();
    await models.close();
  }
}

/**
 * `fhir-risk sweep`: one reconciliation sweep now, through the same queue as notifications.
 */
import type { Config } from '../config.ts';
import { loadValueSets } from '../features/value-sets.ts';
import { loadModelRegistry } from '../models/registry.ts';
import { waitUntilReady } from '../pipeline/redis.ts';
import { startPipeline } from '../pipeline/runtime.ts';
import { runSweep, type SweepResult } from '../pipeline/sweep.ts';
import { createEhrClients, VALUE_SETS_DIR } from '../service.ts';

export async function runSweepOnce(config: Config, since?: Date): Promise<SweepResult> {
  const models = await loadModelRegistry({ dir: config.modelsDir, disabled: config.modelsDisabled });
  const valueSets = await loadValueSets(VALUE_SETS_DIR);
  const { ehr, results } = createEhrClients(config);
  const pipeline = await startPipeline({ config, models, valueSets, ehr, results, runWorkers: false });
  await waitUntilReady(pipeline.producer, config.redisUrl).catch(async (err: unknown) => {
    await pipeline.close();
    await models.close();
    throw err;
  });
  try {
    return await runSweep({
      ehr,
      sink: pipeline.sink,
      models,
      valueSets,
      redis: pipeline.producer,
      prefix: config.queuePrefix,
      ...(since ? { since } : {}),
    });
  } finally {
    await pipeline.close();
    await models.close();
  }
}

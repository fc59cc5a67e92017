/**
 * What the one-shot commands that feed the queues (`sweep`, `backfill`) share: the models, the
 * value sets, the EHR clients and the producer side of the pipeline, connected to Redis.
 */
import type { Config } from '../config.ts';
import { loadValueSets, type ValueSetIndex } from '../features/value-sets.ts';
import type { FhirKitEhrClient } from '../fhir/ehr-client.ts';
import { loadModelRegistry } from '../models/registry.ts';
import type { ModelRegistry } from '../models/types.ts';
import { waitUntilReady } from '../pipeline/redis.ts';
import { startPipeline, type Pipeline } from '../pipeline/runtime.ts';
import { createEhrClients, VALUE_SETS_DIR } from '../service.ts';

export interface CommandSession {
  models: ModelRegistry;
  valueSets: ValueSetIndex;
  ehr: FhirKitEhrClient;
  results: FhirKitEhrClient;
  pipeline: Pipeline;
  close(): Promise<void>;
}

/** Opens the session; fails with one line naming Redis when it does not answer. */
export async function openCommandSession(config: Config): Promise<CommandSession> {
  const models = await loadModelRegistry({ dir: config.modelsDir, disabled: config.modelsDisabled });
  const valueSets = await loadValueSets(VALUE_SETS_DIR);
  const { ehr, results } = createEhrClients(config);
  const pipeline = await startPipeline({ config, models, valueSets, ehr, results, runWorkers: false });
  const close = async () => {
    await pipeline.close();
    await models.close();
  };
  try {
    await waitUntilReady(pipeline.producer, config.redisUrl);
  } catch (err) {
    await close();
    throw err;
  }
  return { models, valueSets, ehr, results, pipeline, close };
}

/**
 * `fhir-risk sweep`: one reconciliation sweep now, through the same queue as notifications.
 */
import type { Config } from '../config.ts';
import { runSweep, type SweepResult } from '../pipeline/sweep.ts';
import { openCommandSession } from './command-session.ts';

export async function runSweepOnce(config: Config, since?: Date): Promise<SweepResult> {
  const { ehr, pipeline, models, valueSets, close } = await openCommandSession(config);
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
    await close();
  }
}

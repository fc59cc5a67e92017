/**
 * Debounced scheduling of scorings: one pending job per (patient, model).
 *
 * BullMQ deduplication with `keepLastIfActive`: a burst of 40 lab results within the debounce
 * window becomes one delayed job; an event that arrives while that patient's scoring is running
 * leaves exactly one follow-up job, so the newest data is always scored and nothing is lost.
 */
import type { Queue } from 'bullmq';
import { JOB_ATTEMPTS, JOB_BACKOFF, KEEP_COMPLETED_SCORES, KEEP_FAILED, scoreDedupId, type ScoreJobData } from './jobs.ts';

export class ScoreScheduler {
  constructor(
    private readonly scores: Queue<ScoreJobData>,
    private readonly debounceMs: number,
  ) {}

  async schedule(patientId: string, modelIds: readonly string[], cause: string, receivedAt: number): Promise<void> {
    if (modelIds.length === 0) return;
    await this.scores.addBulk(
      modelIds.map((modelId) => ({
        name: modelId,
        data: { patientId, modelId, cause, receivedAt },
        opts: {
          delay: this.debounceMs,
          deduplication: { id: scoreDedupId(patientId, modelId), keepLastIfActive: true },
          attempts: JOB_ATTEMPTS,
          backoff: JOB_BACKOFF,
          removeOnComplete: KEEP_COMPLETED_SCORES,
          removeOnFail: KEEP_FAILED,
        },
      })),
    );
  }
}

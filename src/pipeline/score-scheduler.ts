/**
 * Debounced scheduling of scorings: one pending job per patient, for every model asked of it.
 *
 * The models live in the patient's score requests (score-requests.ts), the job only says "score
 * this patient". BullMQ deduplication with `keepLastIfActive`: a burst of 40 lab results within
 * the debounce window becomes one delayed job that reads the patient once for all the models
 * they triggered; an event that arrives while that patient's scoring is running leaves exactly one
 * follow-up job, so the newest data is always scored and nothing is lost.
 */
import type { Queue } from 'bullmq';
import { JOB_ATTEMPTS, JOB_BACKOFF, KEEP_COMPLETED_SCORES, KEEP_FAILED, scoreDedupId, type ScoreJobData } from './jobs.ts';
import type { ScoreRequests } from './score-requests.ts';

export class ScoreScheduler {
  constructor(
    private readonly scores: Queue<ScoreJobData>,
    private readonly requests: ScoreRequests,
    private readonly debounceMs: number,
  ) {}

  /** Records the requests, then queues the patient's scoring (in that order: the job must find them). */
  async schedule(patientId: string, modelIds: readonly string[], cause: string, receivedAt: number): Promise<void> {
    if (modelIds.length === 0) return;
    await this.requests.record(patientId, modelIds);
    await this.enqueue(patientId, cause, receivedAt);
  }

  /** Queues the patient's scoring for requests already recorded (ingress and the event worker record them with the version check). */
  async enqueue(patientId: string, cause: string, receivedAt: number): Promise<void> {
    await this.enqueueMany([{ patientId, cause, receivedAt }]);
  }

  /** {@link enqueue} for many patients in one round trip. */
  async enqueueMany(scorings: readonly { patientId: string; cause: string; receivedAt: number }[]): Promise<void> {
    if (scorings.length === 0) return;
    const now = Date.now();
    await this.scores.addBulk(
      scorings.map(({ patientId, cause, receivedAt }) => ({
        name: 'score',
        data: { patientId, cause, receivedAt },
        opts: {
          // The debounce window opens when the notification arrived, not when it was dequeued:
          // time spent in the events queue is not added to the notification → assessment
          // latency. A tenth of the window always remains, so a backlog of one patient's events
          // (processed moments apart) still coalesces into one scoring.
          delay: Math.max(this.debounceMs - Math.max(0, now - receivedAt), Math.round(this.debounceMs / 10)),
          deduplication: { id: scoreDedupId(patientId), keepLastIfActive: true },
          attempts: JOB_ATTEMPTS,
          backoff: JOB_BACKOFF,
          removeOnComplete: KEEP_COMPLETED_SCORES,
          removeOnFail: KEEP_FAILED,
        },
      })),
    );
  }
}

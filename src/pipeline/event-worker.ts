/**
 * Event worker: one stored ResourceEvent → zero or more debounced scoring jobs, for the events
 * ingress cannot score directly (id-only notifications, deletes, entered-in-error).
 *
 * Steps: drop versions older than one already processed; fetch the resource when the
 * notification carried none (always from FHIR_BASE_URL, by Type/id); find its patient; match
 * model triggers; record a score request per (patient, model) and queue the patient's scoring.
 * Deletes and entered-in-error resources withdraw the assessments they fed and re-score without
 * them.
 *
 * Correctness never depends on the stale check: a scoring always reads the patient's current
 * data, so processing an older event only costs a redundant (deduplicated) scoring.
 */
import type { Job, Queue } from 'bullmq';
import type { FhirResource } from 'fhir/r4.js';
import type { EhrClient } from '../fhir/client-types.ts';
import { logger } from '../observability/logger.ts';
import { eventsTotal } from '../observability/metrics.ts';
import { eventIdentity, type EventJobData, type ScoreJobData } from './jobs.ts';
import type { TriggerMatcher } from './event-sink.ts';
import type { ResourceIndex } from './resource-index.ts';
import type { ScoreScheduler } from './score-scheduler.ts';

export interface EventProcessorDeps {
  ehr: EhrClient;
  index: ResourceIndex;
  triggers: TriggerMatcher;
  scheduler: ScoreScheduler;
  /** Model ids to re-score when a resource is withdrawn and we cannot tell which models used it. */
  allModelIds: () => string[];
  /** Marks assessments that used `ref` as entered-in-error (write-back). */
  withdrawAssessmentsUsing: (patientId: string, ref: string) => Promise<number>;
}

export type EventOutcome = 'scheduled' | 'stale' | 'no-model' | 'no-patient' | 'withdrawn';

export async function processEvent(data: EventJobData, deps: EventProcessorDeps): Promise<EventOutcome> {
  const { ref, seen, cause } = eventIdentity(data);
  const log = logger.child({ ref, version: data.versionId, style: data.style });

  // Events that carried their resource are stored by ingress without an events job
  // (event-sink.ts); one queued before that path existed (an upgrade with a backlog) takes the
  // steps below like any other.
  if (!(await deps.index.claim(ref, seen))) {
    log.debug('older than a version already processed: dropped');
    return 'stale';
  }

  let patientId = data.patientId;
  let models = data.models ? [...data.models] : undefined;
  let withdrawn = data.action === 'delete' || data.enteredInError === true;

  if (!withdrawn && models === undefined) {
    // The notification carried no body (id-only, Event Grid, Pub/Sub name-only): read it.
    const resource = await deps.ehr.read<FhirResource>(data.resourceType as FhirResource['resourceType'], data.id);
    if (!resource) {
      withdrawn = true;
    } else {
      const info = deps.triggers(resource);
      patientId = info.patientId;
      models = info.models;
      if ((resource as { status?: string }).status === 'entered-in-error') withdrawn = true;
    }
  }

  patientId ??= await deps.index.patientOf(ref);
  if (!patientId) {
    log.info('no patient known for this resource: nothing to score');
    return 'no-patient';
  }

  if (withdrawn) {
    await deps.index.rememberPatient(ref, { patientId, models: [] });
    const count = await deps.withdrawAssessmentsUsing(patientId, ref);
    await deps.scheduler.schedule(patientId, deps.allModelIds(), `withdrawn ${ref}`, data.receivedAt);
    log.info({ patientId, withdrawnAssessments: count }, 'resource deleted or entered in error: re-scoring');
    return 'withdrawn';
  }
  await deps.index.rememberPatient(ref, { patientId, models: models ?? [] });
  if (!models || models.length === 0) return 'no-model';
  await deps.scheduler.enqueue(patientId, cause, data.receivedAt);
  return 'scheduled';
}

/** BullMQ processor wrapper: metrics and logging around `processEvent`. */
export function eventProcessor(deps: EventProcessorDeps) {
  return async (job: Job<EventJobData>): Promise<EventOutcome> => {
    const outcome = await processEvent(job.data, deps);
    eventsTotal.inc({ outcome });
    return outcome;
  };
}

export type ScoreQueue = Queue<ScoreJobData>;

/**
 * Prometheus metrics (prom-client). One registry per process, served at GET /metrics.
 *
 * Labels carry styles, outcomes, model ids and reasons: never patient ids (cardinality and privacy).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'fhir_risk_' });

export const notificationsTotal = new Counter({
  name: 'fhir_risk_notifications_total',
  help: 'Notifications received, by delivery style and outcome (accepted, duplicate, ignored, handshake, heartbeat, ping, rejected)',
  labelNames: ['style', 'outcome'] as const,
  registers: [registry],
});

export const eventsTotal = new Counter({
  name: 'fhir_risk_events_total',
  help: 'Resource events processed, by ingress (notifications that carried their resource) or the event worker, by outcome (scheduled, stale, no-model, no-patient, withdrawn)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const scoringsTotal = new Counter({
  name: 'fhir_risk_scorings_total',
  help: 'Scorings by model and outcome (written, unchanged, not-applicable, failed)',
  labelNames: ['model', 'outcome'] as const,
  registers: [registry],
});

export const notApplicableTotal = new Counter({
  name: 'fhir_risk_not_applicable_total',
  help: 'Scorings where the model did not apply, by model and reason',
  labelNames: ['model', 'reason'] as const,
  registers: [registry],
});

export const bandsTotal = new Counter({
  name: 'fhir_risk_bands_total',
  help: 'RiskAssessments written, by model and band',
  labelNames: ['model', 'band'] as const,
  registers: [registry],
});

export const scoreDistribution = new Histogram({
  name: 'fhir_risk_score_value',
  help: 'Distribution of model outputs (probability for probabilistic models, else points)',
  labelNames: ['model'] as const,
  buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 7, 9, 12, 20],
  registers: [registry],
});

export const stageLatency = new Histogram({
  name: 'fhir_risk_stage_seconds',
  help: 'Latency from notification receipt to each stage (queued, scored, written)',
  labelNames: ['stage'] as const,
  buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const ehrRequests = new Histogram({
  name: 'fhir_risk_ehr_request_seconds',
  help: 'Requests to the EHR FHIR server, by method and status',
  labelNames: ['method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const ehrRequestsPerScoring = new Histogram({
  name: 'fhir_risk_ehr_requests_per_scoring',
  help: 'EHR HTTP requests per (patient, model) scored: a scoring job\'s requests (one read for all its models + the writes) divided by the models it scored',
  buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20],
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'fhir_risk_queue_jobs',
  help: 'Jobs per queue and state (sampled at scrape time)',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

export const queueOldestAge = new Gauge({
  name: 'fhir_risk_queue_oldest_waiting_seconds',
  help: 'Age of the oldest job waiting to be processed, per queue (sampled at scrape time; delayed debounce jobs excluded)',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const heartbeatsOverdue = new Gauge({
  name: 'fhir_risk_subscriptions_heartbeat_overdue',
  help: 'Subscriptions whose heartbeat period passed without any notification (sampled at scrape time; details in /readyz)',
  registers: [registry],
});

export const deadLetteredTotal = new Counter({
  name: 'fhir_risk_dead_lettered_total',
  help: 'Jobs that exhausted their retries and stay in the failed set (see `fhir-risk dlq list`)',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const featureMissingTotal = new Counter({
  name: 'fhir_risk_feature_missing_total',
  help: 'Missing or unusable model inputs, by model and reason',
  labelNames: ['model', 'reason'] as const,
  registers: [registry],
});

export const subscriptionGapsTotal = new Counter({
  name: 'fhir_risk_subscription_gaps_total',
  help: 'Gaps detected in subscription event numbers (each triggers a reconciliation sweep)',
  registers: [registry],
});

export const inferenceSeconds = new Histogram({
  name: 'fhir_risk_inference_seconds',
  help: 'ONNX inference time per call, by model (onnxruntime-node, session reused)',
  labelNames: ['model'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
  registers: [registry],
});

export const maintenanceRunsTotal = new Counter({
  name: 'fhir_risk_maintenance_runs_total',
  help: 'Scheduled maintenance runs (task: sweep, rescore), by outcome (done, skipped-locked, failed)',
  labelNames: ['task', 'outcome'] as const,
  registers: [registry],
});

export const rescoresScheduledTotal = new Counter({
  name: 'fhir_risk_rescores_scheduled_total',
  help: 'Scorings scheduled by the max-age re-scoring (newest assessment older than RESCORE_MAX_AGE), by model',
  labelNames: ['model'] as const,
  registers: [registry],
});

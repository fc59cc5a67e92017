/**
 * The numbers of the admin status page, read from this process's prom-client registry:
 * scorings per model and outcome, not-applicable reasons, bands, and stage latency quantiles
 * estimated from histogram buckets the way Prometheus' `histogram_quantile` does.
 *
 * Labels never carry patient data (see metrics.ts), so nothing here can.
 */
import type { Registry } from 'prom-client';

export interface LabelledCount {
  labels: Record<string, string>;
  value: number;
}

export interface StageLatency {
  stage: string;
  count: number;
  /** Seconds; undefined when nothing was observed. */
  p50?: number;
  p95?: number;
}

export interface MetricsSummary {
  scorings: LabelledCount[];
  notApplicable: LabelledCount[];
  bands: LabelledCount[];
  stages: StageLatency[];
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

async function valuesOf(registry: Registry, name: string): Promise<MetricValue[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values as MetricValue[];
}

function counts(values: MetricValue[]): LabelledCount[] {
  return values
    .filter((v) => v.value > 0)
    .map((v) => ({ labels: Object.fromEntries(Object.entries(v.labels).map(([k, l]) => [k, String(l)])), value: v.value }));
}

/**
 * The q-quantile of one histogram series from its cumulative buckets: linear interpolation inside
 * the bucket holding the rank; in the +Inf bucket, the largest finite bound (as Prometheus does).
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; cumulative: number }[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.cumulative ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.cumulative >= rank) {
      if (!Number.isFinite(b.le)) return lowerBound;
      const inBucket = b.cumulative - lowerCount;
      return inBucket === 0 ? b.le : lowerBound + (b.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = Number.isFinite(b.le) ? b.le : lowerBound;
    lowerCount = b.cumulative;
  }
  return lowerBound;
}

/** p50/p95 per label value of `by` of a histogram. */
export async function latencyQuantiles(registry: Registry, name: string, by: string): Promise<StageLatency[]> {
  const series = new Map<string, { le: number; cumulative: number }[]>();
  for (const v of await valuesOf(registry, name)) {
    if (v.metricName !== `${name}_bucket`) continue;
    const key = String(v.labels[by] ?? '');
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    series.set(key, [...(series.get(key) ?? []), { le, cumulative: v.value }]);
  }
  return [...series.entries()]
    .map(([stage, buckets]) => {
      const count = Math.max(0, ...buckets.map((b) => b.cumulative));
      const p50 = histogramQuantile(0.5, buckets);
      const p95 = histogramQuantile(0.95, buckets);
      return { stage, count, ...(p50 !== undefined ? { p50 } : {}), ...(p95 !== undefined ? { p95 } : {}) };
    })
    .sort((a, b) => a.stage.localeCompare(b.stage));
}

export async function summarizeMetrics(registry: Registry): Promise<MetricsSummary> {
  return {
    scorings: counts(await valuesOf(registry, 'fhir_risk_scorings_total')),
    notApplicable: counts(await valuesOf(registry, 'fhir_risk_not_applicable_total')),
    bands: counts(await valuesOf(registry, 'fhir_risk_bands_total')),
    stages: await latencyQuantiles(registry, 'fhir_risk_stage_seconds', 'stage'),
  };
}

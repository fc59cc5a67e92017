/**
 * The benchmark report: one table for the terminal (and BENCHMARKS.md), and the JSON shape of
 * bench/results.json. Every figure sits next to the limit it is measured against and its goal.
 */
import type { E2eResult } from './e2e/e2e-bench.ts';
import type { IngestEndpointResult } from './ingest/ingest-bench.ts';
import type { InferenceResult } from './inference/inference-bench.ts';
import type { MachineInfo } from './lib/machine.ts';

export interface BenchResults {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly settings: Record<string, number | string>;
  readonly ingest?: IngestEndpointResult[];
  readonly e2e?: E2eResult;
  /** The same e2e with the Helm chart's topology: one `serve` and one `worker` process. */
  readonly e2eSplit?: E2eResult;
  readonly inference?: InferenceResult[];
}

export type Verdict = 'met' | 'missed' | 'regression' | 'info';

export interface Row {
  readonly benchmark: string;
  readonly measured: string;
  readonly limit: string;
  readonly ratio: string;
  readonly goal: string;
  readonly verdict: Verdict;
}

const n = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

/** The rows of the summary table, in the order of the benchmarks. */
export function rows(r: BenchResults): Row[] {
  const out: Row[] = [];
  for (const i of r.ingest ?? []) {
    out.push({
      benchmark: `ingest ${i.endpoint}`,
      measured: `${n(i.service.perSecond)}/s, p50 ${n(i.service.p50Ms)} ms, p99 ${n(i.service.p99Ms)} ms, ${n(i.service.cpuMsPerNotification, 2)} CPU ms each`,
      limit: `baseline ${n(i.baseline.perSecond)}/s, p50 ${n(i.baseline.p50Ms)} ms, p99 ${n(i.baseline.p99Ms)} ms, ${n(i.baseline.cpuMsPerNotification, 2)} CPU ms each`,
      ratio: n(i.ratio, 2),
      goal: '≥ 1.0 (< 0.8 regression)',
      verdict: i.ratio >= 1 ? 'met' : i.ratio < 0.8 ? 'regression' : 'missed',
    });
  }
  for (const e of [r.e2e, r.e2eSplit]) {
    if (!e) continue;
    const where = e.topology === 'split' ? ' [serve + worker]' : '';
    out.push({
      benchmark: `e2e scorings/s (${n(e.notifications)} notifications, ${n(e.patients)} patients)${where}`,
      measured: `${n(e.scoringsPerSecond, 1)}/s (${n(e.scorings)} scorings in ${n(e.scoringWindowSeconds, 1)} s)`,
      limit: `sandbox alone ${n(e.limitScoringsPerSecond, 1)} scorings/s (${n(e.limitCyclesPerSecond, 1)} patient read+PUTs cycles/s); CPU ms/scoring: service ${n(e.cpuMsPerScoring.service, 1)}, sandbox ${n(e.cpuMsPerScoring.sandbox, 1)}, Redis ${n(e.cpuMsPerScoring.redis ?? NaN, 1)}, load generator ${n(e.cpuMsPerScoring.loadGenerator ?? NaN, 1)}; ${n(e.coresBusy ?? NaN, 2)} cores busy`,
      ratio: n(e.ratio, 2),
      goal: '≥ 0.7',
      verdict: e.ratio >= 0.7 ? 'met' : 'missed',
    });
    out.push({
      benchmark: `e2e exactly one RiskAssessment per (patient, model)${where}`,
      measured: `${n(e.assessmentsFound)} found, ${e.duplicates} duplicated, ${e.missing} missing, ${e.rewrites} rewrites`,
      limit: `${n(e.assessmentsExpected)} expected`,
      ratio: n(e.assessmentsFound / e.assessmentsExpected, 2),
      goal: 'exactly once',
      verdict: e.exactlyOnce ? 'met' : 'missed',
    });
    out.push({
      benchmark: `e2e FHIR requests per scoring${where}`,
      measured: n(e.fhirRequestsPerScoring, 2),
      limit: Object.entries(e.fhirRequestsByInteraction)
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(', '),
      ratio: '',
      goal: '≤ 2',
      verdict: e.fhirRequestsPerScoring <= 2 ? 'met' : 'missed',
    });
    out.push({
      benchmark: `e2e notification → RiskAssessment at 100 events/s${where}`,
      measured: `p50 ${n(e.latency.p50Ms)} ms, p95 ${n(e.latency.p95Ms)} ms (${e.latency.samples} samples)`,
      limit: `debounce ${n(e.latency.goalP95Ms - 250)} ms`,
      ratio: n(e.latency.p95Ms / e.latency.goalP95Ms, 2),
      goal: `p95 ≤ ${n(e.latency.goalP95Ms)} ms`,
      verdict: e.latency.p95Ms <= e.latency.goalP95Ms ? 'met' : 'missed',
    });
    out.push({
      benchmark: e.topology === 'split' ? 'memory: peak RSS of serve + worker through e2e' : 'memory: peak RSS of fhir-risk start through e2e',
      measured: `${n(e.peakRssMiB)} MiB${e.topology === 'split' ? ` (${Object.entries(e.peakRssByProcessMiB).map(([k, v]) => `${k} ${n(v)}`).join(' + ')})` : ''}`,
      limit: `at end: RSS ${n(e.memoryAtEnd.rssMiB)} MiB, V8 heap ${n(e.memoryAtEnd.heapUsedMiB)} used / ${n(e.memoryAtEnd.heapTotalMiB)} MiB`,
      ratio: e.topology === 'split' ? '' : n(e.peakRssMiB / 250, 2),
      // The goal is for `fhir-risk start` (one process); two processes are reported for information.
      goal: e.topology === 'split' ? '' : '≤ 250 MiB',
      verdict: e.topology === 'split' ? 'info' : e.peakRssMiB <= 250 ? 'met' : 'missed',
    });
    out.push({
      benchmark: `e2e cold start (first scoring of a process)${where}`,
      measured: `${n(e.coldStartMs)} ms beyond the debounce`,
      limit: '',
      ratio: '',
      goal: '',
      verdict: 'info',
    });
  }
  for (const i of r.inference ?? []) {
    out.push({
      benchmark: `inference ${i.model}`,
      measured: `batch 1: ${n(i.batch1RowsPerSecond)} rows/s`,
      limit: `batch 256: ${n(i.batch256RowsPerSecond)} rows/s`,
      ratio: n(i.ratio, 3),
      goal: '',
      verdict: 'info',
    });
  }
  return out;
}

/** A Markdown table (readable as plain text in a terminal too). */
export function table(r: BenchResults): string {
  const header = ['benchmark', 'measured', 'limit (same run)', 'ratio', 'goal', 'verdict'];
  const body = rows(r).map((row) => [row.benchmark, row.measured, row.limit, row.ratio, row.goal, row.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

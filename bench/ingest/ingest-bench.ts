/**
 * Benchmark 1, ingest: notifications/s and latency at `/notify`, against the bare baseline.
 *
 * Both servers run as child processes (the service as `fhir-risk serve`: API only, workers off,
 * so only ingest is measured), on the same Redis, each with its own QUEUE_PREFIX. autocannon runs
 * here, interleaving baseline and service per endpoint so slow drift of a shared machine hits
 * both alike. Every request is a distinct event, so every one is really stored.
 */
import autocannon from 'autocannon';
import { startChild, waitForHttp, freePort, type Child } from '../lib/child.ts';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../lib/redis.ts';
import { startServiceChild } from '../lib/service.ts';
import { ratio, round } from '../lib/stats.ts';
import { backportPayload, hapiPutPayload, type IngestPayload } from './payloads.ts';

export interface IngestOptions {
  /** Measured seconds per server and endpoint, split over `rounds`. */
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** Baseline and service alternate this many times per endpoint (drift of a shared machine hits both alike). */
  rounds: number;
}

export interface IngestRun {
  /** Notifications answered 2xx per second. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** CPU time the server process spent per 2xx notification (user + system): independent of how busy the machine was. */
  readonly cpuMsPerNotification: number;
}

export interface IngestEndpointResult {
  readonly endpoint: string;
  readonly service: IngestRun;
  readonly baseline: IngestRun;
  /** service / baseline notifications per second. */
  readonly ratio: number;
}

/**
 * A request list for autocannon. Its per-request `context` is reset whenever the list wraps
 * around, so a long list gives each connection a stable identity (one Backport subscription with
 * in-order event numbers) for `CYCLE` requests, then a fresh one: no false gaps, no sweeps.
 */
const CYCLE = 1000;
let connectionSeq = 0;
function requestsFor(payload: IngestPayload): autocannon.Request[] {
  const setupRequest = (req: autocannon.Request, context: object): autocannon.Request => {
    const ctx = context as { connection?: string; n?: number };
    ctx.connection ??= `${process.pid}-${++connectionSeq}`;
    ctx.n = (ctx.n ?? 0) + 1;
    const { path, body, headers } = payload.request(ctx.connection, ctx.n);
    return { ...req, method: payload.method, path, body, headers };
  };
  return Array.from({ length: CYCLE }, () => ({ setupRequest }));
}

type Measured = autocannon.Result & { cpuMs: number };

async function hammer(url: string, payload: IngestPayload, seconds: number, connections: number, server: Child): Promise<Measured> {
  const cpuBefore = server.cpuMs();
  const result = await autocannon({ url, connections, duration: seconds, requests: requestsFor(payload) });
  return Object.assign(result, { cpuMs: server.cpuMs() - cpuBefore });
}

/** Rounds of one server merged: total 2xx over total time; latency percentiles weighted by requests. */
function merge(runs: readonly Measured[]): IngestRun {
  const ok = runs.reduce((a, r) => a + r['2xx'], 0);
  const seconds = runs.reduce((a, r) => a + r.duration, 0);
  const weighted = (pick: (r: autocannon.Result) => number) => runs.reduce((a, r) => a + pick(r) * r['2xx'], 0) / Math.max(1, ok);
  return {
    perSecond: round(ok / seconds, 0),
    p50Ms: round(weighted((r) => r.latency.p50), 0),
    p99Ms: round(weighted((r) => r.latency.p99), 0),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    cpuMsPerNotification: round(runs.reduce((a, r) => a + r.cpuMs, 0) / Math.max(1, ok), 3),
  };
}

export async function runIngestBench(opts: IngestOptions, log: (line: string) => void): Promise<IngestEndpointResult[]> {
  const servicePrefix = uniquePrefix('ingest');
  const baselinePrefix = uniquePrefix('ingest-baseline');
  const basePort = await freePort();
  const baseline = startChild({
    name: 'ingest-baseline',
    script: 'bench/ingest/baseline-server.ts',
    env: { PORT: String(basePort), REDIS_URL, QUEUE_PREFIX: baselinePrefix },
  });
  const baselineUrl = `http://127.0.0.1:${basePort}`;
  // FHIR_BASE_URL is required but never called at ingest (nothing in /notify talks to the EHR).
  const service = await startServiceChild('serve', {
    name: 'ingest-service',
    fhirBaseUrl: 'http://127.0.0.1:9/fhir',
    queuePrefix: servicePrefix,
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the service during ingest, as for e2e.
    ...(process.env.BENCH_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/ingest`] } : {}),
  });
  try {
    await waitForHttp(`${baselineUrl}/readyz`, baseline);
    const results: IngestEndpointResult[] = [];
    for (const [endpoint, payload] of [
      ['POST /notify (Backport R4 full-resource)', backportPayload()],
      ['PUT /notify/Observation/:id (HAPI R4)', hapiPutPayload()],
    ] as const) {
      const targets = [
        ['baseline', baselineUrl, baseline],
        ['service', service.url, service.child],
      ] as const;
      const runs = { baseline: [] as Measured[], service: [] as Measured[] };
      for (const [, url, server] of targets) await hammer(url, payload, opts.warmupSeconds, opts.connections, server);
      for (let r = 0; r < opts.rounds; r++) {
        for (const [who, url, server] of r % 2 === 0 ? targets : [...targets].reverse()) {
          runs[who].push(await hammer(url, payload, opts.durationSeconds / opts.rounds, opts.connections, server));
        }
      }
      const b = merge(runs.baseline);
      const s = merge(runs.service);
      for (const [who, run] of [['baseline', b], ['service', s]] as const) {
        log(`  ingest ${endpoint} ${who}: ${run.perSecond}/s p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms non-2xx ${run.non2xx}, ${run.cpuMsPerNotification} CPU ms each`);
      }
      results.push({ endpoint, service: s, baseline: b, ratio: ratio(s.perSecond, b.perSecond) });
    }
    return results;
  } finally {
    await Promise.all([service.child.stop(), baseline.stop()]);
    await deleteKeys(servicePrefix);
    await deleteKeys(baselinePrefix);
  }
}

/**
 * Benchmark 1, ingest: notifications/s and latency at `/notify`, against the bare baseline.
 *
 * Both servers run as child processes (the service as `fhir-risk serve`: API only, workers off,
 * so only ingest is measured), on the same Redis, each with its own QUEUE_PREFIX. autocannon runs
 * here, interleaving baseline and service per endpoint so slow drift of a shared machine hits
 * both alike. Every request is a distinct event, so every one is really stored.
 */
import autocannon from 'autocannon';
import { startChild, waitForHttp, freePort } from '../lib/child.ts';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../lib/redis.ts';
import { startServiceChild } from '../lib/service.ts';
import { ratio, round } from '../lib/stats.ts';
import { backportPayload, hapiPutPayload, type IngestPayload } from './payloads.ts';

export interface IngestOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
}

export interface IngestRun {
  /** Notifications answered 2xx per second. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
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

async function hammer(url: string, payload: IngestPayload, seconds: number, connections: number): Promise<IngestRun> {
  const result = await autocannon({ url, connections, duration: seconds, requests: requestsFor(payload) });
  return {
    perSecond: round(result['2xx'] / result.duration, 0),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
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
  const service = await startServiceChild('serve', { name: 'ingest-service', fhirBaseUrl: 'http://127.0.0.1:9/fhir', queuePrefix: servicePrefix });
  try {
    await waitForHttp(`${baselineUrl}/readyz`, baseline);
    const results: IngestEndpointResult[] = [];
    for (const [endpoint, payload] of [
      ['POST /notify (Backport R4 full-resource)', backportPayload()],
      ['PUT /notify/Observation/:id (HAPI R4)', hapiPutPayload()],
    ] as const) {
      const runs: Partial<Record<'baseline' | 'service', IngestRun>> = {};
      for (const [who, url] of [
        ['baseline', baselineUrl],
        ['service', service.url],
      ] as const) {
        await hammer(url, payload, opts.warmupSeconds, opts.connections);
        runs[who] = await hammer(url, payload, opts.durationSeconds, opts.connections);
        log(`  ingest ${endpoint} ${who}: ${runs[who].perSecond}/s p50 ${runs[who].p50Ms} ms p99 ${runs[who].p99Ms} ms non-2xx ${runs[who].non2xx}`);
      }
      const { baseline: b, service: s } = runs as Record<'baseline' | 'service', IngestRun>;
      results.push({ endpoint, service: s, baseline: b, ratio: ratio(s.perSecond, b.perSecond) });
    }
    return results;
  } finally {
    await Promise.all([service.child.stop(), baseline.stop()]);
    await deleteKeys(servicePrefix);
    await deleteKeys(baselinePrefix);
  }
}

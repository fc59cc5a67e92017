/**
 * `npm run bench [-- --json] [-- --only ingest,e2e,e2e-split,inference] [-- --quick]`
 *
 * Runs the benchmarks against real parts (Redis at REDIS_URL, the sandbox FHIR server, the
 * service as a child process), prints one table, and with `--json` writes bench/results.json.
 * Each figure is a ratio against its physical limit measured in the same run, because absolute
 * times on a shared machine are noise. Benchmarks report; they never fail a build: the exit code
 * is 0 whenever the benchmarks ran (1 only when one could not run at all).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runE2eBench, type E2eOptions } from './e2e/e2e-bench.ts';
import { runIngestBench, type IngestOptions } from './ingest/ingest-bench.ts';
import { runInferenceBench } from './inference/inference-bench.ts';
import { LOG_DIR } from './lib/child.ts';
import { machineInfo } from './lib/machine.ts';
import { redisVersion } from './lib/redis.ts';
import { table, type BenchResults } from './report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
const ALL = ['ingest', 'e2e', 'e2e-split', 'inference'] as const;

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const only = new Set(values.only ? values.only.split(',').map((s) => s.trim()) : ALL);
for (const name of only) if (!(ALL as readonly string[]).includes(name)) throw new Error(`--only: unknown benchmark "${name}" (${ALL.join(', ')})`);
const quick = values.quick ?? false;

/** `--quick` is a smoke run (seconds, not minutes): the figures are not worth reporting. */
const ingestOptions: IngestOptions = { durationSeconds: quick ? 4 : 10, warmupSeconds: quick ? 1 : 2, connections: 50, rounds: 2 };
const e2eOptions: E2eOptions = {
  patients: quick ? 100 : 1000,
  notificationsPerPatient: 10,
  latencyPatients: quick ? 100 : 300,
  latencyRatePerSecond: 100,
  workerConcurrency: 8,
  scoreDebounceMs: 2000,
  limitSeconds: quick ? 3 : 8,
  burstConcurrency: 32,
  topology: 'start',
};

const log = (line: string): void => console.error(line);
const started = Date.now();
const results: {
  -readonly [K in keyof BenchResults]: BenchResults[K];
} = {
  startedAt: new Date(started).toISOString(),
  durationSeconds: 0,
  command: `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`.replace(/ --$/, ''),
  machine: machineInfo(await redisVersion()),
  settings: {
    ingestSecondsPerRun: ingestOptions.durationSeconds,
    ingestConnections: ingestOptions.connections,
    e2ePatients: e2eOptions.patients,
    e2eNotifications: e2eOptions.patients * e2eOptions.notificationsPerPatient,
    latencyPatients: e2eOptions.latencyPatients,
    latencyEventsPerSecond: e2eOptions.latencyRatePerSecond,
    WORKER_CONCURRENCY: e2eOptions.workerConcurrency,
    SCORE_DEBOUNCE_MS: e2eOptions.scoreDebounceMs,
    limitSeconds: e2eOptions.limitSeconds,
  },
};
log(`fhir-risk benchmarks on ${results.machine.nproc} × ${results.machine.cpuModel}, Node ${results.machine.node}, Redis ${results.machine.redis}; child logs in ${LOG_DIR}`);

if (only.has('ingest')) {
  log('1. ingest');
  results.ingest = await runIngestBench(ingestOptions, log);
}
if (only.has('e2e')) {
  log('2. end to end (+ 4. memory)');
  results.e2e = await runE2eBench(e2eOptions, log);
}
if (only.has('e2e-split')) {
  log('2b. end to end with the Helm chart\'s topology: one `serve` and one `worker` process');
  results.e2eSplit = await runE2eBench({ ...e2eOptions, topology: 'split' }, log);
}
if (only.has('inference')) {
  log('3. inference');
  results.inference = await runInferenceBench({ secondsPerCase: quick ? 0.3 : 1 }, log);
}
results.durationSeconds = Math.round((Date.now() - started) / 1000);

console.log(table(results));
console.log(`\n${results.durationSeconds} s on ${results.machine.nproc} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, Redis ${results.machine.redis}`);
if (values.json) {
  await writeFile(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
  console.log(`results written to ${RESULTS_FILE}`);
}

import { runE2eBench } from '../e2e/e2e-bench.ts';
const n = Number(process.argv[2] ?? 100);
const r = await runE2eBench({ patients: n, notificationsPerPatient: 10, latencyPatients: Math.min(500, n), latencyRatePerSecond: 100, workerConcurrency: 8, scoreDebounceMs: 2000, limitSeconds: 5, burstConcurrency: 32 }, console.log);
console.log(JSON.stringify(r, null, 1));

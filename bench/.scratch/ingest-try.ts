import { runIngestBench } from '../ingest/ingest-bench.ts';
const r = await runIngestBench({ durationSeconds: 5, warmupSeconds: 1, connections: 50 }, console.log);
console.log(JSON.stringify(r, null, 1));

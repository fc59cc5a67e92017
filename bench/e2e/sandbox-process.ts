/**
 * The sandbox FHIR server in its own process (a child of the benchmark), so the load generator
 * never shares its event loop. Talks to the parent over IPC (see `sandbox-handle.ts`):
 *
 * - `counters`: the sandbox's request counters (a copy);
 * - `writes`: every RiskAssessment create/update committed since the start, with the wall-clock
 *   time of its commit, the subject and the model (`method.coding[0].code`);
 * - `window`: when the first and last batch read after the last `mark` arrived (10 ms resolution).
 *
 * Env: none. Sends `{ type: 'ready', baseUrl }` once listening.
 */
import type { RiskAssessment } from 'fhir/r4.js';
import { startSandbox } from '../../src/sandbox/server.ts';
import type { ParentMessage, RaWrite, SandboxReply } from './sandbox-protocol.ts';

const sandbox = await startSandbox({ port: 0 });
const writes: RaWrite[] = [];

// Every write of the sandbox commits through `repo.commit()`: wrapping it timestamps each
// RiskAssessment the moment it becomes readable, without touching the sandbox's code.
const commit = sandbox.repo.commit.bind(sandbox.repo);
sandbox.repo.commit = () => {
  const changes = commit();
  const at = Date.now();
  for (const change of changes) {
    if (change.resourceType !== 'RiskAssessment' || change.interaction === 'delete') continue;
    const ra = change.resource as RiskAssessment;
    writes.push({
      at,
      id: change.id,
      interaction: change.interaction,
      subject: ra.subject?.reference ?? '',
      model: ra.method?.coding?.[0]?.code ?? '',
    });
  }
  return changes;
};

// Batch reads (`POST /` with a batch Bundle) are what a scoring starts with.
let markedAt = Date.now();
let lastBatchCount = 0;
let firstBatchAt: number | undefined;
let lastBatchAt: number | undefined;
const sampler = setInterval(() => {
  const count = sandbox.counters.requests.byInteraction.batch ?? 0;
  if (count === lastBatchCount) return;
  lastBatchCount = count;
  const now = Date.now();
  firstBatchAt ??= now;
  lastBatchAt = now;
}, 10);

const reply = (message: SandboxReply): void => {
  process.send?.(message);
};

process.on('message', (raw) => {
  const message = raw as ParentMessage;
  switch (message.type) {
    case 'counters':
      reply({ type: 'counters', seq: message.seq, counters: structuredClone(sandbox.counters.requests) });
      return;
    case 'writes':
      reply({ type: 'writes', seq: message.seq, writes: writes.slice(message.from) });
      return;
    case 'mark':
      markedAt = Date.now();
      lastBatchCount = sandbox.counters.requests.byInteraction.batch ?? 0;
      firstBatchAt = undefined;
      lastBatchAt = undefined;
      reply({ type: 'mark', seq: message.seq, at: markedAt });
      return;
    case 'window':
      reply({ type: 'window', seq: message.seq, firstBatchAt, lastBatchAt });
      return;
    case 'close':
      clearInterval(sampler);
      void sandbox.close().then(() => process.exit(0));
      return;
  }
});

reply({ type: 'ready', seq: 0, baseUrl: sandbox.baseUrl });

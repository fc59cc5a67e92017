/**
 * The benchmark's side of the sandbox child process: start it, ask it questions, close it.
 */
import type { RequestCounters } from '../../src/sandbox/http.ts';
import { startChild, type Child } from '../lib/child.ts';
import type { ParentMessage, RaWrite, SandboxReply } from './sandbox-protocol.ts';

export interface SandboxHandle {
  readonly baseUrl: string;
  readonly child: Child;
  counters(): Promise<RequestCounters>;
  /** RiskAssessment writes committed so far, from index `from`. */
  writes(from?: number): Promise<RaWrite[]>;
  /** Starts a new batch-read activity window; resolves with the sandbox's time of the mark. */
  mark(): Promise<number>;
  /** First and last batch read since the last mark (epoch ms). */
  window(): Promise<{ firstBatchAt: number | undefined; lastBatchAt: number | undefined }>;
  close(): Promise<void>;
}

type Distribute<T> = T extends unknown ? Omit<T, 'seq'> : never;

export async function startSandboxProcess(): Promise<SandboxHandle> {
  const child = startChild({
    name: 'sandbox',
    script: 'bench/e2e/sandbox-process.ts',
    env: {},
    ipc: true,
    ...(process.env.BENCH_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/sandbox`] } : {}),
  });
  const waiting = new Map<number, (reply: SandboxReply) => void>();
  let seq = 0;
  const ready = new Promise<string>((resolve, reject) => {
    child.process.once('exit', (code) => reject(new Error(`the sandbox process exited (${code}); see ${child.logFile}`)));
    child.process.on('message', (raw) => {
      const reply = raw as SandboxReply;
      if (reply.type === 'ready') resolve(reply.baseUrl);
      waiting.get(reply.seq)?.(reply);
      waiting.delete(reply.seq);
    });
  });
  const ask = <T extends SandboxReply['type']>(message: Distribute<ParentMessage>): Promise<Extract<SandboxReply, { type: T }>> =>
    new Promise((resolve) => {
      const id = ++seq;
      waiting.set(id, (reply) => resolve(reply as Extract<SandboxReply, { type: T }>));
      child.process.send({ ...message, seq: id });
    });
  const baseUrl = await ready;
  return {
    baseUrl,
    child,
    counters: async () => (await ask<'counters'>({ type: 'counters' })).counters,
    writes: async (from = 0) => (await ask<'writes'>({ type: 'writes', from })).writes,
    mark: async () => (await ask<'mark'>({ type: 'mark' })).at,
    window: async () => {
      const { firstBatchAt, lastBatchAt } = await ask<'window'>({ type: 'window' });
      return { firstBatchAt, lastBatchAt };
    },
    async close() {
      child.process.send({ type: 'close' });
      await child.stop(5000);
    },
  };
}

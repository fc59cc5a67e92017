/**
 * Messages between the benchmark and its sandbox child process (`sandbox-process.ts`).
 */
import type { RequestCounters } from '../../src/sandbox/http.ts';

/** One RiskAssessment create or update, as committed by the sandbox. */
export interface RaWrite {
  /** Epoch ms of the commit (same clock as the benchmark: same machine). */
  readonly at: number;
  readonly id: string;
  readonly interaction: 'create' | 'update';
  /** `Patient/<id>` */
  readonly subject: string;
  /** Model id (`method.coding[0].code`). */
  readonly model: string;
}

export type ParentMessage =
  | { type: 'counters'; seq: number }
  | { type: 'writes'; seq: number; from: number }
  | { type: 'mark'; seq: number }
  | { type: 'window'; seq: number }
  | { type: 'close' };

export type SandboxReply =
  | { type: 'ready'; seq: 0; baseUrl: string }
  | { type: 'counters'; seq: number; counters: RequestCounters }
  | { type: 'writes'; seq: number; writes: RaWrite[] }
  | { type: 'mark'; seq: number; at: number }
  | { type: 'window'; seq: number; firstBatchAt: number | undefined; lastBatchAt: number | undefined };

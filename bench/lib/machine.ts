/**
 * What the benchmarks ran on: figures are only comparable with the machine next to them.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

export interface MachineInfo {
  /** `nproc`: CPUs this process may use. */
  readonly nproc: number;
  /** `model name` from /proc/cpuinfo. */
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly redis: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(redisVersion: string): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    redis: redisVersion,
  };
}

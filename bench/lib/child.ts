/**
 * Child processes of a benchmark: the service under test (`fhir-risk start|serve`), the ingest
 * baseline and the sandbox each run in their own process, so the load generator never shares an
 * event loop with what it measures, and the service's peak RSS is its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './stats.ts';

/** Repository root (bench/lib/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where children's logs go: outside the repository, one file per child. */
export const LOG_DIR = join(tmpdir(), 'fhir-risk-bench');

export interface ChildOptions {
  /** Label for the log file name. */
  name: string;
  /** Script (relative to the repository root): a `.ts` file runs with `node --import tsx`, a `.js` file (the compiled `dist/`) with plain `node`. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Open an IPC channel (`process.send`) to the child. */
  ipc?: boolean;
  /** Extra node flags (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Peak resident set (VmHWM) in MiB so far; NaN once the process is gone. */
  peakRssMiB(): number;
  /** CPU time (user + system) used so far, in ms; NaN once the process is gone. */
  cpuMs(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal). */
  stop(graceMs?: number): Promise<number | string | null>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Reads `VmHWM` (peak RSS) of a live process from /proc, in MiB. */
export function peakRssMiBOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a live process from /proc/<pid>/stat, in ms (clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

export function startChild(opts: ChildOptions): Child {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${opts.name}.log`);
  // The child writes its logs straight to a file: a pipe we must drain would throttle pino's sync writes.
  const fd = openSync(logFile, 'w');
  const loader = opts.script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...loader, opts.script, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${opts.script}`);
  const pid = child.pid;
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    process: child,
    pid,
    logFile,
    peakRssMiB: () => peakRssMiBOf(pid),
    cpuMs: () => cpuMsOf(pid),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Polls `url` until it answers 2xx; fails (naming the log file) when the child exits or time runs out. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`${url}: the process exited (${child.process.exitCode}); see ${child.logFile}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms; see ${child.logFile}`);
    await sleep(100);
  }
}

/**
 * fhir-risk as a real child process (`node --import tsx src/cli.ts <command>`), the way it is
 * deployed, so the chaos run can SIGKILL it mid-job. Its stderr (pino JSON) is appended to a log
 * file and scanned for the port it listens on and for warnings worth reporting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  readonly name: string;
  /** The HTTP port (API, or a worker's health/metrics port), once started. */
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGKILL: no graceful shutdown, active jobs keep their locks until they expire (stalled). */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit (graceful shutdown). */
  stop(): Promise<void>;
  /** Starts the same command again with the same environment. */
  restart(): Promise<void>;
  /** Log messages seen so far (pino `msg`), counted. */
  readonly messages: Map<string, number>;
}

export interface ServiceProcessOptions {
  name: string;
  command: 'start' | 'serve' | 'worker';
  env: Record<string, string>;
  logFile: string;
  /** Start-up budget (tsx compiles on first run; models load). */
  timeoutMs?: number;
  /** Also append stdout to the log file (the privacy test captures ALL output). */
  captureStdout?: boolean;
}

export async function startServiceProcess(opts: ServiceProcessOptions): Promise<ServiceProcess> {
  let child: ChildProcess | undefined;
  let port = 0;
  const messages = new Map<string, number>();
  const log: WriteStream = createWriteStream(opts.logFile, { flags: 'a' });

  const launch = async (): Promise<void> => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', opts.command], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
      stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    child = c;
    c.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
    let pending = '';
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${opts.name} did not start within ${opts.timeoutMs ?? 60_000} ms (log: ${opts.logFile})`)), opts.timeoutMs ?? 60_000);
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${opts.name} exited during start-up (code ${code}, signal ${signal}; log: ${opts.logFile})`));
      });
      c.stderr!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const entry = parseJson(line);
          if (!entry) continue;
          const msg = typeof entry.msg === 'string' ? entry.msg : '';
          messages.set(msg, (messages.get(msg) ?? 0) + 1);
          if (typeof entry.port === 'number' && /listening|running/.test(msg)) {
            clearTimeout(timer);
            resolve(entry.port);
          }
        }
      });
    });
    port = await listening;
    c.removeAllListeners('exit');
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill(sig);
    await exited;
  };

  await launch();
  return {
    name: opts.name,
    get port() {
      return port;
    },
    get pid() {
      return child?.pid;
    },
    kill: () => signal('SIGKILL'),
    stop: async () => {
      await signal('SIGTERM');
      log.end();
    },
    restart: launch,
    messages,
  };
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Runs a one-shot CLI command (`dlq list`, …) and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(c, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

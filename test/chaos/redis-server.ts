/**
 * A throwaway `redis-server` the chaos run owns, so it may SIGKILL it: loopback only, a free port,
 * AOF with `appendfsync always` in a temp folder (every acknowledged write survives a SIGKILL),
 * no RDB snapshots. Restarting reuses the same port and folder, so Redis reloads its AOF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';

export interface ChaosRedis {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: no shutdown, no final save; what survives is what the AOF already holds. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (loads the AOF); resolves when it answers PING. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `aof: false` runs Redis without any persistence (the broken set-up the run must detect). */
export async function startChaosRedis(port: number, dir: string, opts: { aof: boolean } = { aof: true }): Promise<ChaosRedis> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', opts.aof ? 'yes' : 'no',
    '--appendfsync', 'always',
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;

  const launch = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', (err) => {
      throw new Error(`redis-server could not start: ${err.message} (apt-get install redis-server)`);
    });
    await waitForPing(url, 10_000);
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGKILL');
    await once(c, 'exit');
  };

  await launch();
  return {
    url,
    port,
    kill,
    restart: launch,
    stop: kill,
  };
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      // While loading the AOF Redis answers -LOADING; PING succeeds only once it is done.
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

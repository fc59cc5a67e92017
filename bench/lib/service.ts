/**
 * The service under test as a child process: `node dist/cli.js start|serve` (the compiled build,
 * as the image runs it), configured only through its environment, as an operator would run it.
 */
import { execFileSync } from 'node:child_process';
import { freePort, REPO_ROOT, startChild, waitForHttp, type Child } from './child.ts';
import { REDIS_URL } from './redis.ts';

export interface ServiceChild {
  readonly child: Child;
  /** http://127.0.0.1:PORT */
  readonly url: string;
}

/**
 * Starts `fhir-risk <command>` and resolves once `/readyz` answers 200 (models loaded, Redis up).
 * `env` adds to or overrides the defaults (REDIS_URL, PORT, QUEUE_PREFIX must be set by the caller's
 * choices: `queuePrefix` is required so every benchmark has its own keys).
 */
/** The image's NODE_OPTIONS (Dockerfile), so the memory figure is the one production would see. */
export const PRODUCTION_NODE_OPTIONS = '--max-old-space-size=128';

let built = false;

/**
 * Compiles `src/` into `dist/` (`npm run build`), once per bench run, so the service under test is
 * the current code run the production way. tsx's on-the-fly transpiler alone costs about 40 MiB
 * of RSS and start-up CPU that production does not pay.
 */
export function buildService(): void {
  if (built) return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  built = true;
}

export async function startServiceChild(
  command: 'start' | 'serve' | 'worker',
  opts: { name: string; fhirBaseUrl: string; queuePrefix: string; env?: Record<string, string>; nodeArgs?: string[] },
): Promise<ServiceChild> {
  buildService();
  const port = await freePort();
  const child = startChild({
    name: opts.name,
    script: 'dist/cli.js',
    args: [command],
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    env: {
      FHIR_BASE_URL: opts.fhirBaseUrl,
      REDIS_URL,
      PORT: String(port),
      QUEUE_PREFIX: opts.queuePrefix,
      NODE_ENV: 'production',
      NODE_OPTIONS: PRODUCTION_NODE_OPTIONS,
      ...opts.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, child, 60_000);
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return { child, url };
}

/** Sums every sample of a Prometheus counter in a /metrics text, optionally filtered by a label. */
export function sumMetric(text: string, name: string, label?: { key: string; value: string }): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (label && !line.includes(`${label.key}="${label.value}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

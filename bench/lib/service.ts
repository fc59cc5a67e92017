/**
 * The service under test as a child process: `node --import tsx src/cli.ts start|serve`,
 * configured only through its environment, as an operator would run it.
 */
import { freePort, startChild, waitForHttp, type Child } from './child.ts';
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
export async function startServiceChild(
  command: 'start' | 'serve',
  opts: { name: string; fhirBaseUrl: string; queuePrefix: string; env?: Record<string, string>; nodeArgs?: string[] },
): Promise<ServiceChild> {
  const port = await freePort();
  const child = startChild({
    name: opts.name,
    script: 'src/cli.ts',
    args: [command],
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    env: {
      FHIR_BASE_URL: opts.fhirBaseUrl,
      REDIS_URL,
      PORT: String(port),
      QUEUE_PREFIX: opts.queuePrefix,
      NODE_ENV: 'production',
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

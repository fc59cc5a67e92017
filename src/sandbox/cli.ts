/**
 * `fhir-risk sandbox`: runs the development FHIR server until SIGINT/SIGTERM.
 */
import { logger } from '../observability/logger.ts';
import { loadBundles } from './load.ts';
import { startSandbox, type SandboxOptions } from './server.ts';

export interface SandboxCliOptions extends SandboxOptions {
  port: number;
  /** Transaction Bundle files to load at start (e.g. the Synthea corpus). */
  load?: string[];
  /** Shift loaded Bundles so each one's latest Observation is at this moment. */
  shiftDatesTo?: Date;
}

/**
 * Starts the sandbox, optionally loads Bundles, logs one JSON line with its base URL, and runs
 * until SIGINT or SIGTERM; resolves once it has shut down.
 */
export async function runSandboxCli(opts: SandboxCliOptions): Promise<void> {
  const sandbox = await startSandbox(opts);
  let loaded: { bundles: number; entries: number; failed: number } | undefined;
  if (opts.load?.length) {
    const result = await loadBundles(sandbox, opts.load, { shiftDatesTo: opts.shiftDatesTo });
    loaded = { bundles: result.loaded, entries: result.entries, failed: result.failed.length };
    for (const f of result.failed) logger.warn({ file: f.file, status: f.status, error: f.error }, 'sandbox: bundle not loaded');
  }
  logger.info({ baseUrl: sandbox.baseUrl, ...(loaded ? { loaded } : {}) }, 'sandbox FHIR server listening');

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info({ signal }, 'sandbox stopping');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sandbox.close();
}

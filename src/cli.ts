#!/usr/bin/env node
/**
 * The `fhir-risk` command. Each command loads only what it needs: `assess` and `models` run
 * without Redis or a server; `start`/`serve`/`worker` need FHIR_BASE_URL and Redis.
 *
 * Exit codes: 0 when the command ran (even if no model applied), 1 for an error, 2 for bad
 * configuration (one line per problem on stderr).
 */
import { Command, Option } from 'commander';
import { BUNDLED_MODELS_DIR, loadConfig, type Config } from './config.ts';
import { ConfigError, FhirRiskError } from './errors.ts';

function configOrExit(requireFhir: boolean): Config {
  try {
    return loadConfig(process.env, { requireFhir });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) console.error(`config: ${line}`);
      process.exit(2);
    }
    throw err;
  }
}

function fail(err: unknown): never {
  console.error(`fhir-risk: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof FhirRiskError ? 1 : 1);
}

const program = new Command()
  .name('fhir-risk')
  .description('EHR-triggered clinical risk scoring over FHIR: notifications in, RiskAssessments out.')
  .showHelpAfterError();

for (const [name, role, description] of [
  ['start', 'all', 'API and workers in one process'],
  ['serve', 'api', 'API only (notifications, /fhir facade, health, metrics)'],
  ['worker', 'worker', 'workers only (scale these out)'],
] as const) {
  program
    .command(name)
    .description(description)
    .action(async () => {
      const config = configOrExit(true);
      const { startService, stopOnSignals } = await import('./service.ts');
      try {
        stopOnSignals(await startService(config, role));
      } catch (err) {
        if (err instanceof ConfigError) {
          for (const line of err.problems) console.error(`config: ${line}`);
          process.exit(2);
        }
        fail(err);
      }
    });
}

program
  .command('assess')
  .description('score a patient Bundle file offline; prints a collection Bundle')
  .requiredOption('--bundle <file>', 'FHIR Bundle with one Patient and their resources')
  .option('--model <id...>', 'only these models (repeatable)')
  .option('--at <datetime>', 'assess as of this time (default now)')
  .action(async (opts: { bundle: string; model?: string[]; at?: string }) => {
    const { assessBundleFile } = await import('./commands/assess.ts');
    try {
      const bundle = await assessBundleFile({ ...opts, modelsDir: process.env.MODELS_DIR || BUNDLED_MODELS_DIR });
      process.stdout.write(JSON.stringify(bundle, null, 2) + '\n');
    } catch (err) {
      fail(err);
    }
  });

const models = program.command('models').description('inspect the model pack');
models
  .command('list')
  .description('list models under MODELS_DIR')
  .action(async () => {
    const { loadModelRegistry } = await import('./models/registry.ts');
    const registry = await loadModelRegistry({ dir: process.env.MODELS_DIR || BUNDLED_MODELS_DIR });
    for (const m of registry.list()) {
      console.log(`${m.manifest.id.padEnd(14)} ${m.manifest.version.padEnd(8)} ${m.manifest.title}`);
    }
    for (const p of registry.problems) console.error(p);
    await registry.close();
  });
models
  .command('verify')
  .description("check every manifest and ONNX file and run each model's own examples")
  .action(async () => {
    const { loadModelRegistry } = await import('./models/registry.ts');
    const { verifyModel } = await import('./models/verify.ts');
    const registry = await loadModelRegistry({ dir: process.env.MODELS_DIR || BUNDLED_MODELS_DIR });
    let failed = registry.problems.length;
    for (const p of registry.problems) console.error(p);
    for (const m of registry.list()) {
      const result = await verifyModel(m);
      for (const line of result.lines) console.log(line);
      if (!result.ok) failed++;
    }
    await registry.close();
    process.exit(failed === 0 ? 0 : 1);
  });

program
  .command('sandbox')
  .description('run the development FHIR server (with rest-hook subscription delivery)')
  .addOption(new Option('--port <port>', 'port').default('8090'))
  .action(async (opts: { port: string }) => {
    const { runSandboxCli } = await import('./sandbox/cli.ts');
    await runSandboxCli({ port: Number(opts.port) });
  });

program
  .command('demo')
  .description('sandbox + sample patients + the whole pipeline, then a table of results')
  .action(async () => {
    const { runDemo } = await import('./commands/demo.ts');
    try {
      await runDemo({ print: (line) => console.log(line) });
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('sweep')
  .description('reconciliation sweep now: _lastUpdated searches for trigger codes since the last sweep')
  .option('--since <datetime>', 'override the watermark')
  .action(async (opts: { since?: string }) => {
    const config = configOrExit(true);
    const { runSweepOnce } = await import('./commands/sweep.ts');
    try {
      const result = await runSweepOnce(config, opts.since ? new Date(opts.since) : undefined);
      console.log(JSON.stringify(result));
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('subscribe')
  .description('create the Subscriptions on the EHR that notify this service')
  .requiredOption('--endpoint <url>', "this service's public /notify URL")
  .addOption(new Option('--style <style>', 'subscription style').choices(['r4', 'backport']).default('r4'))
  .addOption(new Option('--content <content>', 'payload').choices(['full-resource', 'id-only']).default('full-resource'))
  .option('--dry-run', 'print the Subscriptions instead of creating them')
  .action(async (opts: { endpoint: string; style: 'r4' | 'backport'; content: 'full-resource' | 'id-only'; dryRun?: boolean }) => {
    const config = configOrExit(!opts.dryRun);
    const { subscribeCommand } = await import('./commands/subscribe-command.ts');
    try {
      await subscribeCommand(config, opts);
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('backfill')
  .description('schedule scorings for patients that produced no events (a bulk load, a new model); resumable')
  .option('--patient <id...>', 'these patients (default: every Patient on the EHR)')
  .option('--search <query>', "the patients a Patient search finds, e.g. 'Patient?_lastUpdated=gt2024-01-01'")
  .option('--group <ref>', 'the active Patient members of Group/ID')
  .option('--model <id...>', 'only these models')
  .option('--rate <n>', 'patients per second', String(50))
  .option('--resume', 'continue the previous run of the same selection after its last scheduled patient')
  .action(async (opts: { patient?: string[]; search?: string; group?: string; model?: string[]; rate: string; resume?: boolean }) => {
    const config = configOrExit(true);
    const rate = Number(opts.rate);
    if (!Number.isFinite(rate) || rate <= 0) fail(new Error(`--rate must be a number of patients per second above 0 (got '${opts.rate}')`));
    const { backfillCommand, stderrProgress, summaryLine } = await import('./commands/backfill.ts');
    // Ctrl-C (or SIGTERM) stops after the current patient and keeps the checkpoint for --resume.
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    try {
      const summary = await backfillCommand(config, { ...opts, rate, progress: stderrProgress(), signal: stop.signal });
      if (opts.resume && !summary.resumed) console.error('backfill: no checkpoint of this selection to resume; started from the beginning');
      console.error(summaryLine(summary));
      console.log(JSON.stringify(summary));
      process.exit(summary.complete ? 0 : 130);
    } catch (err) {
      fail(err);
    }
  });

const dlq = program.command('dlq').description('jobs that exhausted their retries');
dlq
  .command('list')
  .action(async () => {
    const config = configOrExit(false);
    const { listDeadLetters } = await import('./commands/dlq.ts');
    const letters = await listDeadLetters(config);
    for (const l of letters) console.log(JSON.stringify(l));
    console.error(`${letters.length} dead-lettered job(s)`);
    process.exit(0);
  });
dlq
  .command('replay')
  .option('--id <id...>', 'these job ids')
  .option('--all', 'every dead-lettered job')
  .action(async (opts: { id?: string[]; all?: boolean }) => {
    const config = configOrExit(false);
    if (!opts.all && !opts.id) fail(new Error('dlq replay needs --id <id...> or --all'));
    const { replayDeadLetters } = await import('./commands/dlq.ts');
    const n = await replayDeadLetters(config, opts.all ? 'all' : (opts.id ?? []));
    console.log(`replayed ${n} job(s)`);
    process.exit(0);
  });

// One line on stderr for any command that fails (the log would only repeat it).
program.parseAsync(process.argv).catch((err: unknown) => fail(err));

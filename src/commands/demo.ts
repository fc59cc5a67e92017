/**
 * `fhir-risk demo` (`npm run demo`): the whole flow on one machine, then a table.
 *
 * Redis (yours, or a throwaway one) → the sandbox FHIR server → fhir-risk (API + workers) → a
 * Backport R4 rest-hook Subscription → the sample patients loaded, which makes the sandbox send a
 * notification per Observation and Condition → the pipeline scores them → RiskAssessments are
 * written back to the sandbox → a table of results. Ends by itself.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RiskAssessment } from 'fhir/r4.js';
import { loadConfig } from '../config.ts';
import { expandCodeSet } from '../features/value-sets.ts';
import { notApplicableTotal } from '../observability/metrics.ts';
import { loadBundles } from '../sandbox/load.ts';
import { startSandbox } from '../sandbox/server.ts';
import { startService } from '../service.ts';
import { ensureRedis } from './local-redis.ts';
import { buildSubscriptions } from './subscribe.ts';

export const SAMPLES_DIR = fileURLToPath(new URL('../../samples/synthea/', import.meta.url));

export interface DemoOptions {
  /** Give up waiting for the pipeline after this long. */
  timeoutMs?: number;
  /** Print progress lines and the table (false in tests). */
  print?: (line: string) => void;
}

export interface DemoResult {
  assessments: RiskAssessment[];
  notApplicable: Record<string, number>;
  notifications: number;
  elapsedMs: number;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? (() => undefined);
  const started = Date.now();
  const redis = await ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  print(redis.owned ? `Redis: started a throwaway redis-server at ${redis.url}` : `Redis: using ${redis.url}`);
  const sandbox = await startSandbox({ port: 0 });
  print(`Sandbox FHIR server: ${sandbox.baseUrl}`);

  const config = loadConfig(
    {
      ...process.env,
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      PORT: '0',
      QUEUE_PREFIX: `fhir-risk-demo-${randomUUID().slice(0, 8)}`,
      SCORE_DEBOUNCE_MS: process.env.SCORE_DEBOUNCE_MS ?? '500',
      NOTIFY_SECRET: undefined,
    },
    { requireFhir: true },
  );
  const written: RiskAssessment[] = [];
  const service = await startService(config, 'all', { onWritten: (ra) => written.push(ra) });
  try {
    const endpoint = `http://127.0.0.1:${service.port}/notify`;
    const codes = (type: 'Observation' | 'Condition') => {
      const all = new Set<string>();
      for (const m of service.models.list()) for (const c of expandCodeSet(m.manifest.triggers, service.valueSets)) all.add(c);
      // The sandbox filters by code itself; an Observation code never names a Condition, so sharing the list is harmless.
      return type === 'Observation' || type === 'Condition' ? [...all] : [];
    };
    for (const subscription of buildSubscriptions({
      endpoint,
      style: 'backport',
      content: 'full-resource',
      codes: { Observation: codes('Observation'), Condition: codes('Condition') },
    })) {
      await fetch(`${sandbox.baseUrl}/Subscription`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(subscription),
      }).then((r) => {
        if (!r.ok) throw new Error(`sandbox refused the Subscription: HTTP ${r.status}`);
      });
    }
    print(`Subscriptions: Backport R4 rest-hook → ${endpoint}`);

    const files = readdirSync(SAMPLES_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(SAMPLES_DIR, f));
    await loadBundles(sandbox, files, { shiftDatesTo: new Date(Date.now() - 7 * 24 * 3600 * 1000) });
    print(`Loaded ${files.length} sample patients; the sandbox is notifying fhir-risk…`);

    const deadline = started + (options.timeoutMs ?? 100_000);
    await sandbox.deliveryIdle();
    // Idle twice in a row: a debounced job may be between "event done" and "score added".
    let idleStreak = 0;
    while (idleStreak < 2) {
      if (Date.now() > deadline) throw new Error('the pipeline did not finish in time');
      await new Promise((r) => setTimeout(r, 250));
      idleStreak = (await service.pipeline.idle()) ? idleStreak + 1 : 0;
    }

    const notApplicable: Record<string, number> = {};
    for (const v of (await notApplicableTotal.get()).values) {
      const key = `${v.labels.model}: ${v.labels.reason}`;
      notApplicable[key] = (notApplicable[key] ?? 0) + v.value;
    }
    const result: DemoResult = {
      assessments: written,
      notApplicable,
      notifications: sandbox.counters.delivery.delivered,
      elapsedMs: Date.now() - started,
    };
    printTable(result, sandbox.baseUrl, print);
    return result;
  } finally {
    await service.stop();
    await sandbox.close();
    await redis.stop();
  }
}

function printTable(result: DemoResult, fhirBase: string, print: (line: string) => void): void {
  const rows = result.assessments
    .map((ra) => {
      const p = ra.prediction?.[0];
      const score = p?.extension?.find((e) => e.url.endsWith('/risk-score'))?.valueDecimal;
      const risk = p?.probabilityDecimal !== undefined ? `${(p.probabilityDecimal * 100).toFixed(1)} %` : '';
      return {
        patient: (ra.subject.reference ?? '').replace('Patient/', ''),
        model: ra.method?.coding?.[0]?.code ?? '?',
        risk: [risk, score !== undefined ? `score ${score}` : ''].filter(Boolean).join(', '),
        band: p?.qualitativeRisk?.coding?.[1]?.code ?? '?',
      };
    })
    .sort((a, b) => a.patient.localeCompare(b.patient) || a.model.localeCompare(b.model));
  const widths = { patient: 38, model: 14, risk: 22 };
  print('');
  print(`${'patient'.padEnd(widths.patient)}${'model'.padEnd(widths.model)}${'risk'.padEnd(widths.risk)}band`);
  for (const r of rows) print(`${r.patient.padEnd(widths.patient)}${r.model.padEnd(widths.model)}${r.risk.padEnd(widths.risk)}${r.band}`);
  print('');
  print(`${rows.length} RiskAssessments written in ${(result.elapsedMs / 1000).toFixed(1)} s.`);
  const na = Object.entries(result.notApplicable).filter(([, n]) => n > 0);
  if (na.length > 0) print(`Scorings where a model did not apply (nothing written, by design): ${na.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  print('');
  print('Query results with FHIR REST while fhir-risk runs against your server, e.g.:');
  print(`  GET ${fhirBase.replace(/\/\/127\.0\.0\.1:\d+/, '//<your-fhir-server>')}/RiskAssessment?subject=Patient/<id>&_sort=-date`);
  print('  GET http://<fhir-risk-host>:8080/fhir/RiskAssessment?patient=<id>');
  print('  POST http://<fhir-risk-host>:8080/fhir/Patient/<id>/$risk-assess');
}

/**
 * `fhir-risk backfill`: schedule scorings for a population that produced no events (a bulk load,
 * a newly added model, patients who crossed into a model's age range with no assessment yet).
 *
 * Jobs go through the normal debounced score queue, so a backfill that overlaps live traffic
 * never scores a patient twice at once. Two phases, both checkpointed in Redis under the queue
 * prefix (ids only):
 *
 * 1. resolve the selection (`--patient`, `--search 'Patient?…'`, `--group Group/ID`, or every
 *    Patient) into a list of patient ids, page by page;
 * 2. schedule them in order at `--rate` patients per second, moving a cursor after each patient.
 *
 * `--resume` continues the same selection (same patients, search or group, same models) after the
 * last patient scheduled. An unfinished resolution starts over on resume: paging links expire on
 * most servers, and resolving ids is cheap next to scheduling. Bulk Data `$export` is not used: a
 * Patient search with `_elements=id` reads only ids, and `$export` is asynchronous, often
 * disabled, and would need its own polling and NDJSON handling.
 */
import { createHash } from 'node:crypto';
import type { Bundle, Group, Patient } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import { createWorkerConnection } from '../pipeline/redis.ts';
import type { ScoreScheduler } from '../pipeline/score-scheduler.ts';
import { openCommandSession } from './command-session.ts';

/** Which patients. At most one of the three; none means every Patient on the EHR. */
export interface BackfillSelection {
  patient?: string[];
  /** A Patient search, e.g. `Patient?_lastUpdated=gt2024-01-01`. */
  search?: string;
  /** `Group/ID` (or `ID`): its active Patient members. */
  group?: string;
}

export interface BackfillProgress {
  /** Resolution phase: patient ids found so far. */
  resolving(found: number): void;
  /** Scheduling phase: patients done (including those skipped on resume) of `total`. */
  update(done: number, total: number): void;
  /** Ends the progress display (before the summary is printed). */
  end(): void;
}

export interface BackfillOptions extends BackfillSelection {
  model?: string[];
  /** Patients per second (default 50). */
  rate?: number;
  /** Continue the previous run of the same selection from its checkpoint. */
  resume?: boolean;
  progress?: BackfillProgress;
  /** Stops after the current patient; the checkpoint then lets `--resume` continue. */
  signal?: AbortSignal;
}

export interface BackfillSummary {
  /** Patients in the selection. */
  patients: number;
  /** Patients scheduled by this run. */
  scheduled: number;
  /** Scoring jobs scheduled by this run (patients × models). */
  jobs: number;
  /** Patients not scheduled by this run: done by the run resumed, or listed twice. */
  skipped: number;
  /** False when stopped early (signal): rerun with `--resume`. */
  complete: boolean;
  resumed: boolean;
  /** Redis key of the checkpoint. */
  checkpoint: string;
}

/** The reads backfill needs: ids page by page (FhirKitEhrClient has them). */
export interface PatientSource {
  readonly baseUrl: string;
  read<T extends Group>(resourceType: 'Group', id: string): Promise<T | undefined>;
  /** GET an absolute search or paging URL on the server. */
  followLink(url: string): Promise<Bundle>;
}

export interface BackfillDeps {
  source: PatientSource;
  scheduler: Pick<ScoreScheduler, 'schedule'>;
  redis: Redis;
  prefix: string;
  modelIds: string[];
}

export const DEFAULT_RATE = 50;
const PAGE_SIZE = '500';
const ID_CHUNK = 500;
const CHECKPOINT_TTL_SECONDS = 30 * 24 * 3600;

/** Runs a backfill (the command without its set-up): resolve, then schedule at the rate. */
export async function runBackfill(deps: BackfillDeps, opts: BackfillOptions): Promise<BackfillSummary> {
  const selection = checkSelection(opts);
  const rate = opts.rate ?? DEFAULT_RATE;
  if (!(rate > 0)) throw new InvalidInputError('--rate must be a number of patients per second above 0');
  const runKey = `${deps.prefix}:backfill:${runIdOf(selection, deps.modelIds)}`;
  const idsKey = `${runKey}:ids`;
  const progress = opts.progress ?? silentProgress;

  const existing = opts.resume ? await deps.redis.hgetall(runKey) : {};
  const resumed = existing.resolved === '1';
  let duplicates = Number(existing.duplicates ?? 0);
  if (!resumed) {
    await deps.redis.del(runKey, idsKey);
    duplicates = await resolveInto(deps, selection, idsKey, progress);
    await deps.redis.hset(runKey, {
      selection: JSON.stringify(selection),
      models: deps.modelIds.join(','),
      resolved: '1',
      duplicates: String(duplicates),
      cursor: '0',
      startedAt: new Date().toISOString(),
    });
  }
  // A checkpoint nobody resumes should not stay in Redis forever.
  await deps.redis.expire(runKey, CHECKPOINT_TTL_SECONDS);
  await deps.redis.expire(idsKey, CHECKPOINT_TTL_SECONDS);
  const total = await deps.redis.llen(idsKey);
  const startCursor = resumed ? Number(existing.cursor ?? 0) : 0;
  let cursor = startCursor;
  progress.update(cursor, total);

  const started = Date.now();
  let scheduled = 0;
  while (cursor < total && !opts.signal?.aborted) {
    const chunk = await deps.redis.lrange(idsKey, cursor, cursor + ID_CHUNK - 1);
    for (const patientId of chunk) {
      if (opts.signal?.aborted) break;
      // Pacing: patient n starts no earlier than n / rate seconds after the run started.
      const due = started + (scheduled / rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now(), opts.signal);
      if (opts.signal?.aborted) break;
      await deps.scheduler.schedule(patientId, deps.modelIds, 'backfill', Date.now());
      scheduled++;
      cursor++;
      await deps.redis.hset(runKey, 'cursor', String(cursor), 'updatedAt', new Date().toISOString());
      progress.update(cursor, total);
    }
  }
  const complete = cursor >= total;
  if (complete) await deps.redis.hset(runKey, 'completedAt', new Date().toISOString());
  progress.end();
  return {
    patients: total,
    scheduled,
    jobs: scheduled * deps.modelIds.length,
    skipped: startCursor + duplicates,
    complete,
    resumed,
    checkpoint: runKey,
  };
}

/** The CLI command: loads models, connects to the EHR and Redis, runs the backfill, cleans up. */
export async function backfillCommand(config: Config, opts: BackfillOptions): Promise<BackfillSummary> {
  checkSelection(opts);
  const { ehr, pipeline, models, close } = await openCommandSession(config);
  // The checkpoint's own connection waits out a Redis blip (the producer's fails fast, for ingress).
  const checkpoint = createWorkerConnection(config.redisUrl);
  try {
    const modelIds = opts.model ?? models.list().map((m) => m.manifest.id);
    const unknown = modelIds.filter((id) => !models.get(id));
    if (unknown.length > 0) throw new InvalidInputError(`unknown model: ${unknown.join(', ')}`);
    return await runBackfill({ source: ehr, scheduler: pipeline.scheduler, redis: checkpoint, prefix: config.queuePrefix, modelIds }, opts);
  } finally {
    await checkpoint.quit().catch(() => checkpoint.disconnect());
    await close();
  }
}

function checkSelection(opts: BackfillSelection): BackfillSelection {
  const given = (['patient', 'search', 'group'] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 1) throw new InvalidInputError(`backfill takes one of --patient, --search, --group (got ${given.map((k) => `--${k}`).join(', ')})`);
  if (opts.search !== undefined && !/^Patient\?/.test(opts.search.trim())) {
    throw new InvalidInputError(`--search takes a Patient search such as 'Patient?_lastUpdated=gt2024-01-01' (got '${opts.search.slice(0, 60)}')`);
  }
  if (opts.group !== undefined && !/^(Group\/)?[A-Za-z0-9\-.]{1,64}$/.test(opts.group)) {
    throw new InvalidInputError(`--group takes Group/ID (got '${opts.group.slice(0, 60)}')`);
  }
  return {
    ...(opts.patient ? { patient: opts.patient } : {}),
    ...(opts.search ? { search: opts.search.trim() } : {}),
    ...(opts.group ? { group: opts.group.replace(/^Group\//, '') } : {}),
  };
}

/** Same selection and models → same checkpoint, so `--resume` finds it. */
function runIdOf(selection: BackfillSelection, modelIds: readonly string[]): string {
  const canonical = JSON.stringify({ ...selection, models: [...modelIds].sort() });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** Writes the selection's patient ids (deduplicated, in order) to `idsKey`; returns the duplicates dropped. */
async function resolveInto(deps: BackfillDeps, selection: BackfillSelection, idsKey: string, progress: BackfillProgress): Promise<number> {
  const seen = new Set<string>();
  let duplicates = 0;
  const push = async (ids: readonly string[]) => {
    const fresh: string[] = [];
    for (const id of ids) {
      if (seen.has(id)) duplicates++;
      else {
        seen.add(id);
        fresh.push(id);
      }
    }
    if (fresh.length > 0) await deps.redis.rpush(idsKey, ...fresh);
    progress.resolving(seen.size);
  };

  if (selection.patient) {
    await push(selection.patient.map((p) => p.replace(/^Patient\//, '')));
  } else if (selection.group) {
    const group = await deps.source.read<Group>('Group', selection.group);
    if (!group) throw new InvalidInputError(`Group/${selection.group} does not exist on the EHR`);
    const ids = (group.member ?? [])
      .filter((m) => m.inactive !== true && !(m.period?.end && Date.parse(m.period.end) < Date.now()))
      .map((m) => /^(?:.*\/)?Patient\/([^/]+)$/.exec(m.entity.reference ?? '')?.[1])
      .filter((id): id is string => id !== undefined);
    await push(ids);
  } else {
    let url: string | undefined = firstPageUrl(deps.source.baseUrl, selection.search ?? 'Patient?');
    while (url) {
      const page: Bundle = await deps.source.followLink(url);
      const ids = (page.entry ?? [])
        .map((e) => e.resource)
        .filter((r): r is Patient => r?.resourceType === 'Patient' && typeof r.id === 'string')
        .map((r) => r.id!);
      await push(ids);
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
  }
  return duplicates;
}

/** `Patient?a=b` → absolute URL asking for ids only, in pages of 500 unless the search says otherwise. */
function firstPageUrl(baseUrl: string, search: string): string {
  const params = new URLSearchParams(search.slice(search.indexOf('?') + 1));
  if (!params.has('_count')) params.set('_count', PAGE_SIZE);
  if (!params.has('_elements')) params.set('_elements', 'id');
  return `${baseUrl}/Patient?${params.toString()}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const silentProgress: BackfillProgress = { resolving: () => undefined, update: () => undefined, end: () => undefined };

/**
 * Progress on stderr: a redrawn bar on a terminal; on anything else (CI logs, `kubectl logs`) one
 * line each time another `everyPercent` is done, so logs stay short.
 */
export function stderrProgress(stream: NodeJS.WriteStream = process.stderr, everyPercent = 10): BackfillProgress {
  const tty = stream.isTTY === true;
  const started = Date.now();
  let lastDraw = 0;
  let lastStep = -1;
  let drewBar = false;
  // The first count seen is what a resumed run had already done: not part of this run's speed.
  let baseline: number | undefined;
  const line = (done: number, total: number) => {
    baseline ??= done;
    const pct = total === 0 ? 100 : (done / total) * 100;
    const seconds = (Date.now() - started) / 1000;
    const perSecond = seconds > 0 ? (done - baseline) / seconds : 0;
    return { pct, text: `${done}/${total} patients (${pct.toFixed(0)} %, ${perSecond.toFixed(1)}/s)` };
  };
  return {
    resolving(found) {
      if (tty && Date.now() - lastDraw > 100) {
        stream.write(`\rresolving patients… ${found}`);
        lastDraw = Date.now();
        drewBar = true;
      }
    },
    update(done, total) {
      const { pct, text } = line(done, total);
      if (tty) {
        if (Date.now() - lastDraw < 100 && done < total) return;
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\u001b[K`);
        lastDraw = Date.now();
        drewBar = true;
        return;
      }
      const step = Math.floor(pct / everyPercent);
      if (step !== lastStep) {
        lastStep = step;
        stream.write(`backfill: ${text}\n`);
      }
    },
    end() {
      if (tty && drewBar) stream.write('\n');
    },
  };
}

/** The one-line human summary printed on stderr at the end. */
export function summaryLine(s: BackfillSummary): string {
  const head = s.complete ? 'backfill done' : 'backfill stopped early';
  const tail = s.complete ? '' : `; rerun with --resume to continue (checkpoint ${s.checkpoint})`;
  return `${head}: ${s.patients} patients, ${s.scheduled} scheduled (${s.jobs} scoring jobs), ${s.skipped} skipped${s.resumed ? ' (resumed)' : ''}${tail}`;
}

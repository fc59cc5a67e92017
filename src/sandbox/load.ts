/**
 * Loading Synthea transaction Bundles into a FHIR server, optionally moved in time.
 *
 * `shiftBundleDates` moves every date, dateTime and instant of every resource in a Bundle by one
 * offset, chosen so the Bundle's latest Observation lands at a given moment: a demo can present
 * 2019–2025 synthetic histories as current. Because birth dates move too, ages at each event stay
 * what they were. Date-only values move by whole days; times keep their original UTC offset and
 * precision.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Bundle, FhirResource, Observation } from 'fhir/r4.js';

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Keys whose string values are never dates even when they look like one (identifier and contact
 * values, codes, references, narrative). `meta` is left alone: the server assigns `lastUpdated`.
 */
const NEVER_DATES = new Set(['id', 'value', 'text', 'reference', 'fullUrl', 'url', 'system', 'code', 'display', 'div', 'version', 'meta']);

/** When an Observation was effective (start of a period), in ms since the epoch. */
function observationTime(obs: Observation): number | undefined {
  const value = obs.effectiveDateTime ?? obs.effectiveInstant ?? obs.effectivePeriod?.start ?? obs.effectivePeriod?.end ?? obs.issued;
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The latest Observation time in the Bundle, or undefined when it has no dated Observation. */
export function latestObservationTime(bundle: Bundle): Date | undefined {
  let latest: number | undefined;
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Observation') continue;
    const t = observationTime(entry.resource);
    if (t !== undefined && (latest === undefined || t > latest)) latest = t;
  }
  return latest === undefined ? undefined : new Date(latest);
}

/**
 * A copy of `bundle` with every date/dateTime/instant in its resources shifted so that its
 * latest Observation is at `to`. A Bundle without a dated Observation is returned unchanged (copied).
 */
export function shiftBundleDates(bundle: Bundle, to: Date): Bundle {
  const copy = structuredClone(bundle);
  const latest = latestObservationTime(bundle);
  if (!latest) return copy;
  const offsetMs = to.getTime() - latest.getTime();
  for (const entry of copy.entry ?? []) {
    if (entry.resource) entry.resource = shiftValue(entry.resource, offsetMs) as FhirResource;
  }
  return copy;
}

function shiftValue(value: unknown, offsetMs: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shiftValue(v, offsetMs));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      out[key] = NEVER_DATES.has(key) ? v : typeof v === 'string' ? shiftString(v, offsetMs) : shiftValue(v, offsetMs);
    }
    return out;
  }
  return value;
}

/** Shifts one string when it is a FHIR date (YYYY-MM-DD) or dateTime/instant; other strings pass. */
export function shiftString(value: string, offsetMs: number): string {
  const date = DATE.exec(value);
  if (date) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3])) + Math.round(offsetMs / DAY_MS) * DAY_MS;
    return new Date(ms).toISOString().slice(0, 10);
  }
  const dt = DATE_TIME.exec(value);
  if (!dt) return value;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return value;
  const zone = dt[8] as string;
  const hasSeconds = dt[6] !== undefined;
  const fraction = dt[7];
  return formatInZone(ms + offsetMs, zone, hasSeconds, fraction?.length ? fraction.length - 1 : 0);
}

/** Formats an instant as a FHIR dateTime in the given zone (`Z` or `±hh:mm`), same precision. */
function formatInZone(ms: number, zone: string, seconds: boolean, fractionDigits: number): string {
  const zoneMinutes = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const local = new Date(ms + zoneMinutes * 60_000).toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ, shifted to local
  let text = local.slice(0, 16);
  if (seconds) text += local.slice(16, 19);
  if (seconds && fractionDigits > 0) text += local.slice(19, 20) + local.slice(20, 23).padEnd(fractionDigits, '0').slice(0, fractionDigits);
  return text + zone;
}

export interface LoadOptions {
  /** Shift every Bundle so its latest Observation is at this moment (see `shiftBundleDates`). */
  shiftDatesTo?: Date;
  /** Bundles posted at once (default 2). */
  concurrency?: number;
  /** Extra request headers (e.g. Authorization for a real server). */
  headers?: Record<string, string>;
}

export interface LoadResult {
  /** Bundles the server accepted. */
  loaded: number;
  /** Entries in those Bundles. */
  entries: number;
  /** Bundles the server refused: file name and HTTP status (no bodies: they hold patient data). */
  failed: { file: string; status: number; error: string }[];
}

/**
 * POSTs each file's Bundle (transaction or batch) to the FHIR base. Resolves with what was
 * loaded; rejects only when nothing could be sent (e.g. the server is down).
 */
export async function loadBundles(target: { baseUrl: string } | string, files: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const baseUrl = (typeof target === 'string' ? target : target.baseUrl).replace(/\/+$/, '');
  const result: LoadResult = { loaded: 0, entries: 0, failed: [] };
  const queue = [...files];
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const original = JSON.parse(await readFile(file, 'utf8')) as Bundle;
      const bundle = opts.shiftDatesTo ? shiftBundleDates(original, opts.shiftDatesTo) : original;
      const res = await fetch(baseUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json', ...opts.headers },
        body: JSON.stringify(bundle),
      });
      const text = await res.text();
      if (res.ok) {
        result.loaded += 1;
        result.entries += bundle.entry?.length ?? 0;
      } else {
        result.failed.push({ file: basename(file), status: res.status, error: outcomeText(text) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  return result;
}

/** The first issue's words from an OperationOutcome body, else the status line will do. */
function outcomeText(body: string): string {
  try {
    const oo = JSON.parse(body) as { issue?: { diagnostics?: string; details?: { text?: string } }[] };
    return oo.issue?.[0]?.diagnostics ?? oo.issue?.[0]?.details?.text ?? 'error';
  } catch {
    return 'non-FHIR error response';
  }
}

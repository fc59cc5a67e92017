/**
 * Time: FHIR date/dateTime parsing, ISO 8601 durations and completed years of age.
 */
import type { Observation } from 'fhir/r4.js';

/** Parses a FHIR date or dateTime (`2020`, `2020-05`, `2020-05-01`, `2020-05-01T10:00:00Z`); partial dates start at their first instant (UTC). */
export function parseFhirDateTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const normalized = /^\d{4}$/.test(value) ? `${value}-01-01` : /^\d{4}-\d{2}$/.test(value) ? `${value}-01` : value;
  const ms = Date.parse(normalized);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * When an Observation was true: effectiveDateTime, effectivePeriod.end (else start), effectiveInstant,
 * and only then `issued` (when it was released, which is later than when it was measured).
 */
export function observationTime(obs: Observation): Date | undefined {
  return (
    parseFhirDateTime(obs.effectiveDateTime) ??
    parseFhirDateTime(obs.effectivePeriod?.end ?? obs.effectivePeriod?.start) ??
    parseFhirDateTime(obs.effectiveInstant) ??
    parseFhirDateTime(obs.issued)
  );
}

const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** `at` minus an ISO 8601 duration (`P1Y`, `P30D`, `PT24H`); years and months step the calendar (UTC). */
export function subtractDuration(at: Date, duration: string): Date {
  const m = DURATION.exec(duration);
  if (!m) throw new Error(`not an ISO 8601 duration: ${duration}`);
  const n = (i: number): number => Number(m[i] ?? 0);
  const d = new Date(at.getTime());
  d.setUTCFullYear(d.getUTCFullYear() - n(1), d.getUTCMonth() - n(2));
  const ms = (((n(3) * 7 + n(4)) * 24 + n(5)) * 60 + n(6)) * 60_000 + n(7) * 1000;
  return new Date(d.getTime() - ms);
}

/** Completed years from a FHIR birth date to `at` (UTC calendar); undefined without a usable birth date. */
export function completedYears(birthDate: string | undefined, at: Date): number | undefined {
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(birthDate ?? '');
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2] ?? 1), Number(m[3] ?? 1)];
  let age = at.getUTCFullYear() - year;
  const beforeBirthday = at.getUTCMonth() + 1 < month || (at.getUTCMonth() + 1 === month && at.getUTCDate() < day);
  if (beforeBirthday) age -= 1;
  return age;
}

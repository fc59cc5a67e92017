/**
 * Observation features: find the usable readings (code or BP-panel component, status, time, unit),
 * then select one value from them (latest, exists, mean, min, max) within the look-back window.
 */
import type { Observation, ObservationComponent } from 'fhir/r4.js';
import type { FeatureSource, FeatureSpec } from '../models/manifest.ts';
import { isUsableObservation } from './clinical-status.ts';
import { conceptKeys, conceptMatches, keysOf } from './codings.ts';
import type { Extraction } from './extraction.ts';
import { versionedReference } from './references.ts';
import { observationTime, subtractDuration } from './time.ts';
import { convertQuantity } from './units.ts';
import { expandCodeSet } from './value-sets.ts';
import type { ValueSetIndex } from './value-sets.ts';

export type ObservationSource = Extract<FeatureSource, { type: 'observation' }>;

interface Reading {
  readonly time: number;
  readonly value: number;
  readonly ref: string | undefined;
}

type ReadingResult = { readonly reading: Reading } | { readonly problem: string } | undefined;

/** Extracts one observation-sourced feature from the patient's Observations as of `at`. */
export function extractObservationFeature(
  spec: FeatureSpec,
  source: ObservationSource,
  observations: readonly Observation[],
  at: Date,
  valueSets: ValueSetIndex,
): Extraction {
  const matcher = readingMatcher(spec, source, at, valueSets);
  const readings: Reading[] = [];
  const problems = new Map<string, number>();
  for (const obs of observations) {
    const result = matcher(obs);
    if (!result) continue;
    if ('problem' in result) problems.set(result.problem, (problems.get(result.problem) ?? 0) + 1);
    else readings.push(result.reading);
  }
  if (readings.length === 0) {
    const skipped = [...problems].map(([p, n]) => `${n} skipped: ${p}`).join('; ');
    return { kind: 'missing', detail: `no usable ${spec.name} observation${skipped ? ` (${skipped})` : ''}` };
  }
  const windowStart = spec.lookback ? subtractDuration(at, spec.lookback).getTime() : -Infinity;
  const inWindow = readings.filter((r) => r.time >= windowStart);
  if (inWindow.length === 0) return { kind: 'stale', detail: `latest ${spec.name} is older than ${spec.lookback}` };
  return select(spec.select, inWindow);
}

/** Builds the per-Observation test once per feature (code sets expanded once). */
function readingMatcher(spec: FeatureSpec, source: ObservationSource, at: Date, valueSets: ValueSetIndex): (obs: Observation) => ReadingResult {
  const codes = expandCodeSet(source.codes, valueSets);
  const componentCodes = source.component ? expandCodeSet(source.component, valueSets) : undefined;
  const positive = new Set((source.positiveCodes ?? []).flatMap((c) => conceptKeys(c.system, c.code)));
  const negative = new Set((source.negativeCodes ?? []).flatMap((c) => conceptKeys(c.system, c.code)));
  const atMs = at.getTime();

  return (obs) => {
    if (!isUsableObservation(obs)) return undefined;
    // With `component`, a matching component of any Observation counts (BP panels 85354-9 and
    // 55284-4 carry 8480-6 only as a component, in no fixed order); so does an Observation coded
    // like the component or listed in `codes` that carries the value itself.
    const component = componentCodes ? obs.component?.find((c) => conceptMatches(c.code, componentCodes)) : undefined;
    const ownCode = conceptMatches(obs.code, codes) || (componentCodes !== undefined && conceptMatches(obs.code, componentCodes));
    if (!component && !ownCode) return undefined;
    const time = observationTime(obs)?.getTime();
    if (time === undefined) return { problem: 'no effective time' };
    if (time > atMs) return undefined; // after the assessment time: not evidence yet
    const value = readValue(spec, source, component ?? obs, positive, negative);
    if (typeof value !== 'number') return { problem: value.problem };
    return { reading: { time, value, ref: versionedReference(obs) } };
  };
}

function hasAnyValue(h: Observation | ObservationComponent): boolean {
  return Object.keys(h).some((k) => k.startsWith('value'));
}

function readValue(
  spec: FeatureSpec,
  source: ObservationSource,
  holder: Observation | ObservationComponent,
  positive: ReadonlySet<string>,
  negative: ReadonlySet<string>,
): number | { problem: string } {
  // `exists` asks whether it was recorded: a reading with no value at all still counts as present.
  if (spec.select === 'exists' && !hasAnyValue(holder)) return 1;
  if (source.value === 'coded') {
    const keys = keysOf(holder.valueCodeableConcept);
    if (keys.some((k) => positive.has(k))) return 1;
    if (keys.some((k) => negative.has(k))) return 0;
    return { problem: holder.valueCodeableConcept ? 'coded value neither positive nor negative' : 'no coded value' };
  }
  const quantity = holder.valueQuantity ?? (typeof holder.valueInteger === 'number' ? { value: holder.valueInteger } : undefined);
  if (!quantity) return { problem: 'no quantity value' };
  const converted = convertQuantity(quantity, spec.unit, keysOf(holder.code));
  return converted.ok ? converted.value : { problem: converted.problem };
}

function refs(readings: readonly Reading[]): string[] {
  return [...new Set(readings.map((r) => r.ref).filter((r): r is string => r !== undefined))].sort();
}

/** Latest first; equal times fall back to the reference so the choice is deterministic. */
function newestFirst(a: Reading, b: Reading): number {
  return b.time - a.time || (a.ref ?? '').localeCompare(b.ref ?? '');
}

function select(how: FeatureSpec['select'], readings: readonly Reading[]): Extraction {
  const sorted = [...readings].sort(newestFirst);
  const latest = sorted[0] as Reading;
  switch (how) {
    case 'latest':
      return { kind: 'value', value: latest.value, basis: refs([latest]) };
    case 'exists': {
      const present = sorted.find((r) => r.value !== 0);
      return present ? { kind: 'value', value: 1, basis: refs([present]) } : { kind: 'value', value: 0, basis: refs([latest]) };
    }
    case 'mean':
      return { kind: 'value', value: sorted.reduce((s, r) => s + r.value, 0) / sorted.length, basis: refs(sorted) };
    case 'min':
    case 'max': {
      const pick = how === 'min' ? Math.min : Math.max;
      const extreme = pick(...sorted.map((r) => r.value));
      const chosen = sorted.find((r) => r.value === extreme) as Reading;
      return { kind: 'value', value: extreme, basis: refs([chosen]) };
    }
  }
}

/**
 * CDS Hooks cards from fhir-risk RiskAssessments: one card per model, built only from the
 * assessment (stored or computed now), the model's manifest and the patient record (for the dates
 * of the inputs). Pure: no I/O, no clock.
 */
import type { Extension, FhirResource, RiskAssessment } from 'fhir/r4.js';
import type { PatientRecord } from '../features/types.ts';
import type { FeatureSpec, ManifestBand, ModelManifest } from '../models/manifest.ts';
import {
  MODELS_SYSTEM,
  RISK_BAND_SYSTEM,
  RISK_INPUT_EXTENSION,
  RISK_PROBABILITY_SYSTEM,
  RISK_SCORE_EXTENSION,
} from '../writeback/canonical.ts';

/** CDS Hooks Coding (system, code, display). */
export interface CdsCoding {
  system?: string;
  code: string;
  display?: string;
}

/** A CDS Hooks 2.0 card (the members fhir-risk fills). */
export interface CdsCard {
  uuid: string;
  /** One sentence, fewer than 140 characters. */
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; topic?: CdsCoding };
  /** `extension` is reserved by the spec for implementation data; ours sits under one key. */
  extension?: Record<string, unknown>;
}

/** The CDS Hooks response body. */
export interface CdsResponse {
  cards: CdsCard[];
}

/** Spec: "One-sentence, <140-character summary". */
export const SUMMARY_MAX = 139;

/** Our key under `card.extension`. */
export const CARD_EXTENSION_KEY = 'org.fhir-risk';

export const SOURCE_LABEL = 'fhir-risk';

/** Where the assessment on a card came from. */
export type CardOrigin =
  /** The latest stored fhir-risk RiskAssessment, fresh and computed from the current inputs. */
  | 'stored'
  /** Computed now from the hook's prefetch. */
  | 'prefetch'
  /** Computed now from data fhir-risk fetched from the FHIR server. */
  | 'fhir-server';

export interface CardInput {
  readonly manifest: ModelManifest;
  readonly assessment: RiskAssessment;
  /** The record the assessment was checked or computed against (dates of inputs). */
  readonly record?: PatientRecord;
  readonly origin: CardOrigin;
  readonly uuid: string;
}

/** One input as the assessment's `risk-input` extension records it. */
export interface AssessmentInput {
  readonly name: string;
  readonly value?: number;
  readonly unit?: string;
  readonly contribution?: number;
  readonly assumption?: string;
  readonly sources: readonly string[];
}

/** The prediction parts a card shows. */
export interface AssessmentSummary {
  readonly probability?: number;
  readonly score?: number;
  readonly riskProbability?: string;
  readonly bandCode?: string;
  readonly bandDisplay?: string;
  readonly inputs: readonly AssessmentInput[];
}

/** Reads the parts of a fhir-risk RiskAssessment a card needs. */
export function summarizeAssessment(ra: RiskAssessment): AssessmentSummary {
  const prediction = ra.prediction?.[0];
  const codings = prediction?.qualitativeRisk?.coding ?? [];
  const riskProbability = codings.find((c) => c.system === RISK_PROBABILITY_SYSTEM)?.code;
  const band = codings.find((c) => c.system === RISK_BAND_SYSTEM);
  const score = prediction?.extension?.find((e) => e.url === RISK_SCORE_EXTENSION)?.valueDecimal;
  return {
    ...(prediction?.probabilityDecimal !== undefined ? { probability: prediction.probabilityDecimal } : {}),
    ...(score !== undefined ? { score } : {}),
    ...(riskProbability ? { riskProbability } : {}),
    ...(band?.code ? { bandCode: band.code } : {}),
    ...(band?.display ? { bandDisplay: band.display } : {}),
    inputs: (ra.extension ?? []).filter((e) => e.url === RISK_INPUT_EXTENSION).map(readInput),
  };
}

function readInput(ext: Extension): AssessmentInput {
  const parts = ext.extension ?? [];
  const part = (url: string) => parts.find((p) => p.url === url);
  const value = part('value');
  const quantityValue = value?.valueQuantity?.value;
  const unit = value?.valueQuantity?.unit ?? value?.valueQuantity?.code;
  const contribution = part('contribution')?.valueDecimal;
  const assumption = part('assumption')?.valueString;
  return {
    name: part('name')?.valueString ?? '?',
    ...(quantityValue !== undefined ? { value: quantityValue } : value?.valueDecimal !== undefined ? { value: value.valueDecimal } : {}),
    ...(unit ? { unit } : {}),
    ...(contribution !== undefined ? { contribution } : {}),
    ...(assumption ? { assumption } : {}),
    sources: parts.filter((p) => p.url === 'source').flatMap((p) => (p.valueReference?.reference ? [p.valueReference.reference] : [])),
  };
}

/** risk-probability → card indicator: low → info, moderate → warning, high → critical. */
export function indicatorFor(riskProbability: string | undefined): CdsCard['indicator'] {
  switch (riskProbability as ManifestBand['riskProbability'] | undefined) {
    case 'high':
    case 'certain':
      return 'critical';
    case 'moderate':
      return 'warning';
    default:
      return 'info';
  }
}

/** "21.5 %", "score 7", or "3.2 %, score 3" for points models with a rate. */
export function formatRisk(summary: Pick<AssessmentSummary, 'probability' | 'score'>): string {
  const parts: string[] = [];
  if (summary.probability !== undefined) parts.push(`${(summary.probability * 100).toFixed(1)} %`);
  if (summary.score !== undefined) parts.push(`score ${formatNumber(summary.score)}`);
  return parts.join(', ') || 'no value';
}

/**
 * `<title>: <risk> — <band>`, fewer than 140 characters: the band's display when it fits, else its
 * code; the title is shortened with an ellipsis only as a last resort.
 */
export function buildSummary(title: string, risk: string, bandDisplay: string | undefined, bandCode: string | undefined): string {
  const tail = (band: string | undefined) => `: ${risk}${band ? ` — ${band}` : ''}`;
  for (const band of [bandDisplay, bandCode]) {
    const text = `${title}${tail(band)}`;
    if (text.length <= SUMMARY_MAX) return text;
  }
  const short = tail(bandCode);
  const room = SUMMARY_MAX - short.length - 1;
  return `${title.slice(0, Math.max(room, 0)).trimEnd()}…${short}`.slice(0, SUMMARY_MAX);
}

const HORIZON_UNITS: Record<NonNullable<ModelManifest['horizon']>['unit'], [string, string]> = {
  a: ['year', 'years'],
  mo: ['month', 'months'],
  d: ['day', 'days'],
  h: ['hour', 'hours'],
};

export function formatHorizon(horizon: ModelManifest['horizon']): string {
  if (!horizon) return 'now (current state, no prediction horizon)';
  const [one, many] = HORIZON_UNITS[horizon.unit];
  return `${formatNumber(horizon.value)} ${horizon.value === 1 ? one : many}`;
}

/** Builds the card of one model's assessment. */
export function buildCard(input: CardInput): CdsCard {
  const { manifest, assessment } = input;
  const summary = summarizeAssessment(assessment);
  const risk = formatRisk(summary);
  const reference = input.origin === 'stored' && assessment.id ? `RiskAssessment/${assessment.id}` : undefined;
  const sourceUrl = manifest.references.find((r) => r.url)?.url;
  return {
    uuid: input.uuid,
    summary: buildSummary(manifest.title, risk, summary.bandDisplay, summary.bandCode),
    detail: buildDetail(input, summary, risk),
    indicator: indicatorFor(summary.riskProbability),
    source: {
      label: SOURCE_LABEL,
      ...(sourceUrl ? { url: sourceUrl } : {}),
      topic: { system: MODELS_SYSTEM, code: manifest.id, display: manifest.title },
    },
    extension: {
      [CARD_EXTENSION_KEY]: {
        model: manifest.id,
        modelVersion: manifest.version,
        origin: input.origin,
        ...(assessment.occurrenceDateTime ? { assessedAt: assessment.occurrenceDateTime } : {}),
        ...(reference ? { riskAssessment: reference } : {}),
        ...(assessment.identifier?.[0]?.value ? { identifier: assessment.identifier[0].value } : {}),
      },
    },
  };
}

const ORIGIN_TEXT: Record<CardOrigin, string> = {
  stored: 'stored fhir-risk assessment, checked against the current inputs',
  prefetch: 'computed now from the data the EHR sent with this request',
  'fhir-server': 'computed now from the FHIR server',
};

/** Markdown: the prediction and horizon, the inputs with values and dates, assumptions, provenance. */
function buildDetail(input: CardInput, summary: AssessmentSummary, risk: string): string {
  const { manifest, assessment } = input;
  const specs = new Map(manifest.features.map((f) => [f.name, f]));
  const lines: string[] = [];
  lines.push(`**${escapeMarkdown(manifest.title)}**: ${risk}${summary.bandDisplay ? ` — ${escapeMarkdown(summary.bandDisplay)}` : ''}`);
  lines.push('');
  lines.push(`Outcome: ${escapeMarkdown(manifest.outcome.text)}. Horizon: ${formatHorizon(manifest.horizon)}.`);
  lines.push('');
  lines.push('| Input | Value | Date |');
  lines.push('|---|---|---|');
  for (const inputValue of summary.inputs) {
    const spec = specs.get(inputValue.name);
    const contribution = inputValue.contribution !== undefined ? ` (contributes ${formatSigned(inputValue.contribution)})` : '';
    lines.push(
      `| ${escapeCell(inputValue.name)} | ${escapeCell(formatInputValue(inputValue, spec))}${contribution} | ${inputDate(inputValue.sources, input.record) ?? '—'} |`,
    );
  }
  const assumptions = [
    ...summary.inputs.filter((i) => i.assumption).map((i) => `${i.name}: ${i.assumption}`),
    ...(assessment.note ?? []).map((n) => n.text).filter((t): t is string => Boolean(t)),
  ];
  const uniqueAssumptions = [...new Set(assumptions)];
  if (uniqueAssumptions.length > 0) {
    lines.push('');
    lines.push('Assumptions:');
    for (const a of uniqueAssumptions) lines.push(`- ${escapeMarkdown(a)}`);
  }
  lines.push('');
  const when = assessment.occurrenceDateTime ? ` on ${assessment.occurrenceDateTime}` : '';
  const reference = input.origin === 'stored' && assessment.id ? ` (RiskAssessment/${assessment.id})` : '';
  lines.push(`Assessed${when} by ${manifest.id} ${manifest.version}: ${ORIGIN_TEXT[input.origin]}${reference}.`);
  return lines.join('\n');
}

/** Yes/no for indicator features (sex, race, conditions, medications, coded observations), else value and unit. */
function formatInputValue(input: AssessmentInput, spec: FeatureSpec | undefined): string {
  if (input.value === undefined) return '—';
  const source = spec?.source;
  const indicator =
    source && (source.type === 'sex' || source.type === 'race' || source.type === 'condition' || source.type === 'medication' || (source.type === 'observation' && source.value === 'coded'));
  if (indicator && (input.value === 0 || input.value === 1)) return input.value === 1 ? 'yes' : 'no';
  const unit = input.unit === undefined ? '' : displayUnit(input.unit);
  return unit ? `${formatNumber(input.value)} ${unit}` : formatNumber(input.value);
}

/** UCUM codes as clinicians write them; unknown codes are shown as they are. */
const UNIT_DISPLAY: Readonly<Record<string, string>> = {
  a: 'years',
  'mm[Hg]': 'mmHg',
  Cel: '°C',
  'mL/min/{1.73_m2}': 'mL/min/1.73 m²',
  '{score}': '',
  '{beats}/min': '/min',
  '{breaths}/min': '/min',
};

export function displayUnit(ucum: string): string {
  return UNIT_DISPLAY[ucum] ?? ucum;
}

/** The most recent clinical date of the resources behind an input, when the record holds them. */
function inputDate(sources: readonly string[], record: PatientRecord | undefined): string | undefined {
  if (!record || sources.length === 0) return undefined;
  const byReference = new Map<string, FhirResource>();
  for (const r of [...record.observations, ...record.conditions, ...record.medications]) byReference.set(`${r.resourceType}/${r.id}`, r);
  const dates = sources
    .map((s) => byReference.get(s.replace(/\/_history\/.*$/, '')))
    .map((r) => (r ? clinicalDate(r) : undefined))
    .filter((d): d is string => Boolean(d))
    .sort();
  return dates.at(-1)?.slice(0, 10);
}

function clinicalDate(r: FhirResource): string | undefined {
  switch (r.resourceType) {
    case 'Observation':
      return r.effectiveDateTime ?? r.effectiveInstant ?? r.effectivePeriod?.end ?? r.effectivePeriod?.start ?? r.issued;
    case 'Condition':
      return r.onsetDateTime ?? r.recordedDate ?? r.onsetPeriod?.start;
    case 'MedicationRequest':
      return r.authoredOn;
    case 'MedicationStatement':
      return r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.dateAsserted;
    default:
      return undefined;
  }
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(2)));
}

function formatSigned(value: number): string {
  return `${value >= 0 ? '+' : '−'}${formatNumber(Math.abs(value))}`;
}

/** Escapes characters GFM would read as markup in running text. */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>|])/g, '\\$1');
}

function escapeCell(text: string): string {
  return escapeMarkdown(text).replace(/\n/g, ' ');
}

/** A model that produced no card, and why (for the optional "not applicable" card). */
export interface NotApplicableModel {
  readonly modelId: string;
  readonly title: string;
  readonly reason: string;
  readonly diagnostics: string;
}

/** One info card listing the models that do not apply and why (off by default). */
export function buildNotApplicableCard(models: readonly NotApplicableModel[], uuid: string): CdsCard {
  const summary = buildSummary('fhir-risk', `${models.length} model${models.length === 1 ? '' : 's'} not applicable to this patient`, undefined, undefined);
  return {
    uuid,
    summary,
    detail: models.map((m) => `- **${escapeMarkdown(m.title)}** (${m.modelId}): ${m.reason}: ${escapeMarkdown(m.diagnostics)}`).join('\n'),
    indicator: 'info',
    source: { label: SOURCE_LABEL },
    extension: { [CARD_EXTENSION_KEY]: { notApplicable: models.map((m) => ({ model: m.modelId, reason: m.reason })) } },
  };
}

/**
 * Plain-text renderings of manifest parts (code sets, feature sources, ranges, missing-data
 * policies) for the model cards of the shipped models and of the bring-your-own-model examples,
 * so both kinds of card describe a feature in the same words.
 */
import type { CodeSet, FeatureSpec } from '../../src/models/manifest.ts';

/** Codes (with system and display) and value-set names, `; `-separated. */
export function codeSetText(set: CodeSet): string {
  const codes = set.codes.map((c) => `${systemName(c.system)} \`${c.code}\`${c.display ? ` ${c.display}` : ''}`);
  const valueSets = set.valueSets.map((url) => `ValueSet \`${url.split('/').pop() ?? url}\``);
  return [...codes, ...valueSets].join('; ');
}

/** The short name of a well-known code system, else the system URL. */
export function systemName(system: string): string {
  const names: Record<string, string> = {
    'http://loinc.org': 'LOINC',
    'http://snomed.info/sct': 'SNOMED',
    'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM',
  };
  return names[system] ?? system;
}

/** Where a feature's value comes from, in words. */
export function sourceText(feature: FeatureSpec): string {
  const s = feature.source;
  switch (s.type) {
    case 'age':
      return 'Patient.birthDate (completed years)';
    case 'sex':
      return `Patient sex = ${s.equals}`;
    case 'race':
      return `US Core race ombCategory in ${s.codes.map((c) => `\`${c}\``).join(', ')}`;
    case 'observation': {
      let text = `Observation: ${codeSetText(s.codes)}`;
      if (s.component) text += `; component ${codeSetText(s.component)}`;
      if (s.value === 'coded') {
        const pos = (s.positiveCodes ?? []).map((c) => `\`${c.code}\``).join(', ');
        const neg = (s.negativeCodes ?? []).map((c) => `\`${c.code}\``).join(', ');
        text += `; coded value: 1 if ${pos || '—'}, 0 if ${neg || '—'}`;
      }
      return text;
    }
    case 'condition':
      return `active Condition: ${codeSetText(s.codes)}`;
    case 'medication':
      return `active MedicationRequest/Statement: ${codeSetText(s.codes)}`;
  }
}

/** The feature's missing-data policy, in words. */
export function missingText(feature: FeatureSpec): string {
  const m = feature.missing;
  if (m.policy === 'assume') return `assume ${m.value} (“${m.assumption}”)`;
  if (m.policy === 'absent-is-false') return 'absent = 0';
  return 'not applicable';
}

/** The valid range, e.g. `40–79`, `≥ 18`, or empty when there is none. */
export function rangeText(feature: FeatureSpec): string {
  const r = feature.range;
  if (!r) return '';
  if (r.min !== undefined && r.max !== undefined) return `${r.min}–${r.max}`;
  if (r.min !== undefined) return `≥ ${r.min}`;
  return r.max !== undefined ? `≤ ${r.max}` : '';
}

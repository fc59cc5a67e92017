/**
 * Withdrawing assessments whose input was deleted or entered in error: they become
 * `entered-in-error` (the re-scoring without that input is scheduled by the event worker).
 */
import type { RiskAssessment } from 'fhir/r4.js';
import type { EhrClient } from '../fhir/client-types.ts';
import { ASSESSMENT_IDENTIFIER_SYSTEM } from '../writeback/identifier.ts';
import { markEnteredInError } from '../writeback/write.ts';

/** True when `basisRef` (possibly versioned, possibly absolute) points at `ref` (`Type/id`). */
export function basisRefersTo(basisRef: string, ref: string): boolean {
  const plain = basisRef.replace(/\/_history\/[^/]+$/, '');
  return plain === ref || plain.endsWith(`/${ref}`);
}

export async function withdrawAssessmentsUsing(results: EhrClient, patientId: string, ref: string): Promise<number> {
  const assessments = await results.search<RiskAssessment>('RiskAssessment', {
    subject: `Patient/${patientId}`,
    identifier: `${ASSESSMENT_IDENTIFIER_SYSTEM}|`,
    _count: '200',
  });
  let count = 0;
  for (const ra of assessments) {
    if (ra.status === 'entered-in-error') continue;
    if (!(ra.basis ?? []).some((b) => b.reference && basisRefersTo(b.reference, ref))) continue;
    await markEnteredInError(results, ra);
    count++;
  }
  return count;
}

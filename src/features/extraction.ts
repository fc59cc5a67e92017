/**
 * What extracting one feature yields before the missing-data policy and range checks apply.
 */
import type { NotApplicableReason } from '../errors.ts';

export type Extraction =
  /** A value and the versioned references of the resources that gave it. */
  | { readonly kind: 'value'; readonly value: number; readonly basis: readonly string[] }
  /** Nothing usable. `reason` overrides the default `missing-input` (unknown sex → `sex-not-supported`). */
  | { readonly kind: 'missing'; readonly detail: string; readonly reason?: NotApplicableReason }
  /** Usable data exists, but only older than the look-back window. */
  | { readonly kind: 'stale'; readonly detail: string };

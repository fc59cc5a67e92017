/**
 * The runtime face of a model: what the score worker, `assess` and `$risk-assess` call.
 */
import type { ModelManifest } from './manifest.ts';

export interface ModelPrediction {
  /** Fraction 0–1, for probabilistic models. */
  readonly probability?: number;
  /** Points score (NEWS2, CHA2DS2-VASc, qSOFA) when the model has one. */
  readonly score?: number;
  /** Index into `manifest.output.bands`. */
  readonly bandIndex: number;
  /**
   * Other tensor outputs of the graph by output name, one value per row (e.g. NEWS2 sub-scores
   * `subscore_pulse`). Absent when the graph has no outputs beyond probability/score/band.
   */
  readonly outputs?: Readonly<Record<string, number>>;
}

export interface LoadedModel {
  readonly manifest: ModelManifest;
  /** Directory the model was loaded from. */
  readonly dir: string;
  /** sha256 of the ONNX file: part of provenance, so a swapped file is visible. */
  readonly onnxSha256: string;
  /** Runs one row per patient (features in manifest order). Sessions are created once and reused. */
  predict(rows: readonly (readonly number[])[]): Promise<ModelPrediction[]>;
}

export interface ModelRegistry {
  /** Models that loaded and are enabled. */
  list(): readonly LoadedModel[];
  get(id: string): LoadedModel | undefined;
  /** One line per model that failed to load: which file, what is wrong. */
  readonly problems: readonly string[];
  close(): Promise<void>;
}

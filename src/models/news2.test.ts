/**
 * NEWS2 rules the published vectors do not reach: the "single parameter scores 3" low-medium band
 * and its precedence below medium/high, and the half-up rounding of the charted boundaries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModelRegistry } from './registry.ts';
import type { LoadedModel, ModelRegistry } from './types.ts';

const modelsDir = fileURLToPath(new URL('../../models', import.meta.url));

// respiratoryRate, spo2, spo2Scale2, oxygenFlowRate, systolicBP, pulse, consciousnessNotAlert, temperature
const NORMAL = [16, 97, 0, 0, 120, 70, 0, 37];
const withValues = (changes: Record<number, number>): number[] => NORMAL.map((v, i) => changes[i] ?? v);

describe('news2 bands', () => {
  let registry: ModelRegistry;
  let model: LoadedModel;
  before(async () => {
    registry = await loadModelRegistry({ dir: modelsDir, disabled: ['ascvd-pce', 'prevent-cvd', 'cha2ds2-vasc', 'qsofa'] });
    const loaded = registry.get('news2');
    assert.ok(loaded);
    model = loaded;
  });
  after(async () => {
    await registry.close();
  });

  const band = (p: { bandIndex: number }) => model.manifest.output.bands[p.bandIndex]?.code;

  test('a single red score with a low total is low-medium; the total decides above 4', async () => {
    const [redOnly, redAndFive, normal, fourNoRed] = await model.predict([
      withValues({ 0: 25 }), // RR 25 → 3, total 3
      withValues({ 0: 25, 5: 111 }), // + pulse 111 → 2, total 5
      NORMAL,
      withValues({ 0: 11, 1: 95, 4: 110, 5: 91 }), // 1+1+1+1, no 3
    ]);
    assert.deepEqual([redOnly?.score, band(redOnly!)], [3, 'low-medium']);
    assert.deepEqual([redAndFive?.score, band(redAndFive!)], [5, 'medium']);
    assert.deepEqual([normal?.score, band(normal!)], [0, 'low']);
    assert.deepEqual([fourNoRed?.score, band(fourNoRed!)], [4, 'low']);
  });

  test('new confusion alone is a red score (3, low-medium) and is reported as a sub-score', async () => {
    const [confused] = await model.predict([withValues({ 6: 1 })]);
    assert.equal(confused?.score, 3);
    assert.equal(band(confused!), 'low-medium');
    assert.equal(confused?.outputs?.subscore_consciousness, 3);
  });

  test('values are banded after rounding to the charted precision (half up)', async () => {
    const predictions = await model.predict([withValues({ 7: 38.04 }), withValues({ 7: 38.05 }), withValues({ 0: 20.4 }), withValues({ 0: 20.5 })]);
    assert.deepEqual(
      predictions.map((p) => p.score),
      [0, 1, 0, 2],
    );
  });
});

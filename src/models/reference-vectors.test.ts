/**
 * Every published reference vector of every shipped model, run through the ONNX file on disk via
 * the registry (the same path the service uses). Tolerances: the vector's own when it names the
 * variant we ship, else the documented wider one (see each model card).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtInModels } from '../../scripts/onnx/models/index.ts';
import { evaluateVectors, vectorsFor } from '../../scripts/onnx/vectors.ts';
import { loadModelRegistry } from './registry.ts';
import type { ModelRegistry } from './types.ts';

const modelsDir = fileURLToPath(new URL('../../models', import.meta.url));

describe('reference vectors through the shipped ONNX files', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadModelRegistry({ dir: modelsDir, strict: true });
  });
  after(async () => {
    await registry.close();
  });

  for (const definition of builtInModels) {
    const id = definition.manifest.id;
    test(`${id}: every ${definition.vectorScore} vector passes`, async () => {
      const model = registry.get(id);
      assert.ok(model, `${id} is loaded`);
      const vectors = vectorsFor(definition.vectorScore);
      assert.ok(vectors.length > 0, `there are ${definition.vectorScore} vectors`);
      const results = await evaluateVectors(definition, model);
      assert.equal(results.length, vectors.length);
      const failures = results
        .filter((r) => !r.passed)
        .flatMap((r) =>
          r.checks
            .filter((c) => !c.passed)
            .map((c) => `${r.vector.id} ${c.quantity}: expected ${c.expected}, got ${c.actual} (± ${c.tolerance})`),
        );
      assert.deepEqual(failures, []);
    });
  }
});

describe('ascvd-pce arithmetic', () => {
  test('reproduces the MODELS.md §1.7 worked examples exactly (Table A coefficients)', async () => {
    const registry = await loadModelRegistry({ dir: modelsDir, disabled: ['news2', 'qsofa', 'cha2ds2-vasc', 'prevent-cvd'] });
    try {
      const model = registry.get('ascvd-pce');
      assert.ok(model);
      // age, female, black, TC, HDL, SBP, treated, smoker, diabetes
      const [whiteMale, whiteFemale] = await model.predict([
        [55, 0, 0, 213, 50, 120, 0, 0, 0],
        [55, 1, 0, 213, 50, 120, 0, 0, 0],
      ]);
      // IndSum 60.6995 with mean 61.1816 and S0 0.91436 (precise): 1 − 0.91436^exp(−0.4821).
      const expectedMale = 1 - 0.91436 ** Math.exp(60.69947 - 61.1816);
      assert.ok(Math.abs((whiteMale?.probability ?? 0) - expectedMale) < 2e-5, `white male ${whiteMale?.probability}`);
      assert.ok(Math.abs((whiteFemale?.probability ?? 0) - 0.0205) < 5e-4, `white female ${whiteFemale?.probability}`);
      assert.equal(model.manifest.output.bands[whiteMale?.bandIndex ?? -1]?.code, 'borderline');
      assert.equal(model.manifest.output.bands[whiteFemale?.bandIndex ?? -1]?.code, 'low');
    } finally {
      await registry.close();
    }
  });
});

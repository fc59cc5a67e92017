/**
 * The committed model pack is exactly what `npm run models:build` produces, and each shipped
 * model passes its own manifest examples (`fhir-risk models verify`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildModelFiles, diffModelFiles } from '../../scripts/onnx/build.ts';
import { builtInModels } from '../../scripts/onnx/models/index.ts';
import { loadModelRegistry } from './registry.ts';
import type { LoadedModel } from './types.ts';
import { verifyModel } from './verify.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('model pack build', () => {
  test('models:build --check finds no difference, and two builds are byte-identical', async () => {
    const first = await buildModelFiles();
    const second = await buildModelFiles();
    assert.equal(first.files.size, builtInModels.length * 3);
    for (const [path, bytes] of first.files) {
      assert.ok(Buffer.from(bytes).equals(Buffer.from(second.files.get(path) ?? new Uint8Array())), `${path} is reproducible`);
    }
    assert.deepEqual(await diffModelFiles(repoRoot, first.files), []);
  });

  test('the check names a file that differs', async () => {
    const { files } = await buildModelFiles();
    const [path] = [...files.keys()];
    assert.ok(path);
    files.set(path, new TextEncoder().encode('tampered'));
    assert.deepEqual(await diffModelFiles(repoRoot, files), [path]);
  });
});

describe('verifyModel', () => {
  test('every shipped model passes its manifest examples', async () => {
    const registry = await loadModelRegistry({ dir: `${repoRoot}/models`, strict: true });
    try {
      assert.equal(registry.list().length, builtInModels.length);
      for (const model of registry.list()) {
        const result = await verifyModel(model);
        assert.ok(result.ok, result.lines.join('\n'));
        assert.equal(result.lines.length, model.manifest.examples.length);
        assert.ok(result.lines.every((l) => l.startsWith('PASS ')));
      }
    } finally {
      await registry.close();
    }
  });

  test('a wrong expectation fails with a line saying what differs', async () => {
    const registry = await loadModelRegistry({ dir: `${repoRoot}/models`, strict: true });
    try {
      const model = registry.get('ascvd-pce');
      assert.ok(model);
      const [example] = model.manifest.examples;
      assert.ok(example);
      const tampered: LoadedModel = {
        ...model,
        predict: (rows) => model.predict(rows),
        manifest: { ...model.manifest, examples: [{ ...example, expected: { probability: 0.9 } }] },
      };
      const result = await verifyModel(tampered);
      assert.equal(result.ok, false);
      assert.match(result.lines[0] ?? '', /^FAIL ascvd-pce ".+": probability [\d.]+, expected 0\.9 ± /);
    } finally {
      await registry.close();
    }
  });
});

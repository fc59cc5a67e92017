/**
 * Builds the shipped model pack from published coefficients: `models/<id>/model.onnx`,
 * `model.json` (manifest) and `README.md` (model card).
 *
 *   npm run models:build            write the files
 *   npm run models:build -- --check rebuild in memory; exit 1 naming every file that differs
 *
 * The output is byte-for-byte reproducible (no timestamps), so `--check` in CI proves the
 * committed models are exactly what the sources here produce.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelFiles, diffModelFiles } from './onnx/build.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const { files, models } = await buildModelFiles();
  for (const model of models) {
    const passed = model.results.filter((r) => r.passed).length;
    console.log(`${model.id}: ${passed}/${model.results.length} reference vectors pass`);
  }
  const failing = models.flatMap((m) => m.results.filter((r) => !r.passed).map((r) => `${m.id}: vector ${r.vector.id} fails`));
  failing.forEach((line) => console.error(line));

  if (check) {
    const differing = await diffModelFiles(repoRoot, files);
    differing.forEach((path) => console.error(`${path}: differs from a fresh build (run npm run models:build)`));
    if (differing.length === 0) console.log(`models: ${files.size} files up to date`);
    return differing.length > 0 || failing.length > 0 ? 1 : 0;
  }
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(repoRoot, path)), { recursive: true });
    await writeFile(join(repoRoot, path), bytes);
  }
  console.log(`models: wrote ${files.size} files`);
  return failing.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);

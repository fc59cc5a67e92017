/**
 * Builds the bring-your-own-model examples (models/README.md, "Bring your own model"):
 * `examples/byo-models/<id>/model.onnx`, `model.json` and `README.md`, shaped exactly as skl2onnx
 * exports scikit-learn classifiers, from the sources in `scripts/onnx/examples/`.
 *
 *   npx tsx scripts/build-examples.ts            write the files
 *   npx tsx scripts/build-examples.ts --check    rebuild in memory; exit 1 naming every file that differs
 *
 * Byte-for-byte reproducible, like `npm run models:build`. Either mode fails if an example does
 * not behave as it claims (ONNX ≠ the TypeScript re-computation, or the ZipMap one loads).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffModelFiles } from './onnx/build.ts';
import { buildExampleFiles } from './onnx/examples/build.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const { files, examples } = await buildExampleFiles();
  for (const line of examples.flatMap((e) => e.lines)) console.log(line);

  if (check) {
    const differing = await diffModelFiles(repoRoot, files);
    differing.forEach((path) => console.error(`${path}: differs from a fresh build (run npx tsx scripts/build-examples.ts)`));
    if (differing.length === 0) console.log(`examples: ${files.size} files up to date`);
    return differing.length > 0 ? 1 : 0;
  }
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(repoRoot, path)), { recursive: true });
    await writeFile(join(repoRoot, path), bytes);
  }
  console.log(`examples: wrote ${files.size} files`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);

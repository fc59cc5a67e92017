/**
 * Loads every model in `MODELS_DIR`: `<dir>/<id>/model.json` (validated) + the ONNX file it names.
 *
 * A broken model is skipped with one line saying which file and what is wrong (or, when `strict`,
 * start-up stops with a `ConfigError` listing them all): one bad drop-in must not take the other
 * models down, and an operator must be able to fix it from the line alone.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ZodError } from 'zod';
import { ConfigError } from '../errors.ts';
import { logger } from '../observability/logger.ts';
import { modelManifestSchema } from './manifest.ts';
import type { ModelManifest } from './manifest.ts';
import { createOnnxModel, sessionProblems } from './onnx-model.ts';
import type { LoadedModel, ModelRegistry } from './types.ts';

export interface LoadModelRegistryOptions {
  /** Directory holding one sub-directory per model. */
  dir: string;
  /** Throw a `ConfigError` listing every problem instead of skipping broken models. */
  strict?: boolean;
  /** Model ids (directory names) not to load, e.g. from configuration. */
  disabled?: readonly string[];
}

/** `features[2].source.type` from a zod issue path. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

/** One line for a manifest that failed validation: `models/<id>/model.json: <path>: <problem>[; ...]`. */
export function formatManifestError(file: string, error: ZodError): string {
  return `${file}: ${error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('; ')}`;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? message;
}

type ClosableModel = LoadedModel & { close(): Promise<void> };
type LoadResult = { model: ClosableModel } | { problem: string };

/** Loads one model directory; never throws for a problem with the model itself. */
async function loadOne(root: string, label: string, name: string): Promise<LoadResult> {
  const modelDir = join(root, name);
  const manifestLabel = `${label}/${name}/model.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: `${manifestLabel}: ${code === 'ENOENT' ? 'missing' : `not valid JSON: ${firstLine(error)}`}` };
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) return { problem: formatManifestError(manifestLabel, parsed.error) };
  const manifest: ModelManifest = parsed.data;
  if (manifest.id !== name) {
    return { problem: `${manifestLabel}: id: "${manifest.id}" does not match its directory "${name}"` };
  }

  const onnxPath = resolve(modelDir, manifest.onnx.file);
  const onnxLabel = `${label}/${name}/${manifest.onnx.file}`;
  if (!onnxPath.startsWith(resolve(modelDir) + sep)) {
    return { problem: `${manifestLabel}: onnx.file: "${manifest.onnx.file}" must stay inside the model directory` };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(onnxPath);
  } catch (error) {
    return { problem: `${onnxLabel}: cannot read: ${firstLine(error)}` };
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (error) {
    return { problem: `${onnxLabel}: onnxruntime cannot load it: ${firstLine(error)}` };
  }
  const problems = sessionProblems(session, manifest);
  if (problems.length > 0) {
    await session.release();
    return { problem: `${onnxLabel}: ${problems.join('; ')}` };
  }
  const onnxSha256 = createHash('sha256').update(bytes).digest('hex');
  return { model: createOnnxModel({ manifest, dir: modelDir, onnxSha256, session }) };
}

/**
 * The shipped models are a few dozen nodes scored one row at a time: onnxruntime's default
 * per-session thread pools (one thread per core, per session) only add threads and memory.
 * Sequential execution on the calling thread gives the same results.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };

/**
 * Loads all models under `opts.dir` (sub-directories, in name order). Sessions are created once
 * here and reused by every `predict` call; `close()` releases them.
 */
export async function loadModelRegistry(opts: LoadModelRegistryOptions): Promise<ModelRegistry> {
  const root = resolve(opts.dir);
  const label = basename(root) || relative(process.cwd(), root);
  const disabled = new Set(opts.disabled ?? []);
  const problems: string[] = [];
  const models = new Map<string, ClosableModel>();

  let names: string[] = [];
  try {
    const entries = await readdir(root, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch (error) {
    problems.push(`${opts.dir}: cannot read the models directory: ${firstLine(error)}`);
  }

  for (const name of names) {
    if (disabled.has(name)) {
      logger.info({ model: name }, 'model disabled by configuration');
      continue;
    }
    const result = await loadOne(root, label, name);
    if ('problem' in result) {
      problems.push(result.problem);
      logger.warn({ model: name }, `model not loaded: ${result.problem}`);
    } else {
      models.set(name, result.model);
    }
  }

  const close = async (): Promise<void> => {
    await Promise.all([...models.values()].map((m) => m.close()));
    models.clear();
  };
  if (opts.strict && problems.length > 0) {
    await close();
    throw new ConfigError(problems);
  }
  return {
    list: () => [...models.values()],
    get: (id) => models.get(id),
    problems,
    close,
  };
}

/**
 * Validates `helm template` output: every document against its kubernetes-models class (the
 * Kubernetes OpenAPI schema; KEDA and prometheus-operator CRDs through @kubernetes-models/keda
 * and @kubernetes-models/prometheus-operator), then the cross-document checks of manifest-checks.ts.
 *
 * A script run by scripts/helm-check.sh, not a test: its tools are not project dependencies.
 * helm-check.sh installs them into a separate prefix and passes it with --tools; this file
 * installs nothing.
 *
 *   node --import tsx test/helm/validate-manifests.ts --tools .tmp/helm-tools/node_modules a.yaml [b.yaml ...]
 *
 * Exits 1 with one line per invalid document, 0 when every file is valid.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { checkManifests, describe, type Manifest } from './manifest-checks.ts';

interface ModelClass {
  new (data: unknown): { validate(): void };
}
interface JsYaml {
  loadAll(text: string): unknown[];
}

/** Where each apiVersion's classes live (group/version → module under the tools' node_modules). */
export function modelModuleFor(apiVersion: string): string | undefined {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  // Built-in groups have no dot in their short names ("apps/v1", "policy/v1", "v1") or end in k8s.io.
  if (!apiVersion.includes('/') || !apiVersion.split('/')[0]!.includes('.') || apiVersion.split('/')[0]!.endsWith('.k8s.io')) {
    return `kubernetes-models/${apiVersion}`;
  }
  return undefined;
}

function parseArgs(argv: string[]): { tools: string; files: string[] } {
  const files: string[] = [];
  let tools = process.env.HELM_TOOLS_NODE_MODULES ?? '';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tools') tools = argv[++i] ?? '';
    else files.push(argv[i]!);
  }
  if (!tools || files.length === 0) {
    console.error('usage: validate-manifests.ts --tools <node_modules with kubernetes-models, js-yaml> <rendered.yaml>...');
    process.exit(2);
  }
  return { tools: resolve(tools), files };
}

function main(): void {
  const { tools, files } = parseArgs(process.argv.slice(2));
  // Resolve from the tools' own node_modules, never from the project's.
  const requireTool = createRequire(join(tools, 'validate-manifests.cjs'));
  const yaml = requireTool('js-yaml') as JsYaml;
  let failures = 0;

  for (const file of files) {
    const docs = yaml.loadAll(readFileSync(file, 'utf8')).filter((d): d is Manifest => typeof d === 'object' && d !== null);
    const fail = (document: string, message: string) => {
      failures++;
      console.error(`INVALID ${file}: ${document}: ${message}`);
    };
    const kinds = new Map<string, number>();
    for (const doc of docs) {
      const name = describe(doc);
      kinds.set(doc.kind ?? '?', (kinds.get(doc.kind ?? '?') ?? 0) + 1);
      if (!doc.apiVersion || !doc.kind) {
        fail(name, 'no apiVersion or kind');
        continue;
      }
      const modulePath = modelModuleFor(doc.apiVersion);
      let Model: ModelClass | undefined;
      try {
        Model = modulePath ? ((requireTool(modulePath) as Record<string, ModelClass | undefined>)[doc.kind]) : undefined;
      } catch {
        Model = undefined;
      }
      if (!Model) {
        fail(name, `no kubernetes-models class for ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (err) {
        fail(name, err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err));
      }
    }
    for (const problem of checkManifests(docs)) fail(problem.document, problem.message);
    const summary = [...kinds].map(([kind, n]) => (n > 1 ? `${kind}×${n}` : kind)).join(', ');
    process.stdout.write(`validated ${file}: ${docs.length} documents (${summary})\n`);
  }
  if (failures > 0) {
    console.error(`${failures} problem(s) in the rendered manifests`);
    process.exit(1);
  }
}

main();

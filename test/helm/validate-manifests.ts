/**
 * Validates `helm template` output: every document against its kubernetes-models class (the
 * Kubernetes OpenAPI schema; KEDA and prometheus-operator CRDs through @kubernetes-models/keda
 * and @kubernetes-models/prometheus-operator), then the cross-document checks of manifest-checks.ts
 * (environment variable names against src/config.ts and src/pipeline/jobs.ts, read from this repository),
 * and finally the service's own `loadConfig` on the environment each Deployment's container gets
 * from the ConfigMap, the chart Secret (decoded) and its `env`. An existing Secret is not rendered:
 * the credentials it is meant to hold stand in as placeholders. A mounted smart-backend key is
 * replaced by a freshly generated one of the configured algorithm.
 *
 * A script run by scripts/helm-check.sh, not a test: its tools are not project dependencies.
 * helm-check.sh installs them into a separate prefix and passes it with --tools; this file
 * installs nothing.
 *
 *   node --import tsx test/helm/validate-manifests.ts --tools .tmp/helm-tools/node_modules a.yaml [b.yaml ...]
 *
 * Exits 1 with one line per invalid document, 0 when every file is valid.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { checkManifests, describe, envNamesFromSource, type Manifest } from './manifest-checks.ts';

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

type Obj = Record<string, unknown>;

/** A PEM PKCS#8 private key for `alg` (RS384 → RSA 2048, ES384 → EC P-384), written to a temporary file. */
function temporaryKeyFile(dir: string, alg: string): string {
  const { privateKey } =
    alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, `${alg}.pem`);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}

/** What `loadConfig` says about the environment of each container (ConfigMap via envFrom, then `env`). */
function serviceConfigProblems(docs: readonly Manifest[], keyDir: string): { document: string; message: string }[] {
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata?.name, (d.data ?? {}) as Record<string, string>]));
  const secrets = new Map(
    docs
      .filter((d) => d.kind === 'Secret')
      .map((d) => [d.metadata?.name, Object.fromEntries(Object.entries(d.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]))]),
  );
  // What an existing Secret is documented to hold (values.yaml existingSecret), as placeholders.
  const existingSecretStandIn = { FHIR_BEARER_TOKEN: 'from-existing-secret', FHIR_CLIENT_SECRET: 'from-existing-secret' };
  const problems: { document: string; message: string }[] = [];
  for (const d of docs.filter((m) => m.kind === 'Deployment')) {
    const pod = (d.spec?.template as Obj | undefined)?.spec as Obj | undefined;
    for (const c of (pod?.containers as Obj[] | undefined) ?? []) {
      const env: Record<string, string> = {};
      for (const from of (c.envFrom as Obj[] | undefined) ?? []) {
        const configMap = (from.configMapRef as Obj | undefined)?.name;
        if (typeof configMap === 'string') Object.assign(env, configMaps.get(configMap));
        const secret = (from.secretRef as Obj | undefined)?.name;
        if (typeof secret === 'string') Object.assign(env, secrets.get(secret) ?? existingSecretStandIn);
      }
      for (const e of (c.env as Obj[] | undefined) ?? []) if (typeof e.value === 'string') env[String(e.name)] = e.value;
      if (env.FHIR_PRIVATE_KEY_FILE) env.FHIR_PRIVATE_KEY_FILE = temporaryKeyFile(keyDir, env.FHIR_SIGNING_ALG ?? 'RS384');
      try {
        loadConfig(env, { requireFhir: false });
      } catch (err) {
        const lines = err instanceof ConfigError ? err.problems : [String(err)];
        for (const line of lines) problems.push({ document: describe(d), message: `container ${String(c.name)}: the service refuses its environment: ${line}` });
      }
    }
  }
  return problems;
}

function main(): void {
  const { tools, files } = parseArgs(process.argv.slice(2));
  // Resolve from the tools' own node_modules, never from the project's.
  const requireTool = createRequire(join(tools, 'validate-manifests.cjs'));
  const yaml = requireTool('js-yaml') as JsYaml;
  const source = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
  const knownEnv = envNamesFromSource(source('../../src/config.ts'), source('../../src/pipeline/jobs.ts'));
  if (knownEnv.size < 10) {
    console.error(`found only ${knownEnv.size} environment variables in src/config.ts: has its z.object schema moved?`);
    process.exit(2);
  }
  const keyDir = mkdtempSync(join(tmpdir(), 'fhir-risk-helm-'));
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
    for (const problem of checkManifests(docs, knownEnv)) fail(problem.document, problem.message);
    for (const problem of serviceConfigProblems(docs, keyDir)) fail(problem.document, problem.message);
    const summary = [...kinds].map(([kind, n]) => (n > 1 ? `${kind}×${n}` : kind)).join(', ');
    process.stdout.write(`validated ${file}: ${docs.length} documents (${summary})\n`);
  }
  rmSync(keyDir, { recursive: true, force: true });
  if (failures > 0) {
    console.error(`${failures} problem(s) in the rendered manifests`);
    process.exit(1);
  }
}

main();

/**
 * Keeps helm/fhir-risk/values.schema.json and values.yaml in step: every schema property has a
 * description, every `default` equals the value in values.yaml, and every value in values.yaml
 * has a default in the schema (helm lint already rejects values the schema does not know).
 *
 * A script run by scripts/helm-check.sh (js-yaml comes from its tools prefix, like validate-manifests.ts):
 *   node --import tsx test/helm/check-schema-defaults.ts --tools .tmp/helm-tools/node_modules helm/fhir-risk
 */
import { isDeepStrictEqual } from 'node:util';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

/** Problems between a schema and the values it documents; pure, for reuse in tests. */
export function compareSchemaWithValues(schema: SchemaNode, values: unknown): string[] {
  const problems: string[] = [];
  const walk = (node: SchemaNode, value: unknown, path: string[]) => {
    const at = path.join('.') || '(root)';
    if (path.length > 0 && !node.description) problems.push(`${at}: no description in the schema`);
    if ('default' in node) {
      if (!isDeepStrictEqual(node.default, value)) {
        problems.push(`${at}: schema default ${JSON.stringify(node.default)} but values.yaml has ${JSON.stringify(value)}`);
      }
      return;
    }
    if (node.properties) {
      const object = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
      for (const [key, child] of Object.entries(node.properties)) {
        if (key in object || 'default' in child) walk(child, object[key], [...path, key]);
        else if (path.length > 0 || key !== 'global') walk(child, undefined, [...path, key]);
      }
      for (const key of Object.keys(object)) {
        if (!(key in node.properties)) problems.push(`${[...path, key].join('.')}: in values.yaml but not in the schema`);
      }
      return;
    }
    if (value !== undefined) problems.push(`${at}: values.yaml sets it but the schema has no default`);
  };
  walk(schema, values, []);
  return problems;
}

function main(): void {
  const args = process.argv.slice(2);
  const toolsIndex = args.indexOf('--tools');
  const tools = toolsIndex >= 0 ? args[toolsIndex + 1] : undefined;
  const chart = args.find((a, i) => a !== '--tools' && i !== toolsIndex + 1);
  if (!tools || !chart) {
    console.error('usage: check-schema-defaults.ts --tools <node_modules with js-yaml> <chart dir>');
    process.exit(2);
  }
  const yaml = createRequire(join(resolve(tools), 'check.cjs'))('js-yaml') as { load(text: string): unknown };
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as SchemaNode;
  const values = yaml.load(readFileSync(join(chart, 'values.yaml'), 'utf8'));
  const problems = compareSchemaWithValues(schema, values);
  for (const p of problems) console.error(`schema/values: ${p}`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write(`values.schema.json documents every value of ${join(chart, 'values.yaml')} with matching defaults\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

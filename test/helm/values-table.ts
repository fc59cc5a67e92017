/**
 * The "Values" table of helm/fhir-risk/README.md, generated from values.schema.json so the two
 * cannot drift: one row per value that has a schema `default` (objects without one are expanded).
 *
 * A script run by scripts/helm-check.sh (no dependencies):
 *   node --import tsx test/helm/values-table.ts --check helm/fhir-risk   exits 1 when README.md differs
 *   node --import tsx test/helm/values-table.ts --write helm/fhir-risk   rewrites the table in README.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
}

const HEADER = '| value | type | default | description |';
const RULE = '|---|---|---|---|';

/** JSON with a space after `,` and `:`, the way the table has always shown defaults. */
export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatDefault).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${formatDefault(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

function typeOf(node: SchemaNode): string {
  const types = (n: SchemaNode): string[] => {
    if (n.type) return Array.isArray(n.type) ? n.type : [n.type];
    if ('const' in n) return [n.const === null ? 'null' : typeof n.const === 'number' ? 'integer' : typeof n.const];
    return [...(n.oneOf ?? []), ...(n.anyOf ?? [])].flatMap(types);
  };
  const type = [...new Set(types(node))].join(' or ') || 'any';
  return node.enum ? `${type}: ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}` : type;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The table rows (header included) for a chart's values.schema.json. */
export function renderValuesTable(schema: SchemaNode): string[] {
  const rows = [HEADER, RULE];
  const walk = (node: SchemaNode, path: string[]) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const at = [...path, key];
      if ('default' in child) {
        rows.push(`| \`${at.join('.')}\` | ${cell(typeOf(child))} | \`${formatDefault(child.default)}\` | ${cell(child.description ?? '')} |`);
      } else if (child.properties) {
        walk(child, at);
      }
    }
  };
  walk(schema, []);
  return rows;
}

/** README text with its values table replaced by `table`; throws when README has no table. */
export function replaceTable(readme: string, table: string[]): string {
  const lines = readme.split('\n');
  const start = lines.indexOf(HEADER);
  if (start < 0) throw new Error(`no "${HEADER}" line in README.md`);
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  return [...lines.slice(0, start), ...table, ...lines.slice(end)].join('\n');
}

function main(): void {
  const [mode, chart] = process.argv.slice(2);
  if ((mode !== '--check' && mode !== '--write') || !chart) {
    console.error('usage: values-table.ts --check|--write <chart dir>');
    process.exit(2);
  }
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as SchemaNode;
  const readmePath = join(chart, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const table = renderValuesTable(schema);
  const updated = replaceTable(readme, table);
  if (mode === '--write') {
    writeFileSync(readmePath, updated);
    process.stdout.write(`wrote ${table.length - 2} rows to ${readmePath}\n`);
  } else if (updated !== readme) {
    console.error(`${readmePath}: the values table differs from values.schema.json; run: node --import tsx test/helm/values-table.ts --write ${chart}`);
    process.exit(1);
  } else {
    process.stdout.write(`${readmePath} documents every value of values.schema.json (${table.length - 2} rows)\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

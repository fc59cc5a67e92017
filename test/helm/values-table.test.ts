import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDefault, renderValuesTable, replaceTable } from './values-table.ts';

describe('values table', () => {
  it('formats defaults with a space after commas and colons', () => {
    assert.equal(formatDefault({ name: '', items: [1, 'a'] }), '{"name": "", "items": [1, "a"]}');
    assert.equal(formatDefault(''), '""');
  });

  it('has a row per value with a default, expands objects without one, names enums and oneOf types', () => {
    const rows = renderValuesTable({
      properties: {
        global: { type: 'object', description: 'ignored: no default, no properties' },
        writeMode: { type: 'string', enum: ['put', 'conditional-create'], default: 'put', description: 'WRITE_MODE | how' },
        maintenance: {
          type: 'object',
          properties: { sweepInterval: { description: 'SWEEP_INTERVAL', default: 'PT15M', oneOf: [{ type: 'string' }, { type: 'integer' }, { const: false }] } },
        },
      },
    });
    assert.deepEqual(rows.slice(2), [
      '| `writeMode` | string: `put`, `conditional-create` | `"put"` | WRITE_MODE \\| how |',
      '| `maintenance.sweepInterval` | string or integer or boolean | `"PT15M"` | SWEEP_INTERVAL |',
    ]);
  });

  it('replaces only the table in the README', () => {
    const readme = 'intro\n\n| value | type | default | description |\n|---|---|---|---|\n| `old` | x | y | z |\n\nafter\n';
    assert.equal(replaceTable(readme, ['| value | type | default | description |', '|---|---|---|---|', '| `new` |']), 'intro\n\n| value | type | default | description |\n|---|---|---|---|\n| `new` |\n\nafter\n');
    assert.throws(() => replaceTable('no table', []), /no "\| value/);
  });
});

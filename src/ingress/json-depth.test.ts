import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exceedsJsonDepth } from './json-depth.ts';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('exceedsJsonDepth', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    assert.equal(exceedsJsonDepth(nested(10), 10), false);
    assert.equal(exceedsJsonDepth(nested(11), 10), true);
    assert.equal(exceedsJsonDepth(`{"a":${nested(9)}}`, 10), false);
    assert.equal(exceedsJsonDepth(`{"a":${nested(10)}}`, 10), true);
  });

  it('counts depth, not brackets: many siblings are fine', () => {
    const wide = `[${Array.from({ length: 500 }, () => '{"a":[1]}').join(',')}]`;
    assert.equal(exceedsJsonDepth(wide, 10), false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    assert.equal(exceedsJsonDepth(JSON.stringify({ text: '['.repeat(50) }), 10), false);
    assert.equal(exceedsJsonDepth(JSON.stringify({ text: `\\"${'{'.repeat(50)}` }), 10), false);
  });
});

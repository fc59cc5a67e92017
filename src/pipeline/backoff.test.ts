import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryableError } from '../errors.ts';
import { retryAfterBackoff } from './backoff.ts';

describe('retryAfterBackoff', () => {
  const noJitter = retryAfterBackoff(2000, () => 0.5);

  it('doubles from the base delay', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => noJitter(n)), [2000, 4000, 8000, 16000]);
  });

  it("waits at least as long as the server's Retry-After", () => {
    const err = new RetryableError('HTTP 429', { retryAfterSeconds: 30 });
    assert.equal(noJitter(1, 'retry-after', err), 30_000);
    assert.equal(noJitter(6, 'retry-after', err), 64_000, 'a longer exponential delay still wins');
  });

  it('caps a single wait at one hour and jitters within ±20 %', () => {
    assert.equal(noJitter(30), 3600_000);
    const low = retryAfterBackoff(1000, () => 0)(1);
    const high = retryAfterBackoff(1000, () => 0.999999)(1);
    assert.equal(low, 800);
    assert.ok(high >= 1199 && high <= 1200);
  });
});

/**
 * The event worker's and the score worker's Redis bookkeeping, on the real Redis at REDIS_URL
 * (a unique key prefix per run, deleted afterwards).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { isOlder, ResourceIndex } from './resource-index.ts';
import { ScoreRequests } from './score-requests.ts';

const prefix = `test-scoring-${randomBytes(4).toString('hex')}`;
let redis: Redis;

before(async () => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
});

after(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('ScoreRequests', () => {
  it('records requests per patient and settles only what was scored', async () => {
    const requests = new ScoreRequests(redis, prefix);
    await requests.record('p1', ['ascvd-pce', 'news2']);
    await requests.record('p1', ['ascvd-pce']);
    await requests.record('p2', ['qsofa']);
    const seen = await requests.read('p1');
    assert.deepEqual(Object.fromEntries(seen.requested), { 'ascvd-pce': '2', news2: '1' });
    assert.equal(seen.lastWritten.size, 0);

    await requests.settle('p1', seen.requested, new Map([['ascvd-pce', 'id-1']]));
    const after = await requests.read('p1');
    assert.equal(after.requested.size, 0);
    assert.deepEqual(Object.fromEntries(after.lastWritten), { 'ascvd-pce': 'id-1' });
    assert.deepEqual(Object.fromEntries((await requests.read('p2')).requested), { qsofa: '1' }, 'other patients untouched');
  });

  it('keeps a request raised while the scoring ran (the follow-up job scores it)', async () => {
    const requests = new ScoreRequests(redis, prefix);
    await requests.record('p3', ['ascvd-pce', 'prevent-cvd']);
    const seen = await requests.read('p3');
    await requests.record('p3', ['ascvd-pce']); // a new event during the scoring
    await requests.settle('p3', seen.requested, new Map());
    assert.deepEqual(Object.fromEntries((await requests.read('p3')).requested), { 'ascvd-pce': '2' });
  });
});

describe('ResourceIndex.claim', () => {
  it('drops older numeric versions, and records the patient and its requests only for fresh events', async () => {
    const index = new ResourceIndex(redis, prefix);
    const requests = new ScoreRequests(redis, prefix);
    const ask = { patientId: 'p10', models: ['ascvd-pce'] };
    assert.equal(await index.claim('Observation/a', { versionId: '2' }, ask), true);
    assert.equal(await index.claim('Observation/a', { versionId: '1' }, ask), false, 'older version is stale');
    assert.equal(await index.claim('Observation/a', { versionId: '2' }, ask), true, 'a redelivery of the same version is not stale');
    assert.equal(await index.claim('Observation/a', { versionId: '10' }, ask), true, 'numeric, not lexicographic');
    assert.equal(await index.patientOf('Observation/a'), 'p10');
    assert.deepEqual(Object.fromEntries((await requests.read('p10')).requested), { 'ascvd-pce': '3' }, 'the stale event asked for nothing');
  });

  it('compares lastUpdated when versions are not numbers, and never calls opaque versions stale', async () => {
    const index = new ResourceIndex(redis, prefix);
    assert.equal(await index.claim('Observation/b', { versionId: 'x1', lastUpdated: '2026-01-02T00:00:00+01:00' }), true);
    assert.equal(await index.claim('Observation/b', { versionId: 'x0', lastUpdated: '2026-01-01T22:30:00Z' }), false, 'earlier instant, other offset');
    assert.equal(await index.claim('Observation/b', { versionId: 'x2', lastUpdated: '2026-01-02T00:00:00Z' }), true);
    assert.equal(await index.claim('Observation/c', { versionId: 'b' }), true);
    assert.equal(await index.claim('Observation/c', { versionId: 'a' }), true);
  });

  it('reads versions stored by the previous release (JSON without the numeric fields)', async () => {
    const index = new ResourceIndex(redis, prefix);
    await redis.hset(`${prefix}:index:ver`, 'Observation/legacy', JSON.stringify({ versionId: '5' }));
    assert.equal(await index.claim('Observation/legacy', { versionId: '4' }), false);
    assert.equal(await index.claim('Observation/legacy', { versionId: '6' }), true);
  });

  it('agrees with isOlder on a grid of cases', async () => {
    const index = new ResourceIndex(redis, prefix);
    const versions = [{ versionId: '1' }, { versionId: '3' }, { versionId: 'abc' }, { lastUpdated: '2026-03-01T00:00:00Z' }, { lastUpdated: '2026-02-01T00:00:00Z' }, { versionId: '2', lastUpdated: '2026-01-01T00:00:00Z' }, {}];
    let n = 0;
    for (const first of versions) {
      for (const second of versions) {
        const ref = `Observation/grid-${n++}`;
        await index.claim(ref, first);
        assert.equal(await index.claim(ref, second), !isOlder(second, first), `${JSON.stringify(second)} after ${JSON.stringify(first)}`);
      }
    }
  });
});

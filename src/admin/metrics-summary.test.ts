import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { histogramQuantile, latencyQuantiles } from './metrics-summary.ts';
import { escapeHtml } from './status-page.ts';

describe('histogramQuantile (as Prometheus histogram_quantile)', () => {
  const buckets = [
    { le: 0.1, cumulative: 10 },
    { le: 0.5, cumulative: 60 },
    { le: 1, cumulative: 100 },
    { le: Infinity, cumulative: 100 },
  ];
  it('interpolates linearly inside the bucket holding the rank', () => {
    assert.equal(histogramQuantile(0.05, buckets), 0.05);
    assert.ok(Math.abs(histogramQuantile(0.5, buckets)! - 0.42) < 1e-9);
    assert.ok(Math.abs(histogramQuantile(0.95, buckets)! - 0.9375) < 1e-9);
  });
  it('answers the largest finite bound for ranks in +Inf, and nothing without observations', () => {
    assert.equal(histogramQuantile(0.99, [{ le: 1, cumulative: 1 }, { le: Infinity, cumulative: 10 }]), 1);
    assert.equal(histogramQuantile(0.5, [{ le: 1, cumulative: 0 }, { le: Infinity, cumulative: 0 }]), undefined);
  });
  it('reads p50/p95 per label from a prom-client histogram', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 't_seconds', help: 't', labelNames: ['stage'], buckets: [1, 2, 4], registers: [registry] });
    for (let i = 0; i < 100; i++) h.observe({ stage: 'written' }, 1.5);
    const [written] = await latencyQuantiles(registry, 't_seconds', 'stage');
    assert.equal(written?.stage, 'written');
    assert.equal(written?.count, 100);
    assert.ok(written!.p50! > 1 && written!.p50! <= 2);
  });
});

it('escapeHtml escapes markup', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

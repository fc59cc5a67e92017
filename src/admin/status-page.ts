/**
 * The `/admin` status page: one server-rendered HTML document, inline CSS, no script, no external
 * asset (it must work in a locked-down hospital network and under a strict CSP).
 *
 * It shows ids, counts and durations only. Job data holds patient ids, but the page does not even
 * show those: failures are listed by job id, queue, reason and time.
 */
import type { DeadLetter } from '../commands/dlq.ts';
import type { LabelledCount, MetricsSummary } from './metrics-summary.ts';

export interface QueueDepth {
  queue: string;
  counts: Record<string, number>;
}

export interface ModelRow {
  id: string;
  version: string;
  title: string;
}

export interface StatusData {
  generatedAt: Date;
  metrics: MetricsSummary;
  queues: QueueDepth[];
  failures: DeadLetter[];
  models: ModelRow[];
  modelProblems: readonly string[];
  /** Where Bull Board is, relative to the page. */
  queuesHref: string;
}

const QUEUE_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'paused', 'failed', 'completed'] as const;
const OUTCOME_ORDER = ['written', 'unchanged', 'not-applicable', 'failed'];
const REASON_LIMIT = 200;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function table(id: string, headers: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `<p class="empty" id="${id}-empty">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  // Numbers align right, words left.
  const td = (cell: string) => (/^[\d.,\s–]+( m?s)?$/.test(cell) ? `<td>${cell}</td>` : `<td class="text">${cell}</td>`);
  const body = rows.map((r) => `<tr>${r.map((cell, i) => (i === 0 ? `<th scope="row">${cell}</th>` : td(cell))).join('')}</tr>`).join('\n');
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function sumBy(counts: readonly LabelledCount[], label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of counts) {
    const key = c.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + c.value);
  }
  return out;
}

function seconds(s: number | undefined): string {
  if (s === undefined) return '–';
  return s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

function throughputSection(m: MetricsSummary): string {
  // The usual outcomes always have a column (0 says something); any other observed one is added.
  const outcomes = [...new Set([...OUTCOME_ORDER, ...m.scorings.map((c) => c.labels.outcome ?? '')])];
  const models = [...new Set(m.scorings.map((c) => c.labels.model ?? ''))].sort();
  const rows = models.map((model) => {
    const of = (outcome: string) => m.scorings.filter((c) => c.labels.model === model && c.labels.outcome === outcome).reduce((a, c) => a + c.value, 0);
    const cells = outcomes.map((o) => String(of(o)));
    const total = outcomes.reduce((a, o) => a + of(o), 0);
    return [escapeHtml(model), ...cells, String(total)];
  });
  return `<section id="throughput"><h2>Throughput</h2><p class="note">Scorings by model and outcome since this process started.</p>
${table('throughput-table', ['model', ...outcomes, 'total'], rows, 'No scoring yet in this process.')}</section>`;
}

function latencySection(m: MetricsSummary): string {
  const rows = m.stages.filter((s) => s.count > 0).map((s) => [escapeHtml(s.stage), String(s.count), seconds(s.p50), seconds(s.p95)]);
  return `<section id="latency"><h2>Stage latency</h2><p class="note">From notification receipt to each stage; quantiles estimated from histogram buckets.</p>
${table('latency-table', ['stage', 'count', 'p50', 'p95'], rows, 'No latency observed yet in this process.')}</section>`;
}

function queuesSection(queues: readonly QueueDepth[], href: string): string {
  const rows = queues.map((q) => [escapeHtml(q.queue), ...QUEUE_STATES.map((s) => String(q.counts[s] ?? 0))]);
  return `<section id="queues"><h2>Queues</h2><p class="note">Cluster-wide (Redis). Jobs and retries: <a href="${escapeHtml(href)}">queue dashboard</a>.</p>
${table('queues-table', ['queue', ...QUEUE_STATES], rows, 'No queue.')}</section>`;
}

function failuresSection(failures: readonly DeadLetter[]): string {
  const rows = failures.map((f) => [
    escapeHtml(f.id),
    escapeHtml(f.queue),
    escapeHtml(f.failedReason.length > REASON_LIMIT ? `${f.failedReason.slice(0, REASON_LIMIT)}…` : f.failedReason),
    f.finishedOn ? `<time datetime="${escapeHtml(f.finishedOn)}">${escapeHtml(f.finishedOn)}</time>` : '–',
  ]);
  return `<section id="failures"><h2>Recent failures</h2><p class="note">Dead-lettered jobs, newest first (<code>fhir-risk dlq list|replay</code>).</p>
${table('failures-table', ['job id', 'queue', 'reason', 'time'], rows, 'No dead-lettered job.')}</section>`;
}

function modelsSection(data: StatusData): string {
  const m = data.metrics;
  const scored = sumBy(m.scorings, 'model');
  const written = sumBy(
    m.scorings.filter((c) => c.labels.outcome === 'written'),
    'model',
  );
  const rows = data.models.map((model) => {
    const reasons = m.notApplicable
      .filter((c) => c.labels.model === model.id)
      .sort((a, b) => b.value - a.value)
      .map((c) => `${escapeHtml(c.labels.reason ?? '')}&nbsp;×${c.value}`)
      .join(', ');
    const bands = m.bands
      .filter((c) => c.labels.model === model.id)
      .map((c) => `${escapeHtml(c.labels.band ?? '')}&nbsp;×${c.value}`)
      .join(', ');
    return [escapeHtml(model.id), escapeHtml(model.version), escapeHtml(model.title), String(scored.get(model.id) ?? 0), String(written.get(model.id) ?? 0), bands || '–', reasons || '–'];
  });
  const problems =
    data.modelProblems.length > 0
      ? `<h3>Models not loaded</h3><ul id="model-problems">${data.modelProblems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`
      : '';
  return `<section id="models"><h2>Models</h2>
${table('models-table', ['model', 'version', 'title', 'scorings', 'written', 'bands', 'not applicable (reason ×count)'], rows, 'No model loaded.')}${problems}</section>`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #cdd3dd;padding:.25rem .6rem;text-align:right}
th[scope=row],thead th,td.text{text-align:left}th{background:#f2f4f8}.note,.empty{color:#5a6475;margin:.2rem 0}`;

export function renderStatusPage(data: StatusData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="15"><title>fhir-risk status</title><style>${STYLE}</style></head>
<body><header><h1>fhir-risk status</h1><p class="note">Generated <time datetime="${data.generatedAt.toISOString()}">${data.generatedAt.toISOString()}</time>; refreshes every 15 s.
Counters and latencies are this process's (on a split deployment, worker pods hold the scoring counters: see <code>/metrics</code> in Prometheus); queues are cluster-wide.</p></header>
<main>
${throughputSection(data.metrics)}
${latencySection(data.metrics)}
${queuesSection(data.queues, data.queuesHref)}
${failuresSection(data.failures)}
${modelsSection(data)}
</main></body></html>
`;
}

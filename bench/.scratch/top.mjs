import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas; const samples = prof.samples;
const total0 = dt.reduce((a, b) => a + b, 0); const total = total0;
const lastSec = Number(process.env.LAST ?? 0); let acc = 0; const cut = total - lastSec * 1e6;
let totalKept = 0;
for (let i = 0; i < samples.length; i++) { acc += dt[i] ?? 0; if (lastSec && acc < cut) continue; totalKept += dt[i] ?? 0; self.set(samples[i], (self.get(samples[i]) ?? 0) + (dt[i] ?? 0)); }
// self by function
const agg = new Map();
for (const [id, t] of self) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-3).join('/')}:${n.callFrame.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + t); }
console.log('total ms', total / 1000, 'kept', totalKept/1000);
for (const [k, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 30))) console.log((t / totalKept * 100).toFixed(1).padStart(5), k);
// inclusive by url fragments
const parent = new Map(); for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, t] of self) { const seen = new Set(); let cur = id; while (cur !== undefined) { const n = byId.get(cur); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t); } cur = parent.get(cur); } }
console.log('--- inclusive');
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 40))) console.log((t / totalKept * 100).toFixed(1).padStart(5), k);

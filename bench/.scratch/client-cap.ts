import autocannon from 'autocannon';
import { createServer } from 'node:http';
import { fork } from 'node:child_process';
import { backportPayload, hapiPutPayload } from '../ingest/payloads.ts';
if (process.argv[2] === 'server') {
  createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); }); }).listen(45678, '127.0.0.1');
} else {
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  await new Promise((r) => setTimeout(r, 1500));
  for (const [name, payload] of [['backport', backportPayload()], ['put', hapiPutPayload()]] as const) {
    let seq = 0;
    const setupRequest = (req: autocannon.Request, context: object) => { const c = context as {id?: string; n?: number}; c.id ??= String(++seq); c.n = (c.n ?? 0) + 1; return { ...req, method: payload.method, ...payload.request(c.id, c.n) }; };
    const r = await autocannon({ url: 'http://127.0.0.1:45678', connections: 50, duration: 4, requests: Array.from({ length: 1000 }, () => ({ setupRequest })) });
    console.log(name, Math.round(r['2xx'] / r.duration), r.latency.p50);
    const r2 = await autocannon({ url: 'http://127.0.0.1:45678', connections: 50, duration: 4, method: payload.method, body: payload.request('x', 1).body, headers: payload.request('x', 1).headers });
    console.log(name, 'static body', Math.round(r2['2xx'] / r2.duration), r2.latency.p50);
  }
  child.kill();
}

/**
 * A test double of a FHIR server whose conditional create is NOT atomic, as on many real servers:
 * an HTTP proxy on 127.0.0.1 in front of the sandbox that
 * - turns `POST Type` with `If-None-Exist` into search → delay → plain create, itself (so two
 *   concurrent conditional creates both find nothing and both create), and
 * - delays searches of the watched resource type (`GET Type?…`), widening every
 *   check-then-act window a client may have.
 * Everything else passes through unchanged. The sandbox's own conditional create is atomic (its
 * writes are serialized), so a race test against it alone would prove nothing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle } from 'fhir/r4.js';

export interface DelayingProxyOptions {
  /** The FHIR base to stand in front of, e.g. the sandbox's `http://127.0.0.1:PORT/fhir/R4`. */
  target: string;
  /** The delay between the existence check and the create, and before each search. Default 300 ms. */
  delayMs?: number;
  /** The resource type whose searches and conditional creates are slowed. Default RiskAssessment. */
  resourceType?: string;
}

export interface DelayingProxy {
  /** The proxied FHIR base: same path as the target, on the proxy's port. */
  readonly baseUrl: string;
  /** Conditional creates emulated (search → delay → create) and the creates they let through. */
  readonly counters: { conditionalCreates: number; createdThrough: number; delayedSearches: number };
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json';
/** Response headers worth relaying (hop-by-hop and length headers are recomputed). */
const RELAYED_HEADERS = ['content-type', 'location', 'content-location', 'etag', 'last-modified', 'retry-after'];

export async function startDelayingProxy(options: DelayingProxyOptions): Promise<DelayingProxy> {
  const target = new URL(options.target.replace(/\/+$/, ''));
  const basePath = target.pathname;
  const delayMs = options.delayMs ?? 300;
  const typePath = `${basePath}/${options.resourceType ?? 'RiskAssessment'}`;
  const counters = { conditionalCreates: 0, createdThrough: 0, delayedSearches: 0 };
  const sleep = () => new Promise((resolve) => setTimeout(resolve, delayMs));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', target.origin);
    const upstream = `${target.origin}${url.pathname}${url.search}`;
    const headers = forwardedHeaders(req);
    const ifNoneExist = req.headers['if-none-exist'];

    if (req.method === 'POST' && url.pathname === typePath && typeof ifNoneExist === 'string') {
      counters.conditionalCreates += 1;
      delete headers['if-none-exist'];
      const search = await fetch(`${target.origin}${typePath}?${ifNoneExist}`, { headers: { accept: FHIR_JSON } });
      const found = ((await search.json()) as Bundle).entry?.filter((e) => e.search?.mode !== 'outcome') ?? [];
      if (found.length > 1) return reply(res, 412, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'duplicate', diagnostics: 'If-None-Exist matched more than one resource' }] });
      if (found.length === 1) return reply(res, 200, found[0]!.resource);
      await sleep(); // the window a non-atomic server leaves between its check and its create
      counters.createdThrough += 1;
      return relay(res, await fetch(upstream, { method: 'POST', headers, body }));
    }
    if (req.method === 'GET' && url.pathname === typePath && url.search !== '') {
      counters.delayedSearches += 1;
      await sleep();
    }
    return relay(res, await fetch(upstream, { method: req.method ?? 'GET', headers, ...(body.length > 0 ? { body } : {}) }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 502, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: `proxy: ${String(err)}` }] });
      else res.destroy();
    });
  });
  // Longer than any client's keep-alive: otherwise a client may reuse a socket the proxy is
  // closing at that very moment, and a POST on it fails with ECONNRESET (seen under CPU load).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${basePath}`,
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function relay(res: ServerResponse, upstream: Response): Promise<void> {
  const body = Buffer.from(await upstream.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const name of RELAYED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  res.writeHead(upstream.status, headers).end(body);
}

function reply(res: ServerResponse, status: number, resource: unknown): void {
  res.writeHead(status, { 'content-type': FHIR_JSON }).end(JSON.stringify(resource));
}

/**
 * The EHR client: fhir-kit-client with our auth, timeouts, error classification and SSRF guard.
 *
 * Errors are classified once, here: network failures, timeouts, 5xx and 429 are `RetryableError`
 * (with the server's Retry-After); 404/410 on read are "absent"; other 4xx are `InvalidInputError`.
 */
import { Client, type FhirResource as KitResource } from 'fhir-kit-client';
import type { Bundle, FhirResource, Resource } from 'fhir/r4.js';
import { InvalidInputError, RetryableError } from '../errors.ts';
import type { AuthHeaderProvider } from './auth.ts';
import type { EhrClient } from './client-types.ts';
import { noteRequest } from './request-counter.ts';

export interface EhrClientOptions {
  baseUrl: string;
  authHeader?: AuthHeaderProvider;
  timeoutMs?: number;
  /** Called after every HTTP request (metrics). */
  onRequest?: (info: { method: string; status: number; durationMs: number }) => void;
}

interface KitError extends Error {
  response?: { status?: number; data?: unknown };
  config?: { headers?: Headers };
}

const FHIR_JSON = 'application/fhir+json';

export class FhirKitEhrClient implements EhrClient {
  readonly baseUrl: string;
  #requests = 0;
  readonly #client: Client;
  readonly #options: EhrClientOptions;

  constructor(options: EhrClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#options = options;
    this.#client = new Client({ baseUrl: this.baseUrl, customHeaders: { 'content-type': FHIR_JSON } });
  }

  get requestCount(): number {
    return this.#requests;
  }

  async read<T extends FhirResource>(resourceType: T['resourceType'], id: string): Promise<T | undefined> {
    try {
      return (await this.#call('GET', (options) => this.#client.read({ resourceType, id: encodeURIComponent(id), options }))) as unknown as T;
    } catch (err) {
      if (err instanceof InvalidInputError && /\b(404|410)\b/.test(err.message)) return undefined;
      throw err;
    }
  }

  async search<T extends FhirResource>(resourceType: T['resourceType'], params: Record<string, string>, maxPages = 20): Promise<T[]> {
    const found: T[] = [];
    let bundle = (await this.#call('GET', (options) =>
      this.#client.search({ resourceType, searchParams: params, options }),
    )) as unknown as Bundle;
    for (let page = 1; ; page++) {
      for (const entry of bundle.entry ?? []) {
        if (entry.resource && entry.search?.mode !== 'outcome' && entry.resource.resourceType === resourceType) {
          found.push(entry.resource as T);
        }
      }
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next || page >= maxPages) break;
      bundle = await this.followLink(next);
    }
    return found;
  }

  /** GET a paging link, forced onto our base URL's origin (SSRF guard: never follow a foreign host). */
  async followLink(url: string): Promise<Bundle> {
    const safe = this.onOurOrigin(url);
    return (await this.#call('GET', (options) => this.#client.request(safe, { options }))) as unknown as Bundle;
  }

  async batch(bundle: Bundle): Promise<Bundle> {
    return (await this.#call('POST', (options) =>
      this.#client.batch({ body: bundle as unknown as KitResource, options }),
    )) as unknown as Bundle;
  }

  async update<T extends Resource>(resource: T & { id: string }): Promise<T> {
    return (await this.#call('PUT', (options) =>
      this.#client.update({
        resourceType: resource.resourceType,
        id: resource.id,
        body: resource as unknown as KitResource,
        options,
      }),
    )) as unknown as T;
  }

  async createIfNoneExist<T extends Resource>(resource: T, ifNoneExist: string): Promise<{ resource: T; created: boolean }> {
    let status = 0;
    const result = await this.#call(
      'POST',
      (options) =>
        this.#client.create({
          resourceType: resource.resourceType,
          body: resource as unknown as KitResource,
          options: { ...options, headers: { ...options.headers, 'if-none-exist': ifNoneExist } },
        }),
      (s) => (status = s),
    );
    return { resource: result as unknown as T, created: status === 201 };
  }

  /** Rewrites an absolute URL onto our base URL's origin (keeping path and query). */
  onOurOrigin(url: string): string {
    const base = new URL(this.baseUrl);
    const target = new URL(url, this.baseUrl + '/');
    target.protocol = base.protocol;
    target.host = base.host;
    return target.toString();
  }

  async #call(
    method: string,
    run: (options: { headers: Record<string, string>; signal: AbortSignal }) => Promise<unknown>,
    onStatus?: (status: number) => void,
  ): Promise<KitResource> {
    const headers: Record<string, string> = {};
    const auth = await this.#options.authHeader?.();
    if (auth) headers.authorization = auth;
    const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 15_000);
    const started = performance.now();
    this.#requests++;
    noteRequest();
    try {
      const result = (await run({ headers, signal })) as KitResource;
      const status = Client.httpFor(result).response?.status ?? 200;
      onStatus?.(status);
      this.#options.onRequest?.({ method, status, durationMs: performance.now() - started });
      return result;
    } catch (err) {
      const e = err as KitError;
      const status = e.response?.status ?? 0;
      this.#options.onRequest?.({ method, status, durationMs: performance.now() - started });
      throw classify(method, status, e);
    }
  }
}

function classify(method: string, status: number, err: KitError): Error {
  if (status === 0 || status === 408 || status === 429 || status >= 500) {
    const retryAfter = Number(err.config?.headers?.get?.('retry-after'));
    return new RetryableError(`EHR ${method} failed: ${status === 0 ? err.name + ' ' + err.message : 'HTTP ' + status}`, {
      cause: err,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  return new InvalidInputError(`EHR ${method} answered HTTP ${status}: ${diagnosticsOf(err.response?.data)}`, 422, { cause: err });
}

function diagnosticsOf(data: unknown): string {
  const issues = (data as { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined)?.issue;
  const text = issues?.map((i) => i.diagnostics ?? i.details?.text).filter(Boolean).join('; ');
  return (text ?? '').slice(0, 300);
}

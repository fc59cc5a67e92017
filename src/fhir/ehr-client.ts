/**
 * The EHR client: fhir-kit-client with our auth, timeouts, error classification and SSRF guard.
 *
 * Errors go through the one HTTP mapping (`http-errors.ts`): network failures, timeouts, 5xx and
 * 429 are `RetryableError` (with the server's Retry-After); other 4xx are `InvalidInputError`.
 * 404/410 on read mean "absent" and return undefined.
 */
import { Client, type FhirResource as KitResource } from 'fhir-kit-client';
import type { Bundle, FhirResource, Resource } from 'fhir/r4.js';
import type { AuthHeaderProvider } from './auth.ts';
import type { EhrClient } from './client-types.ts';
import { classifyHttpError, httpStatusOf } from './http-errors.ts';
import { noteRequest } from './request-counter.ts';

export interface EhrClientOptions {
  baseUrl: string;
  authHeader?: AuthHeaderProvider;
  timeoutMs?: number;
  /** Called after every HTTP request (metrics). */
  onRequest?: (info: { method: string; status: number; durationMs: number }) => void;
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
    const found = await this.#call('GET', (options) => this.#client.read({ resourceType, id: encodeURIComponent(id), options }), {
      absentIsUndefined: true,
    });
    return found as unknown as T | undefined;
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
      { onStatus: (s) => (status = s) },
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
    options: { onStatus?: (status: number) => void; absentIsUndefined?: boolean } = {},
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
      options.onStatus?.(status);
      this.#options.onRequest?.({ method, status, durationMs: performance.now() - started });
      return result;
    } catch (err) {
      const status = httpStatusOf(err);
      this.#options.onRequest?.({ method, status, durationMs: performance.now() - started });
      if (options.absentIsUndefined && (status === 404 || status === 410)) return undefined as unknown as KitResource;
      throw classifyHttpError(`EHR ${method}`, err);
    }
  }
}

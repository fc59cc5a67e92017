/**
 * Express glue: async handlers whose errors reach the one error handler, and FHIR responses.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { FhirResource } from 'fhir/r4.js';
import { logger } from '../observability/logger.ts';
import { toHttpOutcome } from '../outcomes.ts';

export function asyncRoute(handler: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
}

export function sendFhir(res: Response, status: number, resource: FhirResource, headers: Record<string, string> = {}): void {
  res.status(status).set({ 'content-type': 'application/fhir+json; charset=utf-8', ...headers }).send(JSON.stringify(resource));
}

/** The single error handler: every error becomes an OperationOutcome with the right status. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const mapped = toHttpOutcome(err);
  if (mapped.status >= 500 && mapped.status !== 503) {
    logger.error({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err), path: req.path }, 'request failed');
  }
  sendFhir(res, mapped.status, mapped.outcome, mapped.headers ?? {});
}

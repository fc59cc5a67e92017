/**
 * Who may use `/admin`. The API auth in front of it only authenticates; the admin pages show every
 * queue and Bull Board can retry or remove any job, so a patient-context token must not reach
 * them: reading needs a `system` scope that reads RiskAssessments, anything else (Bull Board's
 * actions) one that writes them (`system/RiskAssessment.*`, `system/*.cruds`, …). With
 * `API_AUTH=none` everything is allowed, as for the rest of the API.
 */
import type { NextFunction, Request, Response } from 'express';
import { apiAccess, forbidden, type Interaction } from '../api/api-auth.ts';

export function requireAdminScope(req: Request, res: Response, next: NextFunction): void {
  // Fails closed (500) when the API auth middleware is not mounted in front of /admin.
  const access = apiAccess(res);
  if (!access.authenticated) return next();
  const reading = req.method === 'GET' || req.method === 'HEAD';
  const need: readonly Interaction[] = reading ? ['r', 's'] : ['u', 'd'];
  if (access.grants.some((g) => g.context === 'system' && need.some((i) => g.interactions.has(i)))) return next();
  const scope = reading ? 'system/RiskAssessment.rs' : 'system/RiskAssessment.cruds';
  next(forbidden(res, `The admin pages need a system-level scope (${scope})`, scope));
}

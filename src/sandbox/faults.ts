/**
 * Fault injection for reliability tests: makes the sandbox's REST API (not its notification
 * delivery) fail or stall on a fraction of requests. Off by default; change the fields of
 * `sandbox.faults` at any time.
 */
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { outcome } from '../outcomes.ts';

export interface SandboxFaults {
  /** Fraction (0–1) of requests answered with an error: half 500, half 429 with `Retry-After: 1`. */
  errorRate: number;
  /** Fraction (0–1) of requests delayed by `stallMs` before being handled. */
  stallRate: number;
  stallMs: number;
}

export interface FaultCounters {
  errors: number;
  stalls: number;
}

export function noFaults(): SandboxFaults {
  return { errorRate: 0, stallRate: 0, stallMs: 0 };
}

/** Express middleware applying `faults` (read per request) and counting what it injected. */
export function faultInjection(faults: SandboxFaults, counters: FaultCounters, random: () => number = Math.random): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const stall = faults.stallRate > 0 && faults.stallMs > 0 && random() < faults.stallRate;
    const proceed = (): void => {
      if (faults.errorRate > 0 && random() < faults.errorRate) {
        counters.errors += 1;
        const throttle = random() < 0.5;
        res.status(throttle ? 429 : 500).type('application/fhir+json');
        if (throttle) res.set('Retry-After', '1');
        res.send(JSON.stringify(outcome('error', throttle ? 'throttled' : 'exception', 'Injected fault (sandbox fault injection)')));
        return;
      }
      next();
    };
    if (!stall) return proceed();
    counters.stalls += 1;
    setTimeout(proceed, faults.stallMs);
  };
}

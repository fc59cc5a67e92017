/**
 * pino JSON logger.
 *
 * Patient data never goes into logs: log ids, references, codes of outcomes and counts; never
 * names, birth dates, addresses, values or resource bodies. The redaction list is a safety net
 * for accidents, not a licence to log objects wholesale.
 */
import { pino, type Logger } from 'pino';

const REDACT = [
  'resource',
  '*.resource',
  'body',
  '*.body',
  'patient.name',
  'patient.birthDate',
  'patient.address',
  'name',
  'birthDate',
  'address',
  'telecom',
  'headers.authorization',
  'req.headers.authorization',
];

/**
 * Logs go to stderr: stdout belongs to command output (`assess` prints a Bundle there), and
 * container platforms collect both streams.
 */
export const logger: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: 'fhir-risk' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ dest: 2, sync: true }),
);

export type { Logger };

/**
 * Notification authentication (DESIGN.md, `NOTIFY_SECRET`).
 *
 * When a secret is configured:
 * - an `X-Signature` header, when present, must be the hex HMAC-SHA256 of the RAW body keyed with
 *   the secret (Medplum's scheme), and then decides alone;
 * - otherwise `Authorization: Bearer <secret>` or `?token=<secret>` (Event Grid and Pub/Sub push
 *   can only put a secret in the URL) must match.
 * Every comparison is constant-time. Without a secret, every request is accepted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthError } from '../errors.ts';
import { headerValue } from './references.ts';

export interface NotificationCredentials {
  readonly headers: IncomingHttpHeaders;
  /** The `token` query parameter as express parsed it (a string, an array, or absent). */
  readonly queryToken: unknown;
  readonly rawBody: Buffer;
}

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/** Throws `AuthError` (401) unless the request proves it knows `secret`. No-op when `secret` is unset. */
export function verifyNotificationAuth(secret: string | undefined, credentials: NotificationCredentials): void {
  if (!secret) return;
  const signature = headerValue(credentials.headers, 'x-signature');
  if (signature !== undefined) {
    if (!isValidSignature(secret, credentials.rawBody, signature)) {
      throw new AuthError('X-Signature does not match the HMAC-SHA256 of the request body');
    }
    return;
  }
  const bearer = bearerToken(headerValue(credentials.headers, 'authorization'));
  const token = bearer ?? (typeof credentials.queryToken === 'string' ? credentials.queryToken : undefined);
  if (token === undefined) {
    throw new AuthError('This endpoint needs X-Signature, Authorization: Bearer or ?token= with the notification secret');
  }
  if (!secretsEqual(token, secret)) throw new AuthError('The notification secret does not match');
}

/** Hex HMAC-SHA256 of `body` keyed with `secret`, as Medplum computes `X-Signature`. */
export function signBody(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function isValidSignature(secret: string, body: Buffer, signature: string): boolean {
  if (!HEX_SHA256.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** Compares digests, so neither the length nor the content of the secret leaks through timing. */
function secretsEqual(presented: string, secret: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

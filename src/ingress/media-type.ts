/**
 * Which request media types a notification may use.
 */
import { UnsupportedMediaTypeError } from '../errors.ts';

/** JSON flavours real senders use; `application/json+fhir` is the pre-STU3 name some HAPI clients still send. */
export const NOTIFICATION_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/fhir+json',
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/json+fhir',
]);

/**
 * Throws `UnsupportedMediaTypeError` (415) unless `contentType` is a JSON type we accept, in UTF-8
 * (JSON has no other encoding). Only called for non-empty bodies: an empty body has no media type.
 */
export function assertNotificationMediaType(contentType: string | undefined): void {
  if (contentType === undefined) {
    throw new UnsupportedMediaTypeError('A notification with a body needs a Content-Type (application/fhir+json or application/json)');
  }
  const [essence = '', ...params] = contentType.split(';').map((p) => p.trim());
  const type = essence.toLowerCase();
  if (!NOTIFICATION_MEDIA_TYPES.has(type)) {
    throw new UnsupportedMediaTypeError(`Unsupported Content-Type '${type.slice(0, 80)}'; send application/fhir+json or application/json`);
  }
  const charset = params.map((p) => /^charset\s*=\s*"?([^";]+)"?$/i.exec(p)?.[1]).find((c) => c !== undefined);
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new UnsupportedMediaTypeError(`Unsupported charset '${charset.slice(0, 40)}'; JSON must be UTF-8`);
  }
}
